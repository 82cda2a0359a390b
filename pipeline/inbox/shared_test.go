package inbox

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/pipeline"
	"github.com/iocpipe/iocpipe/pipeline/ledger"
	"github.com/iocpipe/iocpipe/pipeline/ledger/pgtest"
)

// pg is the PostgreSQL server of this test binary.
var pg pgtest.Shared

func TestMain(m *testing.M) { os.Exit(pg.Run(m)) }

// sharedLedger opens a PostgreSQL ledger on a new database; join adds an
// instance of it with the lease.
func sharedLedger(t *testing.T) (l *ledger.Postgres, join func(id string, lease time.Duration) *ledger.Instance) {
	t.Helper()
	l, err := ledger.OpenPostgres(t.Context(), pg.Database(t), ledger.PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, func(id string, lease time.Duration) *ledger.Instance {
		t.Helper()
		in, err := l.Join(t.Context(), ledger.InstanceOptions{ID: id, Lease: lease})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { in.Close() })
		return in
	}
}

// TestSharedOwners: instances with claims share an inbox; an inbox
// without (one owner, the bbolt ledger) is refused while they watch it,
// and they are refused while it does, each error saying why.
func TestSharedOwners(t *testing.T) {
	dir := t.TempDir()
	l, join := sharedLedger(t)
	a, err := New(Options{Dir: dir, Ledger: l, Claims: join("a", ledger.DefaultLease)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Options{Dir: dir, Ledger: l, Claims: join("b", ledger.DefaultLease)})
	if err != nil {
		t.Fatalf("a second instance sharing the inbox: %v", err)
	}
	_, err = New(Options{Dir: dir, Ledger: openTestLedger(t)})
	if !errors.Is(err, ErrOwned) || !strings.Contains(err.Error(), "PostgreSQL") {
		t.Fatalf("an owner alone on a shared inbox: %v, want ErrOwned saying how to share", err)
	}
	a.Close()
	b.Close()
	if _, err := os.Stat(filepath.Join(dir, ".iocpipe", "work", ".instance-a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("instance a's private folder is left after Close: %v", err)
	}
	c, err := New(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = New(Options{Dir: dir, Ledger: l, Claims: join("d", ledger.DefaultLease)})
	if !errors.Is(err, ErrOwned) || !strings.Contains(err.Error(), "without sharing it") {
		t.Fatalf("an instance on an inbox with one owner: %v, want ErrOwned", err)
	}
}

// TestSharedTakeOver: files left in a shared work/: one held by an
// instance that stopped is taken over at once, one held by a live
// instance never, and one nobody claimed only after a whole lease.
func TestSharedTakeOver(t *testing.T) {
	dir := t.TempDir()
	work := filepath.Join(dir, ".iocpipe", "work")
	os.MkdirAll(work, 0o700)
	l, join := sharedLedger(t)
	key := ledger.Key("feeds", "trustar")
	put := func(name string) string {
		p := filepath.Join(work, name)
		if err := os.WriteFile(p, []byte("value\n"+name+".example.com\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		sum, _, err := ledger.Sum(p)
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	gone, live := join("gone", ledger.DefaultLease), join("live", ledger.DefaultLease)
	if cl, err := gone.Claim(t.Context(), key, put("stopped.csv"), "stopped.csv"); err != nil || !cl.OK {
		t.Fatal(cl, err)
	}
	if cl, err := live.Claim(t.Context(), key, put("held.csv"), "held.csv"); err != nil || !cl.OK {
		t.Fatal(cl, err)
	}
	put("orphan.csv")
	gone.Close()
	// What instances left: one never known here (gone for good), one
	// stopped a moment ago (kept: it may come back).
	for _, p := range []string{filepath.Join(work, ".instance-ghost", ".snapshot-1"), filepath.Join(dir, ".iocpipe", "status.ghost.json"),
		filepath.Join(work, ".instance-gone", ".snapshot-2")} {
		os.MkdirAll(filepath.Dir(p), 0o700)
		os.WriteFile(p, []byte("{}"), 0o600)
	}

	const lease = 1500 * time.Millisecond
	ib, err := New(Options{Dir: dir, Ledger: l, Route: "feeds", Sink: "trustar", Rescan: 100 * time.Millisecond,
		Claims: join("me", lease)})
	if err != nil {
		t.Fatal(err)
	}
	defer ib.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	feed := make(chan pipeline.Input)
	started := time.Now()
	go ib.Watch(ctx, feed)
	fed := map[string]time.Duration{}
	timeout := time.After(lease + 3*time.Second)
	for len(fed) < 2 {
		select {
		case in := <-feed:
			fed[in.Name] = time.Since(started)
			final(in)
		case <-timeout:
			t.Fatalf("files fed: %v, want stopped.csv and orphan.csv", fed)
		}
	}
	if _, ok := fed["stopped.csv"]; !ok {
		t.Errorf("the stopped instance's file was not taken over (fed: %v)", fed)
	}
	if d, ok := fed["orphan.csv"]; !ok || d < lease {
		t.Errorf("the unclaimed file was taken over after %v, want after the lease %v", d, lease)
	}
	select {
	case in := <-feed:
		t.Errorf("%s fed, held by a live instance", in.Name)
	case <-time.After(500 * time.Millisecond):
	}
	if st := ib.Stats(); st.TakenOver != 1 || st.Resumed != 2 {
		t.Errorf("stats %+v, want 1 taken over and 2 resumed", st)
	}
	for p, want := range map[string]bool{filepath.Join(work, ".instance-ghost"): false, filepath.Join(dir, ".iocpipe", "status.ghost.json"): false,
		filepath.Join(work, ".instance-gone", ".snapshot-2"): true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", p, err == nil, want)
		}
	}
}

// watchShared creates a shared inbox in a new folder with o (Dir, Route,
// Sink and Settle filled in) and watches it until the test ends; next
// returns the next input fed, failing the test after 15 s.
func watchShared(t *testing.T, o Options) (dir string, next func(what string) pipeline.Input) {
	t.Helper()
	o.Dir, o.Route, o.Sink, o.Settle = t.TempDir(), "feeds", "trustar", 50*time.Millisecond
	ib, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	feed := make(chan pipeline.Input)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ib.Watch(ctx, feed)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		ib.Close()
	})
	return o.Dir, func(what string) pipeline.Input {
		t.Helper()
		select {
		case in := <-feed:
			return in
		case <-time.After(15 * time.Second):
			t.Fatalf("%s: nothing fed", what)
			return pipeline.Input{}
		}
	}
}

// final ends in's run: every row settled, nothing sent.
func final(in pipeline.Input) {
	in.Report(pipeline.FileReport{Final: true, Result: pipeline.FileResult{File: in.Name}})
}

// TestSharedAbandon: the database stops answering while a file is in
// progress; once the lease expired, the rest of the file is not sent (its
// rows not read yet are skipped) and the file is not filed; when the
// database is back it is fed again, and then filed.
func TestSharedAbandon(t *testing.T) {
	if v := os.Getenv(pgtest.OptOut); v != "" && v != "0" {
		t.Skipf("%s=%s: PostgreSQL tests skipped", pgtest.OptOut, v)
	}
	srv, err := pgtest.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	l, err := ledger.OpenPostgres(t.Context(), srv.DSN, ledger.PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	const lease = 1500 * time.Millisecond
	in, err := l.Join(t.Context(), ledger.InstanceOptions{ID: "me", Lease: lease})
	if err != nil {
		t.Fatal(err)
	}
	dir, next := watchShared(t, Options{Ledger: l, Claims: in})
	os.WriteFile(filepath.Join(dir, "big.csv"), []byte("value\na.example.com\nb.example.com\n"), 0o600)
	first := next("the file")
	if first.Skip(0) {
		t.Fatal("row 0 skipped before the outage")
	}
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, lease+10*time.Second, "the run abandoned after the lease expired", func() bool { return first.Skip(1) })
	final(first)
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	second := next("the abandoned file, once the database answered")
	if second.Name != "big.csv" || second.Skip(1) {
		t.Fatalf("fed again: %s, row 1 skipped %v; want big.csv, sent", second.Name, second.Skip(1))
	}
	if exists(filepath.Join(dir, "done", "big.csv")) {
		t.Fatal("the abandoned run's file was filed in done/")
	}
	final(second)
	waitFor(t, 10*time.Second, "the file filed after its second run", func() bool { return exists(filepath.Join(dir, "done", "big.csv")) })
}

// TestSharedNotHeld: a file whose claim this instance no longer holds
// when its run ends (taken over, filed and released by another instance
// while this one's lease lapsed) is not filed here, and no claim is
// made for it again.
func TestSharedNotHeld(t *testing.T) {
	l, join := sharedLedger(t)
	me := join("me", ledger.DefaultLease)
	var logs strings.Builder
	var mu sync.Mutex
	said := func(s string) bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(logs.String(), s)
	}
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	dir, next := watchShared(t, Options{Ledger: l, Claims: me, Logger: log})
	os.WriteFile(filepath.Join(dir, "f.csv"), []byte("value\nf.example.com\n"), 0o600)
	in := next("the file")
	sum, _, err := ledger.Sum(filepath.Join(dir, ".iocpipe", "work", "f.csv"))
	if err != nil {
		t.Fatal(err)
	}
	key := ledger.Key("feeds", "trustar")
	if err := me.Release(t.Context(), key, sum); err != nil {
		t.Fatal(err)
	}
	final(in)
	waitFor(t, 10*time.Second, "word of the claim lost", func() bool { return said("not filed here") })
	if exists(filepath.Join(dir, "done", "f.csv")) {
		t.Error("a file whose claim was lost was filed in done/")
	}
	hs, err := me.Holdings(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := hs["f.csv"]; ok {
		t.Errorf("a claim was made again for a file not held: %+v", h)
	}
}

// writerFunc is an io.Writer of a function.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
