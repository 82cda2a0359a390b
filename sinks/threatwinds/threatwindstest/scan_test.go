package threatwindstest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type scanAnswerT struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// scan posts a scan request as the reporter and decodes a 200 or 202 answer.
func scan(t *testing.T, s *Server, body string) (int, scanAnswerT) {
	t.Helper()
	resp, b := send(t, s, "POST", "/api/ingest/v1/scan", asReporter, body)
	var a scanAnswerT
	if resp.StatusCode == 200 || resp.StatusCode == 202 {
		if err := json.Unmarshal(b, &a); err != nil {
			t.Fatalf("scan answer %s: %v", b, err)
		}
	}
	return resp.StatusCode, a
}

func TestScanNewThenExisting(t *testing.T) {
	s := NewServer(Options{ScanStep: time.Hour}) // tasks stay new
	defer s.Close()
	tests := []struct {
		name, body string
		want       int
		sameAs     int // index of the earlier case whose task is answered, or -1
	}{
		{"new ip", `{"target":"8.8.8.8"}`, 202, -1},
		{"same ip", `{"target":"8.8.8.8","webhook":{"url":"http://127.0.0.1:1/x"}}`, 200, 0},
		{"new host", `{"target":"Scan.Example.com"}`, 202, -1},
		{"same host, other case", `{"target":"scan.example.COM"}`, 200, 2},
		{"ipv6 spelled differently", `{"target":"2001:4860:4860:0::8888"}`, 202, -1},
		{"same ipv6", `{"target":"2001:4860:4860::8888"}`, 200, 4},
	}
	ids := make([]string, len(tests))
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, a := scan(t, s, tt.body)
			if status != tt.want {
				t.Fatalf("status = %d, want %d", status, tt.want)
			}
			ids[i] = a.ID
			if a.Status != StatusNew {
				t.Errorf("task status = %q, want new", a.Status)
			}
			if tt.sameAs >= 0 && a.ID != ids[tt.sameAs] {
				t.Errorf("id = %s, want the existing task %s", a.ID, ids[tt.sameAs])
			}
			if tt.sameAs < 0 && !uuidRE.MatchString(a.ID) {
				t.Errorf("id = %q, want a UUID", a.ID)
			}
		})
	}
	if st := s.Stats(); st.Scans != 3 || st.ScansExisting != 3 {
		t.Errorf("scans = %d, scans_existing = %d, want 3 and 3", st.Scans, st.ScansExisting)
	}
	if n := len(s.Tasks()); n != 3 {
		t.Errorf("%d tasks, want 3", n)
	}
}

func TestScanRejected(t *testing.T) {
	s := NewServer(Options{ScanStep: time.Hour})
	defer s.Close()
	tests := []struct{ name, body, wantErr string }{
		{"empty target", `{"target":""}`, "target must be a valid IP or FQDN"},
		{"not a host", `{"target":"not a host"}`, "target must be a valid IP or FQDN"},
		{"url", `{"target":"https://example.com/"}`, "target must be a valid IP or FQDN"},
		{"private ip", `{"target":"192.168.1.1"}`, "private"},
		{"loopback", `{"target":"127.0.0.1"}`, "loopback"},
		{"relative webhook", `{"target":"8.8.4.4","webhook":{"url":"/hook"}}`, "webhook.url"},
		{"bad webhook header", `{"target":"8.8.4.4","webhook":{"url":"http://h.example.com/","headers":[{"key":"","value":"x"}]}}`, "webhook.headers[0]"},
		{"unknown field", `{"target":"8.8.4.4","type":"full"}`, "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := send(t, s, "POST", "/api/ingest/v1/scan", asReporter, tt.body)
			if resp.StatusCode != 400 {
				t.Fatalf("status = %d, want 400", resp.StatusCode)
			}
			if msg := checkError(t, resp, body); !strings.Contains(msg, tt.wantErr) {
				t.Errorf("x-error = %q, want it to contain %q", msg, tt.wantErr)
			}
		})
	}
	if n := len(s.Tasks()); n != 0 {
		t.Errorf("%d tasks, want none", n)
	}
}

// A hookCall is what the test webhook received.
type hookCall struct {
	auth, contentType string
	body              []byte
}

