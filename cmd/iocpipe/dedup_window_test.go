package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

// TestRunDedupWindow: two runs with dedup_window: 1h of two files that
// share indicators: the second sends only its new ones and counts the
// others as deduplicated, in --json, the report and the text summary.
func TestRunDedupWindow(t *testing.T) {
	srv := trustartest.NewServer(trustartest.Options{})
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	cfg := runLedgerConfig(t, srv.URL, "ledger: "+filepath.Join(dir, "ledger.db"), "    dedup_window: 1h")
	a, b, c := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.csv"), filepath.Join(dir, "c.csv")
	os.WriteFile(a, []byte("value\n"+csvRows("a", 0, 10)), 0o644)
	os.WriteFile(b, []byte("value\n"+csvRows("a", 5, 10)+csvRows("b", 0, 5)), 0o644)
	os.WriteFile(c, []byte("value\n"+csvRows("a", 0, 1)+csvRows("c", 0, 1)), 0o644)

	o := runImport(t, srv, "run", "--config", cfg, a)
	if got := watchValues(t, o.bodies); o.exit != 0 || len(got) != 10 || o.json.Indicators.Deduplicated != 0 {
		t.Fatalf("first run: exit %d, %d values, %+v\n%s", o.exit, len(got), o.json.Indicators, o.stderr)
	}
	o = runImport(t, srv, "run", "--config", cfg, b)
	got := watchValues(t, o.bodies)
	if o.exit != 0 || len(got) != 5 || got["a5.example.com"] != 0 || got["b0.example.com"] != 1 {
		t.Errorf("second run: exit %d, sent %v; want b0-b4 only\n%s", o.exit, got, o.stderr)
	}
	if o.json.Rows.Deduplicated != 5 || o.json.Indicators.Deduplicated != 5 || o.json.Rows.Delivered != 5 {
		t.Errorf("second run: rows %+v, indicators %+v; want 5 deduplicated", o.json.Rows, o.json.Indicators)
	}
	if n := number(o.summary["rows_deduplicated"]); n != 5 {
		t.Errorf("report: rows_deduplicated %d, want 5", n)
	}
	r := runWithLedger(t, srv, "run", "--config", cfg, c)
	if r.code != 0 || len(r.values) != 1 || r.values["c0.example.com"] != 1 {
		t.Errorf("third run: exit %d, sent %v; want c0 only", r.code, r.values)
	}
	if !strings.Contains(r.stdout, "1 delivered within the dedup window") || !strings.Contains(r.stdout, "1 deduplicated") {
		t.Errorf("text summary does not count the deduplicated row and indicator:\n%s", r.stdout)
	}
}

// TestWatchDedupWindow: in a watch with dedup_window, a file's indicators
// that an earlier file delivered are not sent again; the metrics count
// them as deduplicated, and every row and indicator in one outcome.
func TestWatchDedupWindow(t *testing.T) {
	srv := watchEmulator(t)
	dir := filepath.Join(t.TempDir(), "inbox")
	os.MkdirAll(dir, 0o755)
	cfg := watchConfig(t, srv.URL, dir, "    settle: 200ms\n    rescan: 1s\n    dedup_window: 1h\n")
	in := func(name string) string { return filepath.Join(dir, name) }
	drop := func(name, text string) { // renamed from .part: picked up at once
		os.WriteFile(in(name+".part"), []byte(text), 0o644)
		os.Rename(in(name+".part"), in(name))
	}
	done := func(name string) func() bool {
		return func() bool {
			_, err1 := os.Stat(in("done/" + name + ".report.json"))
			_, err2 := os.Stat(in("done/" + name))
			return err1 == nil && err2 == nil
		}
	}
	var stderr watchBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, &env{stdout: io.Discard, stderr: &stderr}, []string{"watch", "--config", cfg, "--metrics-addr", "127.0.0.1:0"})
	}()
	var metricsURL string
	watchWaitFor(t, 10*time.Second, "the metrics address in the log", func() bool {
		sc := bufio.NewScanner(strings.NewReader(stderr.String()))
		for sc.Scan() {
			var l struct{ Msg, Metrics string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "serving metrics" {
				metricsURL = l.Metrics
				return true
			}
		}
		return false
	})
	drop("a.csv", "value\n"+csvRows("a", 0, 10))
	watchWaitFor(t, 20*time.Second, "a.csv in done/", done("a.csv"))
	drop("b.csv", "value\n"+csvRows("a", 5, 10)+csvRows("b", 0, 5))
	watchWaitFor(t, 20*time.Second, "b.csv in done/", done("b.csv"))

	got := watchValues(t, srv.Submissions())
	if len(got) != 15 || got["a5.example.com"] != 1 || got["b4.example.com"] != 1 {
		t.Errorf("sent %v: want a0-a9 and b0-b4, each once", got)
	}
	metrics := watchGet(t, metricsURL)
	for _, l := range []string{`iocpipe_indicators_total{outcome="deduplicated",route="feeds"} 5`,
		`iocpipe_rows_total{outcome="deduplicated",route="feeds"} 5`} {
		if !strings.Contains(metrics, l) {
			t.Errorf("metrics lack %s", l)
		}
	}
	checkMetricCounts(t, metrics)
	cancel()
	if code := <-exited; code != 0 {
		t.Errorf("exit code %d, want 0\n%s", code, stderr.String())
	}
}
