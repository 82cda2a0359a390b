package pipeline

import (
	"slices"

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
// and, for the batcher, each item's hash, an index of them built when a
// duplicate first looks for one, and the scope they are remembered in.
type sentItems struct {
	finished  bool
	delivered []bool
	riders    map[int32][]rider

	// hashes are the items' hashes (hashOf), in order: written by the
	// batcher while the batch is open, only read once it closed (by the
	// batcher's memories and the sender that records the delivered ones).
	hashes []uint64
	index  map[uint64]int32
	scope  *scope
}

// find returns the index of the last item hashed h.
func (s *sentItems) find(h uint64) (int32, bool) {
	if s.index == nil {
		s.index = make(map[uint64]int32, len(s.hashes))
		for i, x := range s.hashes {
			s.index[x] = int32(i)
		}
	}
	i, ok := s.index[h]
	return i, ok
}

// A rider is a duplicate that settles with the item it rides on.
type rider struct {
	f  *fileState
	in *ioc.Indicator
}

// A scope is the memory duplicates are found in: the hashes of every
// indicator remembered, in a set without pointers (a large one costs the
// garbage collector nothing and a lookup a probe or two), the batches
// not settled yet whose items a duplicate may merge into or ride on, and
// the hashes whose last item failed or was refused (sent again).
type scope struct {
	set    hashSet
	live   []*sentItems
	failed map[uint64]struct{}
	gone   bool // forgotten: its file was batched to the end
}

// seen is the batcher's memory of indicators, by scope.
type seen struct {
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
	return &seen{across: opts.DedupAcrossFiles, max: max, scopes: map[*fileState]*scope{}}
}

// of returns the scope f's indicators are looked up in.
func (s *seen) of(f *fileState) *scope {
	if s.across {
		f = nil
	}
	sc := s.scopes[f]
	if sc == nil {
		sc = &scope{failed: map[uint64]struct{}{}}
		s.scopes[f] = sc
	}
	return sc
}

// hashOf identifies an indicator by its submission key, type and value,
// the same in every run (the ledger keeps them for DedupWindow): FNV-1a 64
// of the three, then a finalizer that spreads every input bit over the
// high bits, which hashSet's slots are chosen by.
func hashOf(in *ioc.Indicator) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for _, s := range [3]string{in.Sub.Key, string(in.Type), in.Value} {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint64(s[i])) * prime
		}
		h *= prime // a zero byte between them: ("ab", "c") is not ("a", "bc")
	}
	// murmur3's fmix64.
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// remember notes that the indicator hashed h is item idx of the batch of
// sent (its first item makes the batch live). It reports false when the
// memory is full and it is not remembered.
func (s *seen) remember(sc *scope, h uint64, sent *sentItems, idx int) bool {
	if sent.scope == nil {
		sent.scope = sc
		sc.live = append(sc.live, sent)
	}
	sent.hashes = append(sent.hashes, h)
	if sent.index != nil {
		sent.index[h] = int32(idx)
	}
	switch {
	case sc.set.has(h):
		delete(sc.failed, h) // sent again after a failure
	case s.n >= s.max:
		return false
	default:
		sc.set.add(h)
		s.n++
	}
	return true
}

// settled takes a finished batch out of its scope's live ones; the
// hashes of its items that were not delivered are sent again.
func (s *seen) settled(sent *sentItems) {
	sc := sent.scope
	if sc == nil || sc.gone {
		return
	}
	for i, h := range sent.hashes {
		if !sent.delivered[i] {
			sc.failed[h] = struct{}{}
		}
	}
	if i := slices.Index(sc.live, sent); i >= 0 {
		sc.live = slices.Delete(sc.live, i, i+1)
	}
	sent.index = nil
}

// forget drops the memory of f's indicators once its last chunk was
// batched (when each file is a scope of its own).
func (s *seen) forget(f *fileState) {
	if s.across {
		return
	}
	if sc := s.scopes[f]; sc != nil {
		s.n -= sc.set.len()
		sc.gone = true
		sc.set.free()
		delete(s.scopes, f)
	}
}

// free releases the memory of every scope: the batcher is done.
func (s *seen) free() {
	for f, sc := range s.scopes {
		sc.gone = true
		sc.set.free()
		delete(s.scopes, f)
	}
	s.n = 0
}

// duplicate handles in, read from f, when its hash h may be in scope sc:
// it reports whether in was taken care of (merged, riding, or settled as
// delivered), or must be sent.
func (bt *batcher) duplicate(f *fileState, in *ioc.Indicator, sc *scope, h uint64) bool {
	if !sc.set.has(h) {
		return false
	}
	if _, ok := sc.failed[h]; ok {
		return false
	}
	t := bt.p.tracker
	for k := len(sc.live) - 1; k >= 0; k-- {
		s := sc.live[k]
		idx, ok := s.find(h)
		if !ok {
			continue
		}
		if b := bt.open[in.Sub.Key]; b != nil && b.sent == s {
			item := b.Items[idx]
			if b.fileAt(int(idx)) == f {
				merge(item, in)
				item.MergedRows = append(item.MergedRows, in.Origin.Row)
				item.MergedRows = append(item.MergedRows, in.MergedRows...)
				t.merged(f)
				return true
			}
			merge(item, in)
		}
		handled, _ := t.ride(s, idx, f, in)
		return handled
	}
	t.ride(nil, 0, f, in) // delivered, its batch settled
	return true
}
