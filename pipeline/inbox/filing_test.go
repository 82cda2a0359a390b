package inbox

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/pipeline/ledger"
)

// A file whose filing fails (done/ cannot be written) is not recorded as
// imported: the error is counted, the file stays in work/, and it is filed
// with its report and rejects once done/ can be written again.
func TestWatchFilingIsPartOfDone(t *testing.T) {
	sink := &recSink{}
	l := openTestLedger(t)
	h := startInbox(t, Options{Ledger: l, RetryDelay: 200 * time.Millisecond, DoneDir: filepath.Join(t.TempDir(), "done")}, sink)
	_, work, done, _ := h.ib.Dirs()
	if err := os.Remove(done); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(done, nil, 0o600); err != nil { // not a folder: nothing can be written in it
		t.Fatal(err)
	}
	content := "value\nok.example.com\nnot an indicator\n"
	h.write("f.csv", content)
	waitFor(t, 10*time.Second, "a filing error", func() bool { return h.ib.Stats().FilingErrors > 0 })
	time.Sleep(100 * time.Millisecond) // what follows the error, if anything
	sum := sumOf(t, content)
	key := ledger.Key("feeds", "test")
	if e, _, _ := l.Get(context.Background(), key, sum); e.Done {
		t.Errorf("the ledger says done, but the file was not filed: %+v", e)
	}
	if !exists(filepath.Join(work, "f.csv")) {
		t.Error("f.csv is not in work/ any more")
	}
	if err := os.Remove(done); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(done, 0o700); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "f.csv filed", func() bool { return exists(filepath.Join(done, "f.csv")) })
	r := readReport(t, filepath.Join(done, "f.csv"+reportSuffix))
	if r.Status != StatusImported || r.Rejects != "f.csv"+rejectsSuffix || r.MovedTo != "f.csv" {
		t.Errorf("report: %+v", r)
	}
	if !exists(filepath.Join(done, r.Rejects)) || !exists(filepath.Join(done, r.RejectedRows)) {
		t.Errorf("rejects %q or rejected rows %q missing", r.Rejects, r.RejectedRows)
	}
	waitFor(t, 5*time.Second, "ledger done", func() bool {
		e, _, _ := l.Get(context.Background(), key, sum)
		return e.Done
	})
	if got := sink.got(); len(got) != 1 {
		t.Errorf("delivered %v, want ok.example.com once", got)
	}
}

// Names too long for the companion files (a 240-byte name) or for any
// suffix at all (255 bytes, the limit) are filed under a name shortened
// with a hash, with the report naming both.
func TestWatchLongNames(t *testing.T) {
	sink := &recSink{}
	l := openTestLedger(t)
	h := startInbox(t, Options{Ledger: l}, sink)
	_, work, done, _ := h.ib.Dirs()
	names := []string{strings.Repeat("a", 236) + ".csv", strings.Repeat("b", 251) + ".csv", strings.Repeat("c", 200) + "." + strings.Repeat("x", 54)}
	for i, n := range names {
		h.write(n, "value\nok"+string(rune('0'+i))+".example.com\nnot an indicator\n")
	}
	waitFor(t, 10*time.Second, "long names filed", func() bool {
		ents, _ := os.ReadDir(work)
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), ".") {
				return false
			}
		}
		return h.ib.Stats().Done == int64(len(names))
	})
	ents, err := os.ReadDir(done)
	if err != nil {
		t.Fatal(err)
	}
	reports := map[string]Report{}
	for _, e := range ents {
		if len(e.Name()) > maxName {
			t.Errorf("a name of %d bytes in done/", len(e.Name()))
		}
		if strings.HasSuffix(e.Name(), reportSuffix) {
			r := readReport(t, filepath.Join(done, e.Name()))
			reports[r.File] = r
		}
	}
	for _, n := range names {
		r, ok := reports[n]
		if !ok {
			t.Errorf("no report for the %d-byte name", len(n))
			continue
		}
		if !exists(filepath.Join(done, r.MovedTo)) || !exists(filepath.Join(done, r.Rejects)) || !exists(filepath.Join(done, r.RejectedRows)) {
			t.Errorf("%d-byte name: filed as %q, rejects %q, rows %q: missing", len(n), r.MovedTo, r.Rejects, r.RejectedRows)
		}
		if e, _, _ := l.Get(context.Background(), ledger.Key("feeds", "test"), r.SHA256); !e.Done {
			t.Errorf("%d-byte name: not done in the ledger", len(n))
		}
	}
}

