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

// Two Inboxes on one folder (as two watch processes with different
// ledgers would be) would send every row twice: the second is refused
// until the first is closed.
func TestNewOneOwner(t *testing.T) {
	dir := t.TempDir()
	a, err := New(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(Options{Dir: dir, Ledger: openTestLedger(t)})
	if !errors.Is(err, ErrOwned) || !strings.Contains(err.Error(), "process") {
		t.Fatalf("second New: got %v, want ErrOwned naming the process", err)
	}
	a.Close()
	b, err := New(Options{Dir: dir})
	if err != nil {
		t.Fatalf("New after Close: %v", err)
	}
	b.Close()
}

func TestCheckDirs(t *testing.T) {
	other := t.TempDir()
	tests := []struct {
		name               string
		work, done, failed string
		wantErr            string
	}{
		{name: "defaults"},
		{name: "own sub-folders", work: "w", done: "archive/done", failed: filepath.Join(other, "failed")},
		{name: "work is done", work: "done", wantErr: "work_dir and done_dir are the same"},
		{name: "done is failed", done: "x", failed: "x/", wantErr: "done_dir and failed_dir are the same"},
		{name: "failed inside done", done: "out", failed: "out/failed", wantErr: "failed_dir " + "%s/out/failed is inside done_dir"},
		{name: "work inside failed", work: "failed/work", wantErr: "is inside failed_dir"},
		{name: "the inbox", done: ".", wantErr: "is the inbox itself"},
		{name: "holds the inbox", failed: "..", wantErr: "holds the inbox"},
	}
	dir := filepath.Join(t.TempDir(), "inbox")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckDirs(dir, tt.work, tt.done, tt.failed)
			want := strings.ReplaceAll(tt.wantErr, "%s", dir)
			switch {
			case want == "" && err != nil:
				t.Errorf("got %v, want nil", err)
			case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
				t.Errorf("got %v, want an error with %q", err, want)
			}
		})
	}
}

// iocpipe's own reports and rejects dropped into the inbox are never
// imported (a report's SHA-256 would be sent as an indicator).
func TestWatchIgnoresOwnFiles(t *testing.T) {
	sink := &recSink{}
	h := startInbox(t, Options{}, sink)
	own := []string{"a.csv.report.json", "a.csv.rejects.jsonl", "a.csv.rejects.csv", "b.jsonl.rejected-rows.jsonl"}
	for _, name := range own {
		h.write(name, rowsCSV("own", 2))
	}
	h.write("real.csv", rowsCSV("real", 2))
	waitFor(t, 10*time.Second, "real.csv filed", func() bool { return exists(h.path("done", "real.csv.report.json")) })
	time.Sleep(400 * time.Millisecond) // two settle periods more
	if got, want := sink.got(), values("real", 0, 2); !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
	for _, name := range own {
		if _, err := os.Stat(h.path(name)); err != nil {
			t.Errorf("%s was taken from the inbox: %v", name, err)
		}
	}
}
