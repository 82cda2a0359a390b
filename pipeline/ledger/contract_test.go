package ledger

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/pipeline/ledger/pgtest"
)

// pg is the PostgreSQL server of this test binary.
var pg pgtest.Shared

func TestMain(m *testing.M) { os.Exit(pg.Run(m)) }

// A backend opens ledgers of one implementation for the contract tests.
type backend struct {
	name string
	// store returns an opener of a new, empty ledger: each call opens
	// it (again), closed when the test ends.
	store func(t *testing.T) func(t *testing.T) Ledger
}

var backends = []backend{
	{name: "bolt", store: func(t *testing.T) func(t *testing.T) Ledger {
		path := filepath.Join(t.TempDir(), "ledger.db")
		return func(t *testing.T) Ledger { return openTestBolt(t, path) }
	}},
	{name: "postgres", store: func(t *testing.T) func(t *testing.T) Ledger {
		dsn := pg.Database(t)
		return func(t *testing.T) Ledger { return openTestPostgres(t, dsn) }
	}},
}

func openTestPostgres(t testing.TB, dsn string) *Postgres {
	t.Helper()
	l, err := OpenPostgres(t.Context(), dsn, PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// contract runs test against every implementation of Ledger.
func contract(t *testing.T, test func(t *testing.T, open func(t *testing.T) Ledger)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, b.store(t)) })
	}
}

// reopenLedger closes l (which writes what was recorded) and opens it
// again.
func reopenLedger(t *testing.T, l Ledger, open func(t *testing.T) Ledger) Ledger {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return open(t)
}

func TestLedgerBegin(t *testing.T) {
	contract(t, func(t *testing.T, open func(t *testing.T) Ledger) {
		ctx := context.Background()
		l := open(t)
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
		l = reopenLedger(t, l, open)
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
		if _, ok, _ := l.Get(ctx, key, "unknown"); ok {
			t.Error("a content never begun has an entry")
		}
		testResumeAndFinish(t, l, key)
	})
}

// testResumeAndFinish goes on from TestLedgerBegin: a later run resumes,
// finishes, and the content is then a duplicate unless imported again.
func testResumeAndFinish(t *testing.T, l Ledger, key string) {
	ctx := context.Background()
	st, err := l.Begin(ctx, key, Content{Sum: "abc", Name: "a-copy.csv", Size: 10}, false)
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
	e, _, _ := l.Get(ctx, key, "abc") // durable once Finish returned
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

func TestLedgerSurvivesReopen(t *testing.T) {
	contract(t, func(t *testing.T, open func(t *testing.T) Ledger) {
		ctx := context.Background()
		l := open(t)
		if _, err := l.Begin(ctx, "r/s", Content{Sum: "abc", Name: "a.csv", Size: 1}, false); err != nil {
			t.Fatal(err)
		}
		l.Record("r/s", "abc", ioc.Ranges{{0, 100}})
		l = reopenLedger(t, l, open)
		all, err := l.Entries(ctx, "r/s")
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(all["abc"].Acked); len(all) != 1 || got != "[[0 100]]" {
			t.Errorf("reopened: %d entries, acked %s; want 1, [[0 100]]", len(all), got)
		}
		if none, err := l.Entries(ctx, "other/s"); err != nil || len(none) != 0 {
			t.Errorf("another key: %v, %v; want none", none, err)
		}
		if _, err := l.Begin(ctx, "r/s", Content{Sum: "b"}, false); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Begin(ctx, "r/s", Content{Sum: "c"}, false); err == nil {
			t.Error("Begin after Close succeeded")
		}
		if err := l.Finish(ctx, "r/s", "b", true); err == nil {
			t.Error("Finish after Close succeeded")
		}
	})
}

// A content imported again is a Duplicate only when every row was
// delivered the first time; otherwise it resumes, the acknowledged rows
// skipped and the rejected (or skipped, or failed) ones sent again.
func TestLedgerRedrop(t *testing.T) {
	tests := []struct {
		name        string
		undelivered ioc.Ranges
		reimport    bool
		want        Status
		wantAcked   string
	}{
		{name: "all delivered", want: Duplicate, wantAcked: "[[0 4]]"},
		{name: "a row rejected", undelivered: ioc.Ranges{{4, 5}}, want: Resume, wantAcked: "[[0 4]]"},
		{name: "reimport", reimport: true, want: Fresh, wantAcked: "[]"},
	}
	contract(t, func(t *testing.T, open func(t *testing.T) Ledger) {
		l := open(t)
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				testRedrop(t, l, fmt.Sprint("k", i), tt.undelivered, tt.reimport, tt.want, tt.wantAcked)
			})
		}
	})
}

