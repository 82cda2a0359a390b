package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
