package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/iocpipe/iocpipe/pipeline"
	"github.com/iocpipe/iocpipe/pipeline/inbox"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// ledgerPath returns the ledger file of a configuration: the ledger key,
// else <inbox>/.iocpipe/ledger.db of the first route with an inbox, else
// "" (no ledger).
func ledgerPath(cfg *Config) string {
	if cfg.Ledger != "" {
		return cfg.Ledger
	}
	for _, r := range cfg.Routes {
		if r.Inbox != "" {
			return filepath.Join(r.Inbox, ".iocpipe", "ledger.db")
		}
	}
	return ""
}

// openLedger opens the configuration's ledger, creating its folder; it
// returns nil when the configuration has none.
func openLedger(cfg *Config) (*inbox.Ledger, error) {
	path := ledgerPath(cfg)
	if path == "" {
		return nil, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	l, err := inbox.OpenLedger(path, inbox.LedgerOptions{Timeout: 2 * time.Second})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// runLedger is the ledger's part in `iocpipe run`: files whose content
// was imported through the route are skipped (unless --reimport), files
// partly acknowledged resume, and acknowledgements are recorded. A nil
// *runLedger (no ledger configured) changes nothing.
type runLedger struct {
	l        *inbox.Ledger
	key      string
	reimport bool
	log      *slog.Logger

	mu      sync.Mutex
	tracked map[string]*inbox.Tracked // by input name
	ok      map[string]bool           // read without a file error
}

// attachLedger opens the configuration's ledger for run; it returns nil
// when there is none.
func attachLedger(cfg *Config, rc *RouteConfig, reimport bool, log *slog.Logger) (*runLedger, error) {
	l, err := openLedger(cfg)
	if err != nil || l == nil {
		return nil, err
	}
	return &runLedger{l: l, key: inbox.Key(rc.Name, rc.Sink), reimport: reimport, log: log,
		tracked: map[string]*inbox.Tracked{}, ok: map[string]bool{}}, nil
}

func (rl *runLedger) close() {
	if rl != nil {
		rl.l.Close()
	}
}

// prepare returns the inputs to import, with the ledger's hooks; those
// already imported, or repeating the content of an earlier input, are
// left out, and said so.
func (rl *runLedger) prepare(inputs []pipeline.Input) []pipeline.Input {
	if rl == nil {
		return inputs
	}
	out := inputs[:0]
	seen := map[string]string{}
	for _, in := range inputs {
		sum, size, err := inbox.Sum(in.Path)
		if err != nil {
			out = append(out, in) // reading it fails, and says why
			continue
		}
		if first, ok := seen[sum]; ok {
			rl.log.Info("same content as "+first+" in this run: skipped", "file", in.Name)
			continue
		}
		seen[sum] = in.Name
		e, ok, err := rl.l.Get(rl.key, sum)
		if err != nil {
			rl.log.Error("reading the ledger: importing without it", "file", in.Name, "error", err)
			out = append(out, in)
			continue
		}
		if ok && e.Done && !rl.reimport {
			rl.log.Info(fmt.Sprintf("already imported on %s: skipped (use --reimport to import it again)",
				e.Imported.Local().Format(time.DateTime)), "file", in.Name, "imported_as", e.Name)
			continue
		}
		tr, err := rl.l.Track(rl.key, sum, filepath.Base(in.Name), size, ok && e.Done)
		if err != nil {
			rl.log.Error("reading the ledger: importing without it", "file", in.Name, "error", err)
			out = append(out, in)
			continue
		}
		if n := tr.Resumed().Len(); n > 0 {
			rl.log.Info("resuming: rows acknowledged by an earlier run are skipped", "file", in.Name, "rows_acknowledged", n)
		}
		in.Skip = tr.Skip
		in.Report = rl.report(in.Name, tr, in.Report)
		rl.tracked[in.Name] = tr
		out = append(out, in)
	}
	return out
}

// report returns the Input.Report of a file the ledger tracks: it records
// the acknowledged rows and notes how the file ended, then calls next.
func (rl *runLedger) report(name string, tr *inbox.Tracked, next func(pipeline.FileReport)) func(pipeline.FileReport) {
	var acked ioc.Ranges
	return func(r pipeline.FileReport) {
		if len(r.Acked) > 0 {
			acked = acked.Union(r.Acked)
			if err := tr.Ack(acked); err != nil {
				rl.log.Error("recording acknowledged rows", "file", name, "error", err)
			}
		}
		if r.Final {
			rl.mu.Lock()
			rl.ok[name] = r.Result.Err == ""
			rl.mu.Unlock()
		}
		if next != nil {
			next(r)
		}
	}
}

// finish records as imported the files of a run that delivered everything
// it read: every file read without a file error.
func (rl *runLedger) finish(sum pipeline.Summary, runErr error) {
	if rl == nil || runErr != nil || sum.Failed > 0 {
		return // the next run resumes them, skipping what was acknowledged
	}
	rl.mu.Lock()
	defer rl.mu.Unlock()
	for name, tr := range rl.tracked {
		if !rl.ok[name] {
			continue
		}
		if err := tr.Finish(); err != nil {
			rl.log.Error("recording the import in the ledger", "file", name, "error", err)
		}
	}
}
