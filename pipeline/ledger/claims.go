package ledger

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultLease is how long an instance's claims outlive its last renewal:
// another instance takes its files over that long after it died.
const DefaultLease = 30 * time.Second

// forgetAfter is how long after its lease expired an instance's row (and
// its claims) is deleted by the next instance that joins. A file of its
// still in work/ is then unclaimed, and taken over all the same.
const forgetAfter = time.Hour

// An Instance is one process sharing inboxes with others through the
// PostgreSQL ledger. It claims the files it works on, by route key and
// content, and holds its claims under one lease, which it renews while it
// lives (one row per instance, whatever the number of files: the cost to
// the database is one statement per renewal). A claim whose instance's
// lease expired (the process was killed, its host lost) may be taken
// over by another instance, which resumes the file from the ledger:
// the rows acknowledged are not sent again.
//
// Why leases in this table rather than a job queue (riverqueue/river):
// the unit of work is a file in a folder every instance sees, found by
// watching the folder, not a job enqueued by a producer; what must be
// shared is only who holds which content, and a queue would add its own
// schema, worker pool and retry policy next to the inbox's, which
// already has them (retries, give-up, done/ and failed/). A claim is one
// upsert in one transaction, a renewal one update.
type Instance struct {
	pool     *pgxpool.Pool
	name     string // the database, for errors
	id, host string
	pid      int
	started  time.Time
	lease    time.Duration
	log      *slog.Logger

	mu      sync.Mutex
	renewed time.Time // local time the last renewal that succeeded was sent
	down    time.Time // when renewals started failing; zero while they succeed
	lapses  int64     // renewals that came a whole lease or more after the one before

	stop chan struct{}
	done chan struct{}
	kick chan struct{} // a statement found the database gone: renew now
}

// InstanceOptions configures Join. The zero value is the defaults.
type InstanceOptions struct {
	// ID names the instance in the database, in logs and in metrics;
	// empty means host-pid-random.
	ID string
	// Lease is DefaultLease when 0.
	Lease time.Duration
	// Logger receives the renewals' warnings; nil discards them.
	Logger *slog.Logger
}

// validID is what an instance id may be: it names files (the instance's
// private folder in work/, its status file) and metric series.
var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ErrBadInstanceID is returned by Join for an id validID refuses.
var ErrBadInstanceID = errors.New("an instance id is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")

// ErrLeaseLost is returned by Claim when this instance's own lease has
// expired in the database: its claims may have been taken over, and it
// claims nothing until a renewal succeeds.
var ErrLeaseLost = errors.New("this instance's lease expired")

// Join registers an instance in the database and starts renewing its
// lease; Close ends it. It also forgets the instances whose lease
// expired more than an hour ago.
func (l *Postgres) Join(ctx context.Context, opts InstanceOptions) (*Instance, error) {
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	host, _ := os.Hostname()
	if opts.ID == "" {
		opts.ID = NewInstanceID(host, os.Getpid())
	}
	if !validID.MatchString(opts.ID) {
		return nil, fmt.Errorf("instance %q: %w", opts.ID, ErrBadInstanceID)
	}
	in := &Instance{
		pool: l.pool, name: l.name, id: opts.ID, host: host, pid: os.Getpid(),
		started: time.Now().UTC(), lease: opts.Lease,
		log:  opts.Logger.With("instance", opts.ID),
		stop: make(chan struct{}), done: make(chan struct{}), kick: make(chan struct{}, 1),
	}
	const forget = `WITH gone AS (
		DELETE FROM iocpipe_instances WHERE lease_until < now() - $1::bigint * interval '1 millisecond' RETURNING id)
	DELETE FROM iocpipe_claims WHERE instance IN (SELECT id FROM gone)`
	if _, err := l.pool.Exec(ctx, forget, forgetAfter.Milliseconds()); err != nil {
		return nil, fmt.Errorf("ledger %s: forgetting old instances: %w", l.name, err)
	}
	if err := in.checkUnused(ctx); err != nil {
		return nil, err
	}
	if err := in.renew(ctx); err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.inst = in
	l.mu.Unlock()
	go in.run()
	return in, nil
}

