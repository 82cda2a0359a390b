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
	index  map[dedupKey]int
	// wait, for a batch of associations, closes when the indicators of its
	// file were all acknowledged.
	wait <-chan struct{}
}

// dedupKey identifies duplicates: the same value and type from one file.
type dedupKey struct {
	file  *fileState
	typ   ioc.Type
	value string
}

// estimate is a cheap upper bound of an indicator's encoded size.
func estimate(in *ioc.Indicator) int {
	n := 96 + len(in.Value) + len(in.Source) + len(in.Notes)
	for _, t := range in.Tags {
		n += 64 + len(t.Name)
	}
	return n
}

// add puts in, read from file f, into the batch, merging it into an
// earlier duplicate from the same file. It reports whether in was merged.
func (b *job) add(f *fileState, in *ioc.Indicator) bool {
	k := dedupKey{f, in.Type, in.Value}
	if i, ok := b.index[k]; ok {
		merge(b.Items[i], in)
		return true
	}
	b.index[k] = len(b.Items)
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
	return false
}

// fileAt returns the file of item i.
func (b *job) fileAt(i int) *fileState { return b.files[b.fileOf[i]] }

// merge folds dup into in: sightings summed, earliest firstSeen, latest
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
	in.MergedRows = append(in.MergedRows, dup.Origin.Row)
	in.MergedRows = append(in.MergedRows, dup.MergedRows...)
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
	open := map[string]*job{}
	var order []string // keys in the order their batches opened
	seq := 0
	tick := time.NewTicker(max(p.opts.Linger/4, 10*time.Millisecond))
	defer tick.Stop()
	lastRows := time.Now()
	lingering := func(now time.Time, b *job) bool {
		age := now.Sub(b.opened)
		return age >= 10*p.opts.Linger || age >= p.opts.Linger && now.Sub(lastRows) >= p.opts.Linger/2
	}

	emit := func(key string) error {
		b := open[key]
		delete(open, key)
		for i, k := range order {
			if k == key {
				order = append(order[:i], order[i+1:]...)
				break
			}
		}
		seq++
		b.Seq = seq
		b.index = nil
		p.tracker.closed(b)
		select {
		case out <- b:
			return nil
		case <-ctx.Done():
			p.tracker.finish(b, ioc.Result{}, ctx.Err())
			return ctx.Err()
		}
	}
	abandon := func() {
		for _, k := range order {
			b := open[k]
			b.index = nil
			p.tracker.closed(b)
			p.tracker.finish(b, ioc.Result{}, ctx.Err())
		}
	}
	for {
		select {
		case c, ok := <-in:
			if !ok {
				for len(order) > 0 {
					if err := emit(order[0]); err != nil {
						return err
					}
				}
				return nil
			}
			lastRows = time.Now()
			for i := range c.rows {
				r := &c.rows[i]
				p.tracker.row(c.file, r)
				for _, ind := range r.inds {
					key := ind.Sub.Key
					b := open[key]
					if b == nil {
						n := min(p.opts.MaxBatch, 16384)
						b = &job{Batch: &ioc.Batch{Sub: ind.Sub, Items: make([]*ioc.Indicator, 0, n)}, opened: time.Now(), index: make(map[dedupKey]int, n), fileOf: make([]uint32, 0, n)}
						open[key] = b
						order = append(order, key)
					}
					n := len(b.files)
					if b.add(c.file, ind) {
						p.tracker.merged(c.file)
					}
					if len(b.files) > n {
						p.tracker.joined(c.file)
					}
					if len(b.Items) >= p.opts.MaxBatch || b.bytes >= p.opts.MaxBytes {
						if err := emit(key); err != nil {
							abandon()
							return err
						}
					}
				}
			}
			if c.last && len(c.assocs) > 0 {
				if !p.opts.Associations {
					p.tracker.extra("associations_not_applicable", int64(len(c.assocs)))
				} else {
					// Send what carries this file's indicators now, then
					// the associations, which wait for them.
					for _, k := range slices.Clone(order) {
						if slices.Contains(open[k].files, c.file) {
							if err := emit(k); err != nil {
								abandon()
								return err
							}
						}
					}
					seq++
					b := &job{Batch: &ioc.Batch{Seq: seq, Sub: c.file.subs.base, Associations: c.assocs}, files: []*fileState{c.file}}
					p.tracker.joined(c.file)
					b.wait = p.tracker.waitItems(c.file)
					p.tracker.closed(b)
					select {
					case out <- b:
					case <-ctx.Done():
						p.tracker.finish(b, ioc.Result{}, ctx.Err())
						abandon()
						return ctx.Err()
					}
				}
			}
			if c.last {
				p.tracker.fileRead(c)
			}
		case now := <-tick.C:
			for len(order) > 0 && lingering(now, open[order[0]]) {
				if err := emit(order[0]); err != nil {
					abandon()
					return err
				}
			}
		case <-ctx.Done():
			abandon()
			return ctx.Err()
		}
	}
}
