package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/iocpipe/iocpipe/pipeline"
	"github.com/iocpipe/iocpipe/pipeline/inbox"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/pipeline/ledger"
	"github.com/iocpipe/iocpipe/sinks"
)

// metrics are watch mode's Prometheus metrics, in a registry of their own.
// Labels are route and sink names from the configuration and fixed words;
// no value, path or secret ever becomes a label.
type metrics struct {
	reg      *prometheus.Registry
	latency  *prometheus.HistogramVec
	stopping atomic.Bool
	// running counts the routes whose pipeline runs: /readyz is 200 once
	// every route's does.
	running atomic.Int64

	mu     sync.Mutex
	routes []*routeMetrics
	sinks  []*sinkHealth // in the order the routes named them
	led    ledger.Ledger
}

// A sinkHealth is one sink's reachability, learnt from its requests'
// attempts (it is the sinks.Observer of every route that delivers to the
// sink): a sink fails from its first failed attempt until an attempt
// succeeds. Its zero failingSince means up.
type sinkHealth struct {
	name string
	// after is the sink's unhealthy_after: /healthz reports the sink once
	// it has failed for longer.
	after time.Duration
	now   func() time.Time

	mu           sync.Mutex
	failingSince time.Time
	lastErr      error
}

var _ sinks.Observer = (*sinkHealth)(nil)

// Failed implements sinks.Observer.
func (h *sinkHealth) Failed(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failingSince.IsZero() {
		h.failingSince = h.now()
	}
	h.lastErr = err
}

// Succeeded implements sinks.Observer.
func (h *sinkHealth) Succeeded() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failingSince, h.lastErr = time.Time{}, nil
}

// state returns how long the sink has been failing (0 when up) and its
// last error.
func (h *sinkHealth) state() (time.Duration, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failingSince.IsZero() {
		return 0, nil
	}
	return max(h.now().Sub(h.failingSince), time.Nanosecond), h.lastErr
}

// sinkHealth returns the health of the sink named name, made on the first
// call with unhealthy_after after.
func (m *metrics) sinkHealth(name string, after time.Duration) *sinkHealth {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, h := range m.sinks {
		if h.name == name {
			return h
		}
	}
	h := &sinkHealth{name: name, after: after, now: time.Now}
	m.sinks = append(m.sinks, h)
	return h
}

// routeMetrics is where one route's numbers come from at scrape time.
type routeMetrics struct {
	route, sink string
	p           *pipeline.Pipeline
	ib          *inbox.Inbox
	retries     func() int64
}

