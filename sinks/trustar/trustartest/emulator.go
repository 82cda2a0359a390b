package trustartest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iocpipe/iocpipe/sinks/faults"
)

// Defaults and limits of the emulator.
const (
	// DefaultTokenTTL is a token's lifetime when Options.TokenTTL is zero:
	// TruSTAR answers expires_in 599.
	DefaultTokenTTL = 599 * time.Second
	// DefaultMaxIndicators is the most rows one submission may hold when
	// Options.MaxIndicators is zero, as documented by TruSTAR.
	DefaultMaxIndicators = 10000
	// MaxBodyBytes is the largest request body accepted; a larger one is
	// answered with 413.
	MaxBodyBytes = 64 << 20
)

const (
	tokenPath       = "/oauth/token"
	apiPrefix       = "/api/1.3/"
	indicatorsPath  = "/api/1.3/indicators"
	enclavesPath    = "/api/1.3/enclaves"
	quotasPath      = "/api/1.3/request-quotas"
	submissionsPath = "/_emulator/trustar/submissions"
	expirePath      = "/_emulator/trustar/expire-tokens"
)

// Options configures an Emulator. The zero Options accepts the demo
// credentials, any well-formed enclave id, submissions of up to 10,000
// rows, and injects no faults.
type Options struct {
	// Key and Secret are the API credentials; "" means "demo".
	Key, Secret string
	// Enclaves lists the enclave ids a submission may name; empty means any
	// well-formed UUID. Ids are compared without regard to case; an entry
	// that is not a UUID can never match.
	Enclaves []string
	// TokenTTL is a token's lifetime; zero means DefaultTokenTTL.
	TokenTTL time.Duration
	// RateLimit is the number of calls a user (client id) may make to
	// /api/1.3/ in any 60 seconds, whatever token it uses, as the API
	// counts them; zero or less turns the limit off.
	RateLimit int
	// RateWindow is the window RateLimit counts calls in; zero means 60
	// seconds, the API's. A shorter one lets a test exceed the limit, and
	// stay under it, within seconds.
	RateWindow time.Duration
	// NoRecord stops the emulator from keeping accepted bodies, so that a
	// benchmark's memory stays flat; the counters still run.
	NoRecord bool
	// MaxIndicators is the most rows one submission may hold, more is a
	// 413; zero or less means DefaultMaxIndicators.
	MaxIndicators int
	// Faults selects the faults injected into /api/1.3/; the zero value
	// injects none. Faults.ReflectHeaders also puts the request's headers
	// in /oauth/token's refusal of bad credentials.
	Faults faults.Options
	// Logger receives the emulator's events; nil discards them.
	Logger *slog.Logger
}

// withDefaults returns o with every zero field that has a default filled.
func (o Options) withDefaults() Options {
	if o.Key == "" {
		o.Key = "demo"
	}
	if o.Secret == "" {
		o.Secret = "demo"
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = DefaultTokenTTL
	}
	if o.MaxIndicators <= 0 {
		o.MaxIndicators = DefaultMaxIndicators
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Enclaves = append([]string(nil), o.Enclaves...)
	return o
}

// Stats counts what an Emulator has seen since it was created or last
// reset.
type Stats struct {
	// Submissions counts accepted POST /api/1.3/indicators requests.
	Submissions int64 `json:"submissions"`
	// Indicators counts the rows of the accepted submissions.
	Indicators int64 `json:"indicators"`
	// Rejected counts submissions refused because of their body or its
	// content type (400, 413, 415), including those refused by
	// Faults.RejectPattern.
	Rejected int64 `json:"rejected"`
	// AuthErrors counts refused credentials and grants on /oauth/token and
	// missing, unknown or expired tokens on /api/1.3/.
	AuthErrors int64 `json:"auth_errors"`
	// RateLimited counts the 429s of Options.RateLimit (injected 429s are
	// counted in Faults).
	RateLimited int64 `json:"rate_limited"`
	// TokensIssued counts successful POST /oauth/token answers, including
	// those that return the still-valid token again.
	TokensIssued int64 `json:"tokens_issued"`
	// Faults counts the injected faults.
	Faults faults.Counts `json:"faults"`
}

// An Emulator is an http.Handler that answers like the TruSTAR API 1.3.
// Create one with New; it is safe for concurrent use.
type Emulator struct {
	opts    Options
	log     *slog.Logger
	allowed []string // lower-cased Options.Enclaves
	quotaID string
	tokens  *tokenStore
	limiter *limiter // nil when Options.RateLimit is off
	inject  *faults.Injector
	api     http.Handler // /api/1.3/ behind the fault injector

	mu   sync.Mutex
	subs []json.RawMessage

	submissions, indicators, rejected, authErrors atomic.Int64
	rateLimited, tokensIssued, quotaUsed          atomic.Int64
}

// New returns an Emulator configured by opts.
func New(opts Options) *Emulator {
	opts = opts.withDefaults()
	e := &Emulator{
		opts:    opts,
		log:     opts.Logger.With("emulator", "trustar"),
		quotaID: newUUID(),
		tokens:  newTokenStore(opts.TokenTTL),
	}
	for _, id := range opts.Enclaves {
		e.allowed = append(e.allowed, strings.ToLower(id))
	}
	if opts.RateLimit > 0 {
		window := opts.RateWindow
		if window <= 0 {
			window = time.Minute
		}
		e.limiter = newLimiter(opts.RateLimit, window)
	}
	e.inject = faults.New(opts.Faults, e.respondFault)
	e.api = e.inject.Wrap(http.HandlerFunc(e.serveAPI))
	return e
}

// ServeHTTP answers r like TruSTAR would; see the package documentation
// for the endpoints.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setTraceID(w)
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	}
	switch p := r.URL.Path; {
	case p == tokenPath:
		e.handleToken(w, r)
	case strings.HasPrefix(p, apiPrefix):
		e.api.ServeHTTP(w, r)
	case p == submissionsPath:
		if allowMethod(w, r, http.MethodGet) {
			e.writeSubmissions(w)
		}
	case p == expirePath:
		if allowMethod(w, r, http.MethodPost) {
			e.ExpireTokens()
			w.WriteHeader(http.StatusNoContent)
		}
	default:
		writeNotFound(w, r)
	}
}

