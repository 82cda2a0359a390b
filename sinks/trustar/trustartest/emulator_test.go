package trustartest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/sinks/faults"
)

func TestRateLimit(t *testing.T) {
	s := startServer(t, Options{RateLimit: 2})
	tok := token(t, s)
	for i := range 2 {
		if r := submit(t, s, tok, body(1, "x")); r.status != http.StatusOK {
			t.Fatalf("call %d: status %d, body %s", i, r.status, r.body)
		}
	}
	r := get(t, s, "/api/1.3/enclaves", tok) // every /api/1.3/ call counts
	wait := wantRateLimited(t, r)
	if wait <= 0 || wait > 60000 {
		t.Errorf("waitTime = %d, want 1..60000 ms", wait)
	}
	// Token requests are not limited.
	if again := token(t, s); again != tok {
		t.Errorf("token = %q, want %q", again, tok)
	}
	if st := s.Stats(); st.RateLimited != 1 || st.Submissions != 2 {
		t.Errorf("stats = %+v, want 1 rate limited, 2 submissions", st)
	}
}

// TestRateWindow: Options.RateWindow sets the window the limit counts
// calls in, and the waitTime it tells.
func TestRateWindow(t *testing.T) {
	s := startServer(t, Options{RateLimit: 1, RateWindow: time.Hour})
	tok := token(t, s)
	if r := submit(t, s, tok, body(1, "x")); r.status != http.StatusOK {
		t.Fatalf("call 1: status %d, body %s", r.status, r.body)
	}
	if wait := wantRateLimited(t, submit(t, s, tok, body(1, "y"))); wait <= 59*60000 || wait > 60*60000 {
		t.Errorf("waitTime = %d ms, want about an hour", wait)
	}
}

// TestRateLimitPerUser: the limit counts a user's calls (its client id),
// whatever token it calls with: a new token after the old one expired, or
// several instances each holding one, gets no fresh window.
func TestRateLimitPerUser(t *testing.T) {
	s := startServer(t, Options{RateLimit: 2})
	first := token(t, s)
	if r := submit(t, s, first, body(1, "x")); r.status != http.StatusOK {
		t.Fatalf("call 1: status %d, body %s", r.status, r.body)
	}
	if r := post(t, s, "/_emulator/trustar/expire-tokens"); r.status != http.StatusNoContent {
		t.Fatalf("POST expire-tokens: status %d", r.status)
	}
	second := token(t, s)
	if second == first {
		t.Fatal("no new token after expire-tokens")
	}
	if r := submit(t, s, second, body(1, "y")); r.status != http.StatusOK {
		t.Fatalf("call 2: status %d, body %s", r.status, r.body)
	}
	wantRateLimited(t, submit(t, s, second, body(1, "z")))
}

func TestLimiterWindow(t *testing.T) {
	l := newLimiter(2, time.Minute)
	t0 := time.Unix(1000, 0)
	steps := []struct {
		at       time.Duration
		wantOK   bool
		wantWait time.Duration
	}{
		{0, true, 0},
		{10 * time.Second, true, 0},
		{20 * time.Second, false, 40 * time.Second},
		{60 * time.Second, true, 0}, // the first call has left the window
		{65 * time.Second, false, 5 * time.Second},
	}
	for _, st := range steps {
		wait, ok := l.allow("tok", t0.Add(st.at))
		if ok != st.wantOK || wait != st.wantWait {
			t.Errorf("allow at +%v = %v, %v, want %v, %v", st.at, wait, ok, st.wantWait, st.wantOK)
		}
	}
	if _, ok := l.allow("other", t0.Add(65*time.Second)); !ok {
		t.Error("allow for another token = false, want true: windows are per token")
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name       string
		faults     faults.Options
		body       string
		wantStatus int
		wantMsg    string // for the generic error body
		wantWait   int64  // for 429
		wantCounts faults.Counts
		wantReject int64
	}{
		{name: "fail 500", faults: faults.Options{FailRate: 1}, wantStatus: 500,
			wantMsg: "emulated failure (500)", wantCounts: faults.Counts{Failed: 1}},
		{name: "fail 429", faults: faults.Options{FailRate: 1, FailStatus: 429, WaitTime: 1500 * time.Millisecond},
			wantStatus: 429, wantWait: 1500, wantCounts: faults.Counts{Failed: 1}},
		{name: "outage", faults: faults.Options{Outage: time.Hour}, wantStatus: 503,
			wantMsg: "emulated outage", wantCounts: faults.Counts{Outage: 1}},
		{name: "reject pattern", faults: faults.Options{RejectPattern: regexp.MustCompile(`evil\.example`)},
			body: `{"enclaveIds":["` + enclaveA + `"],"content":[{"value":"www.evil.example"}]}`, wantStatus: 400,
			wantMsg: `"evil.example"`, wantCounts: faults.Counts{Rejected: 1}, wantReject: 1},
		{name: "reject pattern, no match", faults: faults.Options{RejectPattern: regexp.MustCompile(`evil\.example`)},
			wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, Options{Faults: tt.faults})
			tok := token(t, s) // /oauth/token is never faulted
			b := tt.body
			if b == "" {
				b = body(1, "x")
			}
			r := submit(t, s, tok, b)
			switch tt.wantStatus {
			case http.StatusOK:
				if r.status != http.StatusOK {
					t.Fatalf("status = %d, want 200 (body %s)", r.status, r.body)
				}
			case http.StatusTooManyRequests:
				if got := wantRateLimited(t, r); got != tt.wantWait {
					t.Errorf("waitTime = %d, want %d", got, tt.wantWait)
				}
			default:
				wantError(t, r, tt.wantStatus, tt.wantMsg)
			}
			st := s.Stats()
			if st.Faults != tt.wantCounts || st.Rejected != tt.wantReject {
				t.Errorf("stats = %+v, want faults %+v and %d rejected", st, tt.wantCounts, tt.wantReject)
			}
		})
	}
}

