package threatwindstest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/sinks/faults"
)

var (
	asReporter    = map[string]string{"api-key": "reporter", "api-secret": "reporter"}
	asTrusted     = map[string]string{"api-key": "trusted", "api-secret": "trusted"}
	bearerTrusted = map[string]string{"Authorization": "Bearer trusted"}
)

const goodEntity = `{"type":"ip","attributes":{"ip":"8.8.8.8"},"reputation":-1}`

// send makes one request to s and returns the response with its body read.
func send(t testing.TB, s *Server, method, path string, hdr map[string]string, body string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// checkError checks the API's error contract: x-error and x-error-id, and a
// JSON body repeating both. It returns the error text.
func checkError(t *testing.T, resp *http.Response, body []byte) string {
	t.Helper()
	msg, id := resp.Header.Get("x-error"), resp.Header.Get("x-error-id")
	if msg == "" {
		t.Errorf("status %d: x-error header missing", resp.StatusCode)
	}
	if !uuidRE.MatchString(id) {
		t.Errorf("status %d: x-error-id = %q, want a random UUID", resp.StatusCode, id)
	}
	var eb struct{ Error, ID string }
	if err := json.Unmarshal(body, &eb); err != nil {
		t.Errorf("status %d: error body %q: %v", resp.StatusCode, body, err)
	}
	if eb.Error != msg || eb.ID != id {
		t.Errorf("error body = %+v, want error %q and id %q as in the headers", eb, msg, id)
	}
	return msg
}

func TestAuth(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	tests := []struct {
		name         string
		method, path string
		hdr          map[string]string
		body         string
		want         int
		wantErr      string
	}{
		{"no credentials", "POST", "/api/ingest/v1/entity", nil, goodEntity, 401, "missing credentials"},
		{"wrong secret", "POST", "/api/ingest/v1/entity", map[string]string{"api-key": "reporter", "api-secret": "nope"}, goodEntity, 401, "invalid api-key"},
		{"unknown key", "POST", "/api/ingest/v1/entity", map[string]string{"api-key": "nobody", "api-secret": "reporter"}, goodEntity, 401, "invalid api-key"},
		{"key without secret", "POST", "/api/ingest/v1/entity", map[string]string{"api-key": "reporter"}, goodEntity, 401, "api-secret"},
		{"wrong bearer", "POST", "/api/ingest/v1/entity", map[string]string{"Authorization": "Bearer nope"}, goodEntity, 401, "invalid bearer"},
		{"basic scheme", "POST", "/api/ingest/v1/entity", map[string]string{"Authorization": "Basic cmVwb3J0ZXI6cmVwb3J0ZXI="}, goodEntity, 401, "Bearer"},
		{"reporter key", "POST", "/api/ingest/v1/entity", asReporter, goodEntity, 202, ""},
		{"reporter bearer", "POST", "/api/ingest/v1/entity", map[string]string{"Authorization": "Bearer reporter"}, goodEntity, 202, ""},
		{"reporter on well-known", "POST", "/api/ingest/v1/well-known", asReporter, `{"type":"domain","attributes":{"domain":"google.com"}}`, 403, "role trusted required for POST /well-known"},
		{"reporter on definitions", "GET", "/api/ingest/v1/definitions", asReporter, "", 403, "role trusted required for GET /definitions"},
		{"trusted on definitions", "GET", "/api/ingest/v1/definitions", bearerTrusted, "", 200, ""},
		{"user-id header", "POST", "/api/ingest/v1/entity", map[string]string{"api-key": "reporter", "api-secret": "reporter", "user-id": "42"}, goodEntity, 400, "user-id and groups are set by the gateway"},
		{"groups header", "POST", "/api/ingest/v1/entity", map[string]string{"Authorization": "Bearer reporter", "groups": "g1"}, goodEntity, 400, "user-id and groups are set by the gateway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := send(t, s, tt.method, tt.path, tt.hdr, tt.body)
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, tt.want, body)
			}
			if tt.want == 200 || tt.want == 202 {
				if h := resp.Header.Get("x-error"); h != "" {
					t.Errorf("x-error = %q on a success", h)
				}
				return
			}
			if msg := checkError(t, resp, body); !strings.Contains(msg, tt.wantErr) {
				t.Errorf("x-error = %q, want it to contain %q", msg, tt.wantErr)
			}
		})
	}
	st := s.Stats()
	if st.AuthErrors != 8 || st.Rejected != 2 {
		t.Errorf("auth_errors = %d, rejected = %d, want 8 and 2", st.AuthErrors, st.Rejected)
	}
}

