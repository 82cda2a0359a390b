package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// memStore is a store in memory whose writes can be held up (gate) or
// made to fail (fail), and which counts its commits.
type memStore struct {
	mu      sync.Mutex
	entries map[fileID]Entry
	commits [][]write
	gate    chan struct{} // when set, each put waits for a value
	fail    int           // the next fail puts fail
}

func newMemStore() *memStore { return &memStore{entries: map[fileID]Entry{}} }

func (s *memStore) get(_ context.Context, key, sum string) (Entry, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[fileID{key, sum}]
	return e, ok, nil
}

func (s *memStore) put(_ context.Context, ws []write) error {
	if s.gate != nil {
		<-s.gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail > 0 {
		s.fail--
		return errors.New("disk full")
	}
	for _, w := range ws {
		s.entries[fileID{w.key, w.sum}] = w.e
	}
	s.commits = append(s.commits, ws)
	return nil
}

func (s *memStore) entry(key, sum string) Entry {
	e, _, _ := s.get(context.Background(), key, sum)
	return e
}

func (s *memStore) numCommits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.commits)
}

func begin(t *testing.T, r *registrar, sum string) {
	t.Helper()
	if _, err := r.begin(context.Background(), "k", Content{Sum: sum, Name: sum + ".csv"}, false); err != nil {
		t.Fatal(err)
	}
}

// TestRegistrarCoalesces: records made while a write is under way do not
// wait for it, and go out together in the next commit.
func TestRegistrarCoalesces(t *testing.T) {
	s := newMemStore()
	s.gate = make(chan struct{})
	r := newRegistrar(s, slog.New(slog.DiscardHandler))
	const files = 50
	for i := range files {
		begin(t, r, fmt.Sprint(i))
	}
	r.record("k", "0", ioc.Ranges{{0, 1}}) // the first write starts and waits at the gate
	time.Sleep(20 * time.Millisecond)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range files {
			for row := range 10 {
				r.record("k", fmt.Sprint(i), ioc.Ranges{{row, row + 1}})
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Record waited for the write under way")
	}
	finished := make(chan error, 1)
	go func() { finished <- r.finish(context.Background(), "k", "7", true) }()
	for waiting := false; !waiting; time.Sleep(time.Millisecond) {
		r.mu.Lock()
		waiting = len(r.files[fileID{"k", "7"}].waiters) > 0
		r.mu.Unlock()
	}
	s.gate <- struct{}{} // first write
	s.gate <- struct{}{} // everything else, in one commit
	if err := <-finished; err != nil {
		t.Fatal(err)
	}
	close(s.gate)
	if err := r.close(); err != nil {
		t.Fatal(err)
	}
	if n := s.numCommits(); n != 2 {
		t.Errorf("%d commits, want 2", n)
	}
	for i := range files {
		if e := s.entry("k", fmt.Sprint(i)); fmt.Sprint(e.Acked) != "[[0 10]]" || e.Done != (i == 7) {
			t.Errorf("file %d: %+v, want rows [0,10), done %v", i, e, i == 7)
		}
	}
}

// TestRegistrarFinishWaits: Finish returns once the records made before
// it and the import are durable; records go on in the background.
func TestRegistrarFinishWaits(t *testing.T) {
	s := newMemStore()
	r := newRegistrar(s, slog.New(slog.DiscardHandler))
	defer r.close()
	begin(t, r, "a")
	for row := range 1000 {
		r.record("k", "a", ioc.Ranges{{row, row + 1}})
	}
	if err := r.finish(context.Background(), "k", "a", true); err != nil {
		t.Fatal(err)
	}
	if e := s.entry("k", "a"); fmt.Sprint(e.Acked) != "[[0 1000]]" || !e.Done || e.Imported.IsZero() {
		t.Errorf("after Finish: %+v", e)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	begin(t, r, "b")
	if err := r.finish(ctx, "k", "b", true); !errors.Is(err, context.Canceled) {
		t.Errorf("Finish with a cancelled context: %v", err)
	}
}

// TestRegistrarFailedWrite: a failed write is reported to Finish, keeps
// the content unfinished, and the recorded rows are written later.
func TestRegistrarFailedWrite(t *testing.T) {
	s := newMemStore()
	r := newRegistrar(s, slog.New(slog.DiscardHandler))
	begin(t, r, "a")
	s.mu.Lock()
	s.fail = 1
	s.mu.Unlock()
	r.record("k", "a", ioc.Ranges{{0, 5}})
	err := r.finish(context.Background(), "k", "a", true)
	if err == nil {
		// The record's write failed and Finish's went through: also fine.
		if e := s.entry("k", "a"); !e.Done || fmt.Sprint(e.Acked) != "[[0 5]]" {
			t.Fatalf("after Finish: %+v", e)
		}
		r.close()
		return
	}
	if e := s.entry("k", "a"); e.Done {
		t.Fatalf("a failed Finish left %+v", e)
	}
	if err := r.close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if e := s.entry("k", "a"); e.Done || fmt.Sprint(e.Acked) != "[[0 5]]" {
		t.Errorf("after close: %+v, want rows [0,5), not done", e)
	}
}

// TestRegistrarBeginAgain: beginning a content again (a retry) waits for
// what was recorded of it and resumes from there.
func TestRegistrarBeginAgain(t *testing.T) {
	s := newMemStore()
	s.gate = make(chan struct{})
	r := newRegistrar(s, slog.New(slog.DiscardHandler))
	begin(t, r, "a")
	r.record("k", "a", ioc.Ranges{{0, 5}})
	started := make(chan Start, 1)
	go func() {
		st, err := r.begin(context.Background(), "k", Content{Sum: "a", Name: "a.csv"}, false)
		if err != nil {
			t.Error(err)
		}
		started <- st
	}()
	close(s.gate)
	st := <-started
	if st.Status != Resume || fmt.Sprint(st.Resumed()) != "[[0 5]]" {
		t.Errorf("begun again: %+v, want Resume with rows [0,5)", st)
	}
	if err := r.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.begin(context.Background(), "k", Content{Sum: "b"}, false); !errors.Is(err, ErrClosed) {
		t.Errorf("Begin after close: %v, want ErrClosed", err)
	}
}

// TestRegistrarFinishNotImported: Finish without imported writes what was
// recorded and forgets the import, which Begin then resumes.
func TestRegistrarFinishNotImported(t *testing.T) {
	s := newMemStore()
	r := newRegistrar(s, slog.New(slog.DiscardHandler))
	defer r.close()
	begin(t, r, "a")
	r.record("k", "a", ioc.Ranges{{0, 3}})
	if err := r.finish(context.Background(), "k", "a", false); err != nil {
		t.Fatal(err)
	}
	if e := s.entry("k", "a"); e.Done || fmt.Sprint(e.Acked) != "[[0 3]]" {
		t.Errorf("after Finish(false): %+v", e)
	}
	r.mu.Lock()
	n := len(r.files)
	r.mu.Unlock()
	if n != 0 {
		t.Errorf("the registrar still holds %d imports", n)
	}
	r.record("k", "a", ioc.Ranges{{3, 4}}) // ended: ignored
	st, err := r.begin(context.Background(), "k", Content{Sum: "a", Name: "a.csv"}, false)
	if err != nil || st.Status != Resume || fmt.Sprint(st.Resumed()) != "[[0 3]]" {
		t.Errorf("begun again: %+v, %v", st, err)
	}
}
