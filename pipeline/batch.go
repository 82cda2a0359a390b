package pipeline

import (
	"context"
	"slices"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// A job is a batch on its way from the batcher to the sink and back: the
// batch the sink sees, and what the engine needs to account for it.
type job struct {
	*ioc.Batch
	// files are the files whose rows the batch carries, and fileOf[i] the
	// index in files of Items[i]'s file (of the associations' file, files[0]).
	files  []*fileState
	fileOf []uint32

	bytes  int
	opened time.Time
	// sent is what duplicates of the batch's items need (see dedup.go).
	sent *sentItems
	// wait, for a batch of associations, closes when the indicators of its
	// file were all acknowledged.
	wait <-chan struct{}
}

// estimate is a cheap upper bound of an indicator's encoded size.
func estimate(in *ioc.Indicator) int {
	n := 96 + len(in.Value) + len(in.Source) + len(in.Notes)
	for _, t := range in.Tags {
		n += 64 + len(t.Name)
	}
	return n
}

// add appends in, read from file f, to the batch and returns its index.
func (b *job) add(f *fileState, in *ioc.Indicator) int {
	b.Items = append(b.Items, in)
	b.bytes += estimate(in)
	fi := len(b.files) - 1
	if fi < 0 || b.files[fi] != f {
		fi = slices.Index(b.files, f)
		if fi < 0 {
			fi = len(b.files)
			b.files = append(b.files, f)
		}
	}
	b.fileOf = append(b.fileOf, uint32(fi))
	return len(b.Items) - 1
}

// fileAt returns the file of item i.
func (b *job) fileAt(i int) *fileState { return b.files[b.fileOf[i]] }

// merge folds dup's attributes into in (their rows are the caller's
// business): sightings summed, earliest firstSeen, latest
// lastSeen, the tags of the highest precedence level present (united
// when both are at that level), notes and source kept when new.
func merge(in, dup *ioc.Indicator) {
	in.Merged++
	in.Sightings += dup.Sightings
	if dup.FirstSeen != 0 && (in.FirstSeen == 0 || dup.FirstSeen < in.FirstSeen) {
		in.FirstSeen = dup.FirstSeen
	}
	if dup.LastSeen > in.LastSeen {
		in.LastSeen = dup.LastSeen
	}
	switch {
	case dup.TagLevel > in.TagLevel:
		in.Tags, in.TagLevel = dup.Tags, dup.TagLevel
	case dup.TagLevel == in.TagLevel && dup.TagLevel == ioc.LevelRow:
		in.Tags = uniteTags(in.Tags, dup.Tags)
	}
	if in.Source == "" {
		in.Source = dup.Source
	}
	if dup.Notes != "" && dup.Notes != in.Notes && len(in.Notes) < 4096 {
		if in.Notes == "" {
			in.Notes = dup.Notes
		} else {
			in.Notes += "; " + dup.Notes
		}
	}
	if in.Reputation == nil {
		in.Reputation = dup.Reputation
	}
}

func uniteTags(a, b []ioc.Tag) []ioc.Tag {
	out := append([]ioc.Tag(nil), a...)
	for _, t := range b {
		found := false
		for _, u := range out {
			if u == t {
				found = true
				break
			}
		}
		if !found {
			out = append(out, t)
		}
	}
	return out
}

// batch is the batching stage: it takes normalized chunks in file order,
// reports rejects and skipped rows, and groups indicators per submission
// key into batches that close at MaxBatch indicators, at MaxBytes, at the
// end of input, or by linger: a batch at least Linger old closes when no
// rows came for Linger/2 (input paused), and in any case at 10×Linger, so
// a steady trickle cannot hold it back for long while a bulk import that
// keeps rows coming still fills whole submissions.
func (p *Pipeline) batch(ctx context.Context, in <-chan *chunk, out chan<- *job) error {
	b := &batcher{p: p, ctx: ctx, out: out, open: map[string]*job{}, seen: newSeen(p.opts), lastRows: time.Now()}
	defer b.seen.free()
	if b.window = newWindow(p); b.window != nil {
		defer b.endWindow()
		if err := b.window.load(ctx, p); err != nil {
			return err
		}
	}
	tick := time.NewTicker(max(p.opts.Linger/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case c, ok := <-in:
			if !ok {
				return b.flush()
			}
			b.lastRows = time.Now()
			if err := b.chunk(c); err != nil {
				b.abandon()
				return err
			}
		case now := <-tick.C:
			for len(b.order) > 0 && b.lingering(now, b.open[b.order[0]]) {
				if err := b.emit(b.order[0]); err != nil {
					b.abandon()
					return err
				}
			}
		case <-ctx.Done():
			b.abandon()
			return ctx.Err()
		}
	}
}

// A batcher holds the batching stage's open batches.
type batcher struct {
	p     *Pipeline
	ctx   context.Context
	out   chan<- *job
	open  map[string]*job
	order []string // keys in the order their batches opened
	seq   int
	seen  *seen
	// window is the memory of DedupWindow, nil when it is off.
	window *window
	// untracked counts indicators not remembered (the memory was full).
	untracked int64
	// lastRows is when rows last came in.
	lastRows time.Time
}

// lingering reports whether b has waited long enough.
func (bt *batcher) lingering(now time.Time, b *job) bool {
	linger := bt.p.opts.Linger
	age := now.Sub(b.opened)
	return age >= 10*linger || age >= linger && now.Sub(bt.lastRows) >= linger/2
}

// chunk accounts for c's rows and batches their indicators; a file's last
// chunk also brings its associations.
func (bt *batcher) chunk(c *chunk) error {
	p := bt.p
	for _, s := range p.tracker.takeSettled() {
		bt.seen.settled(s)
		if bt.window != nil {
			bt.window.delivered(s)
		}
	}
	for i := range c.rows {
		r := &c.rows[i]
		p.tracker.row(c.file, r)
		for _, ind := range r.inds {
			if err := bt.add(c.file, ind); err != nil {
				return err
			}
		}
	}
	if c.last && len(c.assocs) > 0 {
		if err := bt.associations(c); err != nil {
			return err
		}
	}
	if c.last {
		bt.seen.forget(c.file)
		if bt.untracked > 0 {
			p.tracker.extra("not_deduplicated", bt.untracked)
			bt.untracked = 0
		}
		p.tracker.fileRead(c)
	}
	return nil
}

// add puts ind, read from f, in the open batch of its submission, unless
// it duplicates an indicator batched before (see dedup.go), and sends the
// batch when it is full.
func (bt *batcher) add(f *fileState, ind *ioc.Indicator) error {
	p := bt.p
	sc, h := bt.seen.of(f), hashOf(ind)
	if bt.duplicate(f, ind, sc, h) {
		return nil
	}
	if bt.window != nil && bt.window.has(h) {
		p.tracker.deduplicated(f, ind)
		return nil
	}
	key := ind.Sub.Key
	b := bt.open[key]
	if b == nil {
		n := min(p.opts.MaxBatch, 16384)
		b = &job{Batch: &ioc.Batch{Sub: ind.Sub, Items: make([]*ioc.Indicator, 0, n)}, opened: time.Now(),
			fileOf: make([]uint32, 0, n), sent: &sentItems{}}
		bt.open[key] = b
		bt.order = append(bt.order, key)
	}
	n := len(b.files)
	if !bt.seen.remember(sc, h, b.sent, b.add(f, ind)) {
		bt.untracked++
	}
	p.progress.batched.Add(1)
	if len(b.files) > n {
		p.tracker.joined(f)
	}
	if len(b.Items) >= p.opts.MaxBatch || b.bytes >= p.opts.MaxBytes {
		return bt.emit(key)
	}
	return nil
}

// endWindow counts the delivered indicators the window could not hold
// and releases its memory.
func (bt *batcher) endWindow() {
	if n := bt.window.forgotten; n > 0 {
		bt.p.tracker.extra("dedup_window_forgotten", n)
	}
	bt.window.free()
}

// associations sends what carries c's file's indicators now, then the
// file's associations in a batch of their own, which waits for them. A
// sink that takes none counts them as not applicable.
func (bt *batcher) associations(c *chunk) error {
	p := bt.p
	if !p.opts.Associations {
		p.tracker.extra("associations_not_applicable", int64(len(c.assocs)))
		return nil
	}
	for _, k := range slices.Clone(bt.order) {
		if slices.Contains(bt.open[k].files, c.file) {
			if err := bt.emit(k); err != nil {
				return err
			}
		}
	}
	bt.seq++
	b := &job{Batch: &ioc.Batch{Seq: bt.seq, Sub: c.file.subs.base, Associations: c.assocs}, files: []*fileState{c.file}}
	p.tracker.joined(c.file)
	b.wait = p.tracker.waitItems(c.file)
	p.tracker.closed(b)
	return bt.send(b)
}

// emit closes the open batch of key and sends it.
func (bt *batcher) emit(key string) error {
	b := bt.open[key]
	delete(bt.open, key)
	if i := slices.Index(bt.order, key); i >= 0 {
		bt.order = slices.Delete(bt.order, i, i+1)
	}
	bt.seq++
	b.Seq = bt.seq
	bt.p.tracker.closed(b)
	return bt.send(b)
}

// send hands b to the senders; a batch the run stopped before is
// finished as not delivered.
func (bt *batcher) send(b *job) error {
	select {
	case bt.out <- b:
		return nil
	case <-bt.ctx.Done():
		bt.p.tracker.finish(b, ioc.Result{}, bt.ctx.Err())
		return bt.ctx.Err()
	}
}

// flush sends every open batch, oldest first: the end of input.
func (bt *batcher) flush() error {
	for len(bt.order) > 0 {
		if err := bt.emit(bt.order[0]); err != nil {
			bt.abandon()
			return err
		}
	}
	return nil
}

// abandon finishes the open batches as not delivered: the run stopped.
func (bt *batcher) abandon() {
	for _, k := range bt.order {
		b := bt.open[k]
		bt.p.tracker.closed(b)
		bt.p.tracker.finish(b, ioc.Result{}, bt.ctx.Err())
	}
	bt.order = nil
}