func testRedrop(t *testing.T, l Ledger, key string, undelivered ioc.Ranges, reimport bool, want Status, wantAcked string) {
	ctx := context.Background()
	c := Content{Sum: "s1", Name: "a.csv", Size: 10}
	if _, err := l.Begin(ctx, key, c, false); err != nil {
		t.Fatal(err)
	}
	l.Record(key, "s1", ioc.Ranges{{0, 4}})
	l.Undelivered(key, "s1", undelivered)
	if err := l.Finish(ctx, key, "s1", true); err != nil {
		t.Fatal(err)
	}
	st, err := l.Begin(ctx, key, c, reimport)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != want || fmt.Sprint(st.Entry.Acked) != wantAcked {
		t.Errorf("got %v acked %v, want %v acked %s", st.Status, st.Entry.Acked, want, wantAcked)
	}
	if st.Status == Duplicate {
		return
	}
	// This time every row is delivered: from now on a Duplicate.
	l.Record(key, "s1", ioc.Ranges{{0, 5}})
	if err := l.Finish(ctx, key, "s1", true); err != nil {
		t.Fatal(err)
	}
	if st, _ := l.Begin(ctx, key, c, false); st.Status != Duplicate {
		t.Errorf("after a full delivery: %v, want Duplicate", st.Status)
	}
}

// TestLedgerConcurrent: many imports recorded at once from several
// goroutines all end durable, with every row.
func TestLedgerConcurrent(t *testing.T) {
	contract(t, func(t *testing.T, open func(t *testing.T) Ledger) {
		ctx := context.Background()
		l := open(t)
		const files, rows = 40, 50
		var wg sync.WaitGroup
		errs := make(chan error, files)
		for i := range files {
			wg.Go(func() {
				sum := fmt.Sprint("sum", i)
				if _, err := l.Begin(ctx, "r/s", Content{Sum: sum, Name: sum + ".csv"}, false); err != nil {
					errs <- err
					return
				}
				for row := range rows {
					l.Record("r/s", sum, ioc.Ranges{{row, row + 1}})
				}
				errs <- l.Finish(ctx, "r/s", sum, i%2 == 0)
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		all, err := l.Entries(ctx, "r/s")
		if err != nil || len(all) != files || l.Len() != files {
			t.Fatalf("%d entries (%v), Len %d; want %d", len(all), err, l.Len(), files)
		}
		for sum, e := range all {
			if fmt.Sprint(e.Acked) != fmt.Sprintf("[[0 %d]]", rows) {
				t.Errorf("%s: acked %v", sum, e.Acked)
			}
		}
	})
}

// BenchmarkLedgerRecord measures acknowledgements into one file's record,
// each adding rows to its ranges, until they are durable (Close waits for
// the last write), on each implementation: Record does not wait for the
// disk or the server, and the registrar writes many records in one
// commit.
func BenchmarkLedgerRecord(b *testing.B) {
	opens := map[string]func(b *testing.B) Ledger{
		"bolt": func(b *testing.B) Ledger {
			l, err := OpenBolt(filepath.Join(b.TempDir(), "ledger.db"), BoltOptions{})
			if err != nil {
				b.Fatal(err)
			}
			return l
		},
		"postgres": func(b *testing.B) Ledger {
			l, err := OpenPostgres(b.Context(), pg.Database(b), PostgresOptions{})
			if err != nil {
				b.Fatal(err)
			}
			return l
		},
	}
	for _, name := range []string{"bolt", "postgres"} {
		for _, gaps := range []int{1, 100} {
			b.Run(fmt.Sprintf("%s/ranges=%d", name, gaps), func(b *testing.B) {
				l := opens[name](b)
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
}

// BenchmarkLedgerFiles measures whole small imports (Begin, one Record,
// Finish as imported) from 8 goroutines, on each implementation: the
// registrar groups the Finishes of concurrent files into shared commits.
func BenchmarkLedgerFiles(b *testing.B) {
	for _, bk := range []string{"bolt", "postgres"} {
		b.Run(bk, func(b *testing.B) {
			var l Ledger
			var err error
			if bk == "bolt" {
				l, err = OpenBolt(filepath.Join(b.TempDir(), "ledger.db"), BoltOptions{})
			} else {
				l, err = OpenPostgres(b.Context(), pg.Database(b), PostgresOptions{})
			}
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			var n atomic.Int64
			b.SetParallelism(4) // 8 goroutines on 2 CPUs
			b.RunParallel(func(p *testing.PB) {
				ctx := context.Background()
				for p.Next() {
					sum := fmt.Sprint("f", n.Add(1))
					if _, err := l.Begin(ctx, "r/s", Content{Sum: sum, Name: sum}, false); err != nil {
						b.Error(err)
						return
					}
					l.Record("r/s", sum, ioc.Ranges{{0, 100}})
					if err := l.Finish(ctx, "r/s", sum, true); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
