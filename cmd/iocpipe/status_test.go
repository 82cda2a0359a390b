package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/inbox"
)

// startWatch runs iocpipe watch with cfg (and args) in this process until
// the test ends; it returns the log.
func startWatch(t *testing.T, cfg string, args ...string) *watchBuffer {
	t.Helper()
	log := &watchBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, &env{stdout: io.Discard, stderr: log}, append([]string{"watch", "--config", cfg}, args...))
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-exited; code != 0 {
			t.Errorf("watch: exit %d\n%s", code, log.String())
		}
	})
	return log
}

// statusJSON runs iocpipe status --json and decodes its stdout, which
// must hold one JSON object and nothing else.
func statusJSON(t *testing.T, cfg string) (int, []routeStatus) {
	t.Helper()
	var o, e bytes.Buffer
	code := run(context.Background(), &env{stdout: &o, stderr: &e}, []string{"status", "--json", "--config", cfg, "--timeout", "2s"})
	var out struct{ Routes []routeStatus }
	dec := json.NewDecoder(&o)
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("status --json: exit %d, stdout is not JSON: %v\nstderr:\n%s", code, err, e.String())
	}
	if dec.More() {
		t.Fatalf("status --json printed more than one JSON object")
	}
	return code, out.Routes
}

// put writes a file (and its folders) with the given modification time
// (zero: now).
func put(t *testing.T, path, content string, mtime time.Time) {
	t.Helper()
	writeFile(t, path, content)
	if !mtime.IsZero() {
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStatusNoWatch: with no watch running, status lists the inbox's
// folders, finds the file filed last, reads the ledger itself (which a run
// filled), and reaches the sink; once the sink is gone it says so and
// exits 1.
func TestStatusNoWatch(t *testing.T) {
	srv := watchEmulator(t)
	dir := filepath.Join(t.TempDir(), "inbox")
	ledgerFile := filepath.Join(t.TempDir(), "ledger.db")
	cfg := watchConfig(t, srv.URL, dir, "ledger: "+ledgerFile+"\n")
	feed := writeFile(t, filepath.Join(t.TempDir(), "feed.csv"), "value\n"+csvRows("st", 0, 3))
	if code, _, stderr := cliRunEnv(t, "run", "--config", cfg, feed); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}

	now := time.Now()
	put(t, filepath.Join(dir, "wait.csv"), "value\na.example.com\n", time.Time{})
	put(t, filepath.Join(dir, "coming.csv.part"), "value\n", time.Time{})
	put(t, filepath.Join(dir, "failed", "bad.json"), "[", time.Time{})
	put(t, filepath.Join(dir, "failed", "bad.json.report.json"), `{"file":"bad.json","status":"failed","error":"bad.json: invalid JSON"}`, now.Add(-time.Hour))
	put(t, filepath.Join(dir, "done", "ok.csv"), "value\n", time.Time{})
	put(t, filepath.Join(dir, "done", "ok.csv.report.json"), `{"file":"ok.csv","status":"imported","rows":5,"rows_delivered":4,"rows_rejected":1,"delivered":4}`, now)

	code, routes := statusJSON(t, cfg)
	if code != 0 || len(routes) != 1 {
		t.Fatalf("status: exit %d, %d routes; want 0, 1", code, len(routes))
	}
	r := routes[0]
	wantFiles := inbox.Listing{Waiting: 1, Writing: 1, Failed: 1, DoneToday: 1}
	if r.Name != "feeds" || r.Sink != "trustar" || r.Watch != nil || r.Files == nil || *r.Files != wantFiles {
		t.Errorf("route = %+v (files %+v), want feeds, no watch, files %+v", r, r.Files, wantFiles)
	}
	if l := r.LastImport; l == nil || l.File != "ok.csv" || l.Status != "imported" || l.RowsDelivered != 4 || l.RowsRejected != 1 || l.Delivered != 4 {
		t.Errorf("last import = %+v, want ok.csv imported, 4 delivered, 1 rejected", r.LastImport)
	}
	if r.Ledger.Path != ledgerFile || r.Ledger.From != "file" || r.Ledger.Entries != 1 || r.Ledger.Size == 0 {
		t.Errorf("ledger = %+v, want %s read from the file, 1 entry", r.Ledger, ledgerFile)
	}
	if s := r.SinkCheck; !s.Checked || !s.Reachable || s.URL != srv.URL || s.Note != "token issued" {
		t.Errorf("sink = %+v, want %s reachable", s, srv.URL)
	}

	code, stdout, _ := cliRunEnv(t, "status", "--config", cfg)
	for _, want := range []string{"feeds → trustar\n", dir + ": no watch runs", "1 waiting, 1 being written, 0 in work, 1 failed, 1 done today",
		"ok.csv: imported ", "5 rows (4 delivered, 1 rejected); 4 indicators delivered", srv.URL + ": reachable (token issued)", "ledger " + ledgerFile + ": 1 entry"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("status text lacks %q:\n%s", want, stdout)
		}
	}
	if code != 0 {
		t.Errorf("status text: exit %d, want 0", code)
	}

	missing := watchConfig(t, srv.URL, dir+"-typo", "")
	if code, routes := statusJSON(t, missing); code != 1 || routes[0].Files != nil || !strings.Contains(routes[0].Error, "does not exist: create it, or set create_inbox: true") {
		t.Errorf("status of a missing inbox: exit %d, %+v; want 1 and the error", code, routes[0])
	}

	srv.Close()
	code, routes = statusJSON(t, cfg)
	if s := routes[0].SinkCheck; code != 1 || !s.Checked || s.Reachable || s.Error == "" {
		t.Errorf("status with the sink gone: exit %d, sink %+v; want 1, not reachable with the reason", code, s)
	}
}