// Stats returns the counters.
func (e *Emulator) Stats() Stats {
	return Stats{
		Submissions:  e.submissions.Load(),
		Indicators:   e.indicators.Load(),
		Rejected:     e.rejected.Load(),
		AuthErrors:   e.authErrors.Load(),
		RateLimited:  e.rateLimited.Load(),
		TokensIssued: e.tokensIssued.Load(),
		Faults:       e.inject.Counts(),
	}
}

// Reset forgets the recorded submissions, zeroes the counters, empties the
// rate-limit windows and restarts the fault injector (its counters and its
// outage window). Issued tokens stay valid.
func (e *Emulator) Reset() {
	e.mu.Lock()
	e.subs = nil
	e.mu.Unlock()
	for _, c := range []*atomic.Int64{
		&e.submissions, &e.indicators, &e.rejected, &e.authErrors,
		&e.rateLimited, &e.tokensIssued, &e.quotaUsed,
	} {
		c.Store(0)
	}
	if e.limiter != nil {
		e.limiter.reset()
	}
	e.inject.Reset()
}

// Submissions returns a copy of the accepted request bodies, compacted, in
// the order they were accepted, or nil when there are none (always so with
// Options.NoRecord).
func (e *Emulator) Submissions() []json.RawMessage {
	subs := e.recorded()
	if len(subs) == 0 {
		return nil
	}
	out := make([]json.RawMessage, len(subs))
	for i, s := range subs {
		out[i] = bytes.Clone(s)
	}
	return out
}

// ExpireTokens makes every token issued so far expired: using one is a 400
// "Expired oauth2 access token", and the next POST /oauth/token issues a new
// token.
func (e *Emulator) ExpireTokens() {
	e.tokens.expireAll(time.Now())
}

// recorded returns the recorded bodies; they are never modified, so the
// caller may read them without the lock.
func (e *Emulator) recorded() []json.RawMessage {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.subs[:len(e.subs):len(e.subs)]
}

// record keeps an accepted, already validated body and counts it.
func (e *Emulator) record(body []byte, rows int) error {
	if !e.opts.NoRecord {
		var buf bytes.Buffer
		buf.Grow(len(body))
		if err := json.Compact(&buf, body); err != nil {
			return fmt.Errorf("compacting accepted body: %w", err)
		}
		e.mu.Lock()
		e.subs = append(e.subs, buf.Bytes())
		e.mu.Unlock()
	}
	e.submissions.Add(1)
	e.indicators.Add(int64(rows))
	return nil
}

// writeSubmissions writes the recorded bodies as NDJSON.
func (e *Emulator) writeSubmissions(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	for _, s := range e.recorded() {
		if _, err := w.Write(s); err != nil {
			return
		}
		if _, err := io.WriteString(w, "\n"); err != nil {
			return
		}
	}
}
