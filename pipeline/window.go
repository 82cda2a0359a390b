package pipeline

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"time"
)

// Dedup across runs (Options.DedupWindow). An indicator delivered through
// the same route key within the window, by an earlier run or an earlier
// file of this one, is not sent again: it counts as deduplicated and its
// rows are acknowledged. The store (Options.Delivered, the ledger) keeps
// the hashes of the indicators delivered, by the hour; at the start of a
// run the batcher loads those of the window into one hashSet per hour
// (off the Go heap, like the run's own memory of duplicates), adds those
// it delivers, and drops an hour once it left the window. It holds at
// most Options.MaxRemembered hashes, and the senders record no more than
// it has room for (Pipeline.dedupRoom), so the store holds at most as
// many within the window; those beyond are counted
// (Summary.Extra["dedup_window_forgotten"]) and may be sent again.
//
// The hashes are the same from one run to the next (hashOf, which the
// run's memory of duplicates uses too).

// DeliveredStore keeps the hashes of the indicators delivered through a
// route key, by the hour (see ledger.Hour); both ledgers implement it.
type DeliveredStore interface {
	// DeliveredSince calls fn with each hash delivered through key in
	// the hour of since or later, until fn returns false.
	DeliveredSince(ctx context.Context, key string, since time.Time, fn func(hour int64, h uint64) bool) error
	// RecordDelivered stores the hashes delivered through key at at, and
	// drops the hours before the hour of expire.
	RecordDelivered(ctx context.Context, key string, at time.Time, hashes []uint64, expire time.Time) error
}

// hourOf is the Unix hour t falls in (the store's buckets).
func hourOf(t time.Time) int64 { return t.Unix() / 3600 }

// window is the batcher's memory of the indicators delivered within the
// window, by hour.
type window struct {
	span      time.Duration
	now       func() time.Time
	max       int
	n         int
	hours     map[int64]*hashSet
	room      *atomic.Int64 // how many more the senders may record
	oldest    int64         // the oldest hour within the window at the last lookup
	forgotten int64         // hashes not held: the memory was full
}

// newWindow returns the memory of p's window, nil when it is off.
func newWindow(p *Pipeline) *window {
	opts := p.opts
	if opts.DedupWindow <= 0 || opts.Delivered == nil {
		return nil
	}
	max := max(opts.MaxRemembered, 0)
	if opts.MaxRemembered == 0 {
		max = DefaultMaxRemembered
	}
	return &window{span: opts.DedupWindow, now: opts.Now, max: max, hours: map[int64]*hashSet{}, room: &p.dedupRoom}
}

// load reads the hashes delivered within the window from the store.
func (w *window) load(ctx context.Context, p *Pipeline) error {
	err := p.opts.Delivered.DeliveredSince(ctx, p.opts.DedupKey, w.now().Add(-w.span), func(hour int64, h uint64) bool {
		if !w.add(hour, h) {
			w.forgotten++
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("dedup_window: %w", err)
	}
	w.room.Store(int64(w.max - w.n))
	return nil
}

// add notes that h was delivered in hour; it reports false when the
// memory is full.
func (w *window) add(hour int64, h uint64) bool {
	if w.n >= w.max {
		return false
	}
	s := w.hours[hour]
	if s == nil {
		s = &hashSet{}
		w.hours[hour] = s
	}
	if s.add(h) {
		w.n++
	}
	return true
}

// has reports whether h was delivered within the window; it first drops
// the hours that left it.
func (w *window) has(h uint64) bool {
	if oldest := hourOf(w.now().Add(-w.span)); oldest != w.oldest {
		w.oldest = oldest
		for hour, s := range w.hours {
			if hour < oldest {
				w.room.Add(int64(s.len()))
				w.n -= s.len()
				s.free()
				delete(w.hours, hour)
			}
		}
	}
	for _, s := range w.hours {
		if s.has(h) {
			return true
		}
	}
	return false
}

// delivered adds the items of a settled batch that were delivered (the
// senders counted those they had no room for).
func (w *window) delivered(sent *sentItems) {
	hour := hourOf(w.now())
	for i, h := range sent.hashes {
		if sent.delivered[i] {
			w.add(hour, h)
		}
	}
}

// free releases the memory.
func (w *window) free() {
	for _, hour := range slices.Collect(maps.Keys(w.hours)) {
		w.hours[hour].free()
		delete(w.hours, hour)
	}
	w.n = 0
}

// recordTimeout bounds one write of the delivered hashes, which is made
// even when the run was cancelled (the sink took them).
const recordTimeout = 30 * time.Second

// recordDelivered stores the hashes of b's delivered items (and so of
// its riders'); a failure is logged: those may be sent again.
func (p *Pipeline) recordDelivered(ctx context.Context, b *job) {
	if p.opts.DedupWindow <= 0 || p.opts.Delivered == nil || b.sent == nil || len(b.sent.hashes) == 0 {
		return
	}
	hs := make([]uint64, 0, len(b.sent.hashes))
	for i, h := range b.sent.hashes {
		if b.sent.delivered[i] {
			hs = append(hs, h)
		}
	}
	if k := p.takeRoom(len(hs)); k < len(hs) {
		p.tracker.extra("dedup_window_forgotten", int64(len(hs)-k))
		hs = hs[:k]
	}
	if len(hs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	now := p.opts.Now()
	if err := p.opts.Delivered.RecordDelivered(ctx, p.opts.DedupKey, now, hs, now.Add(-p.opts.DedupWindow)); err != nil {
		p.log.Warn("dedup_window: recording delivered indicators failed; they may be sent again", "err", err)
	}
}

// takeRoom takes up to n of the window's room for recording, and returns
// how many it took.
func (p *Pipeline) takeRoom(n int) int {
	for {
		room := p.dedupRoom.Load()
		k := min(int64(n), max(room, 0))
		if k == 0 || p.dedupRoom.CompareAndSwap(room, room-k) {
			return int(k)
		}
	}
}