// A kill at the rename into done/ leaves the report there and the file in
// work/: the next run files it under the name its report gives, whether
// the ledger recorded the import (as older versions did before the move)
// or not, instead of filing it as a-2.csv beside a report naming a.csv.
func TestWatchKilledAtRename(t *testing.T) {
	for _, recorded := range []bool{true, false} {
		t.Run(map[bool]string{true: "recorded", false: "unrecorded"}[recorded], func(t *testing.T) {
			dir := t.TempDir()
			l := openTestLedger(t)
			work, done := filepath.Join(dir, ".iocpipe", "work"), filepath.Join(dir, "done")
			os.MkdirAll(work, 0o700)
			os.MkdirAll(done, 0o700)
			content := rowsCSV("k", 3)
			os.WriteFile(filepath.Join(work, "a.csv"), []byte(content), 0o644)
			sum := sumOf(t, content)
			key := ledger.Key("feeds", "test")
			if _, err := l.Begin(context.Background(), key, ledger.Content{Sum: sum, Name: "a.csv", Size: int64(len(content))}, false); err != nil {
				t.Fatal(err)
			}
			l.Record(key, sum, ioc.Ranges{{0, 3}})
			if err := l.Finish(context.Background(), key, sum, recorded); err != nil {
				t.Fatal(err)
			}
			rep := Report{Status: StatusImported, SHA256: sum, MovedTo: "a.csv", Size: int64(len(content))}
			rep.File, rep.Rows, rep.Delivered = "a.csv", 3, 3
			if err := writeJSONFile(filepath.Join(done, "a.csv"+reportSuffix), rep); err != nil {
				t.Fatal(err)
			}
			sink := &recSink{}
			h := startInbox(t, Options{Dir: dir, Ledger: l}, sink)
			waitFor(t, 10*time.Second, "a.csv filed", func() bool { return !exists(filepath.Join(work, "a.csv")) })
			h.stop()
			if exists(filepath.Join(done, "a-2.csv")) || exists(filepath.Join(done, "a-2.csv"+reportSuffix)) {
				t.Error("filed as a-2.csv")
			}
			if !exists(filepath.Join(done, "a.csv")) {
				t.Fatal("done/a.csv missing")
			}
			if r := readReport(t, filepath.Join(done, "a.csv"+reportSuffix)); r.MovedTo != "a.csv" || r.SHA256 != sum || r.Status != StatusImported {
				t.Errorf("report: %+v", r)
			}
			if got := sink.got(); len(got) != 0 {
				t.Errorf("sent again: %v", got)
			}
		})
	}
}

func sumOf(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte(content), 0o600)
	sum, _, err := ledger.Sum(p)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// A file's rejects are streamed to work/ as the pipeline reports them (the
// pipeline keeps none, see startInbox) and filed in done/ with the file:
// the reasons, and the rejected rows in the file's format.
func TestWatchRejectsStreamed(t *testing.T) {
	sink := &recSink{}
	h := startInbox(t, Options{}, sink)
	_, work, done, _ := h.ib.Dirs()
	const n = 5000
	var b strings.Builder
	b.WriteString("value\nok.example.com\n")
	for i := range n {
		b.WriteString("not an indicator " + strings.Repeat("x", i%7) + "\n")
	}
	h.write("bad.csv", b.String())
	waitFor(t, 10*time.Second, "bad.csv filed", func() bool { return exists(filepath.Join(done, "bad.csv")) })
	r := readReport(t, filepath.Join(done, "bad.csv"+reportSuffix))
	if r.Rejects != "bad.csv"+rejectsSuffix || r.RejectedRows != "bad.csv.rejects.csv" || r.RowsRejected != n {
		t.Fatalf("report: %+v", r)
	}
	reasons, _ := os.ReadFile(filepath.Join(done, r.Rejects))
	if got := strings.Count(string(reasons), "\n"); got != n {
		t.Errorf("%d rejects, want %d", got, n)
	}
	rows, _ := os.ReadFile(filepath.Join(done, r.RejectedRows))
	if got := strings.Count(string(rows), "\n"); got != n+1 {
		t.Errorf("%d lines of rejected rows, want the header and %d", got, n)
	}
	ents, _ := os.ReadDir(work)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), rejectsPrefix) {
			t.Errorf("%s left in work/", e.Name())
		}
	}
}
