package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/sinks/faults"
	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

// httpGet returns the status and body of a GET.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestWatchSinkOutage runs watch against an emulated outage of the
// TruSTAR API: the first failed attempt logs WARN "sink unreachable,
// retrying"; once the sink has failed for longer than unhealthy_after,
// /healthz answers 503 "degraded" naming the sink and
// iocpipe_sink_up{sink="trustar"} is 0; /readyz stays 200 (the pipeline
// runs); when the outage ends the file is delivered, /healthz is 200 and
// the gauge 1 again.
func TestWatchSinkOutage(t *testing.T) {
	srv := trustartest.NewServer(trustartest.Options{Key: watchKey, Secret: watchSecret, Faults: faults.Options{Outage: 3 * time.Second}})
	t.Cleanup(srv.Close)
	t.Setenv("TRUSTAR_API_KEY", watchKey)
	t.Setenv("TRUSTAR_API_SECRET", watchSecret)
	dir := filepath.Join(t.TempDir(), "inbox")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := watchConfig(t, srv.URL, dir, "    settle: 100ms\nledger: "+filepath.Join(t.TempDir(), "l.db")+"\n")
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, []byte(strings.Replace(string(b), "    retry_deadline: 10s\n", "    retry_deadline: 10s\n    unhealthy_after: 500ms\n", 1)), 0o600)

	var log watchBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, &env{stdout: io.Discard, stderr: &log}, []string{"watch", "--config", cfg, "--metrics-addr", "127.0.0.1:0"})
	}()
	defer func() {
		if t.Failed() {
			t.Log(log.String())
		}
	}()
	var base string
	watchWaitFor(t, 10*time.Second, "the metrics address", func() bool {
		for _, line := range strings.Split(log.String(), "\n") {
			var l struct{ Msg, Healthz, Readyz string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "serving metrics" {
				base = strings.TrimSuffix(l.Healthz, "/healthz")
				if l.Readyz != base+"/readyz" {
					t.Errorf("serving metrics: readyz %q, want %q", l.Readyz, base+"/readyz")
				}
				return true
			}
		}
		return false
	})
	watchWaitFor(t, 5*time.Second, "readyz 200", func() bool { code, _ := httpGet(t, base+"/readyz"); return code == 200 })
	if code, body := httpGet(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("healthz before any request: %d %q", code, body)
	}

	os.WriteFile(filepath.Join(dir, "a.csv"), []byte("value\n"+csvRows("out", 0, 3)), 0o644)
	watchWaitFor(t, 5*time.Second, "the WARN line", func() bool {
		return strings.Contains(log.String(), `"level":"WARN","msg":"sink unreachable, retrying","sink":"trustar"`)
	})
	for _, line := range strings.Split(log.String(), "\n") {
		if !strings.Contains(line, "sink unreachable, retrying") {
			continue
		}
		var l struct {
			Error      string
			Attempts   int
			DeadlineIn string `json:"deadline_in"`
		}
		json.Unmarshal([]byte(line), &l)
		if _, err := time.ParseDuration(l.DeadlineIn); err != nil || l.Attempts != 1 || !strings.Contains(l.Error, "503") {
			t.Errorf("WARN line %s: want attempts 1, a 503 and deadline_in as a duration", line)
		}
		break
	}
	watchWaitFor(t, 5*time.Second, "healthz degraded", func() bool {
		code, body := httpGet(t, base+"/healthz")
		return code == 503 && strings.HasPrefix(body, "degraded\n") && strings.Contains(body, "sink trustar unreachable for ")
	})
	if _, m := httpGet(t, base+"/metrics"); !strings.Contains(m, `iocpipe_sink_up{sink="trustar"} 0`) {
		t.Errorf("metrics during the outage: no iocpipe_sink_up{sink=\"trustar\"} 0")
	}
	if code, _ := httpGet(t, base+"/readyz"); code != 200 {
		t.Errorf("readyz during the outage: %d, want 200 (the pipeline runs)", code)
	}

	watchWaitFor(t, 15*time.Second, "a.csv filed", func() bool {
		_, err := os.Stat(filepath.Join(dir, "done", "a.csv.report.json"))
		return err == nil
	})
	if code, body := httpGet(t, base+"/healthz"); code != 200 {
		t.Errorf("healthz after the outage: %d %q", code, body)
	}
	if _, m := httpGet(t, base+"/metrics"); !strings.Contains(m, `iocpipe_sink_up{sink="trustar"} 1`) {
		t.Errorf("metrics after the outage: no iocpipe_sink_up{sink=\"trustar\"} 1")
	}
	cancel()
	if code := <-exited; code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
}

// TestReadyz: /readyz is 503 before every route's pipeline runs and while
// stopping, 200 between.
func TestReadyz(t *testing.T) {
	m := newMetrics("")
	srv, err := m.listen("127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	go srv.serve()
	defer srv.shutdown()
	url := "http://" + srv.addr + "/readyz"
	m.addRoute("a", "trustar", nil, nil, nil)
	m.addRoute("b", "trustar", nil, nil, nil)
	steps := []struct {
		name     string
		do       func()
		want     int
		wantBody string
	}{
		{"no pipeline runs", func() {}, 503, "starting: 0 of 2 routes running\n"},
		{"one of two runs", func() { m.running.Add(1) }, 503, "starting: 1 of 2 routes running\n"},
		{"both run", func() { m.running.Add(1) }, 200, "ready\n"},
		{"stopping", func() { m.stopping.Store(true) }, 503, "stopping\n"},
	}
	for _, s := range steps {
		s.do()
		if code, body := httpGet(t, url); code != s.want || body != s.wantBody {
			t.Errorf("%s: got %d %q, want %d %q", s.name, code, body, s.want, s.wantBody)
		}
	}
}

// TestSinkHealth: a sink is reported on /healthz only once it has failed
// for longer than its unhealthy_after, and no longer once an attempt
// succeeds.
func TestSinkHealth(t *testing.T) {
	now := time.Unix(1000, 0)
	m := newMetrics("")
	h := m.sinkHealth("threatwinds", 30*time.Second)
	h.now = func() time.Time { return now }
	if m.sinkHealth("threatwinds", time.Hour) != h {
		t.Fatal("sinkHealth: a second call made another")
	}
	tests := []struct {
		name string
		do   func()
		want string
	}{
		{"up", func() {}, ""},
		{"failing", func() { h.Failed(&net.OpError{Op: "dial", Err: os.ErrDeadlineExceeded}) }, ""},
		{"failing at unhealthy_after", func() { now = now.Add(30 * time.Second) }, ""},
		{"failing longer", func() { now = now.Add(time.Second); h.Failed(io.ErrUnexpectedEOF) },
			"sink threatwinds unreachable for 31s (unhealthy_after 30s): last error: unexpected EOF\n"},
		{"up again", func() { h.Succeeded() }, ""},
	}
	for _, tt := range tests {
		tt.do()
		if got := m.unhealthy(); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}
