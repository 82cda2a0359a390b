package inbox

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// A file given up to failed/ after its deliveries kept failing is moved
// back by Requeue while the watch runs, its report removed, and imported
// as a new drop: the ledger, which holds the content's failed run, does
// not take it for a duplicate.
func TestRequeueGivenUp(t *testing.T) {
	sink := &recSink{}
	sink.fail.Store(1 << 30)
	h := startInbox(t, Options{RetryDelay: 100 * time.Millisecond, GiveUpAfter: 300 * time.Millisecond}, sink)
	h.write("g.csv", rowsCSV("g", 3))
	waitFor(t, 10*time.Second, "g.csv given up", func() bool { return exists(h.path("failed", "g.csv")) })
	sink.fail.Store(0) // the sink is back

	got, err := Requeue(Options{Dir: h.dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "g.csv" || got[0].Status != StatusFailed || !strings.Contains(got[0].Reason, "given up") ||
		!slices.Contains(got[0].Reasons, "503 service unavailable") {
		t.Fatalf("Requeue = %+v, want g.csv with its reasons", got)
	}
	if exists(h.path("failed", "g.csv")) || exists(h.path("failed", "g.csv.report.json")) {
		t.Errorf("g.csv or its report still in failed/")
	}
	waitFor(t, 10*time.Second, "g.csv imported", func() bool { return exists(h.path("done", "g.csv.report.json")) })
	if r := readReport(t, h.path("done", "g.csv.report.json")); r.Status != StatusImported || r.Delivered != 3 {
		t.Errorf("report after requeue: status %s, delivered %d; want imported, 3", r.Status, r.Delivered)
	}
	if got, want := sink.got(), values("g", 0, 3); !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
}

// Requeue checks every name before it moves anything, and never replaces
// a file in the inbox.
func TestRequeueErrors(t *testing.T) {
	dir := t.TempDir()
	failed := filepath.Join(dir, "failed")
	os.MkdirAll(failed, 0o700)
	put := func(path, content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"a.csv", "b.csv"} {
		put(filepath.Join(failed, name), rowsCSV(name, 1))
		put(filepath.Join(failed, name+reportSuffix), `{"status":"failed","error":"broken `+name+`"}`)
	}
	os.Symlink("/etc/passwd", filepath.Join(failed, "link.csv"))
	put(filepath.Join(dir, "a.csv"), "dropped again meanwhile\n")

	for _, names := range [][]string{{"b.csv", "nope.csv"}, {"a.csv.report.json"}, {"../x"}} {
		if _, err := Requeue(Options{Dir: dir}, names); !errors.Is(err, ErrNotFailed) {
			t.Errorf("Requeue(%q): got %v, want ErrNotFailed", names, err)
		}
	}
	if !exists(filepath.Join(failed, "b.csv")) {
		t.Fatalf("b.csv moved although another name was wrong")
	}
	if _, err := Requeue(Options{Dir: dir}, []string{"link.csv"}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Requeue(link.csv): got %v, want not a regular file", err)
	}

	got, err := Requeue(Options{Dir: dir}, nil)
	if !errors.Is(err, ErrTaken) || !strings.Contains(err.Error(), "a.csv") {
		t.Errorf("Requeue all: got %v, want ErrTaken for a.csv", err)
	}
	if len(got) != 1 || got[0].Name != "b.csv" || got[0].Reason != "broken b.csv" {
		t.Errorf("Requeue all = %+v, want b.csv with its reason", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a.csv")); string(b) != "dropped again meanwhile\n" {
		t.Errorf("a.csv in the inbox was replaced: %q", b)
	}
	for _, p := range []string{filepath.Join(failed, "a.csv"), filepath.Join(failed, "a.csv.report.json"), filepath.Join(dir, "b.csv"), filepath.Join(failed, "link.csv")} {
		if !exists(p) {
			t.Errorf("%s is missing", p)
		}
	}
	if exists(filepath.Join(failed, "b.csv.report.json")) {
		t.Errorf("b.csv's report is still in failed/")
	}
}
