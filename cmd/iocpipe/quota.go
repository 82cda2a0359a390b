package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/iocpipe/iocpipe/sinks/quota"
)

// quotaOpenTimeout bounds opening the shared quota: a database that does
// not answer within it leaves each sink limiting its calls in-process.
const quotaOpenTimeout = 10 * time.Second

// openQuota opens the shared quota of a configuration whose ledger is
// PostgreSQL, from which the sinks draw their calls (see sinkEnv.limit);
// it returns nil for any other ledger, and nil with one WARN line when
// the database cannot be reached: the sinks then limit their calls
// in-process, and delivery goes on. Close the Store when done.
func openQuota(ctx context.Context, cfg *Config, log *slog.Logger) *quota.Store {
	if cfg.Ledger.Postgres == nil {
		return nil
	}
	dsn, err := cfg.postgresDSN()
	if err != nil {
		return nil // opening the ledger says it
	}
	ctx, cancel := context.WithTimeout(ctx, quotaOpenTimeout)
	defer cancel()
	q, err := quota.Open(ctx, dsn, quota.Options{Logger: log})
	if err != nil {
		log.Warn("shared quota unavailable: each sink limits its calls in-process", "error", err)
		return nil
	}
	return q
}
