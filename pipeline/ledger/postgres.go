package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// Postgres is the Ledger in a PostgreSQL database, which several
// instances may share. Why plain SQL over pgx: the ledger is one table
// and two statements (a read by primary key, an upsert of several rows in
// one statement), which an ORM would only hide; pgx is the pure-Go
// driver that speaks PostgreSQL's protocol directly (binary formats,
// arrays, a connection pool) without database/sql's lowest common
// denominator, so the binary stays static.
//
// Layout (migrations/): the table iocpipe_ledger holds one row per route
// key (see Key) and content SHA-256, whose entry column is the JSON of an
// Entry, the stored form of the bbolt ledger too; iocpipe_schema_migrations
// lists the migrations applied. Each write of the registrar is one
// statement, committed (and, with PostgreSQL's default synchronous_commit,
// durable) before the waiters are answered.
type Postgres struct {
	pool *pgxpool.Pool
	name string // host:port/database, for errors (never the password)
	reg  *registrar
	log  *slog.Logger

	mu   sync.Mutex
	inst *Instance // joined (see Join), which hears of a database gone
}

// PostgresOptions configures OpenPostgres. The zero value discards the
// log.
type PostgresOptions struct {
	// Logger receives the errors of writes nobody waits for (Record);
	// nil discards them.
	Logger *slog.Logger
}

// statTimeout bounds Len's and Size's queries, which have no context.
const statTimeout = 5 * time.Second

// writeTimeout bounds one write of the registrar: a server that does not
// answer fails it (the registrar tries again), rather than holding Close
// or Finish's waiters forever.
const writeTimeout = 30 * time.Second

// OpenPostgres connects to the database of dsn (a PostgreSQL URL or
// key=value string), applies the migrations it has not seen, and returns
// the ledger. Errors name the server and database, never the password.
func OpenPostgres(ctx context.Context, dsn string, opts PostgresOptions) (*Postgres, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	pool, name, err := connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if _, err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ledger %s: %w", name, err)
	}
	l := &Postgres{pool: pool, name: name, log: opts.Logger.With("ledger", name)}
	l.reg = newRegistrar(l, l.log)
	return l, nil
}

// MigratePostgres applies the migrations the database of dsn has not
// seen, alone (iocpipe ledger migrate), and returns its schema version.
func MigratePostgres(ctx context.Context, dsn string) (int, error) {
	pool, name, err := connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer pool.Close()
	v, err := migrate(ctx, pool)
	if err != nil {
		return v, fmt.Errorf("ledger %s: %w", name, err)
	}
	return v, nil
}

// connect opens a pool on dsn and checks that the server answers.
func connect(ctx context.Context, dsn string) (*pgxpool.Pool, string, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors do not repeat the password.
		return nil, "", fmt.Errorf("ledger postgres: %w", err)
	}
	c := cfg.ConnConfig
	name := fmt.Sprintf("postgres %s:%d/%s", c.Host, c.Port, c.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, name, fmt.Errorf("ledger %s: %w", name, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, name, fmt.Errorf("ledger %s: connecting: %w", name, err)
	}
	return pool, name, nil
}

// writeFailed implements failureNoter: a database gone is the instance's
// to say, once.
func (l *Postgres) writeFailed(err error) bool {
	l.mu.Lock()
	in := l.inst
	l.mu.Unlock()
	if in == nil || !connectionLost(err) {
		return false
	}
	in.lost(err)
	return true
}

// Name returns the server and database, as errors name them.
func (l *Postgres) Name() string { return l.name }

// Begin implements Ledger.
func (l *Postgres) Begin(ctx context.Context, key string, c Content, reimport bool) (Start, error) {
	return l.reg.begin(ctx, key, c, reimport)
}

// Record implements Ledger.
func (l *Postgres) Record(key, sum string, acked ioc.Ranges) { l.reg.record(key, sum, acked) }

// Undelivered implements Ledger.
func (l *Postgres) Undelivered(key, sum string, rows ioc.Ranges) {
	l.reg.undelivered(key, sum, rows)
}

// Finish implements Ledger.
func (l *Postgres) Finish(ctx context.Context, key, sum string, imported bool) error {
	return l.reg.finish(ctx, key, sum, imported)
}

// Close implements Ledger: it writes what was recorded, then ends the
// lease of the instance joined (see Join), if any — in this order, so
// that an instance taking this one's files over finds every
// acknowledgement —, then closes the connections.
func (l *Postgres) Close() error {
	err := l.reg.close()
	l.mu.Lock()
	in := l.inst
	l.mu.Unlock()
	if in != nil {
		err = errors.Join(err, in.Close())
	}
	l.pool.Close()
	return err
}

// Len implements Ledger; it is 0 when the database does not answer.
func (l *Postgres) Len() int {
	ctx, cancel := context.WithTimeout(context.Background(), statTimeout)
	defer cancel()
	var n int
	if err := l.pool.QueryRow(ctx, "SELECT count(*) FROM iocpipe_ledger").Scan(&n); err != nil {
		l.log.Debug("counting entries", "error", err)
		return 0
	}
	return n
}