// With instance (an id in a shared ledger), every series carries the
// label instance: several watches share the inbox, and their series must
// not be mistaken for one another's once aggregated.
func newMetrics(instance string) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	var reg prometheus.Registerer = m.reg
	if instance != "" {
		reg = prometheus.WrapRegistererWith(prometheus.Labels{"instance": instance}, m.reg)
	}
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "iocpipe",
		Name:      "sink_send_duration_seconds",
		Help:      "Time the sink took to settle one batch (retries, splits and isolation included), by outcome: ok, partial (some items refused or failed), error.",
		Buckets:   prometheus.ExponentialBuckets(0.005, 2, 14),
	}, []string{"route", "sink", "outcome"})
	reg.MustRegister(m.latency, m,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// addRoute makes a route's pipeline and inbox visible.
func (m *metrics) addRoute(route, sink string, p *pipeline.Pipeline, ib *inbox.Inbox, retries func() int64) {
	m.mu.Lock()
	m.routes = append(m.routes, &routeMetrics{route: route, sink: sink, p: p, ib: ib, retries: retries})
	m.mu.Unlock()
}

// setLedger makes the ledger's size visible.
func (m *metrics) setLedger(l ledger.Ledger) {
	m.mu.Lock()
	m.led = l
	m.mu.Unlock()
}

// instrument wraps a sink so that each Send is timed.
func (m *metrics) instrument(route, sinkName string, s pipeline.Sink) pipeline.Sink {
	return &instrumentedSink{next: s, obs: m.latency.MustCurryWith(prometheus.Labels{"route": route, "sink": sinkName})}
}

// instrumentedSink is a pipeline.Sink decorator that observes how long each
// batch takes to settle.
type instrumentedSink struct {
	next pipeline.Sink
	obs  prometheus.ObserverVec
}

// Send implements pipeline.Sink.
func (s *instrumentedSink) Send(ctx context.Context, b *ioc.Batch) (ioc.Result, error) {
	start := time.Now()
	res, err := s.next.Send(ctx, b)
	outcome := "ok"
	switch {
	case err != nil:
		outcome = "error"
	case len(res.Rejects) > 0 || len(res.Failed) > 0:
		outcome = "partial"
	}
	s.obs.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
	return res, err
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("iocpipe_"+name, help, labels, nil)
}

var (
	descFiles = desc("files_total", "Files by what became of them: claimed (into work/), resumed (found in work/ at start-up), done (imported), duplicate (content imported before, not sent), failed (unreadable), refused (not a regular file), retried (fed again after a delivery failure).", "route", "event")
	descRows  = desc("rows_total", "Data rows, by outcome: read (all) = delivered + merged (its indicator a duplicate of another row's) + rejected + skipped (not indicators) + failed (not delivered) + resumed (acknowledged by an earlier run, not sent again) + deduplicated (every indicator delivered within the route's dedup_window); yielding counts the rows that yielded indicators.", "route", "outcome")
	descInds  = desc("indicators_total", "Indicators, by outcome: read (all found) = delivered + merged (duplicates) + rejected + failed (not delivered) + skipped (on a warninglist) + deduplicated (delivered within the route's dedup_window).", "route", "outcome")
	descSkips = desc("skips_total", "Rows and values skipped by a route setting, by the setting's key: misp_to_ids (MISP attributes with to_ids false), warninglists (indicators on a warninglist).", "route", "key")
	descSubs  = desc("submissions_total", "Accepted requests that carried indicators.", "route", "sink")
	descBatch = desc("batches_total", "Batches handed to the sink.", "route", "sink")
	descRetry = desc("sink_retries_total", "Requests the sink retried (network errors, 429, 5xx).", "route", "sink")
	descQueue = desc("queue_depth", "Files complete and waiting for the pipeline (ready in the inbox, claimed, or waiting for a file with the same content).", "route")
	descBusy  = desc("files_in_progress", "Files handed to the pipeline and not finished.", "route")
	descIbErr = desc("inbox_errors_total", "Inbox operations that failed, by op: claim (a file could not be moved into work/: the route stops claiming until the folders are healed), filing (a report, rejects file or move to done/ or failed/ failed).", "route", "op")
	descLedB  = desc("ledger_bytes", "Size of the ledger's data.")
	descLedN  = desc("ledger_entries", "Files (by content and route) the ledger knows.")
	descUp    = desc("sink_up", "1 while the sink's last attempt reached it, 0 from a failed attempt (network error, timeout, 429 or 5xx) until one succeeds.", "sink")
)

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descFiles, descRows, descInds, descSkips, descSubs, descBatch, descRetry, descQueue, descBusy, descIbErr, descLedB, descLedN, descUp} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: the numbers are read from the
// pipelines, inboxes and ledger at scrape time.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	routes, led, hs := m.routes, m.led, m.sinks
	m.mu.Unlock()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	for _, r := range routes {
		var st inbox.Stats // a route without inbox (taxii: only) claims no file
		if r.ib != nil {
			st = r.ib.Stats()
		}
		for _, f := range []struct {
			event string
			n     int64
		}{{"claimed", st.Claimed}, {"resumed", st.Resumed}, {"done", st.Done}, {"duplicate", st.Duplicates},
			{"failed", st.Failed}, {"refused", st.Refused}, {"retried", st.Retried}} {
			counter(descFiles, f.n, r.route, f.event)
		}
		s := r.p.Summary()
		counter(descRows, s.Rows, r.route, "read")
		counter(descRows, s.RowsYielding, r.route, "yielding")
		for _, o := range rowOutcomes(s.Counts) {
			counter(descRows, o.n, r.route, o.name)
		}
		counter(descInds, s.Indicators, r.route, "read")
		counter(descInds, s.Delivered, r.route, "delivered")
		counter(descInds, s.Rejected, r.route, "rejected")
		counter(descInds, s.Failed, r.route, "failed")
		counter(descInds, s.Merged, r.route, "merged")
		counter(descInds, s.Skipped, r.route, "skipped")
		counter(descInds, s.Deduplicated, r.route, "deduplicated")
		for k, n := range s.Skips {
			counter(descSkips, n, r.route, k)
		}
		counter(descSubs, s.Submissions, r.route, r.sink)
		counter(descBatch, s.Batches, r.route, r.sink)
		if r.retries != nil {
			counter(descRetry, r.retries(), r.route, r.sink)
		}
		counter(descIbErr, st.ClaimErrors, r.route, "claim")
		counter(descIbErr, st.FilingErrors, r.route, "filing")
		gauge(descQueue, st.Queued, r.route)
		gauge(descBusy, st.InProgress, r.route)
	}
	for _, h := range hs {
		up := int64(1)
		if failing, _ := h.state(); failing > 0 {
			up = 0
		}
		gauge(descUp, up, h.name)
	}
	if led != nil {
		gauge(descLedB, led.Size())
		gauge(descLedN, int64(led.Len()))
	}
}

