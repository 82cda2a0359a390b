package ledger

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// openShared opens n PostgreSQL ledgers on one new database, each with
// an instance of the given lease, closed when t ends.
func openShared(t *testing.T, n int, lease time.Duration) ([]*Postgres, []*Instance) {
	t.Helper()
	dsn := pg.Database(t)
	var ls []*Postgres
	var ins []*Instance
	for i := range n {
		l, err := OpenPostgres(t.Context(), dsn, PostgresOptions{})
		if err != nil {
			t.Fatal(err)
		}
		in, err := l.Join(t.Context(), InstanceOptions{ID: string(rune('a' + i)), Lease: lease})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			in.Close()
			l.Close()
		})
		ls, ins = append(ls, l), append(ins, in)
	}
	return ls, ins
}

// TestClaimOnce: a content is claimed by one instance at a time; the
// holder claims it again; another takes it over once the holder stopped
// (at once) and once its lease expired without renewal (a kill -9), and
// an instance whose own lease expired claims nothing.
func TestClaimOnce(t *testing.T) {
	const lease = 900 * time.Millisecond
	_, ins := openShared(t, 3, lease)
	a, b, c := ins[0], ins[1], ins[2]
	ctx := t.Context()
	claim := func(in *Instance, sum string) Claim {
		t.Helper()
		cl, err := in.Claim(ctx, "r/s", sum, "f-"+sum)
		if err != nil {
			t.Fatalf("%s claiming %s: %v", in.ID(), sum, err)
		}
		return cl
	}
	if cl := claim(a, "1"); !cl.OK || cl.From != "" {
		t.Fatalf("first claim: %+v", cl)
	}
	if cl := claim(b, "1"); cl.OK || cl.Holder != "a" {
		t.Fatalf("claim of a held content: %+v, want held by a", cl)
	}
	if cl := claim(a, "1"); !cl.OK {
		t.Fatalf("the holder claiming again: %+v", cl)
	}
	// Another route key is another claim.
	if cl, err := b.Claim(ctx, "r2/s", "1", "f-1"); err != nil || !cl.OK {
		t.Fatalf("same content through another key: %+v, %v", cl, err)
	}
	if cl := claim(a, "2"); !cl.OK {
		t.Fatal(cl)
	}

	// a stops: its claims are free at once.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if cl := claim(b, "1"); !cl.OK || cl.From != "a" {
		t.Fatalf("claim of a stopped instance's content: %+v, want taken over from a", cl)
	}

	// b dies without a word: its claims are taken over once its lease
	// expired, not before.
	b.halt()
	if cl := claim(c, "1"); cl.OK || cl.Holder != "b" {
		t.Fatalf("claim within b's lease: %+v", cl)
	}
	time.Sleep(lease + 100*time.Millisecond)
	if cl := claim(c, "1"); !cl.OK || cl.From != "b" {
		t.Fatalf("claim after b's lease expired: %+v, want taken over from b", cl)
	}
	if b.Valid() {
		t.Error("b's lease expired, but it says it is valid")
	}
	if _, err := b.Claim(ctx, "r/s", "3", "f-3"); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("claim by an instance whose lease expired: %v, want ErrLeaseLost", err)
	}
	if !c.Valid() {
		t.Error("c renews its lease, but it says it is not valid")
	}

	hs, err := c.Holdings(ctx, "r/s")
	if err != nil {
		t.Fatal(err)
	}
	if h := hs["f-1"]; h.Instance != "c" || !h.Live || h.Sum != "1" {
		t.Errorf("holding of f-1: %+v", h)
	}
	if h := hs["f-2"]; h.Instance != "a" || h.Live {
		t.Errorf("holding of f-2 (a stopped): %+v", h)
	}
	if err := c.Release(ctx, "r/s", "1"); err != nil {
		t.Fatal(err)
	}
	if cl := claim(c, "1"); !cl.OK || cl.From != "" {
		t.Fatalf("claim after release: %+v", cl)
	}
}