// ErrInstanceInUse is returned by Join for an id a live process holds.
var ErrInstanceInUse = errors.New("the instance id is in use")

// checkUnused refuses the instance's id while another live process has
// it (its lease not expired, on another host, or on this one while its
// process runs): both would hold every claim. A process killed and
// restarted under its id takes it back at once.
func (in *Instance) checkUnused(ctx context.Context) error {
	var host string
	var pid int
	var live bool
	err := in.pool.QueryRow(ctx, "SELECT host, pid, EXISTS (SELECT 1 FROM iocpipe_live_instances WHERE id = $1) FROM iocpipe_instances WHERE id = $1", in.id).Scan(&host, &pid, &live)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("ledger %s: instance %s: %w", in.name, in.id, err)
	case !live || host == in.host && (pid == in.pid || !processAlive(pid)):
		return nil
	}
	return fmt.Errorf("ledger %s: instance %s: %w by process %d on %s (its lease is live): give this one another --instance", in.name, in.id, ErrInstanceInUse, pid, host)
}

// NewInstanceID returns a new instance id: the host, the process id and
// a random suffix (a process id may be used again).
func NewInstanceID(host string, pid int) string {
	var b [3]byte
	rand.Read(b[:])
	host = strings.Map(func(r rune) rune {
		if r < 0x80 && (r == '-' || r == '.' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return r
		}
		return '-'
	}, host)
	if len(host) > 40 {
		host = host[:40]
	}
	if host == "" || !validID.MatchString(host) {
		host = "host"
	}
	return fmt.Sprintf("%s-%d-%s", host, pid, hex.EncodeToString(b[:]))
}

// ID returns the instance's id.
func (in *Instance) ID() string { return in.id }

// Lease returns the instance's lease duration.
func (in *Instance) Lease() time.Duration { return in.lease }

// renewal is the statement that registers the instance or renews its
// lease, counted from the database's clock.
const renewal = `INSERT INTO iocpipe_instances (id, host, pid, started_at, renewed_at, lease_until)
VALUES ($1, $2, $3, $4, now(), now() + $5::bigint * interval '1 millisecond')
ON CONFLICT (id) DO UPDATE SET renewed_at = now(), lease_until = EXCLUDED.lease_until, stopped = false`

// renew renews the lease once.
func (in *Instance) renew(ctx context.Context) error {
	sent := time.Now()
	ctx, cancel := context.WithTimeout(ctx, in.lease/3)
	defer cancel()
	if _, err := in.pool.Exec(ctx, renewal, in.id, in.host, in.pid, in.started, in.lease.Milliseconds()); err != nil {
		return fmt.Errorf("ledger %s: renewing the lease of instance %s: %w", in.name, in.id, err)
	}
	in.mu.Lock()
	gap := sent.Sub(in.renewed)
	lapsed := !in.renewed.IsZero() && gap >= in.lease
	if lapsed {
		in.lapses++
	}
	in.renewed = sent
	in.mu.Unlock()
	if lapsed {
		in.log.Warn("the lease was not renewed for a whole lease (the process was paused, or the database away): other instances may have taken files of this one over; the files in hand are checked again",
			"since_last_renewal", gap.Round(time.Millisecond))
	}
	return nil
}

// Lapses counts the renewals that came a whole lease or more after the
// one before: each time, the lease may have expired in between, and
// another instance may have taken claims of this one over, which the
// holder of files must check again (see inbox's abandon).
func (in *Instance) Lapses() int64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.lapses
}

// run renews the lease every third of it until Close, and every second
// while the database does not answer (see lost); the first renewal that
// succeeds after that drops the pool's connections, which died with the
// server, and says the database is back.
func (in *Instance) run() {
	defer close(in.done)
	every := in.lease / 3
	retry := min(time.Second, every)
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case <-in.stop:
			return
		case <-t.C:
		case <-in.kick:
			t.Stop()
		}
		err := in.renew(context.Background())
		if err != nil {
			in.lost(err)
			t.Reset(retry)
			continue
		}
		in.mu.Lock()
		down := in.down
		in.down = time.Time{}
		in.mu.Unlock()
		if !down.IsZero() {
			in.pool.Reset()
			in.log.Info("the database is back: claiming again", "down", time.Since(down).Round(time.Millisecond))
		}
		t.Reset(every)
	}
}