func TestCustomUsers(t *testing.T) {
	s := NewServer(Options{Users: []User{{Key: "k", Secret: "s", Roles: []string{RoleAdmin}}}})
	defer s.Close()
	if resp, body := send(t, s, "GET", "/api/ingest/v1/definitions", map[string]string{"api-key": "k", "api-secret": "s"}, ""); resp.StatusCode != 200 {
		t.Errorf("admin on /definitions: status = %d, want 200 (%s)", resp.StatusCode, body)
	}
	if resp, _ := send(t, s, "POST", "/api/ingest/v1/entity", asReporter, goodEntity); resp.StatusCode != 401 {
		t.Errorf("demo user with custom Users: status = %d, want 401", resp.StatusCode)
	}
}

func TestRoutes(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	tests := []struct {
		name, method, path string
		want               int
		wantAllow          string
	}{
		{"GET on POST endpoint", "GET", "/api/ingest/v1/entity", 405, "POST"},
		{"POST on GET endpoint", "POST", "/api/ingest/v1/definitions", 405, "GET"},
		{"unknown endpoint", "POST", "/api/ingest/v1/entities", 404, ""},
		{"base path", "GET", "/api/ingest/v1", 404, ""},
		{"outside the API", "GET", "/api/ingest/v2/entity", 404, ""},
		{"unknown inspection", "GET", "/_emulator/threatwinds/nope", 404, ""},
		{"POST on inspection", "POST", "/_emulator/threatwinds/requests", 405, "GET"},
		{"GET on reset", "GET", "/_emulator/reset", 405, "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := send(t, s, tt.method, tt.path, asTrusted, "")
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.want)
			}
			checkError(t, resp, body)
			if got := resp.Header.Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	big := `{"type":"text","attributes":{"text":"` + strings.Repeat("a", MaxBodyBytes) + `"}}`
	resp, body := send(t, s, "POST", "/api/ingest/v1/entity", asReporter, big)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d, want 413", resp.StatusCode)
	}
	checkError(t, resp, body)
}

func TestRequestsNDJSON(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	spaced := "{\n  \"type\": \"domain\",\n  \"attributes\": {\"domain\": \"Example.com\", \"text\": \"a<b\"}\n}"
	send(t, s, "POST", "/api/ingest/v1/entity", asReporter, spaced)
	send(t, s, "POST", "/api/ingest/v1/entity", asReporter, `{"type":"nope","attributes":{}}`) // refused: not recorded
	send(t, s, "GET", "/api/ingest/v1/definitions", asTrusted, "")
	send(t, s, "POST", "/api/ingest/v1/scan", asReporter, `{"target":"example.com"}`)

	resp, body := send(t, s, "GET", "/_emulator/threatwinds/requests", nil, "")
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	want := []string{
		`{"method":"POST","path":"/api/ingest/v1/entity","status":202,"body":{"type":"domain","attributes":{"domain":"Example.com","text":"a<b"}}}`,
		`{"method":"GET","path":"/api/ingest/v1/definitions","status":200,"body":null}`,
		`{"method":"POST","path":"/api/ingest/v1/scan","status":202,"body":{"target":"example.com"}}`,
	}
	var got []string
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		got = append(got, sc.Text())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := len(s.Requests()); n != 3 {
		t.Errorf("len(Requests()) = %d, want 3", n)
	}
}

