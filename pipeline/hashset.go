package pipeline

import "math/bits"

// hashSet is a set of 64-bit hashes in one slice outside the Go heap
// (allocSlots), with no pointers and about 10 to 14 bytes an entry (a Go
// map of uint64 takes some 36): open addressing with linear probing,
// grown by half when 85% full. Zero stands for an empty slot, so the hash
// 0 is stored as 1. Call free when done with it.
type hashSet struct {
	slots []uint64
	n     int
}

// has reports whether h is in the set.
func (s *hashSet) has(h uint64) bool {
	if len(s.slots) == 0 {
		return false
	}
	h = max(h, 1)
	for i := s.home(h); ; i = s.next(i) {
		switch s.slots[i] {
		case h:
			return true
		case 0:
			return false
		}
	}
}

// add puts h in the set; it reports whether it was not there.
func (s *hashSet) add(h uint64) bool {
	if (s.n+1)*100 > len(s.slots)*85 {
		s.grow()
	}
	h = max(h, 1)
	for i := s.home(h); ; i = s.next(i) {
		switch s.slots[i] {
		case h:
			return false
		case 0:
			s.slots[i] = h
			s.n++
			return true
		}
	}
}

// len returns the number of hashes in the set.
func (s *hashSet) len() int { return s.n }

// home is h's first slot: h scaled to the table (hashes are uniform).
func (s *hashSet) home(h uint64) int {
	hi, _ := bits.Mul64(h, uint64(len(s.slots)))
	return int(hi)
}

func (s *hashSet) next(i int) int {
	if i++; i == len(s.slots) {
		return 0
	}
	return i
}

func (s *hashSet) grow() {
	old := s.slots
	s.slots = allocSlots(max(1024, len(old)+len(old)/2))
	s.n = 0
	for _, h := range old {
		if h != 0 {
			s.add(h)
		}
	}
	freeSlots(old)
}

// free releases the set's memory; the set is empty after.
func (s *hashSet) free() {
	freeSlots(s.slots)
	s.slots, s.n = nil, 0
}
