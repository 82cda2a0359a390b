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