func newHook(t *testing.T, status int) (*httptest.Server, <-chan hookCall) {
	calls := make(chan hookCall, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		calls <- hookCall{r.Header.Get("Authorization"), r.Header.Get("Content-Type"), b}
		w.WriteHeader(status)
	}))
	t.Cleanup(hook.Close)
	return hook, calls
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestScanLifecycleAndWebhook(t *testing.T) {
	hook, calls := newHook(t, http.StatusNoContent)
	s := NewServer(Options{ScanStep: 20 * time.Millisecond})
	defer s.Close()

	body := `{"target":"203.0.113.9","webhook":{"url":"` + hook.URL + `/cb","headers":[{"key":"Authorization","value":"Bearer hook-token"}]}}`
	status, a := scan(t, s, body)
	if status != 202 || a.Status != StatusNew {
		t.Fatalf("scan: status %d, task %+v; want 202 and new", status, a)
	}

	seen := map[string]bool{}
	waitFor(t, "the task to be done", func() bool {
		_, a := scan(t, s, `{"target":"203.0.113.9"}`)
		seen[a.Status] = true
		return a.Status == StatusDone
	})
	for st := range seen {
		switch st {
		case StatusNew, StatusQueued, StatusRunning, StatusDone:
		default:
			t.Errorf("unexpected status %q", st)
		}
	}

	select {
	case c := <-calls:
		if c.auth != "Bearer hook-token" {
			t.Errorf("webhook Authorization = %q, want the configured header", c.auth)
		}
		if c.contentType != "application/json" {
			t.Errorf("webhook Content-Type = %q, want application/json", c.contentType)
		}
		var got map[string]string
		if err := json.Unmarshal(c.body, &got); err != nil {
			t.Fatalf("webhook body %s: %v", c.body, err)
		}
		want := map[string]string{"id": a.ID, "target": "203.0.113.9", "status": "done"}
		if len(got) != len(want) || got["id"] != want["id"] || got["target"] != want["target"] || got["status"] != want["status"] {
			t.Errorf("webhook body = %v, want %v", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("webhook never called")
	}

	waitFor(t, "the webhook to be counted", func() bool { return s.Stats().Webhooks == 1 })
	tasks := s.Tasks()
	if len(tasks) != 1 || tasks[0].ID != a.ID || tasks[0].Status != StatusDone || !tasks[0].WebhookDelivered {
		t.Errorf("tasks = %+v, want one done task with its webhook delivered", tasks)
	}

	resp, b := send(t, s, "GET", "/_emulator/threatwinds/tasks", nil, "")
	var listed []Task
	if err := json.Unmarshal(b, &listed); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET tasks: status %d, %s: %v", resp.StatusCode, b, err)
	}
	if len(listed) != 1 || listed[0] != tasks[0] {
		t.Errorf("GET tasks = %+v, want %+v", listed, tasks)
	}
}

func TestScanWebhookFailure(t *testing.T) {
	hook, calls := newHook(t, http.StatusInternalServerError)
	s := NewServer(Options{ScanStep: time.Millisecond})
	defer s.Close()
	scan(t, s, `{"target":"203.0.113.10","webhook":{"url":"`+hook.URL+`"}}`)
	scan(t, s, `{"target":"203.0.113.11","webhook":{"url":"http://127.0.0.1:1/unreachable"}}`)
	select {
	case <-calls:
	case <-time.After(5 * time.Second):
		t.Fatal("webhook never called")
	}
	waitFor(t, "both tasks to be done", func() bool {
		ts := s.Tasks()
		return len(ts) == 2 && ts[0].Status == StatusDone && ts[1].Status == StatusDone
	})
	s.Emulator.Close() // waits for the webhook calls to finish
	for _, tk := range s.Tasks() {
		if tk.WebhookDelivered {
			t.Errorf("task %+v: webhook marked delivered after a failure", tk)
		}
	}
	if n := s.Stats().Webhooks; n != 0 {
		t.Errorf("webhooks = %d, want 0", n)
	}
}

func TestCloseStopsTasks(t *testing.T) {
	s := NewServer(Options{ScanStep: 10 * time.Millisecond})
	scan(t, s, `{"target":"8.8.8.8"}`)
	s.Emulator.Close()
	before := s.Tasks()
	time.Sleep(50 * time.Millisecond) // several steps: nothing may move
	after := s.Tasks()
	if len(after) != 1 || after[0] != before[0] || after[0].Status == StatusDone {
		t.Errorf("tasks after Close moved: before %+v, after %+v", before, after)
	}
	s.Close() // a second Close is harmless
}