// TestStatusWithWatch: while a watch runs, it holds the ledger; status
// reads what the watch publishes (how old it is, its counts, the ledger)
// besides listing the folders.
func TestStatusWithWatch(t *testing.T) {
	srv := watchEmulator(t)
	dir := filepath.Join(t.TempDir(), "inbox")
	cfg := watchConfig(t, srv.URL, dir, "    settle: 100ms\n")
	os.MkdirAll(dir, 0o700)
	startWatch(t, cfg)
	writeFile(t, filepath.Join(dir, "good.csv"), "value\n"+csvRows("w", 0, 4))
	writeFile(t, filepath.Join(dir, "broken.json"), `[{"value": "x.example.com"}, `)
	watchWaitFor(t, 10*time.Second, "both filed", func() bool {
		_, e1 := os.Stat(filepath.Join(dir, "done", "good.csv.report.json"))
		_, e2 := os.Stat(filepath.Join(dir, "failed", "broken.json"))
		return e1 == nil && e2 == nil
	})
	var routes []routeStatus
	watchWaitFor(t, 10*time.Second, "the watch's status counting both", func() bool {
		_, routes = statusJSON(t, cfg)
		w := routes[0].Watch
		return w != nil && w.Status != nil && w.Status.Stats.Done == 1 && w.Status.Stats.Failed == 1
	})
	r := routes[0]
	if w := r.Watch; w.PID != os.Getpid() || w.Status.PID != os.Getpid() || w.Stale || w.Age < 0 || w.Age > staleAfter.Seconds() {
		t.Errorf("watch = %+v, want this process, fresh", w)
	}
	if wantFiles := (inbox.Listing{Failed: 1, DoneToday: 1}); r.Files == nil || *r.Files != wantFiles {
		t.Errorf("files = %+v, want %+v", r.Files, wantFiles)
	}
	if r.Ledger.From != "watch" || r.Ledger.Entries < 1 || r.Ledger.Path != filepath.Join(dir, ".iocpipe", "ledger.db") {
		t.Errorf("ledger = %+v, want the watch's, with an entry", r.Ledger)
	}
	if l := r.LastImport; l == nil || (l.File != "good.csv" && l.File != "broken.json") {
		t.Errorf("last import = %+v", l)
	}
	if !r.SinkCheck.Reachable {
		t.Errorf("sink = %+v, want reachable", r.SinkCheck)
	}
	_, stdout, _ := cliRunEnv(t, "status", "--config", cfg)
	if want := "watched by process "; !strings.Contains(stdout, want) || !strings.Contains(stdout, "old") {
		t.Errorf("status text lacks %q and the status's age:\n%s", want, stdout)
	}
}

// cliRunEnv runs the command line with the environment as the test set
// it.
func cliRunEnv(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(context.Background(), &env{stdout: &o, stderr: &e}, args)
	return code, o.String(), e.String()
}

// TestStatusWatchWaiting: with a watch running whose settle period is
// long, a file dropped in waits; status counts it beside the failed and
// done files, and reads the watch's status.
func TestStatusWatchWaiting(t *testing.T) {
	srv := watchEmulator(t)
	dir := filepath.Join(t.TempDir(), "inbox")
	cfg := watchConfig(t, srv.URL, dir, "    settle: 1h\n")
	put(t, filepath.Join(dir, "failed", "f.csv"), "x", time.Time{})
	put(t, filepath.Join(dir, "failed", "f.csv.report.json"), `{"file":"f.csv","status":"failed","error":"f.csv: broken"}`, time.Now().Add(time.Second))
	put(t, filepath.Join(dir, "done", "d.csv.report.json"), `{"file":"d.csv","status":"imported","deleted":true}`, time.Now())
	startWatch(t, cfg)
	writeFile(t, filepath.Join(dir, "wait.csv"), "value\nwait.example.com\n")
	var routes []routeStatus
	watchWaitFor(t, 10*time.Second, "the watch's status", func() bool {
		_, routes = statusJSON(t, cfg)
		return routes[0].Watch != nil && routes[0].Watch.Status != nil
	})
	r := routes[0]
	if want := (inbox.Listing{Waiting: 1, Failed: 1, DoneToday: 1}); r.Files == nil || *r.Files != want {
		t.Errorf("files = %+v, want %+v", r.Files, want)
	}
	if l := r.LastImport; l == nil || l.File != "f.csv" || l.Status != "failed" || l.Error != "f.csv: broken" {
		t.Errorf("last import = %+v, want f.csv failed", l)
	}
	if r.Ledger.From != "watch" {
		t.Errorf("ledger = %+v, want the watch's", r.Ledger)
	}
}
