// Package cluster runs several `iocpipe watch` processes on one inbox
// with a shared PostgreSQL ledger, against the TruSTAR emulator, and
// checks what they delivered: the integration test of shared inboxes and
// `make cluster-demo` (through cmd/iocbench) are the same run.
//
// Run starts a private PostgreSQL server (package pgtest: Debian's
// initdb and pg_ctl, as an unprivileged user, on loopback, in a temporary
// folder) and the emulator in this process, with a rate limit per client
// id; it starts the instances, each with its own token for the one client
// id, drops the files into the inbox while they run (written under a
// .part name, renamed in), and, as Options say, kills one instance with
// SIGKILL half-way (not restarted), kills and restarts survivors at
// random, or stops the database for a while. After every kill it reads
// the ledger (what was acknowledged at that instant) and the claims of
// the killed instance (the files it had in hand). When every file is in
// done/ it stops the instances with SIGTERM and accounts for every
// delivery (Result): distinct rows, rows sent twice and whether each was
// in flight at a kill, rows acknowledged at a kill and sent again (none
// may be), 429s, files in done/, work/ and failed/.
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/iocpipe/iocpipe/pipeline/inbox"
	"github.com/iocpipe/iocpipe/pipeline/ledger"
	"github.com/iocpipe/iocpipe/pipeline/ledger/pgtest"
	"github.com/iocpipe/iocpipe/sinks/faults"
	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

// The emulator's credentials and enclave.
const (
	key     = "cluster-key"
	secret  = "cluster-secret"
	enclave = "6a0ee2a1-2b3c-4d5e-8f90-123456789abc"
	route   = "feeds"
)

