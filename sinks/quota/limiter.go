package quota

import (
	"context"
	"sync"
	"time"

	"github.com/iocpipe/iocpipe/sinks"
)

// A Limiter is a sinks.Limiter drawing from a bucket of a Store. It is
// safe for concurrent use.
type Limiter struct {
	s         *Store
	key       string
	perSecond float64
	burst     int

	mu sync.Mutex
	// local limits the calls while the database does not answer: to this
	// instance's share of the rate (see sharers).
	local   sinks.Limiter
	down    bool      // the database did not answer the last statement
	retryAt time.Time // when to try it again
	// sharers is the number of instances live in the database when it
	// last answered (at least 1), counted every countEvery: while the
	// database does not answer, each limits its calls to the rate over
	// that number, so that together they stay within it.
	sharers   int
	countedAt time.Time
}

// countEvery is how often a Limiter counts the instances sharing the
// database, for its share of the rate when the database stops answering.
const countEvery = 10 * time.Second

// retryEvery is how long a Limiter whose database did not answer limits
// in-process before trying it again.
const retryEvery = 10 * time.Second

// Limiter returns the limiter of bucket key (see Key), of perMinute calls
// a minute (more than 0) and burst (0 means 1). Instances sharing a
// bucket should agree on both: each take applies its own.
func (s *Store) Limiter(key string, perMinute float64, burst int) *Limiter {
	burst = max(burst, 1)
	return &Limiter{s: s, key: key, perSecond: perMinute / 60, burst: burst, sharers: 1,
		local: sinks.NewRateLimiter(perMinute, burst)}
}

// Wait implements sinks.Limiter: it takes a call from the shared bucket,
// sleeping until the database says one will be there; while the
// database does not answer, from the in-process limiter.
func (l *Limiter) Wait(ctx context.Context) error {
	for {
		if !l.shared() {
			return l.localLimiter().Wait(ctx)
		}
		wait, err := l.s.take(ctx, l.key, l.perSecond, l.burst)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			l.lost(err)
			return l.localLimiter().Wait(ctx)
		}
		l.answered()
		l.count(ctx)
		if wait == 0 {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// Pause implements sinks.Limiter: it pauses the shared bucket for d, for
// every instance drawing from it.
func (l *Limiter) Pause(ctx context.Context, d time.Duration) {
	if !l.shared() {
		return
	}
	if err := l.s.pause(ctx, l.key, d); err != nil {
		if ctx.Err() == nil {
			l.lost(err)
		}
		return
	}
	l.answered()
}

// shared reports whether to ask the database: it answered last time, or
// it is time to try it again.
func (l *Limiter) shared() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.down || !time.Now().Before(l.retryAt)
}

// localLimiter returns the in-process limiter.
func (l *Limiter) localLimiter() sinks.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.local
}

// count counts the instances sharing the database, every countEvery.
func (l *Limiter) count(ctx context.Context) {
	l.mu.Lock()
	due := time.Since(l.countedAt) >= countEvery
	if due {
		l.countedAt = time.Now()
	}
	l.mu.Unlock()
	if !due {
		return
	}
	n, err := l.s.instances(ctx)
	if err != nil {
		return // the last count stays
	}
	l.mu.Lock()
	l.sharers = max(n, 1)
	l.mu.Unlock()
}

// lost records that the database did not answer; the first time of an
// outage, it says so, and limits the calls in-process to this instance's
// share of the rate from then on.
func (l *Limiter) lost(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.down {
		share := l.perSecond * 60 / float64(l.sharers)
		l.local = sinks.NewRateLimiter(share, 1)
		l.s.log.Warn("shared quota unreachable: limiting this instance's calls in-process, to its share of the rate, until it answers",
			"bucket", l.key, "instances", l.sharers, "rate_limit", share, "retry_every", retryEvery.String(), "error", err)
	}
	l.down, l.retryAt = true, time.Now().Add(retryEvery)
}

// answered records that the database answered, saying so after an
// outage.
func (l *Limiter) answered() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down {
		l.s.log.Info("shared quota reachable again", "bucket", l.key)
	}
	l.down = false
}
