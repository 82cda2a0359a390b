// Package faults injects the failures that real APIs show — error
// statuses, dropped connections, latency, an outage window and refused
// values — into an emulator's HTTP handler, so that clients are tested
// against them for real.
//
// Both emulators (trustartest and threatwindstest) wrap their API
// handlers with Wrap; each supplies a Responder that writes an error in its
// API's own shape. The package imports neither a client nor the pipeline.
package faults

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
	"time"
)

// Options selects the faults to inject. The zero Options injects nothing.
type Options struct {
	// FailRate is the share (0..1) of requests answered with FailStatus.
	FailRate float64
	// FailStatus is the status of a failed request; zero means 500.
	// A 429 carries the emulator's wait hint (TruSTAR's waitTime,
	// Retry-After elsewhere).
	FailStatus int
	// DropRate is the share (0..1) of requests whose connection is closed
	// with no answer at all.
	DropRate float64
	// Latency delays every request by this long before it is handled.
	Latency time.Duration
	// Outage makes every request fail with 503 for this long after the
	// wrapper was created.
	Outage time.Duration
	// RejectPattern, when set, refuses with 400 any request whose body
	// holds a match — the way a server refuses one bad value.
	RejectPattern *regexp.Regexp
	// WaitTime is the wait hint sent with an injected 429; zero means 50ms.
	WaitTime time.Duration
	// Seed seeds the random choices; zero means a fixed default, so a run
	// is repeatable.
	Seed uint64
}

// A Responder writes an error response in an API's own shape. kind is one
// of "fail", "outage" or "reject"; wait is the hint to give with a 429.
type Responder func(w http.ResponseWriter, r *http.Request, status int, kind, msg string, wait time.Duration)

// Counts reports how many faults were injected.
type Counts struct {
	Failed   int64 `json:"failed"`
	Dropped  int64 `json:"dropped"`
	Outage   int64 `json:"outage"`
	Rejected int64 `json:"rejected"`
	Delayed  int64 `json:"delayed"`
}

// An Injector wraps handlers with the faults of its Options. It is safe for
// concurrent use.
type Injector struct {
	opts    Options
	respond Responder
	start   time.Time

	mu  sync.Mutex
	rng *rand.Rand

	failed, dropped, outage, rejected, delayed atomic.Int64
}

// New returns an Injector for opts that writes errors with respond.
func New(opts Options, respond Responder) *Injector {
	seed := opts.Seed
	if seed == 0 {
		seed = 0x10c919e
	}
	if opts.FailStatus == 0 {
		opts.FailStatus = http.StatusInternalServerError
	}
	if opts.WaitTime == 0 {
		opts.WaitTime = 50 * time.Millisecond
	}
	return &Injector{
		opts:    opts,
		respond: respond,
		start:   time.Now(),
		rng:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
}

// Active reports whether any fault is configured.
func (in *Injector) Active() bool {
	o := in.opts
	return o.FailRate > 0 || o.DropRate > 0 || o.Latency > 0 || o.Outage > 0 || o.RejectPattern != nil
}

// Counts returns the faults injected so far.
func (in *Injector) Counts() Counts {
	return Counts{
		Failed:   in.failed.Load(),
		Dropped:  in.dropped.Load(),
		Outage:   in.outage.Load(),
		Rejected: in.rejected.Load(),
		Delayed:  in.delayed.Load(),
	}
}

// Reset zeroes the counters and restarts the outage window.
func (in *Injector) Reset() {
	in.mu.Lock()
	in.start = time.Now()
	in.mu.Unlock()
	in.failed.Store(0)
	in.dropped.Store(0)
	in.outage.Store(0)
	in.rejected.Store(0)
	in.delayed.Store(0)
}

func (in *Injector) roll() float64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.rng.Float64()
}

func (in *Injector) since() time.Duration {
	in.mu.Lock()
	defer in.mu.Unlock()
	return time.Since(in.start)
}

// Wrap returns h with the faults applied before it runs. The order is:
// latency, outage, drop, fail, reject pattern.
func (in *Injector) Wrap(h http.Handler) http.Handler {
	if !in.Active() {
		return h
	}
	o := in.opts
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.Latency > 0 {
			in.delayed.Add(1)
			t := time.NewTimer(o.Latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if o.Outage > 0 && in.since() < o.Outage {
			in.outage.Add(1)
			in.respond(w, r, http.StatusServiceUnavailable, "outage", "service unavailable (emulated outage)", 0)
			return
		}
		if o.DropRate > 0 && in.roll() < o.DropRate {
			in.dropped.Add(1)
			// ErrAbortHandler makes net/http close the connection without
			// writing a response, and without logging a stack.
			panic(http.ErrAbortHandler)
		}
		if o.FailRate > 0 && in.roll() < o.FailRate {
			in.failed.Add(1)
			in.respond(w, r, o.FailStatus, "fail", fmt.Sprintf("emulated failure (%d)", o.FailStatus), o.WaitTime)
			return
		}
		if o.RejectPattern != nil && r.Body != nil {
			body, err := io.ReadAll(r.Body)
			r.Body.Close()
			if err != nil {
				in.respond(w, r, http.StatusBadRequest, "reject", "unreadable body", 0)
				return
			}
			if m := o.RejectPattern.Find(body); m != nil {
				in.rejected.Add(1)
				in.respond(w, r, http.StatusBadRequest, "reject", fmt.Sprintf("refused value matching %q: %q", o.RejectPattern.String(), m), 0)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		h.ServeHTTP(w, r)
	})
}
