package trustartest

import (
	"sync"
	"time"
)

// A limiter admits at most limit calls per key in any sliding window.
type limiter struct {
	limit  int
	window time.Duration

	mu    sync.Mutex
	calls map[string][]time.Time // admitted calls per key, oldest first
}

func newLimiter(limit int, window time.Duration) *limiter {
	return &limiter{limit: limit, window: window, calls: make(map[string][]time.Time)}
}

// allow admits a call for key at now, or returns how long until the oldest
// call in the window leaves it and frees a slot.
func (l *limiter) allow(key string, now time.Time) (wait time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	calls := l.calls[key]
	cutoff := now.Add(-l.window)
	i := 0
	for i < len(calls) && !calls[i].After(cutoff) {
		i++
	}
	calls = calls[i:]
	if len(calls) >= l.limit {
		l.calls[key] = calls
		return calls[len(calls)-l.limit].Add(l.window).Sub(now), false
	}
	l.calls[key] = append(calls, now)
	return 0, true
}

// reset forgets every window.
func (l *limiter) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.calls)
}
