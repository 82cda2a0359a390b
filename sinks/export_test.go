package sinks

import "time"

// SetUnreachableEvery makes requests that keep failing log "sink
// unreachable, retrying" every d, until the returned func restores it.
func SetUnreachableEvery(d time.Duration) (restore func()) {
	old := unreachableEvery
	unreachableEvery = d
	return func() { unreachableEvery = old }
}

// NextWait exposes Doer.nextWait to the tests.
func (d *Doer) NextWait(attempt int, hint time.Duration, start time.Time) (wait, left time.Duration, ok bool) {
	return d.nextWait(attempt, hint, start)
}
