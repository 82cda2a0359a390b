package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/iocpipe/iocpipe/pipeline"
	"github.com/iocpipe/iocpipe/pipeline/ledger"
)

// The hooks of run, validate and watch for routes with taxii: (the source
// is taxii_source.go).

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
func runSource(ctx context.Context, st *runSetup, led *runLedger, reimport, dry bool, report func(pipeline.FileReport)) (*taxiiSource, error) {
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
func runFeed(ctx context.Context, src *taxiiSource, inputs []pipeline.Input) (<-chan pipeline.Input, func() error) {
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
		errc <- src.poll(ctx, ch)
	}()
	return ch, func() error {
		cancel() // a pipeline that stopped early takes no more page
		err := <-errc
		src.close()
		src.logPoll(started, err)
		return err
	}
}

// nothingPolled is what a run that polled says when nothing was new.
func (s *taxiiSource) nothingPolled() string {
	return "no new object in TAXII collection " + s.col.String() + " (the next poll starts from the cursor)"
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
					w.src.close()
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
		w.src.close()
	}
}
