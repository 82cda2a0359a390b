package inbox

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

func openTestLedger(t testing.TB) *Ledger {
	t.Helper()
	l, err := OpenLedger(filepath.Join(t.TempDir(), "ledger.db"), LedgerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestLedgerTrack(t *testing.T) {
	l := openTestLedger(t)
	key := Key("feeds", "trustar")
	tr, err := l.Track(key, "abc", "a.csv", 10, false)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Skip(0) {
		t.Fatal("a new file skips row 0")
	}
	if _, ok, _ := l.Get(key, "abc"); ok {
		t.Fatal("Track wrote an entry before any acknowledgement")
	}
	tr.Reject(ioc.Reject{Row: 3})
	tr.Reject(ioc.Reject{Row: -1})
	if err := tr.Ack([][2]int{{0, 5}}); err != nil {
		t.Fatal(err)
	}
	if err := tr.Ack([][2]int{{0, 5}, {7, 9}}); err != nil {
		t.Fatal(err)
	}
	e, ok, err := l.Get(key, "abc")
	if err != nil || !ok {
		t.Fatalf("Get: %v, %v", ok, err)
	}
	if got, want := fmt.Sprint(e.Acked), "[[0 3] [4 5] [7 9]]"; got != want {
		t.Errorf("acked %s, want %s (rejected row 3 left out)", got, want)
	}
	if e.Done || e.Name != "a.csv" || e.Size != 10 {
		t.Errorf("entry %+v", e)
	}

	// A later run resumes: skips what was acknowledged, adds to it.
	tr2, err := l.Track(key, "abc", "a-copy.csv", 10, false)
	if err != nil {
		t.Fatal(err)
	}
	for row, want := range map[int]bool{0: true, 3: false, 5: false, 8: true} {
		if got := tr2.Skip(row); got != want {
			t.Errorf("Skip(%d) = %v, want %v", row, got, want)
		}
	}
	if err := tr2.Ack([][2]int{{3, 4}, {5, 7}}); err != nil {
		t.Fatal(err)
	}
	if err := tr2.Finish(); err != nil {
		t.Fatal(err)
	}
	e, _, _ = l.Get(key, "abc")
	if got, want := fmt.Sprint(e.Acked), "[[0 9]]"; got != want || !e.Done || e.Imported.IsZero() {
		t.Errorf("after finish: acked %s (want %s), done %v, imported %v", got, want, e.Done, e.Imported)
	}

	// Another route is another import.
	if _, ok, _ := l.Get(Key("other", "trustar"), "abc"); ok {
		t.Error("the entry is visible from another route")
	}

	// Fresh forgets.
	tr3, err := l.Track(key, "abc", "a.csv", 10, true)
	if err != nil {
		t.Fatal(err)
	}
	if tr3.Skip(0) {
		t.Error("fresh still skips row 0")
	}
	e, _, _ = l.Get(key, "abc")
	if e.Done || len(e.Acked) > 0 {
		t.Errorf("fresh left %+v", e)
	}
	if l.Len() != 1 || l.Size() <= 0 {
		t.Errorf("Len %d, Size %d", l.Len(), l.Size())
	}
}

func TestLedgerLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	l, err := OpenLedger(path, LedgerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = OpenLedger(path, LedgerOptions{Timeout: 50e6})
	if !errors.Is(err, ErrLedgerLocked) {
		t.Fatalf("second open: got %v, want ErrLedgerLocked", err)
	}
}

func TestLedgerSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	l, err := OpenLedger(path, LedgerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tr, _ := l.Track("r/s", "abc", "a.csv", 1, false)
	if err := tr.Ack([][2]int{{0, 100}}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	ro, err := OpenLedger(path, LedgerOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	all, err := ro.Entries("r/s")
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(all["abc"].Acked); got != "[[0 100]]" {
		t.Errorf("read-only: acked %s", got)
	}
}

// BenchmarkLedgerAck measures one acknowledgement: a bbolt Update that
// rewrites the file's acknowledged ranges and fsyncs. This is the cost the
// ledger adds per batch.
func BenchmarkLedgerAck(b *testing.B) {
	for _, gaps := range []int{1, 100} {
		b.Run(fmt.Sprintf("ranges=%d", gaps), func(b *testing.B) {
			l := openTestLedger(b)
			tr, err := l.Track("r/s", "abc", "a.csv", 1, false)
			if err != nil {
				b.Fatal(err)
			}
			acked := make([][2]int, 0, gaps)
			for i := range gaps {
				acked = append(acked, [2]int{i * 20000, i*20000 + 10000})
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				acked[len(acked)-1][1] = (gaps-1)*20000 + 10000 + i + 1
				if err := tr.Ack(acked); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
