package trustartest

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestToken(t *testing.T) {
	grant := url.Values{"grant_type": {"client_credentials"}}
	tests := []struct {
		name        string
		key, secret string // Basic credentials; both "" sends none
		form        url.Values
		wantStatus  int
		wantError   string // "" for success
	}{
		{name: "basic", key: "k", secret: "s", form: grant, wantStatus: 200},
		{name: "form fields", form: url.Values{"grant_type": {"client_credentials"}, "client_id": {"k"}, "client_secret": {"s"}}, wantStatus: 200},
		{name: "wrong secret", key: "k", secret: "nope", form: grant, wantStatus: 401, wantError: "invalid_client"},
		{name: "wrong form secret", form: url.Values{"grant_type": {"client_credentials"}, "client_id": {"k"}, "client_secret": {"x"}}, wantStatus: 401, wantError: "invalid_client"},
		{name: "no credentials", form: grant, wantStatus: 401, wantError: "invalid_client"},
		{name: "password grant", key: "k", secret: "s", form: url.Values{"grant_type": {"password"}}, wantStatus: 400, wantError: "unsupported_grant_type"},
		{name: "no grant", key: "k", secret: "s", form: url.Values{}, wantStatus: 400, wantError: "invalid_request"},
	}
	s := startServer(t, Options{Key: "k", Secret: "s"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tokenRequest(t, s, tt.key, tt.secret, tt.form)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", r.status, tt.wantStatus, r.body)
			}
			m := r.object(t)
			if tt.wantError != "" {
				if m["error"] != tt.wantError {
					t.Errorf("error = %v, want %q", m["error"], tt.wantError)
				}
				if tt.wantStatus == 401 && m["error_description"] != "Bad client credentials" {
					t.Errorf("error_description = %v, want %q", m["error_description"], "Bad client credentials")
				}
				return
			}
			if tok, _ := m["access_token"].(string); len(tok) != 32 {
				t.Errorf("access_token = %q, want 32 hex digits", tok)
			}
			if m["token_type"] != "bearer" || m["scope"] != "read" || m["expires_in"] != float64(599) {
				t.Errorf("token answer = %v, want token_type bearer, scope read, expires_in 599", m)
			}
		})
	}
	if got, want := s.Stats().AuthErrors, int64(5); got != want {
		t.Errorf("auth_errors = %d, want %d", got, want)
	}
}

func TestTokenReuseAndExpiry(t *testing.T) {
	const ttl = 500 * time.Millisecond
	s := startServer(t, Options{TokenTTL: ttl})
	first := token(t, s)
	if again := token(t, s); again != first {
		t.Fatalf("second token before expiry = %q, want the same %q", again, first)
	}
	r := tokenRequest(t, s, "demo", "demo", url.Values{"grant_type": {"client_credentials"}})
	if got := r.object(t)["expires_in"]; got != float64(1) {
		t.Errorf("expires_in of a reused token = %v, want the remaining second, rounded up", got)
	}
	time.Sleep(ttl + 100*time.Millisecond)
	wantTokenError(t, submit(t, s, first, body(1, "x")), "Expired oauth2 access token")
	second := token(t, s)
	if second == first {
		t.Fatalf("token after expiry = %q, want a new one", second)
	}
	if r := submit(t, s, second, body(1, "x")); r.status != http.StatusOK {
		t.Fatalf("submit with the new token: status %d, body %s", r.status, r.body)
	}
	if got := s.Stats().TokensIssued; got != 4 {
		t.Errorf("tokens_issued = %d, want 4", got)
	}
}

func TestExpireTokens(t *testing.T) {
	tests := []struct {
		name   string
		expire func(t *testing.T, s *Server)
	}{
		{"method", func(_ *testing.T, s *Server) { s.ExpireTokens() }},
		{"endpoint", func(t *testing.T, s *Server) {
			if r := post(t, s, "/_emulator/trustar/expire-tokens"); r.status != http.StatusNoContent {
				t.Fatalf("POST expire-tokens: status %d, body %s", r.status, r.body)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, Options{})
			old := token(t, s)
			tt.expire(t, s)
			wantTokenError(t, submit(t, s, old, body(1, "x")), "Expired oauth2 access token")
			if tok := token(t, s); tok == old {
				t.Errorf("token after ExpireTokens = %q, want a new one", tok)
			}
		})
	}
}

func TestAPIAuth(t *testing.T) {
	s := startServer(t, Options{})
	tests := []struct {
		name       string
		header     string // Authorization
		wantStatus int
		wantError  string
		wantDesc   string
	}{
		{"no header", "", 401, "unauthorized", "Full authentication is required to access this resource"},
		{"basic scheme", "Basic ZGVtbzpkZW1v", 401, "unauthorized", "Full authentication is required to access this resource"},
		{"empty bearer", "Bearer ", 401, "unauthorized", "Full authentication is required to access this resource"},
		{"unknown token", "Bearer 0123456789abcdef0123456789abcdef", 400, "invalid_token", "Invalid oauth2 access token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := submitRequest(t, s, "", body(1, "x"))
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			r := do(t, req)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", r.status, tt.wantStatus, r.body)
			}
			m := r.object(t)
			if m["error"] != tt.wantError || m["error_description"] != tt.wantDesc {
				t.Errorf("body = %s, want error %q, error_description %q", r.body, tt.wantError, tt.wantDesc)
			}
		})
	}
	if st := s.Stats(); st.AuthErrors != int64(len(tests)) || st.Submissions != 0 || st.Rejected != 0 {
		t.Errorf("stats = %+v, want %d auth errors and nothing else", st, len(tests))
	}
}

// wantTokenError checks a 400 invalid_token answer.
func wantTokenError(t *testing.T, r reply, desc string) {
	t.Helper()
	if r.status != http.StatusBadRequest {
		t.Fatalf("status = %d, want 400 (body %s)", r.status, r.body)
	}
	m := r.object(t)
	if m["error"] != "invalid_token" || m["error_description"] != desc {
		t.Errorf("body = %s, want error invalid_token, error_description %q", r.body, desc)
	}
}