func TestReset(t *testing.T) {
	tests := []struct {
		name  string
		reset func(t *testing.T, s *Server)
	}{
		{"method", func(_ *testing.T, s *Server) { s.Reset() }},
		{"endpoint", func(t *testing.T, s *Server) {
			if r := post(t, s, "/_emulator/reset"); r.status != http.StatusNoContent {
				t.Fatalf("POST /_emulator/reset: status %d, body %s", r.status, r.body)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, Options{RateLimit: 2})
			tok := token(t, s)
			submit(t, s, tok, body(2, "x"))
			submit(t, s, tok, `{}`)
			wantRateLimited(t, submit(t, s, tok, body(1, "x")))
			tt.reset(t, s)
			if st := s.Stats(); st != (Stats{}) {
				t.Errorf("stats after reset = %+v, want zero", st)
			}
			if got := s.Submissions(); got != nil {
				t.Errorf("Submissions() after reset = %d bodies, want nil", len(got))
			}
			if r := get(t, s, "/_emulator/trustar/submissions", ""); len(r.body) != 0 {
				t.Errorf("GET submissions after reset = %q, want empty", r.body)
			}
			// The token is still valid and the rate-limit window is empty.
			if r := submit(t, s, tok, body(1, "x")); r.status != http.StatusOK {
				t.Errorf("submit after reset: status %d, body %s", r.status, r.body)
			}
		})
	}
}

func TestStatsJSON(t *testing.T) {
	s := startServer(t, Options{})
	submit(t, s, token(t, s), body(3, "x"))
	r := get(t, s, "/_emulator/stats", "")
	if r.status != http.StatusOK {
		t.Fatalf("GET /_emulator/stats: status %d, body %s", r.status, r.body)
	}
	var got map[string]map[string]any
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatalf("stats %s: %v", r.body, err)
	}
	ts, ok := got["trustar"]
	if !ok || len(got) != 1 {
		t.Fatalf("stats = %s, want one key, trustar", r.body)
	}
	keys := make([]string, 0, len(ts))
	for k := range ts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"auth_errors", "faults", "indicators", "rate_limited", "rejected", "submissions", "tokens_issued"}
	if !slices.Equal(keys, want) {
		t.Errorf("stats keys = %v, want %v", keys, want)
	}
	if ts["submissions"] != float64(1) || ts["indicators"] != float64(3) || ts["tokens_issued"] != float64(1) {
		t.Errorf("stats = %v, want 1 submission, 3 indicators, 1 token", ts)
	}
	if f, ok := ts["faults"].(map[string]any); !ok || len(f) != 5 {
		t.Errorf("stats faults = %v, want the five fault counts", ts["faults"])
	}
}

func TestTraceID(t *testing.T) {
	s := startServer(t, Options{Faults: faults.Options{Outage: time.Hour}})
	traceID := regexp.MustCompile(`^[0-9a-f]{32}$`)
	tests := []struct {
		name string
		req  func(t *testing.T) reply
	}{
		{"token", func(t *testing.T) reply {
			return tokenRequest(t, s, "demo", "demo", url.Values{"grant_type": {"client_credentials"}})
		}},
		{"bad credentials", func(t *testing.T) reply { return tokenRequest(t, s, "x", "y", url.Values{}) }},
		{"no auth", func(t *testing.T) reply { return submit(t, s, "", body(1, "x")) }},
		{"fault", func(t *testing.T) reply { return submit(t, s, token(t, s), body(1, "x")) }},
		{"not found", func(t *testing.T) reply { return get(t, s, "/nope", "") }},
		{"submissions", func(t *testing.T) reply { return get(t, s, "/_emulator/trustar/submissions", "") }},
		{"stats", func(t *testing.T) reply { return get(t, s, "/_emulator/stats", "") }},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := tt.req(t).header.Get("Trace-Id")
			if !traceID.MatchString(id) {
				t.Errorf("Trace-Id = %q, want 32 hex digits", id)
			}
			if seen[id] {
				t.Errorf("Trace-Id %q seen twice", id)
			}
			seen[id] = true
		})
	}
}

