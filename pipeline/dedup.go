package pipeline

import (
	"hash/maphash"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// DefaultMaxRemembered is how many indicators a run remembers by default
// to find their duplicates (Options.MaxRemembered): 64-bit hashes, 10 to
// 14 bytes each (see hashSet).
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
// ride on each (guarded by the tracker's mutex once the batch closed);
// and, for the batcher, each item's hash and the scope it is remembered
// in.
type sentItems struct {
	finished  bool
	delivered []bool
	riders    map[int32][]rider

	hashes []uint64
	scope  *scope
}

// A rider is a duplicate that settles with the item it rides on.
type rider struct {
	f  *fileState
	in *ioc.Indicator
}

// seenRef is where the batcher saw an indicator: item idx of the batch
// whose sentItems is s.
type seenRef struct {
	s   *sentItems
	idx int32
}

// A scope is the memory duplicates are found in: the hashes of the
// indicators delivered (no pointers: a large set costs the garbage
// collector nothing), and where the others are, while their batch is open
// or in flight.
type scope struct {
	done    hashSet
	pending map[uint64]seenRef
	gone    bool // forgotten: its file was batched to the end
}

// seen is the batcher's memory of indicators, by scope.
type seen struct {
	seed   maphash.Seed
	across bool
	max    int
	n      int // hashes held in every scope
	scopes map[*fileState]*scope
}

func newSeen(opts Options) *seen {
	max := opts.MaxRemembered
	if max == 0 {
		max = DefaultMaxRemembered
	}
	return &seen{seed: maphash.MakeSeed(), across: opts.DedupAcrossFiles, max: max, scopes: map[*fileState]*scope{}}
}

// of returns the scope f's indicators are looked up in.
func (s *seen) of(f *fileState) *scope {
	if s.across {
		f = nil
	}
	sc := s.scopes[f]
	if sc == nil {
		sc = &scope{pending: map[uint64]seenRef{}}
		s.scopes[f] = sc
	}
	return sc
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

// remember notes that the indicator hashed h is item idx of the batch of
// sent. It reports false when the memory is full and it is not
// remembered.
func (s *seen) remember(sc *scope, h uint64, sent *sentItems, idx int) bool {
	sent.hashes = append(sent.hashes, h)
	sent.scope = sc
	if _, ok := sc.pending[h]; !ok {
		if s.n >= s.max {
			return false
		}
		s.n++
	}
	sc.pending[h] = seenRef{s: sent, idx: int32(idx)}
	return true
}

// settled moves the items of a finished batch out of pending: a
// delivered one's hash into done, a failed or refused one's forgotten
// (its next duplicate is sent).
func (s *seen) settled(sent *sentItems) {
	sc := sent.scope
	if sc == nil || sc.gone {
		return
	}
	for i, h := range sent.hashes {
		ref, ok := sc.pending[h]
		if !ok || ref.s != sent || int(ref.idx) != i {
			continue
		}
		delete(sc.pending, h)
		if sent.delivered[i] {
			sc.done.add(h)
		} else {
			s.n--
		}
	}
}

// forget drops the memory of f's indicators once its last chunk was
// batched (when each file is a scope of its own).
func (s *seen) forget(f *fileState) {
	if s.across {
		return
	}
	if sc := s.scopes[f]; sc != nil {
		s.n -= sc.done.len() + len(sc.pending)
		sc.gone = true
		sc.done.free()
		delete(s.scopes, f)
	}
}

// free releases the memory of every scope: the batcher is done.
func (s *seen) free() {
	for f, sc := range s.scopes {
		sc.gone = true
		sc.done.free()
		delete(s.scopes, f)
	}
	s.n = 0
}

// duplicate handles in, read from f, when its hash h is in scope sc: it
// reports whether in was taken care of (merged, riding, or settled as
// delivered), or must be sent.
func (bt *batcher) duplicate(f *fileState, in *ioc.Indicator, sc *scope, h uint64) bool {
	t := bt.p.tracker
	if sc.done.has(h) {
		t.ride(nil, 0, f, in)
		return true
	}
	ref, ok := sc.pending[h]
	if !ok {
		return false
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
	handled, _ := t.ride(ref.s, ref.idx, f, in)
	return handled
}
