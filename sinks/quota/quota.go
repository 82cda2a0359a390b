// Package quota shares an API's call quota between the instances of
// iocpipe: one token bucket per credential (the sink's URL and client id)
// kept in PostgreSQL, the database of the ledger, from which every
// instance draws its calls, so that N instances together stay within the
// sink's rate_limit and burst. A 429 seen by one instance pauses the
// bucket for all until its wait is over.
//
// Each take is one statement (an upsert computing the refill, the grant
// and the wait), atomic under the row's lock, timed by the database's
// clock so that hosts with skewed clocks agree. A Limiter whose database
// does not answer limits its calls in-process (sinks.NewRateLimiter)
// until the database answers again, saying so in one WARN line: the
// quota store never stops a delivery.
//
// The table, iocpipe_quota, is one of the ledger's migrations
// (pipeline/ledger/migrations/0002_quota.sql), which Open applies.
package quota

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/iocpipe/iocpipe/pipeline/ledger"
)

// A Store is the buckets of a database. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	name string // host:port/database, for the log (never the password)
	log  *slog.Logger
}

// Options configures Open. The zero value discards the log.
type Options struct {
	// Logger receives the WARN line of a database that stops answering,
	// and the INFO line of its return; nil discards them.
	Logger *slog.Logger
}

// maxConns caps the Store's connections: a take is one short statement.
const maxConns = 4

// Open connects to the database of dsn (a PostgreSQL URL or key=value
// string) and applies the ledger's migrations, which hold the buckets'
// table. Errors name the server and database, never the password.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("quota postgres: %w", err)
	}
	c := cfg.ConnConfig
	name := fmt.Sprintf("postgres %s:%d/%s", c.Host, c.Port, c.Database)
	if _, err := ledger.MigratePostgres(ctx, dsn); err != nil {
		return nil, fmt.Errorf("quota %s: %w", name, err)
	}
	cfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("quota %s: %w", name, err)
	}
	return &Store{pool: pool, name: name, log: opts.Logger.With("quota", name)}, nil
}

// Name returns the server and database, as the log names them.
func (s *Store) Name() string { return s.name }

// Close closes the Store's connections; its Limiters limit in-process
// afterwards.
func (s *Store) Close() { s.pool.Close() }

// Key returns the bucket of a credential: the hex SHA-256 of the sink's
// URL and its client id (or API key), never the secret, so that every
// instance calling url as id draws from one bucket.
func Key(url, id string) string {
	h := sha256.Sum256([]byte(url + "\x00" + id))
	return hex.EncodeToString(h[:])
}

// takeSQL takes a call from bucket $1 (refilling $2 tokens a second, up
// to $3): a new bucket starts full and grants it; an existing one is
// refilled for the time since refilled_at (none before paused_until) and
// grants the call when a whole token is there and it is not paused. It
// returns whether the call was granted and, when not, the seconds until
// a token will be (the pause's rest, then the refill of one token).
// clock_timestamp(), not now(): the time the row is locked, not when the
// statement began waiting for it.
const takeSQL = `
INSERT INTO iocpipe_quota AS q (bucket, tokens, refilled_at, paused_until, granted, calls)
SELECT $1, $3::float8 - 1, c.t, c.t, true, 1 FROM (SELECT clock_timestamp() AS t) c
ON CONFLICT (bucket) DO UPDATE SET (tokens, refilled_at, granted, calls) = (
    SELECT s.avail - s.ok::int, s.t, s.ok, q.calls + s.ok::int
    FROM (SELECT a.t, a.avail, a.t >= q.paused_until AND a.avail >= 1 AS ok
          FROM (SELECT c.t, least($3::float8, q.tokens + $2::float8 * greatest(0,
                       extract(epoch FROM c.t - greatest(q.refilled_at, q.paused_until))::float8)) AS avail
                FROM (SELECT clock_timestamp() AS t) c) a) s)
RETURNING granted, CASE WHEN granted THEN 0 ELSE
    greatest(0, extract(epoch FROM paused_until - refilled_at)::float8) + greatest(0, 1 - tokens) / $2::float8 END`

// pauseSQL pauses bucket $1 for $2 seconds from now, unless it is paused
// longer already, and empties it: after a 429 the API's window is full,
// so the calls resume one token at a time, not with a burst.
const pauseSQL = `
INSERT INTO iocpipe_quota AS q (bucket, tokens, refilled_at, paused_until, granted, calls)
SELECT $1, 0, c.t, c.t + make_interval(secs => $2::float8), false, 0 FROM (SELECT clock_timestamp() AS t) c
ON CONFLICT (bucket) DO UPDATE SET tokens = 0, paused_until = greatest(q.paused_until, EXCLUDED.paused_until)`

// statementTimeout bounds one statement: a database that does not answer
// within it is unreachable, and the calls are limited in-process.
const statementTimeout = 2 * time.Second

// take takes a call from bucket key, returning 0 when granted, else how
// long until a token will be there.
func (s *Store) take(ctx context.Context, key string, perSecond float64, burst int) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	var granted bool
	var wait float64
	err := s.pool.QueryRow(ctx, takeSQL, key, perSecond, float64(burst)).Scan(&granted, &wait)
	if err != nil {
		return 0, fmt.Errorf("quota %s: taking a call: %w", s.name, err)
	}
	if granted {
		return 0, nil
	}
	return max(time.Duration(wait*float64(time.Second)), time.Millisecond), nil
}

// instances counts the instances live in the database (the ledger's
// iocpipe_instances: watches sharing an inbox).
func (s *Store) instances(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	var n int
	err := s.pool.QueryRow(ctx, "SELECT count(*) FROM iocpipe_live_instances").Scan(&n)
	return n, err
}

// pause pauses bucket key for d.
func (s *Store) pause(ctx context.Context, key string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	if _, err := s.pool.Exec(ctx, pauseSQL, key, d.Seconds()); err != nil {
		return fmt.Errorf("quota %s: pausing: %w", s.name, err)
	}
	return nil
}
