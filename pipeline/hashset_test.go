package pipeline

import (
	"math/rand/v2"
	"testing"
)

func TestHashSet(t *testing.T) {
	var s hashSet
	defer s.free()
	r := rand.New(rand.NewPCG(1, 2))
	in := map[uint64]bool{0: true, 1: true}
	for len(in) < 50000 {
		in[r.Uint64()] = true
	}
	for h := range in {
		s.add(h)
	}
	// 0 is stored as 1: both are one entry.
	if s.len() != len(in)-1 {
		t.Errorf("len %d, want %d", s.len(), len(in)-1)
	}
	for h := range in {
		if !s.has(h) || s.add(h) {
			t.Fatalf("%d lost", h)
		}
	}
	for range 50000 {
		if h := r.Uint64(); !in[h] && s.has(h) {
			t.Fatalf("%d found, never added", h)
		}
	}
}

func BenchmarkHashSet(b *testing.B) {
	var s hashSet
	defer s.free()
	r := rand.New(rand.NewPCG(1, 2))
	for b.Loop() {
		h := r.Uint64()
		if !s.has(h) {
			s.add(h)
		}
	}
}
