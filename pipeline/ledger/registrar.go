package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// A store is where a Ledger keeps its entries durably: the part that
// differs between implementations. Everything else (Begin's decisions,
// coalescing, waiting for durability) is the registrar's, the same for all.
type store interface {
	// get returns the durable entry of sum for key, if any.
	get(ctx context.Context, key, sum string) (Entry, bool, error)
	// put writes the entries in one durable commit: all of them or none.
	put(ctx context.Context, ws []write) error
}

// A failureNoter is a store that hears of its failed writes: it reports
// whether it said so itself (the database is unreachable, which an
// instance warns of once), and the registrar need not warn.
type failureNoter interface {
	writeFailed(err error) (said bool)
}

// A write is one entry for put.
type write struct {
	key, sum string
	e        Entry
}

// fileID is an import: a content through a key.
type fileID struct{ key, sum string }

// progress is an import the registrar keeps in memory, from Begin to a
// durable Finish.
type progress struct {
	id      fileID
	entry   Entry // as recorded; Done only once written
	dirty   bool  // changed, or waited for, since the last write
	writing bool  // in the write under way
	// waiters are answered by the write that includes what they wait for.
	waiters []waiter
}

// A waiter waits for the next write of an import. With end, the import
// is forgotten once written; with imported too, the write records it as
// imported (Done).
type waiter struct {
	ch            chan error
	end, imported bool
}

// retryDelay is how long the registrar waits before writing again after a
// failed write, unless more is recorded meanwhile.
const retryDelay = time.Second

// The registrar owns a ledger's writes, like Filebeat's registrar owns its
// registry: Record updates the import's state in memory and wakes it; its
// one goroutine writes every import changed since its last write in one
// commit, so that many files' acknowledgements share one fsync and nobody
// who records waits for the disk. Finish and Begin wait for the write that
// includes them.
type registrar struct {
	st  store
	log *slog.Logger

	mu       sync.Mutex
	files    map[fileID]*progress
	dirty    []*progress // in the order they changed
	closed   bool
	closeErr error

	kick chan struct{} // something is dirty; buffered, never blocks
	stop chan struct{}
	done chan struct{}
}

