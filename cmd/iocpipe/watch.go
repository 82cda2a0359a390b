package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/iocpipe/iocpipe/pipeline"
	"github.com/iocpipe/iocpipe/pipeline/inbox"
	"github.com/iocpipe/iocpipe/pipeline/ledger"
	"github.com/iocpipe/iocpipe/pipeline/taxii/source"
	"github.com/iocpipe/iocpipe/sinks/quota"
)

// watchFlags configure iocpipe watch.
type watchFlags struct {
	config          string
	routes          []string
	logLevel        string
	metricsAddr     string
	shutdownTimeout time.Duration
	reimport        bool
	instance        string
}

// exitNow ends the process at once (a second signal).
var exitNow = os.Exit

func newWatchCmd(e *env) *cobra.Command {
	var f watchFlags
	cmd := &cobra.Command{
		Use:   "watch [--config FILE] [--route NAME]... [--metrics-addr HOST:PORT]",
		Short: "Watch the routes' inbox folders and import every file dropped there",
		Long: `Watch the inbox folder of every route that has one (inbox: in the config) and
import each file dropped there once it is complete: its size and mtime stayed
the same for the settle period (settle:, default 2s), or it was renamed in
from a .part or .tmp name (writers that pause longer than the settle period
should write under such a name and rename when done). Dotfiles, *.part and
*.tmp are never picked up; symlinks and other non-regular files are refused
and moved to failed/.

A file is claimed into <inbox>/.iocpipe/work/, and when every row was
delivered or rejected it moves to <inbox>/done/ with <name>.report.json, plus
<name>.rejects.jsonl (the reasons) and <name>.rejects.<ext> (the rejected rows,
in the file's format, to correct and drop back in; <name>.rejected-rows.jsonl
for a .jsonl file) when rows were rejected. A file that cannot be read goes to
<inbox>/failed/ with its report. Nothing there is ever overwritten: a name
already taken gets -2, -3, ... before its extension.

The ledger (ledger: in the config, a file or {postgres: {dsn_env: VAR}},
else <inbox>/.iocpipe/ledger.db of the first route with an inbox) records the acknowledged rows of every file by
its content, committed by one writer in grouped, fsynced transactions:
after a crash or a restart, files in work/ resume and send again only the
rows acknowledged after the last commit (at least once, never lost), and a
file whose content was imported before is moved to done/ without being
sent (unless --reimport).

A missing inbox folder is an error unless the route says create_inbox:
true; relative inbox and ledger paths are relative to the config file.

SIGINT or SIGTERM stops claiming files, lets the requests in flight finish
(at most --shutdown-timeout) and exits 0; a second signal exits at once (1),
which is safe too.

A file whose delivery keeps failing is retried every minute, and given up to
failed/ with every reason after give_up_after (default 24h).

A route with taxii: has its TAXII 2.1 collection polled every poll: (default
15m), from the cursor the ledger keeps: each page is imported like a file
(taxii:<route>:<collection id>:<date_added range> in the log), and the cursor
advances only once the page and every earlier one were delivered, so a crash
resumes from the last page delivered and sends again only what was in flight.
A route may have both inbox: and taxii:; they feed one pipeline. A collection
that cannot be read, or a server that does not speak TAXII 2.1, fails watch at
start; a poll that fails later is logged and tried again at the next.

With the bbolt ledger one watch owns an inbox: a second one on it exits 1,
naming the process that holds the lock. With a PostgreSQL ledger any number of
watches, on one host or several, share an inbox: each file is claimed once, by
content and route, under the instance's lease (ledger.postgres.lease, default
30s), renewed while it lives; the files of an instance that died are taken
over once its lease expired, resumed from the rows it had acknowledged.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return watch(cmd.Context(), e, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", configHelp)
	fl.StringSliceVar(&f.routes, "route", nil, "watch only these routes (default: every route with an inbox)")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fl.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus /metrics and /healthz on HOST:PORT (default: off)")
	fl.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGINT or SIGTERM, how long requests in flight may take to finish")
	fl.BoolVar(&f.reimport, "reimport", false, "import files whose content the ledger has as imported already")
	fl.StringVar(&f.instance, "instance", "", "this instance's id in a shared (PostgreSQL) ledger, in logs and metrics (default: host-pid-random)")
	return cmd
}

// watched is one route being watched.
type watched struct {
	rc   *RouteConfig
	p    *pipeline.Pipeline
	ib   *inbox.Inbox   // nil: the route has no inbox
	src  *source.Source // nil: the route has no taxii:
	feed chan pipeline.Input
}

// runResult is how a route's pipeline ended.
type runResult struct {
	route string
	sum   pipeline.Summary
	err   error
}

func watch(ctx context.Context, e *env, f *watchFlags) error {
	log, err := newLogger(e, f.logLevel)
	if err != nil {
		return err
	}
	cfg, err := discoverConfig(f.config, log)
	if err != nil {
		return err
	}
	routes, err := checkWatch(cfg, f)
	if err != nil {
		return err
	}
	ledger, err := openLedger(ctx, cfg, log)
	if ce := (*ConfigError)(nil); errors.As(err, &ce) {
		return err
	}
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	defer closeLedger(ledger, log)
	log.Info("ledger", "path", ledgerName(ledger))
	claims, err := joinInstance(ctx, cfg, ledger, f.instance, log)
	if ee := (*exitError)(nil); errors.As(err, &ee) {
		return err
	}
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	if claims != nil {
		// Closing the ledger ends the instance's lease, after its last
		// acknowledgements are written.
		log = log.With("instance", claims.ID())
	}

	q := openQuota(ctx, cfg, log)
	if q != nil {
		defer q.Close()
	}

	m := newMetrics(instanceID(claims))
	m.setLedger(ledger)
	var ws []*watched
	for _, rc := range routes {
		w, err := watchRoute(cfg, rc, m, ledger, claims, q, f.reimport, log)
		if err != nil {
			return err
		}
		ws = append(ws, w)
	}
	if err := attachTAXII(ctx, cfg, ws, ledger, f.reimport, log); err != nil {
		return err
	}

	stopped := make(chan struct{})
	defer close(stopped)
	secondSignal(log, stopped)

	var srv *metricsServer
	if f.metricsAddr != "" {
		if srv, err = m.listen(f.metricsAddr, log); err != nil {
			return usageErrorf("--metrics-addr %s: %v", f.metricsAddr, err)
		}
		log.Info("serving metrics", "addr", srv.addr, "metrics", "http://"+srv.addr+"/metrics", "healthz", "http://"+srv.addr+"/healthz", "readyz", "http://"+srv.addr+"/readyz")
	}
	if failure := supervise(ctx, ws, m, srv, f.shutdownTimeout, log); failure != nil {
		return &exitError{code: exitFailed, err: failure}
	}
	return nil
}

// checkWatch checks what watch is told before it opens anything, and
// returns the routes it watches.
func checkWatch(cfg *Config, f *watchFlags) ([]*RouteConfig, error) {
	routes, err := watchedRoutes(cfg, f.routes)
	if err != nil {
		return nil, err
	}
	if f.shutdownTimeout <= 0 {
		return nil, usageErrorf("--shutdown-timeout must be positive")
	}
	for _, rc := range routes {
		if err := checkInbox(cfg, rc); err != nil {
			return nil, err
		}
	}
	if err := checkTAXIILedger(cfg, routes); err != nil {
		return nil, err
	}
	if f.instance != "" && cfg.Ledger.Postgres == nil {
		return nil, usageErrorf("--instance %s: only a shared (PostgreSQL) ledger has instances", f.instance)
	}
	return routes, nil
}

// watchRoute sets up one route of watch: its sink (observed for health),
// its inbox and its pipeline, with their metrics; q (nil for none) is the
// shared quota.
func watchRoute(cfg *Config, rc *RouteConfig, m *metrics, l ledger.Ledger, claims *ledger.Instance, q *quota.Store, reimport bool, log *slog.Logger) (*watched, error) {
	health := m.sinkHealth(rc.Sink, time.Duration(cfg.Delivery(rc).UnhealthyAfter))
	s, err := buildSink(cfg, rc, sinkEnv{log: log, obs: health, quota: q})
	if err != nil {
		return nil, err
	}
	route := cfg.PipelineRoute(rc)
	var ib *inbox.Inbox // a route with taxii: only has none
	if rc.Inbox != "" {
		o := inboxOptions(rc)
		o.MustExist, o.Settle, o.Rescan = !rc.CreateInbox, time.Duration(rc.Settle), time.Duration(rc.Rescan)
		o.DeleteDone, o.GiveUpAfter = rc.DeleteDone, time.Duration(rc.GiveUpAfter)
		o.Ledger, o.Reimport, o.Reader, o.Logger = l, reimport, route, log
		if claims != nil {
			o.Claims = claims
		}
		ib, err = inbox.New(o)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, missingInbox(cfg, rc, err)
		}
		if err != nil {
			return nil, &exitError{code: exitFailed, err: fmt.Errorf("route %s: %w", rc.Name, err)}
		}
	}
	opts := pipelineOptions(cfg, rc, m.instrument(rc.Name, rc.Sink, s), log.With("route", rc.Name))
	// The inbox streams each file's rejects to disk from its reports: the
	// pipeline keeps none (a file of a million invalid rows would hold a
	// million rejects).
	opts.Route = route
	dedupWindow(&opts, rc, l)
	p, err := pipeline.New(opts)
	if err != nil {
		return nil, err
	}
	m.addRoute(rc.Name, rc.Sink, p, ib, s.Retries)
	return &watched{rc: rc, p: p, ib: ib, feed: make(chan pipeline.Input)}, nil
}

// checkInbox returns a configuration error when rc's inbox folder does
// not exist and the route does not say create_inbox: true.
func checkInbox(cfg *Config, rc *RouteConfig) error {
	if rc.Inbox == "" || rc.CreateInbox {
		return nil
	}
	fi, err := os.Stat(rc.Inbox)
	if err == nil && !fi.IsDir() {
		return cfg.errorf(cfg.routeKey(rc)+".inbox", "%s is not a folder", rc.Inbox)
	}
	if err != nil {
		return missingInbox(cfg, rc, err)
	}
	return nil
}

// missingInbox is the error for rc's missing inbox, naming the key that
// would create it.
func missingInbox(cfg *Config, rc *RouteConfig, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		err = fmt.Errorf("the folder %s does not exist", rc.Inbox)
	}
	return cfg.errorf(cfg.routeKey(rc)+".inbox", "%v: create it, or set create_inbox: true on the route", err)
}

// closeLedger writes what the ledger has not written yet, and closes it.
func closeLedger(l ledger.Ledger, log *slog.Logger) {
	if err := l.Close(); err != nil {
		log.Error("closing the ledger", "error", err)
	}
}

// supervise runs every route's inbox and pipeline, the metrics server (srv,
// when set) and the shutdown under one errgroup, whose context is done on
// the signal (ctx) or the first failure: then every inbox stops claiming,
// the pipelines finish what is in flight (their own context outlives the
// signal, until timeout cancels it), the inboxes file away the files that
// finished, and the metrics server stops last. It returns the failure
// that makes watch exit 1 (see watchOutcome).
func supervise(ctx context.Context, ws []*watched, m *metrics, srv *metricsServer, timeout time.Duration, log *slog.Logger) error {
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()
	serveCtx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServing()
	g, gctx := errgroup.WithContext(ctx)

	var mu sync.Mutex
	var watchErrs []error // in the order the inboxes stopped
	var ended []runResult // in the order the pipelines ended
	var watching, running sync.WaitGroup
	for _, w := range ws {
		if w.src != nil {
			watching.Add(1)
			g.Go(func() error {
				defer watching.Done()
				return w.src.Watch(gctx, w.feed)
			})
		}
		if w.ib != nil {
			watching.Add(1)
			g.Go(func() error {
				defer watching.Done()
				err := w.ib.Watch(gctx, w.feed)
				if err != nil {
					log.Error("watching stopped", "error", err)
					mu.Lock()
					watchErrs = append(watchErrs, err)
					mu.Unlock()
				}
				return err
			})
		}
		running.Add(1)
		g.Go(func() error {
			defer running.Done()
			m.running.Add(1)
			sum, err := w.p.Run(runCtx, w.feed)
			m.running.Add(-1)
			mu.Lock()
			ended = append(ended, runResult{route: w.rc.Name, sum: sum, err: err})
			mu.Unlock()
			return err // before the shutdown, any return is a failure: stop watching
		})
	}
	if srv != nil {
		g.Go(srv.serve)
		g.Go(func() error {
			<-serveCtx.Done()
			srv.shutdown()
			return nil
		})
	}
	g.Go(func() error {
		<-gctx.Done()
		m.stopping.Store(true)
		watching.Wait()
		log.Info("stopping: no new file is claimed; requests in flight may finish", "timeout", timeout.String())
		for _, w := range ws {
			w.p.Stop()
			close(w.feed)
		}
		t := time.AfterFunc(timeout, func() {
			log.Warn("shutdown timeout: cancelling the requests in flight (their rows are sent again on the next start)")
			cancelRun()
		})
		running.Wait()
		t.Stop()
		for _, w := range ws {
			if w.ib != nil {
				w.ib.Close() // the files finished last are filed away
			}
			w.closeSource() // the cursor of the pages finished last is written
		}
		stopServing()
		return nil
	})
	_ = g.Wait() // the failures are in watchErrs and ended
	return watchOutcome(watchErrs, ended, log)
}

// watchOutcome logs how each route's pipeline ended and returns the failure
// that makes watch exit 1: the first inbox that could not be watched,
// else the first route whose pipeline failed.
func watchOutcome(watchErrs []error, ended []runResult, log *slog.Logger) error {
	var failure error
	for _, err := range watchErrs {
		failure = cmpErr(failure, err)
	}
	for _, r := range ended {
		s := r.sum
		log.Info("route stopped", "route", r.route, "files", s.Files, "rows", s.Rows, "rows_resumed", s.RowsResumed,
			"rows_rejected", s.RowsRejected, "delivered", s.Delivered, "deduplicated", s.Deduplicated, "rejected", s.Rejected, "failed", s.Failed, "submissions", s.Submissions)
		if r.err != nil && !errors.Is(r.err, context.Canceled) {
			log.Error("route failed", "route", r.route, "error", r.err)
			failure = cmpErr(failure, fmt.Errorf("route %s: %w", r.route, r.err))
		}
	}
	return failure
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// watchedRoutes returns the routes to watch: those with an inbox, or the
// named ones (which must have one). Two routes may not share an inbox.
func watchedRoutes(cfg *Config, names []string) ([]*RouteConfig, error) {
	var out []*RouteConfig
	for i := range cfg.Routes {
		rc := &cfg.Routes[i]
		if len(names) > 0 && !slices.Contains(names, rc.Name) {
			continue
		}
		if rc.Inbox == "" && rc.TAXII == nil {
			if len(names) > 0 {
				return nil, usageErrorf("route %q has no inbox: watch needs inbox: or taxii: in the route", rc.Name)
			}
			continue
		}
		out = append(out, rc)
	}
	for _, n := range names {
		if _, err := cfg.Route(n); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, usageErrorf("no route in %s has an inbox: watch imports from the folders named by inbox: in routes (and polls the TAXII collections of taxii:)", cfg.path)
	}
	seen := map[string]string{}
	for _, rc := range out {
		if rc.Inbox == "" {
			continue
		}
		abs, err := filepath.Abs(rc.Inbox)
		if err != nil {
			return nil, usageErrorf("route %s: inbox %s: %v", rc.Name, rc.Inbox, err)
		}
		if other, ok := seen[abs]; ok {
			return nil, &ConfigError{File: cfg.path, Key: "routes (" + rc.Name + ").inbox",
				Err: fmt.Errorf("%s is route %s's inbox too: each route needs its own", rc.Inbox, other)}
		}
		seen[abs] = rc.Name
	}
	return out, nil
}

// secondSignal exits at once on the second SIGINT or SIGTERM: the first
// (which cancels the command's context) starts the graceful shutdown.
// Exiting is safe at any instant: a row the ledger wrote is never sent
// again, and the rows it had not written yet are sent again.
func secondSignal(log *slog.Logger, stopped <-chan struct{}) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		defer signal.Stop(sigs)
		n := 0
		for {
			select {
			case s := <-sigs:
				n++
				if n >= 2 {
					log.Warn("second signal: exiting now (acknowledged rows are safe in the ledger; the rest is sent on the next start)", "signal", s.String())
					exitNow(exitFailed)
				}
			case <-stopped:
				return
			}
		}
	}()
}
