//go:build unix

package pipeline

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// allocSlots returns n zeroed slots outside the Go heap (an anonymous
// mapping): a large set of hashes then does not raise the garbage
// collector's heap goal, which would let the process grow by as much
// again. freeSlots returns them.
func allocSlots(n int) []uint64 {
	b, err := unix.Mmap(-1, 0, n*8, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return make([]uint64, n)
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

// freeSlots releases slots from allocSlots.
func freeSlots(s []uint64) {
	if len(s) == 0 {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*8)
	// A slice made by the fallback is not a mapping: Munmap refuses it
	// (EINVAL) and the collector frees it.
	_ = unix.Munmap(b)
}
