package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/inbox"
)

// TestWatchOneOwner: a second watch on an inbox another watch owns (with a
// ledger of its own, so the ledger's lock does not stop it) would send
// every row twice; it refuses at start with exit 1 and a message naming
// the other process, and the first goes on alone.
func TestWatchOneOwner(t *testing.T) {
	srv := watchEmulator(t)
	dir := filepath.Join(t.TempDir(), "inbox")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfgA := watchConfig(t, srv.URL, dir, "    settle: 200ms\nledger: "+filepath.Join(t.TempDir(), "a.db")+"\n")
	cfgB := watchConfig(t, srv.URL, dir, "ledger: "+filepath.Join(t.TempDir(), "b.db")+"\n")

	var logA watchBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, &env{stdout: io.Discard, stderr: &logA}, []string{"watch", "--config", cfgA})
	}()
	watchWaitFor(t, 10*time.Second, "the first watch", func() bool { return strings.Contains(logA.String(), `"msg":"watching"`) })

	var logB watchBuffer
	ctxB, cancelB := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelB()
	code := run(ctxB, &env{stdout: io.Discard, stderr: &logB}, []string{"watch", "--config", cfgB})
	if code != exitFailed || !strings.Contains(logB.String(), "watched by another process") {
		t.Errorf("second watch: exit %d, want %d with a message naming the owner; log:\n%s", code, exitFailed, logB.String())
	}

	os.WriteFile(filepath.Join(dir, "a.csv"), []byte("value\n"+csvRows("own", 0, 3)), 0o644)
	defer func() {
		if t.Failed() {
			t.Log(logA.String())
		}
	}()
	watchWaitFor(t, 10*time.Second, "a.csv filed", func() bool {
		_, err := os.Stat(filepath.Join(dir, "done", "a.csv.report.json"))
		return err == nil
	})
	for v, n := range watchValues(t, srv.Submissions()) {
		if n != 1 {
			t.Errorf("%s sent %d times, want once", v, n)
		}
	}
	cancel()
	if code := <-exited; code != 0 {
		t.Errorf("first watch: exit %d, want 0; log:\n%s", code, logA.String())
	}
}

// TestWatchHealthzInboxTaken: the inbox deleted, and re-created by another
// process that holds its lock by the time watch heals it: watch stops
// claiming, logs an ERROR and /healthz answers 503 naming the route; once
// the other lets go, watch takes the inbox back and /healthz is 200.
func TestWatchHealthzInboxTaken(t *testing.T) {
	srv := watchEmulator(t)
	dir := filepath.Join(t.TempDir(), "inbox")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := watchConfig(t, srv.URL, dir, "    settle: 200ms\n    rescan: 300ms\nledger: "+filepath.Join(t.TempDir(), "l.db")+"\n")
	var log watchBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, &env{stdout: io.Discard, stderr: &log}, []string{"watch", "--config", cfg, "--metrics-addr", "127.0.0.1:0"})
	}()
	var base string
	watchWaitFor(t, 10*time.Second, "the metrics address", func() bool {
		for _, line := range strings.Split(log.String(), "\n") {
			var l struct{ Msg, Healthz string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "serving metrics" {
				base = strings.TrimSuffix(l.Healthz, "/healthz")
				return true
			}
		}
		return false
	})
	healthz := func() (int, string) {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := healthz(); code != 200 {
		t.Fatalf("healthz %d at start", code)
	}
	os.RemoveAll(dir)
	other, err := inbox.New(inbox.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	watchWaitFor(t, 10*time.Second, "healthz 503", func() bool {
		code, body := healthz()
		return code == 503 && strings.Contains(body, "route feeds cannot claim files")
	})
	// The inbox logs the reason just after it blocks, which healthz may
	// report first.
	watchWaitFor(t, 10*time.Second, "the ERROR logged", func() bool {
		return strings.Contains(log.String(), `"level":"ERROR","msg":"the inbox cannot claim files`)
	})
	other.Close()
	watchWaitFor(t, 10*time.Second, "healthz 200 again", func() bool { code, _ := healthz(); return code == 200 })
	cancel()
	if code := <-exited; code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
}
