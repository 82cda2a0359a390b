package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/iocpipe/iocpipe/pipeline"
	"github.com/iocpipe/iocpipe/pipeline/ledger"
)

// ledgerPath returns the bbolt ledger file of a configuration: the ledger
// key, else <inbox>/.iocpipe/ledger.db of the first route with an inbox,
// else "" (no ledger, or a PostgreSQL one); and that route (nil for the
// ledger key or none).
func ledgerPath(cfg *Config) (string, *RouteConfig) {
	if cfg.Ledger.Postgres != nil {
		return "", nil
	}
	if cfg.Ledger.Path != "" {
		return cfg.Ledger.Path, nil
	}
	for i, r := range cfg.Routes {
		if r.Inbox != "" {
			return filepath.Join(r.Inbox, ".iocpipe", "ledger.db"), &cfg.Routes[i]
		}
	}
	return "", nil
}

// openLedger opens the configuration's ledger: PostgreSQL (applying its
// migrations), or the bbolt file, creating its folder; it returns nil
// when the configuration has none. It gives up when ctx is done (a
// signal).
func openLedger(ctx context.Context, cfg *Config, log *slog.Logger) (ledger.Ledger, error) {
	if cfg.Ledger.Postgres != nil {
		dsn, err := cfg.postgresDSN()
		if err != nil {
			return nil, err
		}
		l, err := ledger.OpenPostgres(ctx, dsn, ledger.PostgresOptions{Logger: log})
		if err != nil {
			return nil, err
		}
		return l, nil
	}
	path, in := ledgerPath(cfg)
	if path == "" {
		return nil, nil
	}
	if in != nil {
		// Creating the ledger's folder would create a missing inbox.
		if err := checkInbox(cfg, in); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	l, err := ledger.OpenBoltContext(ctx, path, ledger.BoltOptions{Timeout: 2 * time.Second, Logger: log})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// ledgerName names an open ledger for the log: its file, or its server
// and database.
func ledgerName(l ledger.Ledger) string {
	switch l := l.(type) {
	case *ledger.Bolt:
		return l.Path()
	case *ledger.Postgres:
		return l.Name()
	}
	return fmt.Sprintf("%T", l)
}

// runLedger is the ledger's part in `iocpipe run`: files whose content
// was imported through the route are skipped (unless --reimport), files
// partly acknowledged resume, and acknowledgements are recorded. A nil
// *runLedger (no ledger configured) changes nothing.
type runLedger struct {
	l        ledger.Ledger
	key      string
	reimport bool
	log      *slog.Logger

	mu    sync.Mutex
	files map[string]*runFile // by input name

	// imported and repeated count the files prepare left out: imported
	// already, or repeating the content of another file of the run.
	imported, repeated int
}

// skipped returns how many files prepare left out, as imported already
// and as repeating another file's content.
func (rl *runLedger) skipped() (imported, repeated int) {
	if rl == nil {
		return 0, 0
	}
	return rl.imported, rl.repeated
}

// runFile is a file of the run that the ledger records.
type runFile struct {
	sum string
	ok  bool // read to the end without a file error
}

// attachLedger opens the configuration's ledger for run; it returns nil
// when there is none.
func attachLedger(ctx context.Context, cfg *Config, rc *RouteConfig, reimport bool, log *slog.Logger) (*runLedger, error) {
	l, err := openLedger(ctx, cfg, log)
	if err != nil || l == nil {
		return nil, err
	}
	return &runLedger{l: l, key: ledger.Key(rc.Name, rc.Sink), reimport: reimport, log: log,
		files: map[string]*runFile{}}, nil
}

// dedupWindow sets opts's DedupWindow from route rc when the ledger l
// keeps delivered indicators; without a ledger it stays off.
func dedupWindow(opts *pipeline.Options, rc *RouteConfig, l ledger.Ledger) {
	d, ok := l.(pipeline.DeliveredStore)
	if !ok || rc.DedupWindow <= 0 {
		return
	}
	opts.DedupWindow, opts.Delivered, opts.DedupKey = time.Duration(rc.DedupWindow), d, ledger.Key(rc.Name, rc.Sink)
}

// Both ledgers keep delivered indicators.
var (
	_ pipeline.DeliveredStore = (*ledger.Bolt)(nil)
	_ pipeline.DeliveredStore = (*ledger.Postgres)(nil)
)

// close writes what is recorded and not yet written, and closes the
// ledger.
func (rl *runLedger) close() {
	if rl == nil {
		return
	}
	if err := rl.l.Close(); err != nil {
		rl.log.Error("closing the ledger", "error", err)
	}
}

// prepare returns the inputs to import, with the ledger's hooks; those
// already imported, or repeating the content of an earlier input, are
// left out, and said so.
func (rl *runLedger) prepare(ctx context.Context, inputs []pipeline.Input) []pipeline.Input {
	if rl == nil {
		return inputs
	}
	out := inputs[:0]
	seen := map[string]string{}
	for _, in := range inputs {
		sum, size, err := ledger.Sum(in.Path)
		if err != nil {
			out = append(out, in) // reading it fails, and says why
			continue
		}
		if first, ok := seen[sum]; ok {
			rl.log.Info("same content as "+first+" in this run: skipped", "file", in.Name)
			rl.repeated++
			continue
		}
		seen[sum] = in.Name
		st, err := rl.l.Begin(ctx, rl.key, ledger.Content{Sum: sum, Name: filepath.Base(in.Name), Size: size}, rl.reimport)
		switch {
		case err != nil:
			rl.log.Error("reading the ledger: importing without it", "file", in.Name, "error", err)
			out = append(out, in)
			continue
		case st.Status == ledger.Duplicate:
			rl.log.Info(fmt.Sprintf("already imported on %s: skipped (use --reimport to import it again)",
				st.Entry.Imported.Local().Format(time.DateTime)), "file", in.Name, "imported_as", st.Entry.Name)
			rl.imported++
			continue
		case st.Status == ledger.Resume:
			rl.log.Info("resuming: rows acknowledged by an earlier run are skipped", "file", in.Name, "rows_acknowledged", st.Resumed().Len())
		}
		f := &runFile{sum: sum}
		rl.files[in.Name] = f
		in.Skip = st.Skip
		in.Report = rl.report(f, in.Report)
		out = append(out, in)
	}
	return out
}

// report returns the Input.Report of a file the ledger records: it hands
// the acknowledged rows to the ledger (which does not wait for the disk)
// and notes how the file ended, then calls next.
func (rl *runLedger) report(f *runFile, next func(pipeline.FileReport)) func(pipeline.FileReport) {
	return func(r pipeline.FileReport) {
		rl.l.Record(rl.key, f.sum, r.Acked)
		rl.l.Undelivered(rl.key, f.sum, r.Rejected.Union(r.Failed))
		if r.Final {
			rl.mu.Lock()
			f.ok = r.Result.Err == ""
			rl.mu.Unlock()
		}
		if next != nil {
			next(r)
		}
	}
}

// finish records as imported the files of a run that delivered everything
// it read: every file read without a file error. The files are finished
// together, so that the ledger writes them in one commit or few.
func (rl *runLedger) finish(ctx context.Context, sum pipeline.Summary, runErr error) {
	if rl == nil || runErr != nil || sum.Failed > 0 {
		return // the next run resumes them, skipping what was acknowledged
	}
	rl.mu.Lock()
	defer rl.mu.Unlock()
	var wg sync.WaitGroup
	for name, f := range rl.files {
		if !f.ok {
			continue
		}
		wg.Go(func() {
			if err := rl.l.Finish(ctx, rl.key, f.sum, true); err != nil {
				rl.log.Error("recording the import in the ledger", "file", name, "error", err)
			}
		})
	}
	wg.Wait()
}

// ledgerFile is the configuration's ledger for a person: its file, or
// the PostgreSQL database by its DSN's variable; "" for none.
func ledgerFile(cfg *Config) string {
	if pg := cfg.Ledger.Postgres; pg != nil {
		return "in PostgreSQL ($" + pg.DSNEnv + ")"
	}
	p, _ := ledgerPath(cfg)
	return p
}

// joinInstance joins the shared ledger as an instance, when the ledger is
// PostgreSQL (id names it, "" for a new id): its claims share the routes'
// inboxes with other instances. It returns nil for another ledger.
func joinInstance(ctx context.Context, cfg *Config, l ledger.Ledger, id string, log *slog.Logger) (*ledger.Instance, error) {
	pg, ok := l.(*ledger.Postgres)
	if !ok {
		return nil, nil
	}
	in, err := pg.Join(ctx, ledger.InstanceOptions{ID: id, Lease: time.Duration(cfg.Ledger.Postgres.Lease), Logger: log})
	if errors.Is(err, ledger.ErrBadInstanceID) || errors.Is(err, ledger.ErrInstanceInUse) {
		return nil, usageErrorf("--instance: %v", err)
	}
	if err != nil {
		return nil, err
	}
	log.Info("joined the shared ledger", "instance", in.ID(), "lease", in.Lease())
	return in, nil
}

// instanceID returns in's id, "" for none.
func instanceID(in *ledger.Instance) string {
	if in == nil {
		return ""
	}
	return in.ID()
}
