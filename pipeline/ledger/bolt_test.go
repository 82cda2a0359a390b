package ledger

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

func openTestBolt(t testing.TB, path string) *Bolt {
	t.Helper()
	l, err := OpenBolt(path, BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// reopen closes l (which writes what was recorded) and opens it again.
func reopen(t *testing.T, l *Bolt) *Bolt {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return openTestBolt(t, l.Path())
}

func TestBoltBegin(t *testing.T) {
	ctx := context.Background()
	l := openTestBolt(t, filepath.Join(t.TempDir(), "ledger.db"))
	key := Key("feeds", "trustar")
	st, err := l.Begin(ctx, key, Content{Sum: "abc", Name: "a.csv", Size: 10}, false)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != Fresh || st.Skip(0) {
		t.Fatalf("a new file: status %v, Skip(0) %v; want Fresh, false", st.Status, st.Skip(0))
	}
	if _, ok, _ := l.Get(ctx, key, "abc"); ok {
		t.Fatal("Begin wrote an entry before any acknowledgement")
	}
	l.Record(key, "abc", ioc.Ranges{{0, 3}, {4, 5}})
	l.Record(key, "abc", ioc.Ranges{{7, 9}})
	l.Record(key, "unknown", ioc.Ranges{{0, 1}}) // never begun: ignored
	l = reopen(t, l)
	e, ok, err := l.Get(ctx, key, "abc")
	if err != nil || !ok {
		t.Fatalf("Get: %v, %v", ok, err)
	}
	if got, want := fmt.Sprint(e.Acked), "[[0 3] [4 5] [7 9]]"; got != want {
		t.Errorf("acked %s, want %s", got, want)
	}
	if e.Done || e.Name != "a.csv" || e.Size != 10 || e.Updated.IsZero() {
		t.Errorf("entry %+v", e)
	}

	// A later run resumes: skips what was acknowledged, adds to it.
	st, err = l.Begin(ctx, key, Content{Sum: "abc", Name: "a-copy.csv", Size: 10}, false)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != Resume || st.Resumed().Len() != 6 {
		t.Errorf("resumed: status %v, %d rows; want Resume, 6", st.Status, st.Resumed().Len())
	}
	for row, want := range map[int]bool{0: true, 3: false, 5: false, 8: true} {
		if got := st.Skip(row); got != want {
			t.Errorf("Skip(%d) = %v, want %v", row, got, want)
		}
	}
	l.Record(key, "abc", ioc.Ranges{{3, 4}, {5, 7}})
	if err := l.Finish(ctx, key, "abc", true); err != nil {
		t.Fatal(err)
	}
	e, _, _ = l.Get(ctx, key, "abc") // durable once Finish returned
	if got, want := fmt.Sprint(e.Acked), "[[0 9]]"; got != want || !e.Done || e.Imported.IsZero() || e.Name != "a-copy.csv" {
		t.Errorf("after finish: acked %s (want %s), done %v, imported %v, name %s", got, want, e.Done, e.Imported, e.Name)
	}
	if err := l.Finish(ctx, key, "abc", true); err == nil {
		t.Error("a second Finish succeeded")
	}

	// Imported: a duplicate, unless imported again.
	st, err = l.Begin(ctx, key, Content{Sum: "abc", Name: "again.csv", Size: 10}, false)
	if err != nil || st.Status != Duplicate || st.Entry.Name != "a-copy.csv" || st.Entry.Imported.IsZero() {
		t.Errorf("duplicate: %+v, %v", st, err)
	}
	// Another route is another import.
	if _, ok, _ := l.Get(ctx, Key("other", "trustar"), "abc"); ok {
		t.Error("the entry is visible from another route")
	}

	// Reimport forgets, durably and at once.
	st, err = l.Begin(ctx, key, Content{Sum: "abc", Name: "a.csv", Size: 10}, true)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != Fresh || st.Skip(0) {
		t.Errorf("reimport: status %v, Skip(0) %v", st.Status, st.Skip(0))
	}
	e, _, _ = l.Get(ctx, key, "abc")
	if e.Done || len(e.Acked) > 0 {
		t.Errorf("reimport left %+v", e)
	}
	if l.Len() != 1 || l.Size() <= 0 {
		t.Errorf("Len %d, Size %d", l.Len(), l.Size())
	}
}

func TestBoltLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	openTestBolt(t, path)
	_, err := OpenBolt(path, BoltOptions{Timeout: 50e6})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: got %v, want ErrLocked", err)
	}
}

func TestBoltSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	l, err := OpenBolt(path, BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Begin(ctx, "r/s", Content{Sum: "abc", Name: "a.csv", Size: 1}, false); err != nil {
		t.Fatal(err)
	}
	l.Record("r/s", "abc", ioc.Ranges{{0, 100}})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := OpenBolt(path, BoltOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	all, err := ro.Entries(ctx, "r/s")
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(all["abc"].Acked); got != "[[0 100]]" {
		t.Errorf("read-only: acked %s", got)
	}
}

// TestBoltOpensOldLedgers: a ledger written by the bbolt ledger of
// e2c7f10 (pipeline/inbox), in testdata, still reads and resumes.
func TestBoltOpensOldLedgers(t *testing.T) {
	ctx := context.Background()
	b, err := os.ReadFile(filepath.Join("testdata", "e2c7f10.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ledger.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	l := openTestBolt(t, path)
	key := Key("feeds", "trustar")
	sum1, sum2 := "1111111111111111111111111111111111111111111111111111111111111111", "2222222222222222222222222222222222222222222222222222222222222222"
	all, err := l.Entries(ctx, key)
	if err != nil || len(all) != 2 || l.Len() != 3 {
		t.Fatalf("entries %v (%v), Len %d: want 2 for the key, 3 in all", all, err, l.Len())
	}
	if e := all[sum1]; fmt.Sprint(e.Acked) != "[[0 10] [12 20]]" || e.Done || e.Name != "partial.csv" || e.Size != 120 {
		t.Errorf("partial entry %+v", e)
	}
	if e := all[sum2]; !e.Done || e.Imported.IsZero() || e.Name != "done.csv" {
		t.Errorf("done entry %+v", e)
	}
	st, err := l.Begin(ctx, key, Content{Sum: sum1, Name: "partial.csv", Size: 120}, false)
	if err != nil || st.Status != Resume || !st.Skip(15) || st.Skip(10) {
		t.Errorf("resuming an old entry: %+v, %v", st, err)
	}
	if st, err := l.Begin(ctx, key, Content{Sum: sum2, Name: "done.csv", Size: 64}, false); err != nil || st.Status != Duplicate {
		t.Errorf("an old imported entry: %+v, %v", st, err)
	}
}

// BenchmarkLedgerRecord measures acknowledgements into one file's record,
// each adding rows to its ranges, until they are durable (Close waits for
// the last write): Record does not wait for the disk, and the registrar
// writes many records in one commit.
func BenchmarkLedgerRecord(b *testing.B) {
	for _, gaps := range []int{1, 100} {
		b.Run(fmt.Sprintf("ranges=%d", gaps), func(b *testing.B) {
			l, err := OpenBolt(filepath.Join(b.TempDir(), "ledger.db"), BoltOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := l.Begin(context.Background(), "r/s", Content{Sum: "abc", Name: "a.csv", Size: 1}, false); err != nil {
				b.Fatal(err)
			}
			acked := make(ioc.Ranges, 0, gaps)
			for i := range gaps - 1 {
				acked = append(acked, [2]int{i * 20000, i*20000 + 10000})
			}
			l.Record("r/s", "abc", acked)
			next := (gaps-1)*20000 + 10000
			for b.Loop() {
				l.Record("r/s", "abc", ioc.Ranges{{next, next + 1}})
				next++
			}
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}