func TestNoRecord(t *testing.T) {
	s := NewServer(Options{NoRecord: true})
	defer s.Close()
	send(t, s, "POST", "/api/ingest/v1/entity", asReporter, goodEntity)
	if r := s.Requests(); len(r) != 0 {
		t.Errorf("Requests() = %v, want none with NoRecord", r)
	}
	if st := s.Stats(); st.EntityRequests != 1 {
		t.Errorf("entity_requests = %d, want 1", st.EntityRequests)
	}
}

func TestReset(t *testing.T) {
	s := NewServer(Options{ScanStep: time.Hour})
	defer s.Close()
	send(t, s, "POST", "/api/ingest/v1/entity", asReporter, goodEntity)
	send(t, s, "POST", "/api/ingest/v1/entity", nil, goodEntity)
	send(t, s, "POST", "/api/ingest/v1/scan", asReporter, `{"target":"8.8.8.8"}`)
	if st := s.Stats(); st.Entities != 1 || st.Scans != 1 || st.AuthErrors != 1 {
		t.Fatalf("before reset: stats = %+v", st)
	}

	resp, _ := send(t, s, "POST", "/_emulator/reset", nil, "")
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("reset: status = %d, want 204", resp.StatusCode)
	}
	if st := s.Stats(); st != (Stats{}) {
		t.Errorf("after reset: stats = %+v, want zero", st)
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("after reset: %d requests recorded, want 0", n)
	}
	if n := len(s.Tasks()); n != 0 {
		t.Errorf("after reset: %d tasks, want 0", n)
	}
	if _, ok := s.Entity("ip-ba7fa36bff8d58ee45b973615e83d9aaeb921f1cc477d9c156e8a9cae8cca16e"); ok {
		t.Error("after reset: entity still stored")
	}
	// The emulator works on after a reset.
	if resp, _ := send(t, s, "POST", "/api/ingest/v1/scan", asReporter, `{"target":"8.8.8.8"}`); resp.StatusCode != 202 {
		t.Errorf("scan after reset: status = %d, want 202 (a new task)", resp.StatusCode)
	}
}

func TestStatsEndpoint(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	send(t, s, "POST", "/api/ingest/v1/entity", asReporter, goodEntity)
	resp, body := send(t, s, "GET", "/_emulator/stats", nil, "")
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	var got map[string]map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	tw, ok := got["threatwinds"]
	if !ok {
		t.Fatalf("stats = %s, want a threatwinds key", body)
	}
	for _, k := range []string{"entities", "entity_requests", "associations", "comments", "well_known", "scans", "scans_existing", "webhooks", "rejected", "auth_errors", "faults"} {
		if _, ok := tw[k]; !ok {
			t.Errorf("stats lack %q: %s", k, body)
		}
	}
	if tw["entities"] != 1.0 || tw["entity_requests"] != 1.0 {
		t.Errorf("stats = %s, want 1 entity from 1 request", body)
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name      string
		opts      faults.Options
		want      int
		wantRetry string
		wantCount func(faults.Counts) int64
	}{
		{"fail 500", faults.Options{FailRate: 1}, 500, "", func(c faults.Counts) int64 { return c.Failed }},
		{"fail 429 rounds up", faults.Options{FailRate: 1, FailStatus: 429, WaitTime: 1500 * time.Millisecond}, 429, "2", func(c faults.Counts) int64 { return c.Failed }},
		{"fail 429 at least 1s", faults.Options{FailRate: 1, FailStatus: 429}, 429, "1", func(c faults.Counts) int64 { return c.Failed }},
		{"outage 503", faults.Options{Outage: time.Hour}, 503, "", func(c faults.Counts) int64 { return c.Outage }},
		{"reject pattern", faults.Options{RejectPattern: regexp.MustCompile(`8\.8\.8\.8`)}, 400, "", func(c faults.Counts) int64 { return c.Rejected }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServer(Options{Faults: tt.opts})
			defer s.Close()
			resp, body := send(t, s, "POST", "/api/ingest/v1/entity", asReporter, goodEntity)
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.want)
			}
			checkError(t, resp, body)
			if got := resp.Header.Get("Retry-After"); got != tt.wantRetry {
				t.Errorf("Retry-After = %q, want %q", got, tt.wantRetry)
			}
			st := s.Stats()
			if got := tt.wantCount(st.Faults); got != 1 {
				t.Errorf("fault count = %d, want 1 (faults %+v)", got, st.Faults)
			}
			if tt.want == 400 && st.Rejected != 1 {
				t.Errorf("rejected = %d, want 1", st.Rejected)
			}
			if st.Entities != 0 || len(s.Requests()) != 0 {
				t.Errorf("a faulted request was stored: stats %+v", st)
			}
			// The inspection endpoints are outside the faults.
			if resp, _ := send(t, s, "GET", "/_emulator/threatwinds/requests", nil, ""); resp.StatusCode != 200 {
				t.Errorf("inspection under faults: status = %d, want 200", resp.StatusCode)
			}
		})
	}
}