// Options configure Run. Zero fields take the defaults in their comments.
type Options struct {
	// Bin is the iocpipe binary. Required.
	Bin string
	// Dir holds the inbox, the configuration and the instances' logs;
	// required.
	Dir string
	// Instances is the number of watch processes (3).
	Instances int
	// Files of Rows rows each are dropped (1,000 of 100).
	Files, Rows int
	// Limit calls per client id in any Window (60 a minute) is the
	// emulator's rate limit; the instances' rate_limit is 10 % under it,
	// and a batch holds BatchSize rows (500).
	Limit     int
	Window    time.Duration
	BatchSize int
	// Lease is the instances' lease (ledger.postgres.lease; 30s).
	Lease time.Duration
	// Kill kills one instance at random with SIGKILL half-way, and does
	// not restart it.
	Kill bool
	// Restarts, after the kill, kills a survivor at random with SIGKILL
	// and restarts it (the same --instance), this many times.
	Restarts int
	// DBPause stops PostgreSQL for this long half-way (0: never).
	DBPause time.Duration
	// Pause stops one instance at random with SIGSTOP for this long
	// half-way, then wakes it (0: never): longer than the lease, the
	// others take its files over while it sleeps.
	Pause time.Duration
	// Seed makes the random moments repeatable (0: the clock).
	Seed uint64
	// Timeout bounds the whole run (10m).
	Timeout time.Duration
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// A Result is what Run saw.
type Result struct {
	Seed      uint64
	Elapsed   time.Duration
	Instances []Instance
	// Dropped is the number of rows dropped; Distinct the distinct rows
	// the emulator received, Deliveries all it received.
	Dropped, Distinct, Deliveries int
	// Resent counts the rows received more than once, all of them rows of
	// files a killed instance had in hand, not acknowledged at the kill
	// (batches in flight); NotInFlight and AckedResent are those that
	// were not: each is a failure.
	Resent int
	// HeldAtKills counts the files the killed instances had in hand at
	// their kills: those the others took over.
	HeldAtKills int
	NotInFlight []string
	AckedResent []string
	// Calls are the emulator's accepted submissions, RateLimited its 429s.
	Calls, RateLimited int64
	paused             bool // an instance was stopped with SIGSTOP
	// Done counts the files in done/ with their report; DoneTwice the
	// files filed there more than once (a -2 name); InWork and Failed
	// what is left in work/ and failed/.
	Done      int
	DoneTwice []string
	InWork    []string
	Failed    []string
	// PickupMedian and PickupMax are, over the files, the time from a
	// file's rename into the inbox to the start of its import (its
	// report's started): the median and the slowest. Files wait in the
	// inbox while the instances are busy (the rate limit), so this is the
	// queue's wait more than the claim's.
	PickupMedian, PickupMax time.Duration
	// DB is the database's work over the run (pg_stat_database).
	DB DBLoad
	// Warned says, per instance, whether it logged the database
	// unreachable (with DBPause).
	Warned map[string]bool
	// Lapsed says, per instance, whether it logged that its lease was
	// not renewed for a whole lease (with Pause).
	Lapsed map[string]bool
}

// An Instance is one watch process's share.
type Instance struct {
	ID string
	// Files and Rows it filed in done/ (from the reports).
	Files, Rows int
	// Killed says it was killed and not restarted; Restarts counts its
	// kills followed by a restart.
	Killed   bool
	Restarts int
	// Log is its log file.
	Log string
}

// DBLoad is the database's work: transactions committed and rows
// written and read.
type DBLoad struct {
	Commits, Inserted, Updated, Deleted, Fetched int64
}

// Failures returns what makes the run a failure, one line each; none
// means everything was delivered once or, when in flight at a kill, more.
func (r *Result) Failures() []string {
	var out []string
	if r.Distinct != r.Dropped {
		out = append(out, fmt.Sprintf("%d distinct rows delivered, %d dropped", r.Distinct, r.Dropped))
	}
	if len(r.NotInFlight) > 0 {
		out = append(out, fmt.Sprintf("%d rows sent twice that no killed instance had in flight, e.g. %s", len(r.NotInFlight), r.NotInFlight[0]))
	}
	if len(r.AckedResent) > 0 {
		out = append(out, fmt.Sprintf("%d rows acknowledged at a kill and sent again, e.g. %s", len(r.AckedResent), r.AckedResent[0]))
	}
	// A process woken from SIGSTOP sends at once the calls it was granted
	// before it stopped, on top of the bucket's: the API's 429s to that
	// burst are honoured, and say nothing of the shared quota.
	if r.RateLimited > 0 && !r.paused {
		out = append(out, fmt.Sprintf("the emulator answered %d calls with 429", r.RateLimited))
	}
	if len(r.DoneTwice) > 0 {
		out = append(out, fmt.Sprintf("files filed in done/ twice: %v", r.DoneTwice))
	}
	if len(r.InWork) > 0 || len(r.Failed) > 0 {
		out = append(out, fmt.Sprintf("files left in work/ %v and failed/ %v", r.InWork, r.Failed))
	}
	return out
}

// Print writes the result as the demo shows it.
func (r *Result) Print(w io.Writer) {
	fmt.Fprintf(w, "%-10s %7s %9s  %s\n", "instance", "files", "rows", "")
	for _, in := range r.Instances {
		note := ""
		switch {
		case in.Killed:
			note = "killed with SIGKILL, not restarted"
		case in.Restarts > 0:
			note = fmt.Sprintf("killed and restarted %d times", in.Restarts)
		}
		fmt.Fprintf(w, "%-10s %7d %9d  %s\n", in.ID, in.Files, in.Rows, note)
	}
	fmt.Fprintf(w, "rows dropped %d; the emulator received %d distinct rows (%d deliveries: %d rows sent again, %d of them not in flight at a kill)\n",
		r.Dropped, r.Distinct, r.Deliveries, r.Resent, len(r.NotInFlight))
	if r.HeldAtKills > 0 {
		fmt.Fprintf(w, "the instances killed or paused had %d files in hand: taken over by the others\n", r.HeldAtKills)
	}
	fmt.Fprintf(w, "calls %d, 429s %d; files in done/ %d; from drop to import median %s, slowest %s; %s in all\n",
		r.Calls, r.RateLimited, r.Done, r.PickupMedian.Round(time.Millisecond), r.PickupMax.Round(time.Millisecond), r.Elapsed.Round(time.Second))
	per := func(n int64) float64 { return float64(n) * 10000 / float64(max(r.Dropped, 1)) }
	fmt.Fprintf(w, "database per 10,000 rows: %.0f commits, %.0f rows inserted, %.0f updated, %.0f deleted, %.0f read\n",
		per(r.DB.Commits), per(r.DB.Inserted), per(r.DB.Updated), per(r.DB.Deleted), per(r.DB.Fetched))
}

// value is the indicator of row row of file file.
func value(file, row int) string { return fmt.Sprintf("c%04d-%03d.example.com", file, row) }

// fileName is the name of file file.
func fileName(file int) string { return fmt.Sprintf("feed-%04d.csv", file) }

// parseValue maps a delivered value back to its file and row.
func parseValue(v string) (file, row int, ok bool) {
	s, found := strings.CutPrefix(v, "c")
	s, found2 := strings.CutSuffix(s, ".example.com")
	f, r, found3 := strings.Cut(s, "-")
	if !found || !found2 || !found3 {
		return 0, 0, false
	}
	file, err1 := strconv.Atoi(f)
	row, err2 := strconv.Atoi(r)
	return file, row, err1 == nil && err2 == nil
}

func (o *Options) defaults() error {
	if o.Bin == "" || o.Dir == "" {
		return errors.New("cluster: Bin and Dir are required")
	}
	set := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	set(&o.Instances, 3)
	set(&o.Files, 1000)
	set(&o.Rows, 100)
	set(&o.Limit, 60)
	set(&o.BatchSize, 500)
	if o.Window <= 0 {
		o.Window = time.Minute
	}
	if o.Lease <= 0 {
		o.Lease = ledger.DefaultLease
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if (o.Kill || o.Pause > 0) && o.Instances < 2 || o.Restarts > 0 && !o.Kill {
		return errors.New("cluster: a kill or a pause needs two instances, restarts a kill")
	}
	return nil
}

// run is one Run's state.
type run struct {
	o      Options
	rng    *rand.Rand
	srv    *trustartest.Server
	pg     *pgtest.Server
	dsn    string
	cfg    string
	inbox  string
	procs  []*proc
	res    Result
	mu     sync.Mutex
	drops  map[string]time.Time // file name → when it was renamed in
	count  map[string]int       // deliveries by value
	acked  []map[string]bool    // per kill: values acknowledged
	after  []int                // per kill: submissions recorded when its ledger was read
	held   map[int]bool         // files a killed (or paused) instance had in hand then
	killed map[string]bool
}

// Run runs the cluster as o says and returns what it saw; an error says
// the run itself could not be made (a server that did not start, an
// instance that exited, the timeout), not that a check failed: see
// Result.Failures.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	r := &run{o: o, rng: rand.New(rand.NewPCG(o.Seed, 2)), drops: map[string]time.Time{},
		count: map[string]int{}, held: map[int]bool{}, killed: map[string]bool{}}
	r.res.Seed, r.res.Dropped = o.Seed, o.Files*o.Rows
	defer r.close()
	if err := r.start(ctx); err != nil {
		return nil, err
	}
	before, err := r.dbLoad(ctx)
	if err != nil {
		return nil, err
	}
	began := time.Now()
	dropped := make(chan error, 1)
	go func() { dropped <- r.drop(ctx) }()
	if err := r.disturb(ctx); err != nil {
		return nil, err
	}
	if err := <-dropped; err != nil {
		return nil, err
	}
	if err := r.waitDone(ctx); err != nil {
		return nil, err
	}
	r.res.Elapsed = time.Since(began)
	after, err := r.dbLoad(ctx)
	if err != nil {
		return nil, err
	}
	r.res.DB = DBLoad{Commits: after.Commits - before.Commits, Inserted: after.Inserted - before.Inserted,
		Updated: after.Updated - before.Updated, Deleted: after.Deleted - before.Deleted, Fetched: after.Fetched - before.Fetched}
	if err := r.stopAll(); err != nil {
		return nil, err
	}
	r.account()
	if err := r.tally(); err != nil {
		return nil, err
	}
	return &r.res, nil
}