// lost notes that the database did not answer a statement (a renewal, a
// claim): the instance claims nothing until a renewal succeeds, tried
// every second from now. The first time of an outage it says so, in the
// one WARN line of it.
func (in *Instance) lost(err error) {
	in.mu.Lock()
	first := in.down.IsZero()
	if first {
		in.down = time.Now()
	}
	until := in.renewed.Add(in.lease)
	in.mu.Unlock()
	if !first {
		return
	}
	in.log.Warn("the database is unreachable: claiming stopped; files in hand are finished or abandoned within the lease; reconnecting",
		"lease_until", until.UTC().Format(time.RFC3339), "error", err)
	select {
	case in.kick <- struct{}{}:
	default:
	}
}

// check notes a statement's error that says the database is gone (not a
// refusal of the statement itself), and returns err.
func (in *Instance) check(err error) error {
	if connectionLost(err) {
		in.lost(err)
	}
	return err
}

// connectionLost reports whether err says the connection to the database
// is gone: no answer, or the server's own word that it is shutting down
// or the connection failed (SQLSTATE classes 57 and 08).
func connectionLost(err error) bool {
	if err == nil || errors.Is(err, ErrLeaseLost) || errors.Is(err, context.Canceled) {
		return false
	}
	if pe := pgError(err); pe != nil {
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57")
	}
	return true
}

// Valid reports whether the instance may claim and work: its last
// renewal succeeded, and its lease has at least a sixth of it left, by
// this process's clock (counted from when the renewal was sent, so never
// later than the database's).
func (in *Instance) Valid() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.down.IsZero() && time.Since(in.renewed) < in.lease-in.lease/6
}

// LeaseUntil returns when the lease expires at the latest, unless renewed.
func (in *Instance) LeaseUntil() time.Time {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.renewed.Add(in.lease)
}

// A Claim is Claim's answer.
type Claim struct {
	// OK says this instance holds the content now.
	OK bool
	// Holder is the instance holding it when not OK.
	Holder string
	// From is the instance whose expired claim was taken over, if any.
	From string
}

// Claim claims the content sum, named name in work/, through key for this
// instance, in one transaction: it succeeds when nobody holds it, when
// this instance does, or when the instance holding it is gone (its lease
// expired, or it stopped). It fails with ErrLeaseLost when this
// instance's own lease expired.
func (in *Instance) Claim(ctx context.Context, key, sum, name string) (Claim, error) {
	var c Claim
	err := pgx.BeginFunc(ctx, in.pool, func(tx pgx.Tx) error {
		var mine bool
		err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM iocpipe_live_instances WHERE id = $1)", in.id).Scan(&mine)
		if err != nil {
			return err
		}
		if !mine {
			return ErrLeaseLost
		}
		var holder string
		var live bool
		err = tx.QueryRow(ctx, `SELECT c.instance, l.id IS NOT NULL
			FROM iocpipe_claims c LEFT JOIN iocpipe_live_instances l ON l.id = c.instance
			WHERE c.route_key = $1 AND c.content_sum = $2 FOR UPDATE OF c`, key, sum).Scan(&holder, &live)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		case holder != in.id && live:
			c.Holder = holder
			return nil
		case holder != in.id:
			c.From = holder
		}
		// The row may have been inserted since the SELECT (it locks
		// nothing that does not exist): the insert then updates it only
		// if its holder is this instance or gone.
		const claim = `INSERT INTO iocpipe_claims AS c (route_key, content_sum, name, instance, claimed_at)
			VALUES ($1, $2, $3, $4, now())
			ON CONFLICT (route_key, content_sum) DO UPDATE
			SET name = EXCLUDED.name, instance = EXCLUDED.instance,
			    claimed_at = CASE WHEN c.instance = EXCLUDED.instance THEN c.claimed_at ELSE now() END
			WHERE c.instance = EXCLUDED.instance OR NOT EXISTS (
				SELECT 1 FROM iocpipe_live_instances l WHERE l.id = c.instance)
			RETURNING instance`
		err = tx.QueryRow(ctx, claim, key, sum, name, in.id).Scan(&holder)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			// Another instance holds it since the SELECT (or held it, and
			// released it meanwhile: not claimed, try again later).
			c.From = ""
			err := tx.QueryRow(ctx, "SELECT instance FROM iocpipe_claims WHERE route_key = $1 AND content_sum = $2", key, sum).Scan(&c.Holder)
			if errors.Is(err, pgx.ErrNoRows) {
				c.Holder = "another instance"
				return nil
			}
			return err
		case err != nil:
			return err
		}
		c.OK = true
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrLeaseLost) {
			return Claim{}, fmt.Errorf("ledger %s: claiming %s (sha256 %s): %w", in.name, name, sum, err)
		}
		in.check(err)
		return Claim{}, fmt.Errorf("ledger %s: claiming %s (sha256 %s): %w", in.name, name, sum, err)
	}
	return c, nil
}