func newRegistrar(st store, log *slog.Logger) *registrar {
	r := &registrar{
		st: st, log: log, files: map[fileID]*progress{},
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go r.run()
	return r
}

// run writes what is dirty each time it is woken, until close.
func (r *registrar) run() {
	defer close(r.done)
	var retry <-chan time.Time
	var failing time.Time // since when writes fail; zero while they succeed
	for {
		select {
		case <-r.kick:
		case <-retry:
		case <-r.stop:
			if err := r.flush(); err != nil {
				r.log.Error("recording acknowledged rows", "error", err)
				r.closeErr = err
			}
			return
		}
		retry = nil
		err := r.flush()
		quiet := false
		if n, ok := r.st.(failureNoter); ok && err != nil {
			quiet = n.writeFailed(err)
		}
		switch {
		case err != nil && failing.IsZero() && quiet:
			failing = time.Now()
			r.log.Info("recording acknowledged rows: trying again until it succeeds (nothing recorded is lost meanwhile)", "error", err, "retry_every", retryDelay)
		case err != nil && failing.IsZero():
			// Said once: a database away for a while would say it every
			// second.
			failing = time.Now()
			r.log.Warn("recording acknowledged rows: trying again until it succeeds (nothing recorded is lost meanwhile)", "error", err, "retry_every", retryDelay)
		case err != nil:
			r.log.Debug("recording acknowledged rows: trying again", "error", err)
		case !failing.IsZero():
			r.log.Info("recording acknowledged rows again", "failed_for", time.Since(failing).Round(time.Millisecond))
			failing = time.Time{}
		}
		if err != nil {
			retry = time.After(retryDelay)
		}
	}
}

// flush writes every dirty import in one commit and answers its waiters.
// On failure the imports stay dirty, to be written by the next flush.
func (r *registrar) flush() error {
	r.mu.Lock()
	batch := r.dirty
	r.dirty = nil
	now := time.Now().UTC()
	ws := make([]write, len(batch))
	waiters := make([][]waiter, len(batch))
	ends := make([]bool, len(batch))
	for i, p := range batch {
		e := p.entry
		e.Updated = now
		if slices.ContainsFunc(p.waiters, func(w waiter) bool { return w.imported }) {
			e.Done, e.Imported = true, now
		}
		ws[i] = write{key: p.id.key, sum: p.id.sum, e: e}
		ends[i] = slices.ContainsFunc(p.waiters, func(w waiter) bool { return w.end })
		waiters[i], p.waiters, p.dirty, p.writing = p.waiters, nil, false, true
	}
	r.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := r.st.put(context.Background(), ws)
	r.mu.Lock()
	for i, p := range batch {
		p.writing = false
		switch {
		case err != nil:
			r.markLocked(p)
		case ends[i]:
			p.entry.Done, p.entry.Imported = ws[i].e.Done, ws[i].e.Imported
			if r.files[p.id] == p {
				delete(r.files, p.id)
			}
		}
		for _, w := range waiters[i] {
			w.ch <- err
		}
	}
	r.mu.Unlock()
	return err
}

// markLocked makes p dirty and wakes the goroutine. r.mu is held.
func (r *registrar) markLocked(p *progress) {
	if !p.dirty {
		p.dirty = true
		r.dirty = append(r.dirty, p)
	}
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// waitLocked returns a channel answered by the next write of p. r.mu is
// held.
func (r *registrar) waitLocked(p *progress, w waiter) chan error {
	w.ch = make(chan error, 1)
	p.waiters = append(p.waiters, w)
	r.markLocked(p)
	return w.ch
}

// wait waits for the answer on ch, or ctx: a context done already wins,
// even over an answer that is there (select would choose at random).
func wait(ctx context.Context, ch <-chan error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// begin is Ledger.Begin, over any store.
func (r *registrar) begin(ctx context.Context, key string, c Content, reimport bool) (Start, error) {
	id := fileID{key: key, sum: c.Sum}
	if err := r.settle(ctx, id); err != nil {
		return Start{}, err
	}
	e, ok, err := r.st.get(ctx, key, c.Sum)
	if err != nil {
		return Start{}, err
	}
	if ok && e.Done && !e.Partial && !reimport {
		return Start{Status: Duplicate, Entry: e}, nil
	}
	reset := ok && e.Done && reimport
	if reset {
		e = Entry{}
	}
	// A content imported with rows not delivered is begun again: its
	// acknowledged rows are kept, and this run says anew which rows it
	// does not deliver. Until it finishes, the entry on disk stays as it
	// was (a crash begins it again the same way).
	e.Done, e.Imported, e.Partial = false, time.Time{}, false
	e.Name, e.Size = c.Name, c.Size
	if err := r.register(ctx, &progress{id: id, entry: e}, reset); err != nil {
		return Start{}, err
	}
	if len(e.Acked) > 0 {
		return Start{Status: Resume, Entry: e}, nil
	}
	return Start{Status: Fresh, Entry: e}, nil
}

// settle waits until what the registrar holds of id, if anything, is
// durable, and forgets it: an import begun again (a retry) starts from
// what is on disk.
func (r *registrar) settle(ctx context.Context, id fileID) error {
	r.mu.Lock()
	p := r.files[id]
	if p == nil {
		r.mu.Unlock()
		return nil
	}
	return r.endLocked(ctx, p, false)
}

// register makes p the import of its id; with write, it waits until p's
// entry is written.
func (r *registrar) register(ctx context.Context, p *progress, write bool) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	r.files[p.id] = p
	if !write {
		r.mu.Unlock()
		return nil
	}
	ch := r.waitLocked(p, waiter{})
	r.mu.Unlock()
	err := wait(ctx, ch)
	if err != nil {
		r.mu.Lock()
		if r.files[p.id] == p {
			delete(r.files, p.id)
		}
		r.mu.Unlock()
	}
	return err
}

// record is Ledger.Record.
func (r *registrar) record(key, sum string, acked ioc.Ranges) {
	if len(acked) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.files[fileID{key: key, sum: sum}]
	if p == nil || r.closed {
		return
	}
	u := p.entry.Acked.Union(acked)
	if slices.Equal(u, p.entry.Acked) {
		return
	}
	p.entry.Acked = u
	r.markLocked(p)
}

// undelivered is Ledger.Undelivered.
func (r *registrar) undelivered(key, sum string, rows ioc.Ranges) {
	if len(rows) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.files[fileID{key: key, sum: sum}]
	if p == nil || r.closed || p.entry.Partial {
		return
	}
	p.entry.Partial = true
	r.markLocked(p)
}

// finish is Ledger.Finish.
func (r *registrar) finish(ctx context.Context, key, sum string, imported bool) error {
	r.mu.Lock()
	p := r.files[fileID{key: key, sum: sum}]
	switch {
	case r.closed:
		r.mu.Unlock()
		return ErrClosed
	case p == nil:
		r.mu.Unlock()
		return fmt.Errorf("ledger: finishing %s: %w", sum, errNotBegun)
	}
	return r.endLocked(ctx, p, imported)
}

// endLocked ends the import p: at once when nothing of it is left to
// write, else once the write that includes it (and records it imported)
// is durable. r.mu is held, and released.
func (r *registrar) endLocked(ctx context.Context, p *progress, imported bool) error {
	if !imported && !p.dirty && !p.writing {
		delete(r.files, p.id)
		r.mu.Unlock()
		return nil
	}
	ch := r.waitLocked(p, waiter{end: true, imported: imported})
	r.mu.Unlock()
	return wait(ctx, ch)
}

var errNotBegun = errors.New("not begun, or finished already")

// close writes what is dirty and stops the goroutine.
func (r *registrar) close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	close(r.stop)
	<-r.done
	return r.closeErr
}