// TestClaimRace: instances racing for the same contents get each one
// exactly once.
func TestClaimRace(t *testing.T) {
	_, ins := openShared(t, 6, DefaultLease)
	const sums = 40
	var mu sync.Mutex
	won := map[string][]string{}
	var wg sync.WaitGroup
	for _, in := range ins {
		wg.Go(func() {
			for i := range sums {
				sum := string(rune('A' + i))
				cl, err := in.Claim(t.Context(), "r/s", sum, "f")
				if err != nil {
					t.Error(err)
					return
				}
				if cl.OK {
					mu.Lock()
					won[sum] = append(won[sum], in.ID())
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(won) != sums {
		t.Errorf("%d contents claimed, want %d", len(won), sums)
	}
	for sum, by := range won {
		if len(by) != 1 {
			t.Errorf("content %s claimed by %v, want one instance", sum, by)
		}
	}
}

// TestInstances: the instances and the files they hold, as status shows
// them.
func TestInstances(t *testing.T) {
	ls, ins := openShared(t, 2, DefaultLease)
	if _, err := ins[1].Claim(t.Context(), "r/s", "1", "feed.csv"); err != nil {
		t.Fatal(err)
	}
	ins[0].Close()
	got, err := ls[0].Instances(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "a" || got[1].ID != "b" {
		t.Fatalf("instances: %+v", got)
	}
	if got[0].Live || !got[0].Stopped || len(got[0].Files) != 0 {
		t.Errorf("a stopped: %+v", got[0])
	}
	if b := got[1]; !b.Live || b.PID == 0 || b.Host == "" || len(b.Files) != 1 || b.Files[0].Name != "feed.csv" || !b.LeaseUntil.After(time.Now()) {
		t.Errorf("b holding feed.csv: %+v", b)
	}
}

// BenchmarkClaim measures a claim and its release (what each file of a
// shared inbox costs the database, beside the ledger's writes), one
// instance after another on a loopback server.
func BenchmarkClaim(b *testing.B) {
	dsn := pg.Database(b)
	l, err := OpenPostgres(b.Context(), dsn, PostgresOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	in, err := l.Join(b.Context(), InstanceOptions{ID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	i := 0
	for b.Loop() {
		sum := strconv.Itoa(i)
		i++
		if cl, err := in.Claim(b.Context(), "r/s", sum, "f"); err != nil || !cl.OK {
			b.Fatal(cl, err)
		}
		if err := in.Release(b.Context(), "r/s", sum); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLateWriteFenced: an instance that lost a file (its lease lapsed,
// another took the file over) may still write what it recorded: its
// write neither shrinks the holder's acknowledged rows nor undoes an
// import the holder finished.
func TestLateWriteFenced(t *testing.T) {
	ls, ins := openShared(t, 2, DefaultLease)
	la, lb := ls[0], ls[1]
	a := ins[0]
	ctx := t.Context()
	const key = "r/s"
	acked := func(sum string) Entry {
		t.Helper()
		e, ok, err := la.Get(ctx, key, sum)
		if err != nil || !ok {
			t.Fatalf("%s: %v, %v", sum, ok, err)
		}
		return e
	}
	// b began the content before it lost it; a holds it now.
	if _, err := lb.Begin(ctx, key, Content{Sum: "1", Name: "f"}, false); err != nil {
		t.Fatal(err)
	}
	if cl, err := a.Claim(ctx, key, "1", "f"); err != nil || !cl.OK {
		t.Fatal(cl, err)
	}
	if _, err := la.Begin(ctx, key, Content{Sum: "1", Name: "f"}, false); err != nil {
		t.Fatal(err)
	}
	la.Record(key, "1", ioc.Ranges{{0, 8}})
	if err := la.Finish(ctx, key, "1", false); err != nil {
		t.Fatal(err)
	}
	lb.Record(key, "1", ioc.Ranges{{0, 3}})
	if err := lb.Finish(ctx, key, "1", false); err != nil {
		t.Fatal(err)
	}
	if e := acked("1"); fmt.Sprint(e.Acked) != "[[0 8]]" {
		t.Errorf("after b's late write: acked %v, want a's [[0 8]]", e.Acked)
	}

	// a finishes the import and releases the claim; b's late write comes
	// after.
	if _, err := lb.Begin(ctx, key, Content{Sum: "2", Name: "g"}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := la.Begin(ctx, key, Content{Sum: "2", Name: "g"}, false); err != nil {
		t.Fatal(err)
	}
	la.Record(key, "2", ioc.Ranges{{0, 10}})
	if err := la.Finish(ctx, key, "2", true); err != nil {
		t.Fatal(err)
	}
	lb.Record(key, "2", ioc.Ranges{{0, 4}})
	if err := lb.Finish(ctx, key, "2", false); err != nil {
		t.Fatal(err)
	}
	if e := acked("2"); !e.Done || fmt.Sprint(e.Acked) != "[[0 10]]" {
		t.Errorf("after b's late write: %+v, want a's import, done", e)
	}
	// A reimport still starts the content afresh.
	if st, err := la.Begin(ctx, key, Content{Sum: "2", Name: "g"}, true); err != nil || st.Status != Fresh {
		t.Fatalf("reimport: %+v, %v", st, err)
	}
	if e := acked("2"); e.Done || len(e.Acked) != 0 {
		t.Errorf("after a reimport: %+v, want the entry reset", e)
	}
}