// A metricsServer serves /metrics, /healthz and /readyz on a listener of
// its own.
type metricsServer struct {
	addr string // the address it listens on
	ln   net.Listener
	srv  *http.Server
	log  *slog.Logger
}

// listen prepares the metrics server on addr: it listens at once, so that
// a bad address is an error before anything starts; serve serves.
func (m *metrics) listen(addr string, log *slog.Logger) (*metricsServer, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if m.stopping.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("stopping\n"))
			return
		}
		if msg := m.unhealthy(); msg != "" {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("degraded\n" + msg))
			return
		}
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if msg := m.notReady(); msg != "" {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(msg))
			return
		}
		w.Write([]byte("ready\n"))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	return &metricsServer{addr: l.Addr().String(), ln: l, srv: srv, log: log}, nil
}

// unhealthy says which routes cannot claim files and which sinks have
// failed for longer than their unhealthy_after, and why, one a line;
// empty when all is well.
func (m *metrics) unhealthy() string {
	m.mu.Lock()
	routes, hs := m.routes, m.sinks
	m.mu.Unlock()
	var b strings.Builder
	for _, r := range routes {
		if r.ib == nil {
			continue
		}
		if err := r.ib.Health(); err != nil {
			fmt.Fprintf(&b, "route %s cannot claim files: %s\n", r.route, escapeLine(err.Error()))
		}
	}
	for _, h := range hs {
		failing, err := h.state()
		if failing == 0 || failing <= h.after {
			continue
		}
		msg := "no attempt succeeded since"
		if err != nil {
			msg = "last error: " + escapeLine(err.Error())
		}
		fmt.Fprintf(&b, "sink %s unreachable for %s (unhealthy_after %s): %s\n",
			h.name, failing.Round(time.Millisecond), h.after, msg)
	}
	return b.String()
}

// notReady says why watch is not ready, empty when it is: every route's
// pipeline runs and it is not stopping.
func (m *metrics) notReady() string {
	m.mu.Lock()
	n := int64(len(m.routes))
	m.mu.Unlock()
	switch {
	case m.stopping.Load():
		return "stopping\n"
	case m.running.Load() < n || n == 0:
		return fmt.Sprintf("starting: %d of %d routes running\n", m.running.Load(), n)
	}
	return ""
}

// escapeLine quotes control characters (a file name in an error) for a
// plain-text answer.
func escapeLine(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// serve serves until shutdown. A server that fails is logged, and watch
// goes on without it: serve returns nil.
func (s *metricsServer) serve() error {
	if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		s.log.Error("metrics server", "error", err)
	}
	return nil
}

// shutdown stops the server, waiting up to 2s for the requests being
// answered.
func (s *metricsServer) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s.srv.Shutdown(ctx)
}