// Holds reports whether this instance holds the claim on the content sum
// through key, its lease live; it never claims anything (a claim released
// by another instance that filed the file stays released).
func (in *Instance) Holds(ctx context.Context, key, sum string) (bool, error) {
	var held bool
	err := in.pool.QueryRow(ctx, `SELECT c.instance = $3 AND l.id IS NOT NULL
		FROM iocpipe_claims c LEFT JOIN iocpipe_live_instances l ON l.id = c.instance
		WHERE c.route_key = $1 AND c.content_sum = $2`, key, sum, in.id).Scan(&held)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		in.check(err)
		return false, fmt.Errorf("ledger %s: checking the claim on %s: %w", in.name, sum, err)
	}
	return held, nil
}

// Gone returns those of ids that are gone for good: unknown to the
// database (forgotten), or stopped or expired more than an hour ago. What
// they left (a private folder, a status file) may be removed.
func (in *Instance) Gone(ctx context.Context, ids []string) ([]string, error) {
	rows, err := in.pool.Query(ctx, `SELECT u.id FROM unnest($1::text[]) AS u(id)
		LEFT JOIN iocpipe_instances i ON i.id = u.id
		WHERE i.id IS NULL OR i.lease_until < now() - $2::bigint * interval '1 millisecond'`, ids, forgetAfter.Milliseconds())
	if err != nil {
		in.check(err)
		return nil, fmt.Errorf("ledger %s: reading instances: %w", in.name, err)
	}
	gone, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("ledger %s: reading instances: %w", in.name, err)
	}
	return gone, nil
}

// Release gives up this instance's claim on the content sum through key
// (the file is filed away).
func (in *Instance) Release(ctx context.Context, key, sum string) error {
	_, err := in.pool.Exec(ctx, "DELETE FROM iocpipe_claims WHERE route_key = $1 AND content_sum = $2 AND instance = $3", key, sum, in.id)
	if err != nil {
		in.check(err)
		return fmt.Errorf("ledger %s: releasing the claim on %s: %w", in.name, sum, err)
	}
	return nil
}

// A Holding is who holds a claimed file (see Holdings).
type Holding struct {
	// Sum is the content claimed under the name.
	Sum string
	// Instance holds it; Live says its lease has not expired.
	Instance string
	Live     bool
}

// Holdings returns the claims through key by name in work/.
func (in *Instance) Holdings(ctx context.Context, key string) (map[string]Holding, error) {
	rows, err := in.pool.Query(ctx, `SELECT c.name, c.content_sum, c.instance, l.id IS NOT NULL
		FROM iocpipe_claims c LEFT JOIN iocpipe_live_instances l ON l.id = c.instance WHERE c.route_key = $1`, key)
	if err != nil {
		in.check(err)
		return nil, fmt.Errorf("ledger %s: reading claims: %w", in.name, err)
	}
	out := map[string]Holding{}
	var name string
	var h Holding
	_, err = pgx.ForEachRow(rows, []any{&name, &h.Sum, &h.Instance, &h.Live}, func() error {
		if old, ok := out[name]; !ok || !old.Live {
			out[name] = h
		}
		return nil
	})
	if err != nil {
		in.check(err)
		return nil, fmt.Errorf("ledger %s: reading claims: %w", in.name, err)
	}
	return out, nil
}

