package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/inbox"
)

// TestRequeueWithWatch: a file that failed is corrected in failed/ and
// requeued while the watch runs; requeue prints why it had failed, removes
// its report, and the watch imports it. An unknown route or file exits 2
// and moves nothing.
func TestRequeueWithWatch(t *testing.T) {
	srv := watchEmulator(t)
	dir := filepath.Join(t.TempDir(), "inbox")
	cfg := watchConfig(t, srv.URL, dir, "    settle: 100ms\n")
	os.MkdirAll(dir, 0o700)
	startWatch(t, cfg)
	failed := filepath.Join(dir, "failed", "feed.json")
	writeFile(t, filepath.Join(dir, "feed.json"), `[{"value": "rq0.example.com"}, `)
	watchWaitFor(t, 10*time.Second, "feed.json failed", func() bool { _, err := os.Stat(failed); return err == nil })

	for _, args := range [][]string{{"requeue", "--config", cfg, "nosuch"}, {"requeue", "--config", cfg, "feeds", "feed.json", "other.json"}} {
		code, _, stderr := cliRunEnv(t, args...)
		if code != 2 || !strings.Contains(stderr, "nosuch") && !strings.Contains(stderr, "other.json in "+filepath.Join(dir, "failed")+": no such file in failed/") {
			t.Errorf("%q: exit %d, stderr %q; want 2 naming what is unknown", args, code, stderr)
		}
	}
	if _, err := os.Stat(failed); err != nil {
		t.Fatalf("feed.json moved by a requeue that exited 2: %v", err)
	}

	writeFile(t, failed, `[{"value": "rq0.example.com"}, {"value": "rq1.example.com"}]`)
	code, stdout, stderr := cliRunEnv(t, "requeue", "--config", cfg, "feeds")
	if code != 0 || !strings.Contains(stdout, "requeued feed.json\n  it had failed: ") || !strings.Contains(stdout, "invalid JSON") ||
		!strings.Contains(stdout, "the watch running on "+dir) {
		t.Fatalf("requeue: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if _, err := os.Stat(failed + ".report.json"); err == nil {
		t.Errorf("the report of feed.json is still in failed/")
	}
	watchWaitFor(t, 10*time.Second, "feed.json imported", func() bool {
		_, err := os.Stat(filepath.Join(dir, "done", "feed.json.report.json"))
		return err == nil
	})
	if r := watchReport(t, filepath.Join(dir, "done", "feed.json.report.json")); r.Status != inbox.StatusImported || r.Delivered != 2 {
		t.Errorf("feed.json after requeue: status %s, %d delivered; want imported, 2", r.Status, r.Delivered)
	}
	if got := watchValues(t, srv.Submissions()); got["rq0.example.com"] != 1 || got["rq1.example.com"] != 1 {
		t.Errorf("the emulator received %v, want rq0 and rq1 once each", got)
	}
}

// TestRequeueNeverReplaces: without a watch, a file whose name is taken in
// the inbox stays in failed/ with its report (exit 1); the others move.
func TestRequeueNeverReplaces(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "inbox")
	cfg := watchConfig(t, "http://127.0.0.1:1", dir, "")
	put(t, filepath.Join(dir, "failed", "a.csv"), "value\nfailed.example.com\n", time.Time{})
	put(t, filepath.Join(dir, "failed", "a.csv.report.json"), `{"file":"a.csv","status":"failed","error":"a.csv: broken"}`, time.Time{})
	put(t, filepath.Join(dir, "failed", "b.csv"), "value\nb.example.com\n", time.Time{})
	put(t, filepath.Join(dir, "a.csv"), "value\nnewer.example.com\n", time.Time{})

	code, stdout, stderr := cliRunEnv(t, "requeue", "--config", cfg, "feeds")
	if code != 1 || !strings.Contains(stderr, "a.csv: a file of that name is in the inbox already") {
		t.Errorf("requeue: exit %d, stderr %q; want 1 saying a.csv is taken", code, stderr)
	}
	if !strings.Contains(stdout, "requeued b.csv\n  it had no report") || !strings.Contains(stdout, "no watch runs on "+dir+": it is imported when one starts") {
		t.Errorf("requeue stdout:\n%s", stdout)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a.csv")); string(b) != "value\nnewer.example.com\n" {
		t.Errorf("a.csv in the inbox was replaced: %q", b)
	}
	for _, p := range []string{filepath.Join(dir, "failed", "a.csv"), filepath.Join(dir, "failed", "a.csv.report.json"), filepath.Join(dir, "b.csv")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%v", err)
		}
	}
	code, stdout, _ = cliRunEnv(t, "requeue", "--config", cfg, "feeds", "a.csv.report.json")
	if code != 2 {
		t.Errorf("requeue of a report: exit %d, want 2\n%s", code, stdout)
	}
}
