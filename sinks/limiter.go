package sinks

import (
	"context"
	"time"

	"golang.org/x/time/rate"
)

// A Limiter spaces a sink's calls to stay within the API's quota. Wait
// blocks until one call may be made, or ctx is done (returning its
// error). Pause tells the limiter that the API refused a call for its
// quota and asked to wait d (a 429's Retry-After or waitTime). Both are
// safe for concurrent use.
type Limiter interface {
	Wait(ctx context.Context) error
	Pause(ctx context.Context, d time.Duration)
}

// NewRateLimiter returns the in-process Limiter: a token bucket
// (golang.org/x/time/rate) of perMinute calls a minute and burst (at
// least 1). Its Pause does nothing: the request that saw the 429 waits
// its hint itself, as every other request of the process does on its own
// 429.
func NewRateLimiter(perMinute float64, burst int) Limiter {
	return rateLimiter{rate.NewLimiter(rate.Limit(perMinute/60), max(burst, 1))}
}

// rateLimiter is the in-process Limiter.
type rateLimiter struct{ l *rate.Limiter }

func (r rateLimiter) Wait(ctx context.Context) error       { return r.l.Wait(ctx) }
func (r rateLimiter) Pause(context.Context, time.Duration) {}