// Close stops renewing the lease and ends it at once: the files this
// instance did not finish may be taken over by another without waiting
// for the lease to expire. Closing the ledger closes its instance (after
// writing what it recorded); a second Close does nothing.
func (in *Instance) Close() error {
	if !in.halt() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), statTimeout)
	defer cancel()
	if _, err := in.pool.Exec(ctx, "UPDATE iocpipe_instances SET lease_until = now(), stopped = true WHERE id = $1", in.id); err != nil {
		return fmt.Errorf("ledger %s: ending the lease of instance %s: %w", in.name, in.id, err)
	}
	return nil
}

// halt stops the renewals; false when they were stopped before.
func (in *Instance) halt() bool {
	select {
	case <-in.stop:
		return false
	default:
	}
	close(in.stop)
	<-in.done
	return true
}

// An InstanceInfo is one instance, as iocpipe status shows it.
type InstanceInfo struct {
	ID         string        `json:"id"`
	Host       string        `json:"host"`
	PID        int           `json:"pid"`
	Started    time.Time     `json:"started"`
	Renewed    time.Time     `json:"renewed"`
	LeaseUntil time.Time     `json:"lease_until"`
	Live       bool          `json:"live"`
	Stopped    bool          `json:"stopped"`
	Files      []ClaimedFile `json:"files"`
}

// A ClaimedFile is a file an instance holds.
type ClaimedFile struct {
	Key     string    `json:"route_key"`
	Name    string    `json:"name"`
	Sum     string    `json:"sha256"`
	Claimed time.Time `json:"claimed"`
}

// querier is what Instances reads with: a pool, or a connection.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Instances returns the instances the database knows, with the files
// each holds, by id.
func (l *Postgres) Instances(ctx context.Context) ([]InstanceInfo, error) {
	out, err := instances(ctx, l.pool)
	if err != nil {
		return nil, fmt.Errorf("ledger %s: %w", l.name, err)
	}
	return out, nil
}

// InstancesPostgres returns the instances of the database of dsn, changing
// nothing (iocpipe status); none when no instance has created the tables.
func InstancesPostgres(ctx context.Context, dsn string) ([]InstanceInfo, error) {
	pool, name, err := connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	out, err := instances(ctx, pool)
	if pe := pgError(err); pe != nil && pe.Code == undefinedTable {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger %s: %w", name, err)
	}
	return out, nil
}

// instances reads every instance and the files each holds, through q.
func instances(ctx context.Context, q querier) ([]InstanceInfo, error) {
	rows, err := q.Query(ctx, `SELECT i.id, i.host, i.pid, i.started_at, i.renewed_at, i.lease_until, l.id IS NOT NULL, i.stopped
		FROM iocpipe_instances i LEFT JOIN iocpipe_live_instances l ON l.id = i.id ORDER BY i.id`)
	if err != nil {
		return nil, err
	}
	var out []InstanceInfo
	byID := map[string]int{}
	var in InstanceInfo
	_, err = pgx.ForEachRow(rows, []any{&in.ID, &in.Host, &in.PID, &in.Started, &in.Renewed, &in.LeaseUntil, &in.Live, &in.Stopped}, func() error {
		byID[in.ID] = len(out)
		out = append(out, in)
		return nil
	})
	if err != nil {
		return nil, err
	}
	rows, err = q.Query(ctx, "SELECT instance, route_key, name, content_sum, claimed_at FROM iocpipe_claims ORDER BY instance, route_key, name")
	if err != nil {
		return nil, err
	}
	var id string
	var f ClaimedFile
	_, err = pgx.ForEachRow(rows, []any{&id, &f.Key, &f.Name, &f.Sum, &f.Claimed}, func() error {
		if i, ok := byID[id]; ok {
			out[i].Files = append(out[i].Files, f)
		}
		return nil
	})
	return out, err
}

// processAlive reports whether process pid of this host runs.
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	return err == nil && p.Signal(syscall.Signal(0)) == nil
}
