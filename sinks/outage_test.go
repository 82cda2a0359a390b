package sinks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/sinks"
	"github.com/iocpipe/iocpipe/sinks/faults"
	"github.com/iocpipe/iocpipe/sinks/threatwinds/threatwindstest"
)

// logLines parses a JSON log into its records.
func logLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for a logger and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// TestUnreachableWarns runs against an emulated outage longer than the
// retry deadline: the first failed attempt logs one WARN "sink
// unreachable, retrying" naming the sink, the error, the attempts and the
// time left, and then at most one per period while it keeps failing;
// every duration in the log is a Go duration string.
func TestUnreachableWarns(t *testing.T) {
	defer sinks.SetUnreachableEvery(150 * time.Millisecond)()
	s := threatwindstest.NewServer(threatwindstest.Options{Faults: faults.Options{Outage: time.Hour}})
	defer s.Close()
	var buf syncBuffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := sinks.NewDoer(sinks.HTTPOptions{
		Sink: "threatwinds", Logger: log, RetryDeadline: 500 * time.Millisecond,
		BaseDelay: 5 * time.Millisecond, MaxDelay: 10 * time.Millisecond,
	})
	if _, _, err := d.Do(context.Background(), entityRequest(s.URL), noDecoder); err == nil {
		t.Fatal("Do: no error during an outage")
	}
	var warns, debugs []map[string]any
	for _, m := range logLines(t, buf.Bytes()) {
		switch m["msg"] {
		case "sink unreachable, retrying":
			warns = append(warns, m)
		case "retrying":
			debugs = append(debugs, m)
		}
	}
	if len(warns) < 2 || len(warns) > 5 {
		t.Fatalf("got %d WARN lines in 500ms at one per 150ms (out of %d retries), want 2 to 5", len(warns), len(debugs))
	}
	if len(debugs) <= len(warns) {
		t.Errorf("got %d retries for %d WARN lines: want the WARN lines throttled", len(debugs), len(warns))
	}
	first := warns[0]
	if first["level"] != "WARN" || first["sink"] != "threatwinds" || first["attempts"] != float64(1) {
		t.Errorf("first WARN %v: want level WARN, sink threatwinds, attempts 1", first)
	}
	if e, _ := first["error"].(string); !strings.Contains(e, "503") {
		t.Errorf("first WARN error %q: want the 503", e)
	}
	for _, m := range append(warns, debugs...) {
		for _, k := range []string{"deadline_in", "wait"} {
			v, ok := m[k]
			if !ok {
				continue
			}
			str, isString := v.(string)
			if _, err := time.ParseDuration(str); !isString || err != nil {
				t.Errorf("%s %v: want a Go duration string", k, v)
			}
		}
	}
	if a, b := warns[0]["attempts"].(float64), warns[1]["attempts"].(float64); b <= a {
		t.Errorf("attempts %v then %v: want them growing", a, b)
	}
}

// observer records what an HTTPOptions.Observer is told.
type observer struct {
	mu              sync.Mutex
	failed, success int
}

func (o *observer) Failed(error) { o.mu.Lock(); o.failed++; o.mu.Unlock() }
func (o *observer) Succeeded()   { o.mu.Lock(); o.success++; o.mu.Unlock() }

// TestObserver checks that each failed attempt and the success are
// observed: three 500s then a 2xx; a 400 counts as reachable, a proxy's
// page in place of the API's answer does not.
func TestObserver(t *testing.T) {
	tests := []struct {
		name                 string
		faults               faults.Options
		wantFailed, wantSucc int
	}{
		{"fails first", faults.Options{FailFirst: 3}, 3, 1},
		{"refused", faults.Options{FailRate: 1, FailStatus: 400}, 0, 1},
		{"proxy page", faults.Options{ProxyPage: true}, 1, 0},
		{"up", faults.Options{}, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := threatwindstest.NewServer(threatwindstest.Options{Faults: tt.faults})
			defer s.Close()
			var o observer
			d := sinks.NewDoer(sinks.HTTPOptions{Observer: &o, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond})
			d.Do(context.Background(), entityRequest(s.URL), noDecoder)
			if o.failed != tt.wantFailed || o.success != tt.wantSucc {
				t.Errorf("got %d failed, %d succeeded, want %d, %d", o.failed, o.success, tt.wantFailed, tt.wantSucc)
			}
		})
	}
}