func TestDroppedConnection(t *testing.T) {
	s := NewServer(Options{Faults: faults.Options{DropRate: 1}})
	defer s.Close()
	req, _ := http.NewRequest("POST", s.URL+"/api/ingest/v1/entity", strings.NewReader(goodEntity))
	resp, err := s.Client().Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("status = %d, want the connection dropped", resp.StatusCode)
	}
	if got := s.Stats().Faults.Dropped; got != 1 {
		t.Errorf("dropped = %d, want 1", got)
	}
}

func TestConcurrentEntities(t *testing.T) {
	const n, inFlight = 5000, 16
	s := NewServer(Options{})
	defer s.Close()
	bodies := make(chan string)
	errs := make(chan string, inFlight)
	var wg sync.WaitGroup
	for range inFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range bodies {
				req, _ := http.NewRequest("POST", s.URL+"/api/ingest/v1/entity", strings.NewReader(b))
				req.Header.Set("Authorization", "Bearer reporter")
				resp, err := s.Client().Do(req)
				if err != nil {
					errs <- err.Error()
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 202 {
					errs <- resp.Status + ": " + resp.Header.Get("x-error")
					return
				}
			}
		}()
	}
	go func() {
		defer close(bodies)
		for i := range n {
			b := `{"type":"ip","attributes":{"ip":"` + ipOf(i) + `"},"reputation":-2}`
			select {
			case bodies <- b:
			case <-errs:
				return
			}
		}
	}()
	wg.Wait()
	select {
	case e := <-errs:
		t.Fatal(e)
	default:
	}
	st := s.Stats()
	if st.Entities != n || st.EntityRequests != n {
		t.Errorf("entities = %d, entity_requests = %d, want %d each", st.Entities, st.EntityRequests, n)
	}
	if got := len(s.Requests()); got != n {
		t.Errorf("%d requests recorded, want %d", got, n)
	}
}

// ipOf returns a distinct public address (in 11.0.0.0/8) for i.
func ipOf(i int) string {
	return fmt.Sprintf("11.%d.%d.%d", i>>16&255, i>>8&255, i&255)
}

// BenchmarkPostEntity measures POST /entity over loopback HTTP, 16 requests
// in flight on kept-alive connections.
func BenchmarkPostEntity(b *testing.B) {
	s := NewServer(Options{NoRecord: true})
	defer s.Close()
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer c.CloseIdleConnections()
	b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", s.URL+"/api/ingest/v1/entity",
				strings.NewReader(`{"type":"ip","attributes":{"ip":"`+ipOf(int(next.Add(1)))+`"},"reputation":-1}`))
			req.Header.Set("Authorization", "Bearer reporter")
			resp, err := c.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

// BenchmarkServeEntity measures the emulator's own work for POST /entity,
// without the network.
func BenchmarkServeEntity(b *testing.B) {
	e := New(Options{NoRecord: true})
	defer e.Close()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		req := httptest.NewRequest("POST", "/api/ingest/v1/entity",
			strings.NewReader(`{"type":"ip","attributes":{"ip":"`+ipOf(i)+`"},"reputation":-1}`))
		req.Header.Set("api-key", "reporter")
		req.Header.Set("api-secret", "reporter")
		w := httptest.NewRecorder()
		e.ServeHTTP(w, req)
		if w.Code != 202 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
