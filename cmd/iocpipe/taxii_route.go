package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/iocpipe/iocpipe/pipeline"
	"github.com/iocpipe/iocpipe/pipeline/ledger"
	"github.com/iocpipe/iocpipe/pipeline/taxii"
	"github.com/iocpipe/iocpipe/pipeline/taxii/source"
)

// The hooks of run, validate and watch for routes with taxii: (the source
// itself is package pipeline/taxii/source).

// taxiiResolveTimeout bounds finding a route's collection at start,
// retries included: a server that does not answer within it is an error
// at once, not after the retry deadline of every request (5 minutes).
const taxiiResolveTimeout = 30 * time.Second

// newTAXIISource resolves route rc's collection and opens its source,
// whose cursor comes from the ledger l (nil for none), else added_after
// (as with reimport); report receives every page's reports (nil for
// none). Errors name the route's key: a configuration error (exit 2) for a
// collection that cannot be used as configured, exit 1 for a server that
// cannot be reached or refuses the credentials.
func newTAXIISource(ctx context.Context, cfg *Config, rc *RouteConfig, l ledger.Ledger, reimport bool, report func(pipeline.FileReport), log *slog.Logger) (*source.Source, error) {
	t := rc.TAXII
	// The source names the route in its own lines; the client's need it.
	opts, err := cfg.taxiiOptions(rc, log.With("route", rc.Name))
	if err != nil {
		return nil, err
	}
	client, err := taxii.New(opts)
	if err != nil {
		return nil, cfg.errorf(cfg.routeKey(rc)+".taxii", "%v", err)
	}
	rctx, cancel := context.WithTimeout(ctx, taxiiResolveTimeout)
	col, err := client.Resolve(rctx, t.URL, t.Collection)
	cancel()
	if err != nil {
		return nil, taxiiStartError(cfg, rc, err)
	}
	d := cfg.Delivery(rc)
	s, err := source.New(ctx, source.Options{
		Client: client, Collection: col, Route: rc.Name, Key: ledger.Key(rc.Name, rc.Sink), Ledger: l,
		Start: t.startCursor(), Reimport: reimport, Poll: time.Duration(t.Poll), Report: report, Logger: log,
		// What the sink takes at once, and as much again being batched.
		Window: (d.InFlight + 1) * d.BatchSize,
	})
	if err != nil {
		return nil, &exitError{code: exitFailed, err: err}
	}
	return s, nil
}

// taxiiStartError is the error of a collection that cannot be resolved,
// naming the route's key.
func taxiiStartError(cfg *Config, rc *RouteConfig, err error) error {
	key := cfg.routeKey(rc) + ".taxii"
	switch {
	case errors.Is(err, taxii.ErrNoCollection) || errors.Is(err, taxii.ErrNotReadable):
		return cfg.errorf(key+".collection", "%v", err)
	case errors.Is(err, taxii.ErrTAXII20) || errors.Is(err, taxii.ErrMediaType) || errors.Is(err, taxii.ErrNotFound) || errors.Is(err, taxii.ErrNotDiscovery):
		return cfg.errorf(key+".url", "%v", err)
	}
	// The server cannot be reached, or refuses the credentials (which
	// come from the environment): exit 1, as taxii discover.
	return &exitError{code: exitFailed, err: fmt.Errorf("%s: %s: %w", cfg.path, key, err)}
}

// pathsOrRoute are run's and validate's arguments: PATHs, or none with
// --route (a taxii: route then polls its collection; see checkPoll).
func pathsOrRoute(f *importFlags) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if f.route != "" {
			return nil
		}
		return minArgs(1)(cmd, args)
	}
}

// checkPoll says that a run without PATH needs a route with taxii:.
func checkPoll(rc *RouteConfig, paths []string) error {
	if len(paths) > 0 || rc.TAXII != nil {
		return nil
	}
	return usageErrorf("route %s has no taxii: to poll: give the files or folders to import", rc.Name)
}