// close stops what start started, instances first.
func (r *run) close() {
	r.stopAll()
	if r.srv != nil {
		r.srv.Close()
	}
	if r.pg != nil {
		r.pg.Close()
	}
}

// start starts PostgreSQL, the emulator and the instances.
func (r *run) start(ctx context.Context) error {
	pg, err := pgtest.Start(ctx)
	if err != nil {
		return err
	}
	r.pg = pg
	if r.dsn, err = pg.CreateDatabase(ctx, "cluster"); err != nil {
		return err
	}
	r.srv = trustartest.NewServer(trustartest.Options{Key: key, Secret: secret, Enclaves: []string{enclave},
		RateLimit: r.o.Limit, RateWindow: r.o.Window, Faults: faults.Options{Latency: 10 * time.Millisecond}})
	r.inbox = filepath.Join(r.o.Dir, "inbox")
	if err := os.MkdirAll(r.inbox, 0o755); err != nil {
		return err
	}
	// 10 % under the emulator's limit, per minute, with a burst of one.
	perMinute := float64(r.o.Limit) * 0.9 * float64(time.Minute) / float64(r.o.Window)
	cfg := fmt.Sprintf(`ledger:
  postgres:
    dsn_env: IOCPIPE_CLUSTER_DSN
    lease: %s
sinks:
  trustar:
    url: %s
    rate_limit: %g
    burst: 1
    batch_size: %d
    linger: 100ms
    retry_deadline: 2m
routes:
  - name: %s
    sink: trustar
    enclaves: [%s]
    inbox: %s
    settle: 200ms
    rescan: 500ms
`, r.o.Lease, r.srv.URL, perMinute, r.o.BatchSize, route, enclave, r.inbox)
	r.cfg = filepath.Join(r.o.Dir, "iocpipe.yaml")
	if err := os.WriteFile(r.cfg, []byte(cfg), 0o600); err != nil {
		return err
	}
	for i := range r.o.Instances {
		p := &proc{id: fmt.Sprintf("n%d", i+1), log: filepath.Join(r.o.Dir, fmt.Sprintf("n%d.log", i+1))}
		if err := r.launch(p); err != nil {
			return err
		}
		r.procs = append(r.procs, p)
	}
	fmt.Fprintf(r.o.Log, "PostgreSQL %s, emulator %s (%d calls per %s per client id), %d instances on %s\n",
		strings.TrimPrefix(r.dsn, "postgres://"), r.srv.URL, r.o.Limit, r.o.Window, r.o.Instances, r.inbox)
	return nil
}

