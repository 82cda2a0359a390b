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
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options selects the faults to inject. The zero Options injects nothing.
type Options struct {
	// FailRate is the share (0..1) of requests answered with FailStatus.
	FailRate float64
	// FailFirst answers FailStatus to the first this many requests (since
	// the wrapper was created or reset), and lets the others through.
	FailFirst int
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
	// FailPattern, when set, answers FailStatus to every request whose
	// body holds a match — the way a server fails on one part of a
	// split batch and not on the other.
	FailPattern *regexp.Regexp
	// WaitTime is the wait hint sent with an injected 429; zero means 50ms.
	WaitTime time.Duration
	// SlowAnswer handles a request at once and holds its answer back for
	// this long: a client that times out first does not learn that the
	// request was processed. SlowAnswers limits it to the first requests;
	// zero means every request.
	SlowAnswer  time.Duration
	SlowAnswers int
	// ReflectHeaders puts the request's headers, credentials included, in
	// the message of every injected error — the way some gateways and
	// debug pages do — so that clients are tested for scrubbing them.
	ReflectHeaders bool
	// ProxyPage answers every request 200 with an HTML page, without
	// handling it, the way a captive portal or a misconfigured proxy does.
	ProxyPage bool
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
	// Slow counts answers held back by SlowAnswer, and proxy pages.
	Slow int64 `json:"slow,omitempty"`
}

// An Injector wraps handlers with the faults of its Options. It is safe for
// concurrent use.
type Injector struct {
	opts    Options
	respond Responder
	start   time.Time

	mu  sync.Mutex
	rng *rand.Rand

	failed, dropped, outage, rejected, delayed, slow atomic.Int64
	slowSeen, firstSeen                              atomic.Int64 // requests SlowAnswers and FailFirst counted
}

// takeSlow reports whether this request's answer is held back, counting it.
func (in *Injector) takeSlow() bool {
	if n := in.opts.SlowAnswers; n > 0 && in.slowSeen.Add(1) > int64(n) {
		return false
	}
	in.slow.Add(1)
	return true
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
	return o.FailRate > 0 || o.FailFirst > 0 || o.DropRate > 0 || o.Latency > 0 || o.Outage > 0 || o.RejectPattern != nil || o.FailPattern != nil ||
		o.SlowAnswer > 0 || o.ProxyPage
}

// Counts returns the faults injected so far.
func (in *Injector) Counts() Counts {
	return Counts{
		Failed:   in.failed.Load(),
		Dropped:  in.dropped.Load(),
		Outage:   in.outage.Load(),
		Rejected: in.rejected.Load(),
		Delayed:  in.delayed.Load(),
		Slow:     in.slow.Load(),
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
	in.slow.Store(0)
	in.slowSeen.Store(0)
	in.firstSeen.Store(0)
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
// latency, outage, drop, fail (first, rate), fail and reject patterns, proxy page, slow
// answer.
func (in *Injector) Wrap(h http.Handler) http.Handler {
	if !in.Active() {
		return h
	}
	o := in.opts
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.Latency > 0 {
			in.delayed.Add(1)
			if !sleep(r, o.Latency) {
				return
			}
		}
		respond := in.respond
		if o.ReflectHeaders {
			respond = reflect(respond)
		}
		if o.Outage > 0 && in.since() < o.Outage {
			in.outage.Add(1)
			respond(w, r, http.StatusServiceUnavailable, "outage", "service unavailable (emulated outage)", 0)
			return
		}
		if o.DropRate > 0 && in.roll() < o.DropRate {
			in.dropped.Add(1)
			// ErrAbortHandler makes net/http close the connection without
			// writing a response, and without logging a stack.
			panic(http.ErrAbortHandler)
		}
		if (o.FailFirst > 0 && in.firstSeen.Add(1) <= int64(o.FailFirst)) || (o.FailRate > 0 && in.roll() < o.FailRate) {
			in.failed.Add(1)
			respond(w, r, o.FailStatus, "fail", fmt.Sprintf("emulated failure (%d)", o.FailStatus), o.WaitTime)
			return
		}
		if (o.RejectPattern != nil || o.FailPattern != nil) && r.Body != nil && !in.patterns(w, r, respond) {
			return
		}
		if o.ProxyPage {
			in.slow.Add(1)
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, proxyPage)
			return
		}
		if o.SlowAnswer > 0 && in.takeSlow() {
			in.holdBack(w, r, h)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// proxyPage is the page ProxyPage answers.
const proxyPage = "<!DOCTYPE html>\n<html><head><title>Access gateway</title></head><body><h1>Please log in to continue</h1></body></html>\n"

// patterns fails r when its body matches FailPattern, refuses it when it
// matches RejectPattern, and reports whether r goes on.
func (in *Injector) patterns(w http.ResponseWriter, r *http.Request, respond Responder) bool {
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		respond(w, r, http.StatusBadRequest, "reject", "unreadable body", 0)
		return false
	}
	if p := in.opts.FailPattern; p != nil && p.Match(body) {
		in.failed.Add(1)
		respond(w, r, in.opts.FailStatus, "fail", fmt.Sprintf("emulated failure (%d)", in.opts.FailStatus), in.opts.WaitTime)
		return false
	}
	if p := in.opts.RejectPattern; p != nil {
		if m := p.Find(body); m != nil {
			in.rejected.Add(1)
			respond(w, r, http.StatusBadRequest, "reject", fmt.Sprintf("refused value matching %q: %q", p.String(), m), 0)
			return false
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return true
}

// holdBack handles r at once, into a buffer, and writes the answer after
// SlowAnswer, unless the client has gone by then.
func (in *Injector) holdBack(w http.ResponseWriter, r *http.Request, h http.Handler) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r.WithContext(context.WithoutCancel(r.Context())))
	if !sleep(r, in.opts.SlowAnswer) {
		return
	}
	maps.Copy(w.Header(), rec.Header())
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// sleep waits for d, reporting false when r's client went away first.
func sleep(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// reflect returns respond with the request's headers appended to msg.
func reflect(respond Responder) Responder {
	return func(w http.ResponseWriter, r *http.Request, status int, kind, msg string, wait time.Duration) {
		respond(w, r, status, kind, msg+"; request headers: "+Headers(r), wait)
	}
}

// Headers returns r's headers as one line, "Name: value; …", sorted by
// name, secrets and all: what ReflectHeaders echoes.
func Headers(r *http.Request) string {
	names := slices.Sorted(maps.Keys(r.Header))
	parts := make([]string, 0, len(names))
	for _, k := range names {
		for _, v := range r.Header[k] {
			parts = append(parts, k+": "+v)
		}
	}
	return strings.Join(parts, "; ")
}
