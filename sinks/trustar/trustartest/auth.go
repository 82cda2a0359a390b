package trustartest

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/iocpipe/iocpipe/sinks/faults"
)

// TruSTAR's error_description texts for a refused token.
const (
	invalidToken = "Invalid oauth2 access token"
	expiredToken = "Expired oauth2 access token"
)

// tokenResponse is the body of a successful POST /oauth/token.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
}

// A tokenStore issues tokens and remembers when each expires and whose
// (the client id it was issued to: the API counts its rate limit per user,
// whatever token the user calls with). There is one set of credentials,
// hence one current token.
type tokenStore struct {
	ttl time.Duration

	mu      sync.Mutex
	current string
	expiry  map[string]time.Time
	users   map[string]string
}

func newTokenStore(ttl time.Duration) *tokenStore {
	return &tokenStore{ttl: ttl, expiry: make(map[string]time.Time), users: make(map[string]string)}
}

// issue returns the current token and its remaining lifetime, minting a new
// token for user when there is none or it has expired; fresh reports a new
// token.
func (ts *tokenStore) issue(now time.Time, user string) (token string, left time.Duration, fresh bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if exp, ok := ts.expiry[ts.current]; ok && now.Before(exp) {
		return ts.current, exp.Sub(now), false
	}
	ts.current = randomHex(16)
	ts.expiry[ts.current] = now.Add(ts.ttl)
	ts.users[ts.current] = user
	return ts.current, ts.ttl, true
}

// check returns the user of a token valid at now and ""; for a token that
// was issued and has expired it returns expiredToken, and invalidToken
// otherwise.
func (ts *tokenStore) check(token string, now time.Time) (user, problem string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	exp, ok := ts.expiry[token]
	switch {
	case !ok:
		return "", invalidToken
	case !now.Before(exp):
		return "", expiredToken
	}
	return ts.users[token], ""
}

// expireAll makes every issued token expired at now.
func (ts *tokenStore) expireAll(now time.Time) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for tok, exp := range ts.expiry {
		if now.Before(exp) {
			ts.expiry[tok] = now
		}
	}
}

// handleToken serves POST /oauth/token: the client_credentials grant.
func (e *Emulator) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, oauthError{"method_not_allowed", "Request method '" + r.Method + "' not supported"})
		return
	}
	if err := r.ParseForm(); err != nil {
		e.authErrors.Add(1)
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "Unreadable form body: " + err.Error()})
		return
	}
	if !e.validClient(r) {
		e.authErrors.Add(1)
		e.log.Info("token refused", "reason", "bad client credentials")
		w.Header().Set("WWW-Authenticate", `Basic realm="oauth2/client"`)
		desc := "Bad client credentials"
		if e.opts.Faults.ReflectHeaders {
			desc += "; request headers: " + faults.Headers(r)
		}
		writeJSON(w, http.StatusUnauthorized, oauthError{"invalid_client", desc})
		return
	}
	switch grant := r.PostForm.Get("grant_type"); grant {
	case "client_credentials":
	case "":
		e.authErrors.Add(1)
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "Missing grant type"})
		return
	default:
		e.authErrors.Add(1)
		writeJSON(w, http.StatusBadRequest, oauthError{"unsupported_grant_type", "Unsupported grant type: " + grant})
		return
	}
	token, left, fresh := e.tokens.issue(time.Now(), e.opts.Key)
	e.tokensIssued.Add(1)
	e.log.Debug("token issued", "new", fresh, "expires_in", left)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken: token,
		TokenType:   "bearer",
		ExpiresIn:   int64((left + time.Second - 1) / time.Second),
		Scope:       "read",
	})
}

// validClient reports whether r carries the configured credentials, by
// HTTP Basic auth or else by client_id and client_secret form fields.
func (e *Emulator) validClient(r *http.Request) bool {
	key, secret, ok := r.BasicAuth()
	if !ok {
		key, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	keyOK := subtle.ConstantTimeCompare([]byte(key), []byte(e.opts.Key)) == 1
	secretOK := subtle.ConstantTimeCompare([]byte(secret), []byte(e.opts.Secret)) == 1
	return keyOK && secretOK
}

// authenticate checks r's bearer token, answering the request when it is
// missing, unknown or expired; it returns the token's user (client id) and
// whether it is valid.
func (e *Emulator) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		e.authErrors.Add(1)
		e.log.Info("api call refused", "path", r.URL.Path, "reason", "no bearer token")
		w.Header().Set("WWW-Authenticate", `Bearer realm="oauth2-resource", error="unauthorized", error_description="Full authentication is required to access this resource"`)
		writeJSON(w, http.StatusUnauthorized, oauthError{"unauthorized", "Full authentication is required to access this resource"})
		return "", false
	}
	user, desc := e.tokens.check(token, time.Now())
	if desc != "" {
		e.authErrors.Add(1)
		e.log.Info("api call refused", "path", r.URL.Path, "reason", desc)
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_token", desc})
		return "", false
	}
	return user, true
}