// proc is one instance's process.
type proc struct {
	id, log string
	cmd     *exec.Cmd
	exited  chan struct{}
	err     error
}

// launch starts p's process.
func (r *run) launch(p *proc) error {
	logf, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(r.o.Bin, "watch", "--config", r.cfg, "--instance", p.id, "--log-level", "info")
	cmd.Env = append(os.Environ(), "TRUSTAR_API_KEY="+key, "TRUSTAR_API_SECRET="+secret, "IOCPIPE_CLUSTER_DSN="+r.dsn)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting instance %s: %w", p.id, err)
	}
	p.cmd, p.exited, p.err = cmd, make(chan struct{}), nil
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	return nil
}

func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// drop writes the files into the inbox, a few at a time, as people and
// feeds do while the instances run.
func (r *run) drop(ctx context.Context) error {
	var b strings.Builder
	for f := range r.o.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		b.Reset()
		b.WriteString("value\n")
		for row := range r.o.Rows {
			b.WriteString(value(f, row))
			b.WriteByte('\n')
		}
		name := fileName(f)
		part := filepath.Join(r.inbox, name+".part")
		if err := os.WriteFile(part, []byte(b.String()), 0o644); err != nil {
			return err
		}
		r.mu.Lock()
		r.drops[name] = time.Now()
		r.mu.Unlock()
		if err := os.Rename(part, filepath.Join(r.inbox, name)); err != nil {
			return err
		}
		if f%20 == 19 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// delivered returns the rows the emulator accepted so far.
func (r *run) delivered() int64 { return r.srv.Stats().Indicators }

// waitRows waits until the emulator accepted n rows; every instance
// running must stay so.
func (r *run) waitRows(ctx context.Context, n int) error {
	for r.delivered() < int64(n) {
		if err := r.checkAlive(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d rows delivered (%d so far): %w", n, r.delivered(), ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// checkAlive fails when an instance that was not killed exited.
func (r *run) checkAlive() error {
	for _, p := range r.procs {
		if !r.killed[p.id] && !p.running() {
			return fmt.Errorf("instance %s exited: %v (see %s)", p.id, p.err, p.log)
		}
	}
	return nil
}

// disturb kills, restarts and pauses as the options say, at random
// moments of the import's middle.
func (r *run) disturb(ctx context.Context) error {
	total := r.o.Files * r.o.Rows
	at := func(lo, hi float64) int { return int(float64(total) * (lo + (hi-lo)*r.rng.Float64())) }
	if r.o.DBPause > 0 {
		if err := r.waitRows(ctx, at(0.3, 0.5)); err != nil {
			return err
		}
		fmt.Fprintf(r.o.Log, "stopping PostgreSQL for %s at %d rows delivered\n", r.o.DBPause, r.delivered())
		if err := r.pg.Pause(); err != nil {
			return err
		}
		time.Sleep(r.o.DBPause)
		if err := r.pg.Resume(); err != nil {
			return err
		}
		fmt.Fprintln(r.o.Log, "PostgreSQL is back")
	}
	if r.o.Pause > 0 {
		if err := r.waitRows(ctx, at(0.2, 0.4)); err != nil {
			return err
		}
		p := r.procs[r.rng.IntN(len(r.procs))]
		fmt.Fprintf(r.o.Log, "stopping %s with SIGSTOP for %s at %d rows delivered\n", p.id, r.o.Pause, r.delivered())
		r.res.paused = true
		if err := r.pause(ctx, p, r.o.Pause); err != nil {
			return err
		}
		fmt.Fprintf(r.o.Log, "woke %s with SIGCONT\n", p.id)
	}
	if !r.o.Kill {
		return nil
	}
	if err := r.waitRows(ctx, at(0.2, 0.5)); err != nil {
		return err
	}
	victim := r.procs[r.rng.IntN(len(r.procs))]
	if err := r.kill(ctx, victim); err != nil {
		return err
	}
	r.killed[victim.id] = true
	fmt.Fprintf(r.o.Log, "killed %s with SIGKILL at %d rows delivered: not restarted\n", victim.id, r.delivered())
	for i := range r.o.Restarts {
		if err := r.waitRows(ctx, at(0.5+0.4*float64(i)/float64(r.o.Restarts), 0.5+0.4*float64(i+1)/float64(r.o.Restarts))); err != nil {
			return err
		}
		var alive []*proc
		for _, p := range r.procs {
			if !r.killed[p.id] {
				alive = append(alive, p)
			}
		}
		p := alive[r.rng.IntN(len(alive))]
		if err := r.kill(ctx, p); err != nil {
			return err
		}
		if err := r.launch(p); err != nil {
			return err
		}
		r.restarts(p.id)
		fmt.Fprintf(r.o.Log, "killed %s with SIGKILL and restarted it at %d rows delivered\n", p.id, r.delivered())
	}
	return nil
}

// restarts counts a restart of id.
func (r *run) restarts(id string) {
	for i := range r.res.Instances {
		if r.res.Instances[i].ID == id {
			r.res.Instances[i].Restarts++
			return
		}
	}
	r.res.Instances = append(r.res.Instances, Instance{ID: id, Restarts: 1})
}

// kill kills p with SIGKILL, then notes what it had in hand and what the
// ledger had acknowledged at that instant (see note).
func (r *run) kill(ctx context.Context, p *proc) error {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
	return r.note(ctx, p)
}

// pause stops p with SIGSTOP for d, as a process stalled or cut off
// longer than its lease, noting what it had in hand and what the ledger
// had acknowledged when it stopped (its batches formed then may go out
// when it wakes: as in flight at a kill), then wakes it with SIGCONT.
func (r *run) pause(ctx context.Context, p *proc, d time.Duration) error {
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	defer p.cmd.Process.Signal(syscall.SIGCONT)
	if err := r.note(ctx, p); err != nil {
		return err
	}
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// note notes the files p holds (its claims) and the rows the ledger has
// acknowledged, with the submissions the emulator recorded by then.
func (r *run) note(ctx context.Context, p *proc) error {
	conn, err := pgx.Connect(ctx, r.dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT name FROM iocpipe_claims WHERE instance = $1", p.id)
	if err != nil {
		return err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, n := range names {
		var f int
		if _, err := fmt.Sscanf(n, "feed-%04d.csv", &f); err == nil {
			r.held[f] = true
		}
	}
	rows, err = conn.Query(ctx, "SELECT entry FROM iocpipe_ledger WHERE route_key = $1", ledger.Key(route, "trustar"))
	if err != nil {
		return err
	}
	entries, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return err
	}
	acked := map[string]bool{}
	for _, raw := range entries {
		var e ledger.Entry
		if err := json.Unmarshal(raw, &e); err != nil {
			return err
		}
		var f int
		if _, err := fmt.Sscanf(e.Name, "feed-%04d.csv", &f); err != nil {
			continue
		}
		for _, rg := range e.Acked {
			for row := rg[0]; row < rg[1]; row++ {
				acked[value(f, row)] = true
			}
		}
	}
	r.acked = append(r.acked, acked)
	r.after = append(r.after, len(r.srv.Submissions()))
	return nil
}

// waitDone waits until every file is in done/ with its report.
func (r *run) waitDone(ctx context.Context) error {
	done := filepath.Join(r.inbox, "done")
	for {
		reports, _ := filepath.Glob(filepath.Join(done, "*"+".report.json"))
		if len(reports) >= r.o.Files {
			return nil
		}
		if err := r.checkAlive(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the files in done/ (%d of %d, %d rows delivered): %w", len(reports), r.o.Files, r.delivered(), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stopAll stops the instances still running with SIGTERM; an instance
// that does not exit 0 within a minute is an error.
func (r *run) stopAll() error {
	var errs []error
	for _, p := range r.procs {
		if p.cmd == nil || !p.running() {
			continue
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
			if p.err != nil {
				errs = append(errs, fmt.Errorf("instance %s after SIGTERM: %v (see %s)", p.id, p.err, p.log))
			}
		case <-time.After(time.Minute):
			p.cmd.Process.Kill()
			<-p.exited
			errs = append(errs, fmt.Errorf("instance %s did not exit within a minute of SIGTERM", p.id))
		}
	}
	return errors.Join(errs...)
}

// account counts every delivery, in the order the emulator recorded
// them: a row delivered again must be of a file a killed instance had in
// hand, and must not be recorded after a ledger read that had it
// acknowledged.
func (r *run) account() {
	bodies := r.srv.Submissions()
	for i, b := range bodies {
		var body struct {
			Content []struct {
				Value string `json:"value"`
			} `json:"content"`
		}
		if json.Unmarshal(b, &body) != nil {
			continue
		}
		for _, c := range body.Content {
			v := c.Value
			r.count[v]++
			if r.count[v] != 2 {
				continue
			}
			r.res.Resent++
			f, _, ok := parseValue(v)
			if !ok || !r.held[f] {
				r.res.NotInFlight = append(r.res.NotInFlight, v)
			}
			for k, acked := range r.acked {
				if i >= r.after[k] && acked[v] {
					r.res.AckedResent = append(r.res.AckedResent, v)
					break
				}
			}
		}
	}
	for v, n := range r.count {
		if _, _, ok := parseValue(v); ok {
			r.res.Distinct++
		}
		r.res.Deliveries += n
	}
	st := r.srv.Stats()
	r.res.Calls, r.res.RateLimited = st.Submissions, st.RateLimited
	r.res.HeldAtKills = len(r.held)
}

// tally reads done/, work/ and failed/ and the instances' logs.
func (r *run) tally() error {
	byID := map[string]*Instance{}
	for _, p := range r.procs {
		in := Instance{ID: p.id, Killed: r.killed[p.id], Log: p.log}
		for _, old := range r.res.Instances {
			if old.ID == p.id {
				in.Restarts = old.Restarts
			}
		}
		byID[p.id] = &in
	}
	if err := r.readReports(byID); err != nil {
		return err
	}
	list := func(dir string) []string {
		var out []string
		es, _ := os.ReadDir(dir)
		for _, e := range es {
			if !strings.HasPrefix(e.Name(), ".") && e.Type().IsRegular() {
				out = append(out, e.Name())
			}
		}
		return out
	}
	r.res.InWork = list(filepath.Join(r.inbox, ".iocpipe", "work"))
	r.res.Failed = list(filepath.Join(r.inbox, "failed"))
	r.res.Instances = nil
	r.res.Warned, r.res.Lapsed = map[string]bool{}, map[string]bool{}
	for _, p := range r.procs {
		r.res.Instances = append(r.res.Instances, *byID[p.id])
		b, _ := os.ReadFile(p.log)
		r.res.Warned[p.id] = strings.Contains(string(b), "the database is unreachable")
		r.res.Lapsed[p.id] = strings.Contains(string(b), "was not renewed for a whole lease")
	}
	return nil
}

// readReports reads the reports in done/: the files filed, by whom, and
// how long after their drop their import started.
func (r *run) readReports(byID map[string]*Instance) error {
	done := filepath.Join(r.inbox, "done")
	reports, err := filepath.Glob(filepath.Join(done, "*.report.json"))
	if err != nil {
		return err
	}
	var lat []time.Duration
	for _, path := range reports {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var rep inbox.Report
		if err := json.Unmarshal(b, &rep); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if rep.MovedTo != rep.File {
			r.res.DoneTwice = append(r.res.DoneTwice, rep.MovedTo)
		}
		if _, err := os.Stat(filepath.Join(done, rep.MovedTo)); err != nil {
			return fmt.Errorf("report %s: %w", path, err)
		}
		r.res.Done++
		if in := byID[rep.Instance]; in != nil {
			in.Files++
			in.Rows += int(rep.Rows)
		}
		r.mu.Lock()
		dropped, ok := r.drops[rep.File]
		r.mu.Unlock()
		if ok && rep.Started.After(dropped) {
			lat = append(lat, rep.Started.Sub(dropped))
		}
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		r.res.PickupMedian, r.res.PickupMax = lat[len(lat)/2], lat[len(lat)-1]
	}
	return nil
}

// dbLoad reads the database's counters.
func (r *run) dbLoad(ctx context.Context) (DBLoad, error) {
	conn, err := pgx.Connect(ctx, r.dsn)
	if err != nil {
		return DBLoad{}, err
	}
	defer conn.Close(ctx)
	// The statistics are sent by backends at most every second or so:
	// ask for a fresh snapshot.
	conn.Exec(ctx, "SELECT pg_stat_clear_snapshot()")
	var d DBLoad
	err = conn.QueryRow(ctx, `SELECT xact_commit, tup_inserted, tup_updated, tup_deleted, tup_fetched
		FROM pg_stat_database WHERE datname = current_database()`).Scan(&d.Commits, &d.Inserted, &d.Updated, &d.Deleted, &d.Fetched)
	return d, err
}