// Size implements Ledger: the table's size with its index and TOAST
// data; 0 when the database does not answer.
func (l *Postgres) Size() int64 {
	ctx, cancel := context.WithTimeout(context.Background(), statTimeout)
	defer cancel()
	var n int64
	if err := l.pool.QueryRow(ctx, "SELECT pg_total_relation_size('iocpipe_ledger')").Scan(&n); err != nil {
		l.log.Debug("measuring the ledger", "error", err)
		return 0
	}
	return n
}

// Get implements Ledger.
func (l *Postgres) Get(ctx context.Context, key, sum string) (Entry, bool, error) {
	return l.get(ctx, key, sum)
}

func (l *Postgres) get(ctx context.Context, key, sum string) (Entry, bool, error) {
	var raw []byte
	err := l.pool.QueryRow(ctx, "SELECT entry FROM iocpipe_ledger WHERE route_key = $1 AND content_sum = $2", key, sum).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return Entry{}, false, nil
	}
	var e Entry
	if err == nil {
		err = json.Unmarshal(raw, &e)
	}
	if err != nil {
		return Entry{}, false, fmt.Errorf("ledger %s: reading %s: %w", l.name, sum, err)
	}
	return e, true, nil
}

// Entries implements Ledger.
func (l *Postgres) Entries(ctx context.Context, key string) (map[string]Entry, error) {
	rows, err := l.pool.Query(ctx, "SELECT content_sum, entry FROM iocpipe_ledger WHERE route_key = $1", key)
	if err != nil {
		return nil, fmt.Errorf("ledger %s: %w", l.name, err)
	}
	out := map[string]Entry{}
	var sum string
	var raw []byte
	_, err = pgx.ForEachRow(rows, []any{&sum, &raw}, func() error {
		var e Entry
		if err := json.Unmarshal(raw, &e); err != nil {
			return fmt.Errorf("%s: %w", sum, err)
		}
		out[sum] = e
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ledger %s: %w", l.name, err)
	}
	return out, nil
}

// upsert writes rows of (route key, content sum, entry, time) given as
// arrays, in one statement: all of them or none. Two fences keep a late
// write of an instance that lost a file (its lease lapsed, another took
// the file over) from undoing the new holder's: a row is not updated
// while another instance than $5 holds the content's claim ($5 is empty
// without an instance: no claims), nor turned from imported with every
// row delivered (done, not partial: never begun again but by a reimport,
// whose reset has no acknowledged rows) back to in progress.
const upsert = `INSERT INTO iocpipe_ledger AS l (route_key, content_sum, entry, updated_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::timestamptz[])
ON CONFLICT (route_key, content_sum) DO UPDATE
SET entry = EXCLUDED.entry, updated_at = EXCLUDED.updated_at
WHERE ($5::text = '' OR NOT EXISTS (SELECT 1 FROM iocpipe_claims c
        WHERE c.route_key = EXCLUDED.route_key AND c.content_sum = EXCLUDED.content_sum AND c.instance <> $5))
  AND NOT (coalesce((l.entry->>'done')::boolean, false) AND NOT coalesce((l.entry->>'partial')::boolean, false)
       AND NOT coalesce((EXCLUDED.entry->>'done')::boolean, false)
       AND jsonb_array_length(coalesce(EXCLUDED.entry->'acked', '[]'::jsonb)) > 0)`

// put writes the entries in one statement, committed before it returns.
func (l *Postgres) put(ctx context.Context, ws []write) error {
	last := make(map[fileID]int, len(ws)) // an upsert may not touch a row twice
	for i, w := range ws {
		last[fileID{w.key, w.sum}] = i
	}
	var keys, sums []string
	var entries []string
	var times []time.Time
	for i, w := range ws {
		if last[fileID{w.key, w.sum}] != i {
			continue
		}
		v, err := json.Marshal(w.e)
		if err != nil {
			return fmt.Errorf("ledger %s: %s: %w", l.name, w.sum, err)
		}
		keys, sums = append(keys, w.key), append(sums, w.sum)
		entries, times = append(entries, string(v)), append(times, w.e.Updated)
	}
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	l.mu.Lock()
	id := ""
	if l.inst != nil {
		id = l.inst.id
	}
	l.mu.Unlock()
	if _, err := l.pool.Exec(ctx, upsert, keys, sums, entries, times, id); err != nil {
		return fmt.Errorf("ledger %s: writing %d entries: %w", l.name, len(ws), err)
	}
	return nil
}

var _ Ledger = (*Postgres)(nil)

// undefinedTable is PostgreSQL's SQLSTATE for a table that does not exist.
const undefinedTable = "42P01"

// pgError returns the server's error in err's chain, if any.
func pgError(err error) *pgconn.PgError {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe
	}
	return nil
}

// StatPostgres returns the entries and size of the PostgreSQL ledger of
// dsn, changing nothing (iocpipe status); missing says no instance has
// created its table yet.
func StatPostgres(ctx context.Context, dsn string) (entries int, size int64, missing bool, err error) {
	pool, name, err := connect(ctx, dsn)
	if err != nil {
		return 0, 0, false, err
	}
	defer pool.Close()
	err = pool.QueryRow(ctx, "SELECT count(*), pg_total_relation_size('iocpipe_ledger') FROM iocpipe_ledger").Scan(&entries, &size)
	if pe := pgError(err); pe != nil && pe.Code == undefinedTable {
		return 0, 0, true, nil
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("ledger %s: %w", name, err)
	}
	return entries, size, false, nil
}
