package trustartest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const (
	enclaveA = "11111111-2222-4333-8444-555555555555"
	enclaveB = "c04caa4e-4d1b-47fc-b9e2-c9ce11396b44"
)

// reply is an answer read in full.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// object decodes the reply's body as a JSON object.
func (r reply) object(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("status %d, body %q is not a JSON object: %v", r.status, r.body, err)
	}
	return m
}

// startServer starts a Server closed when the test ends.
func startServer(t testing.TB, opts Options) *Server {
	t.Helper()
	s := NewServer(opts)
	t.Cleanup(s.Close)
	return s
}

// do sends a request and reads the whole answer.
func do(t testing.TB, req *http.Request) reply {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: body}
}

// newRequest builds a request or fails the test.
func newRequest(t testing.TB, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatalf("new request %s %s: %v", method, url, err)
	}
	return req
}

// get sends a GET, with a bearer token unless token is "".
func get(t testing.TB, s *Server, path, token string) reply {
	t.Helper()
	req := newRequest(t, http.MethodGet, s.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(t, req)
}

// post sends an empty POST.
func post(t testing.TB, s *Server, path string) reply {
	t.Helper()
	return do(t, newRequest(t, http.MethodPost, s.URL+path, nil))
}

// tokenRequest asks for a token with HTTP Basic credentials and form.
func tokenRequest(t testing.TB, s *Server, key, secret string, form url.Values) reply {
	t.Helper()
	req := newRequest(t, http.MethodPost, s.URL+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if key != "" || secret != "" {
		req.SetBasicAuth(key, secret)
	}
	return do(t, req)
}

// token returns an access token for the demo credentials.
func token(t testing.TB, s *Server) string {
	t.Helper()
	r := tokenRequest(t, s, "demo", "demo", url.Values{"grant_type": {"client_credentials"}})
	if r.status != http.StatusOK {
		t.Fatalf("POST /oauth/token: status %d, body %s", r.status, r.body)
	}
	tok, _ := r.object(t)["access_token"].(string)
	if tok == "" {
		t.Fatalf("POST /oauth/token: no access_token in %s", r.body)
	}
	return tok
}

// submit posts body to /api/1.3/indicators with token.
func submit(t testing.TB, s *Server, token, body string) reply {
	t.Helper()
	return do(t, submitRequest(t, s, token, body))
}

func submitRequest(t testing.TB, s *Server, token, body string) *http.Request {
	t.Helper()
	req := newRequest(t, http.MethodPost, s.URL+"/api/1.3/indicators", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// body returns a submission to enclaveA with n rows named by prefix.
func body(n int, prefix string) string {
	var b bytes.Buffer
	b.WriteString(`{"enclaveIds":["` + enclaveA + `"],"content":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"value":"%s-%d.example.org","firstSeen":1577934245000,"lastSeen":1577934246000,`+
			`"sightings":3,"source":"feed","notes":"note","tags":[{"name":"row-tag","enclaveId":"%s"}]}`, prefix, i, enclaveA)
	}
	b.WriteString(`],"tags":[{"name":"route-tag","enclaveId":"` + enclaveA + `"}]}`)
	return b.String()
}

// wantError checks a generic TruSTAR error reply.
func wantError(t testing.TB, r reply, status int, message string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d (body %s)", r.status, status, r.body)
	}
	m := r.object(t)
	if got := m["status"]; got != float64(status) {
		t.Errorf("body status = %v, want %d", got, status)
	}
	if _, ok := m["timestamp"].(float64); !ok {
		t.Errorf("body timestamp = %v, want a number", m["timestamp"])
	}
	if got, want := m["error"], reason(status); got != want {
		t.Errorf("body error = %v, want %q", got, want)
	}
	if got, _ := m["message"].(string); !strings.Contains(got, message) {
		t.Errorf("body message = %q, want it to contain %q", got, message)
	}
}