func TestEnclavesAndQuotas(t *testing.T) {
	s := startServer(t, Options{Enclaves: []string{enclaveA, enclaveB}})
	tok := token(t, s)
	r := get(t, s, "/api/1.3/enclaves", tok)
	var enclaves []map[string]any
	if err := json.Unmarshal(r.body, &enclaves); err != nil || r.status != http.StatusOK {
		t.Fatalf("GET enclaves: status %d, body %s, err %v", r.status, r.body, err)
	}
	if len(enclaves) != 2 || enclaves[1]["id"] != enclaveB || enclaves[1]["name"] != "enclave-2" ||
		enclaves[1]["type"] != "CLOSED" || enclaves[1]["create"] != true {
		t.Errorf("enclaves = %s, want enclave-1 %s and enclave-2 %s", r.body, enclaveA, enclaveB)
	}
	submit(t, s, tok, body(1, "x")) // submissions do not count against the quota

	r = get(t, s, "/api/1.3/request-quotas", tok)
	var quotas []map[string]any
	if err := json.Unmarshal(r.body, &quotas); err != nil || r.status != http.StatusOK || len(quotas) != 1 {
		t.Fatalf("GET request-quotas: status %d, body %s, err %v", r.status, r.body, err)
	}
	q := quotas[0]
	last, _ := q["lastResetTime"].(float64)
	next, _ := q["nextResetTime"].(float64)
	if q["maxRequests"] != float64(3000) || q["usedRequests"] != float64(1) || q["timeWindow"] != float64(86400000) ||
		next-last != 86400000 || last > float64(time.Now().UnixMilli()) || !isUUID(fmt.Sprint(q["guid"])) {
		t.Errorf("quota = %s, want maxRequests 3000, usedRequests 1, a day's window up to now", r.body)
	}
	if r := get(t, s, "/api/1.3/enclaves", ""); r.status != http.StatusUnauthorized {
		t.Errorf("GET enclaves without a token: status %d, want 401", r.status)
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	s := startServer(t, Options{})
	tok := token(t, s)
	tests := []struct {
		name       string
		method     string
		path       string
		token      string
		wantStatus int
		wantMsg    string
	}{
		{"unknown path", http.MethodGet, "/api/1.2/reports", "", 404, "No endpoint GET /api/1.2/reports"},
		{"unknown api path", http.MethodGet, "/api/1.3/reports", tok, 404, "No endpoint GET /api/1.3/reports"},
		{"get indicators", http.MethodGet, "/api/1.3/indicators", tok, 405, "Request method 'GET' not supported"},
		{"post stats", http.MethodPost, "/_emulator/stats", "", 405, "Request method 'POST' not supported"},
		{"get reset", http.MethodGet, "/_emulator/reset", "", 405, "Request method 'GET' not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(t, tt.method, s.URL+tt.path, nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			wantError(t, do(t, req), tt.wantStatus, tt.wantMsg)
		})
	}
}

func TestConcurrentSubmissions(t *testing.T) {
	s := startServer(t, Options{})
	tok := token(t, s)
	const workers, each = 8, 10
	errs := make(chan error, workers*each)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			c := &http.Client{Timeout: 30 * time.Second}
			for i := range each {
				req, err := http.NewRequest(http.MethodPost, s.URL+"/api/1.3/indicators",
					strings.NewReader(body(2, fmt.Sprintf("w%d-%d", w, i))))
				if err != nil {
					errs <- err
					return
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := c.Do(req)
				if err != nil {
					errs <- err
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("worker %d call %d: status %d", w, i, resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := s.Stats(); st.Submissions != workers*each || st.Indicators != 2*workers*each {
		t.Errorf("stats = %+v, want %d submissions", st, workers*each)
	}
	if got := len(s.Submissions()); got != workers*each {
		t.Errorf("recorded %d submissions, want %d", got, workers*each)
	}
}

// wantRateLimited checks a TruSTAR 429 answer and returns its waitTime.
func wantRateLimited(t *testing.T, r reply) int64 {
	t.Helper()
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("status = %d, want 429 (body %s)", r.status, r.body)
	}
	var b struct {
		Message  string `json:"message"`
		WaitTime int64  `json:"waitTime"`
	}
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("429 body %s: %v", r.body, err)
	}
	want := fmt.Sprintf("Request limit exceeded. Please wait %d milliseconds before making another request.", b.WaitTime)
	if b.Message != want {
		t.Errorf("429 message = %q, want %q", b.Message, want)
	}
	return b.WaitTime
}
