package pipeline

import (
	"hash/maphash"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// DefaultMaxRemembered is how many indicators a run remembers by default
// to find their duplicates (Options.MaxRemembered): 64-bit hashes, some
// 30 bytes each.
const DefaultMaxRemembered = 2 << 20

// Duplicates. An indicator whose submission key, type and value were
// batched before in the same scope (the file, or the whole run with
// Options.DedupAcrossFiles) is not sent twice:
//
//   - while the earlier one's batch is open, it is merged into it
//     (sightings, first and last seen, tags, notes: see merge);
//   - while that batch is in flight, it rides on it: its rows settle with
//     the earlier one's outcome;
//   - once the earlier one was delivered, its rows settle at once;
//   - once the earlier one failed or was refused, it is sent itself.
//
// Every such duplicate counts as merged. The batcher remembers at most
// Options.MaxRemembered hashes; beyond them a duplicate may be sent, and
// indicators not remembered are counted (Summary.Extra["not_deduplicated"]).

// sentItems is what the duplicates of a batch's items need once the
// batch is gone: whether each item was delivered, and the duplicates that
// ride on each. Guarded by the tracker's mutex once the batch closed.
type sentItems struct {
	finished  bool
	delivered []bool
	riders    map[int32][]rider
}

// A rider is a duplicate that settles with the item it rides on.
type rider struct {
	f  *fileState
	in *ioc.Indicator
}

// seenRef is where the batcher saw an indicator: item idx of the batch
// whose sentItems is s; s nil means it was delivered.
type seenRef struct {
	s   *sentItems
	idx int32
}

// seen holds the batcher's memory of indicators, by scope.
type seen struct {
	seed   maphash.Seed
	across bool
	max    int
	n      int
	byFile map[*fileState]map[uint64]seenRef
}

func newSeen(opts Options) *seen {
	max := opts.MaxRemembered
	if max == 0 {
		max = DefaultMaxRemembered
	}
	return &seen{seed: maphash.MakeSeed(), across: opts.DedupAcrossFiles, max: max, byFile: map[*fileState]map[uint64]seenRef{}}
}

// of returns the memory f's indicators are looked up in.
func (s *seen) of(f *fileState) map[uint64]seenRef {
	if s.across {
		f = nil
	}
	m := s.byFile[f]
	if m == nil {
		m = map[uint64]seenRef{}
		s.byFile[f] = m
	}
	return m
}

// hash identifies an indicator within its scope.
func (s *seen) hash(in *ioc.Indicator) uint64 {
	var h maphash.Hash
	h.SetSeed(s.seed)
	h.WriteString(in.Sub.Key)
	h.WriteByte(0)
	h.WriteString(string(in.Type))
	h.WriteByte(0)
	h.WriteString(in.Value)
	return h.Sum64()
}

// remember notes that in, hashed h, is item idx of the batch of s. It
// reports false when the memory is full and in is not remembered.
func (s *seen) remember(m map[uint64]seenRef, h uint64, sent *sentItems, idx int) bool {
	if _, ok := m[h]; !ok {
		if s.n >= s.max {
			return false
		}
		s.n++
	}
	m[h] = seenRef{s: sent, idx: int32(idx)}
	return true
}

// forget drops the memory of f's indicators once its last chunk was
// batched (when each file is a scope of its own).
func (s *seen) forget(f *fileState) {
	if s.across {
		return
	}
	s.n -= len(s.byFile[f])
	delete(s.byFile, f)
}

// duplicate handles in, read from f, when its hash h was seen at ref: it
// reports whether in was taken care of (merged, riding, or settled as
// delivered), or must be sent.
func (bt *batcher) duplicate(f *fileState, in *ioc.Indicator, m map[uint64]seenRef, h uint64, ref seenRef) bool {
	t := bt.p.tracker
	if ref.s == nil {
		t.ride(nil, 0, f, in)
		return true
	}
	if b := bt.open[in.Sub.Key]; b != nil && b.sent == ref.s {
		item := b.Items[ref.idx]
		if b.fileAt(int(ref.idx)) == f {
			merge(item, in)
			item.MergedRows = append(item.MergedRows, in.Origin.Row)
			item.MergedRows = append(item.MergedRows, in.MergedRows...)
			t.merged(f)
			return true
		}
		merge(item, in)
	}
	handled, delivered := t.ride(ref.s, ref.idx, f, in)
	if delivered {
		m[h] = seenRef{}
	}
	return handled
}