// runSource is the source of a run with no PATH on a taxii: route: one
// poll of its collection, from the ledger's cursor; nil for a run of
// files (a taxii: route given PATHs imports them and does not poll).
func runSource(ctx context.Context, st *runSetup, led *runLedger, reimport, dry bool, report func(pipeline.FileReport)) (*source.Source, error) {
	if len(st.paths) > 0 || st.rc.TAXII == nil {
		return nil, nil
	}
	var l ledger.Ledger
	if led != nil {
		l = led.l
	}
	if l == nil && !dry {
		st.log.Info("no ledger: the poll reads from added_after and keeps no cursor (ledger: FILE keeps one)", "route", st.rc.Name)
	}
	return newTAXIISource(ctx, st.cfg, st.rc, l, reimport, report, st.log)
}

// runFeed returns the inputs of a run: inputs, or with src the pages of
// one poll to the end of the collection, fed as the pipeline takes them.
// The function returned, called once the pipeline ended, returns the
// poll's error and closes src (its cursor written).
func runFeed(ctx context.Context, src *source.Source, inputs []pipeline.Input) (<-chan pipeline.Input, func() error) {
	if src == nil {
		ch := make(chan pipeline.Input, len(inputs))
		for _, in := range inputs {
			ch <- in
		}
		close(ch)
		return ch, func() error { return nil }
	}
	ch := make(chan pipeline.Input)
	ctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	started := time.Now()
	go func() {
		defer close(ch)
		errc <- src.Poll(ctx, ch)
	}()
	return ch, func() error {
		cancel() // a pipeline that stopped early takes no more page
		err := <-errc
		src.Close()
		src.LogPoll(started, err)
		return err
	}
}

// nothingPolled is what a run that polled src says when nothing was new.
func nothingPolled(src *source.Source) string {
	return "no new object in TAXII collection " + src.Collection().String() + " (the next poll starts from the cursor)"
}

// checkTAXIILedger returns a configuration error when a watched route
// polls a TAXII collection and the configuration has no ledger: watch
// keeps the cursor there.
func checkTAXIILedger(cfg *Config, routes []*RouteConfig) error {
	if path, _ := ledgerPath(cfg); path != "" || cfg.Ledger.Postgres != nil {
		return nil
	}
	for _, rc := range routes {
		if rc.TAXII != nil {
			return cfg.errorf("ledger", "route %s polls a TAXII collection: watch keeps its cursor in the ledger; set ledger: FILE (or ledger.postgres)", rc.Name)
		}
	}
	return nil
}

// attachTAXII gives every watched route with taxii: its source: the
// collection resolved and the cursor read now, so that watch fails at
// start on a collection it cannot poll.
func attachTAXII(ctx context.Context, cfg *Config, ws []*watched, l ledger.Ledger, reimport bool, log *slog.Logger) error {
	for _, w := range ws {
		if w.rc.TAXII == nil {
			continue
		}
		src, err := newTAXIISource(ctx, cfg, w.rc, l, reimport, pageLogger(log.With("route", w.rc.Name)), log)
		if err != nil {
			for _, w := range ws {
				if w.src != nil {
					w.src.Close()
				}
			}
			return err
		}
		w.src = src
	}
	return nil
}

// pageLogger is watch's reporting of TAXII pages: a line per page, and
// its rejects at debug level (run --rejects writes them to a file).
func pageLogger(log *slog.Logger) func(pipeline.FileReport) {
	return func(r pipeline.FileReport) {
		for _, rej := range r.Rejects {
			if !rej.Skipped {
				log.Debug("rejected", "page", rej.File, "line", rej.Line, "id", rej.ID, "field", rej.Field, "reason", rej.Reason)
			}
		}
		if !r.Final {
			return
		}
		res := r.Result
		log.Info("TAXII page done", "page", res.File, "rows", res.Rows, "rows_resumed", res.RowsResumed, "rows_skipped", res.RowsSkipped,
			"rows_rejected", res.RowsRejected, "delivered", res.Delivered, "deduplicated", res.Deduplicated, "failed", res.Failed)
	}
}

// closeSource ends a watched route's TAXII source, once its pipeline
// ended: the cursor is written.
func (w *watched) closeSource() {
	if w.src != nil {
		w.src.Close()
	}
}
