package sinks

import "time"

// SetUnreachableEvery makes requests that keep failing log "sink
// unreachable, retrying" every d, until the returned func restores it.
func SetUnreachableEvery(d time.Duration) (restore func()) {
	old := unreachableEvery
	unreachableEvery = d
	return func() { unreachableEvery = old }
}
