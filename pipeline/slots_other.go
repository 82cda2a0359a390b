//go:build !unix

package pipeline

// allocSlots returns n zeroed slots.
func allocSlots(n int) []uint64 { return make([]uint64, n) }

// freeSlots leaves slots to the garbage collector.
func freeSlots([]uint64) {}
