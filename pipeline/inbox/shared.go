package inbox

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/ledger"
)

// Claims shares an inbox among instances, on one host or several: each
// file is claimed by content and route in a database, under a lease that
// the instance renews while it lives (ledger.Instance implements it).
type Claims interface {
	// ID names this instance.
	ID() string
	// Lease is how long a claim outlives the last renewal.
	Lease() time.Duration
	// Valid reports whether the lease is renewed: false when the
	// database cannot be reached, and the instance claims nothing.
	Valid() bool
	// LeaseUntil is when the lease expires unless renewed.
	LeaseUntil() time.Time
	// Lapses counts the times the lease may have expired between two
	// renewals (the process paused, say): claims may have been taken over.
	Lapses() int64
	// Claim claims a content, named name in work/, through key, in one
	// transaction (see ledger.Instance.Claim).
	Claim(ctx context.Context, key, sum, name string) (ledger.Claim, error)
	// Holds reports whether this instance holds the claim, claiming
	// nothing.
	Holds(ctx context.Context, key, sum string) (bool, error)
	// Release gives up the claim once the file is filed away.
	Release(ctx context.Context, key, sum string) error
	// Holdings returns the claims through key by name in work/.
	Holdings(ctx context.Context, key string) (map[string]ledger.Holding, error)
	// Gone returns those of ids gone for good (see ledger.Instance.Gone).
	Gone(ctx context.Context, ids []string) ([]string, error)
}

// claimTimeout bounds one statement on the claims.
const claimTimeout = 10 * time.Second

// dbRetry is how soon a file waiting for the database is tried again
// (once it answers: see dueRetries).
const dbRetry = time.Second

// dbFailed logs a statement on the claims that failed: at WARN while the
// lease is renewed, else at DEBUG (the instance said once that the
// database is unreachable).
func (ib *Inbox) dbFailed(msg, name string, err error) {
	ib.log.Log(context.Background(), ib.dbLevel(), msg, "file", name, "error", err)
}

// dbLevel is the level of a statement on the claims that failed (see
// dbFailed).
func (ib *Inbox) dbLevel() slog.Level {
	if !ib.canClaim() {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

// shared reports whether the inbox is shared with other instances.
func (ib *Inbox) shared() bool { return ib.opts.Claims != nil }

// canClaim reports whether the inbox may claim and feed files: always
// alone, while the lease is renewed when shared.
func (ib *Inbox) canClaim() bool { return !ib.shared() || ib.opts.Claims.Valid() }

// privateDir is where this instance keeps its snapshots and streamed
// rejects: work/ alone; shared, a folder of its own in work/, so that
// instances never remove each other's.
func privateDir(work, instance string) string {
	if instance == "" {
		return work
	}
	return filepath.Join(work, ".instance-"+instance)
}

// hold claims j's content for this instance when the inbox is shared. It
// reports false when j must wait (another instance holds the content, or
// the database cannot be reached: j goes on the retry list), or is not
// this instance's any more (another instance filed it away).
func (ib *Inbox) hold(j *job) bool {
	if !ib.shared() {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), claimTimeout)
	defer cancel()
	cl, err := ib.opts.Claims.Claim(ctx, ib.key, j.sum, j.name)
	delay := ib.opts.RetryDelay
	switch {
	case err != nil:
		ib.dbFailed("claiming in the database: the file waits in work/ until the database answers", j.name, err)
		delay = dbRetry
	case !cl.OK:
		ib.log.Info("the same content is in hand on another instance: it waits", "file", j.name, "holder", cl.Holder, "retry_in", ib.opts.RetryDelay)
	case j.changed():
		// Taken over from an instance presumed gone, which filed it
		// away meanwhile: it is not this one's.
		ib.unclaim(j)
		ib.dropSnapshot(j)
		ib.release(j)
		ib.log.Info("filed away by another instance meanwhile: left to it", "file", j.name, "from", cl.From)
		return false
	default:
		if cl.From != "" {
			// Its private folder stays: a lease expired does not mean its
			// process is gone (paused, cut off), and it may claim again.
			ib.takenOver.Add(1)
			ib.log.Info("taken over from an instance whose lease expired: its acknowledged rows are not sent again", "file", j.name, "from", cl.From)
		}
		return true
	}
	ib.admitLater(j, delay)
	return false
}

// stillHeld reports whether this instance still holds j's claim before
// it files j away, claiming nothing: a claim taken over by another
// instance (this one's lease expired while it worked), or released by it
// once it filed the file, is left alone, j forgotten, unfiled (if the file
// is still in work/ under a claim of this instance, takeOver admits it
// again). An error (the database cannot be reached) answers false, with
// err set: the filing waits.
func (ib *Inbox) stillHeld(j *job) (bool, error) {
	if !ib.shared() {
		return true, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), claimTimeout)
	defer cancel()
	held, err := ib.opts.Claims.Holds(ctx, ib.key, j.sum)
	if err != nil {
		return false, err
	}
	if !held {
		ib.log.Warn("this instance's lease expired while it worked on the file: not filed here (another instance took it over, or takes it over from work/)",
			"file", j.name)
	}
	return held, nil
}

// unclaim releases j's claim, if shared; a failure leaves a claim that
// names a file gone from work/, which nobody takes over and the next
// instance joining after an hour forgets.
func (ib *Inbox) unclaim(j *job) {
	if !ib.shared() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), claimTimeout)
	defer cancel()
	if err := ib.opts.Claims.Release(ctx, ib.key, j.sum); err != nil {
		ib.log.Warn("releasing a claim", "file", j.name, "error", err)
	}
}

// takeOver looks for files in work/ that no live instance holds: those
// of an instance whose lease expired (killed, its host lost, stopped),
// those nobody claimed for a whole lease (an instance died between
// its rename into work/ and its claim), and those claimed under this
// instance's id by a process before this one (restarted with the same
// --instance). Each is admitted as a resumed
// file: its claim is taken over in the database, and its rows
// acknowledged before are skipped. Called by the Watch goroutine at start
// and at every rescan.
func (ib *Inbox) takeOver(now time.Time) {
	if !ib.canClaim() {
		return
	}
	entries, err := readFolder(ib.work)
	if err != nil {
		ib.log.Error("reading work/", "dir", ib.work, "error", err)
		return
	}
	var names []string
	ib.mu.Lock()
	for _, d := range entries {
		if name := d.Name(); !ignored(name) && ib.active[name] == nil {
			names = append(names, name)
		}
	}
	ib.mu.Unlock()
	if len(names) == 0 {
		clear(ib.orphans)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), claimTimeout)
	hs, err := ib.opts.Claims.Holdings(ctx, ib.key)
	cancel()
	if err != nil {
		ib.log.Log(context.Background(), ib.dbLevel(), "reading the claims: files left in work/ are not taken over yet", "error", err)
		return
	}
	seen := make(map[string]bool, len(names))
	for _, name := range names {
		seen[name] = true
		h, claimed := hs[name]
		if claimed && h.Live && h.Instance != ib.opts.Claims.ID() {
			delete(ib.orphans, name)
			continue
		}
		if !claimed {
			first, ok := ib.orphans[name]
			if !ok {
				ib.orphans[name] = now
			}
			if !ok || now.Sub(first) < ib.opts.Claims.Lease() {
				continue
			}
		}
		delete(ib.orphans, name)
		ib.takeOne(name, h.Instance)
	}
	for name := range ib.orphans {
		if !seen[name] {
			delete(ib.orphans, name)
		}
	}
}

// takeOne admits the file name of work/, held by the instance from
// (gone) or by nobody.
func (ib *Inbox) takeOne(name, from string) {
	path := filepath.Join(ib.work, name)
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err == nil && !fi.Mode().IsRegular() {
		ib.refuse(path, name, fi)
		return
	}
	j, err := ib.open(name, path)
	if errors.Is(err, fs.ErrNotExist) {
		return // filed by its holder meanwhile
	}
	if err != nil {
		ib.failNow(name, path, err)
		return
	}
	ib.resumed.Add(1)
	if from == "" {
		ib.log.Info("resuming a file nobody claimed for a whole lease (an instance died between moving it into work/ and claiming it)", "file", name)
	}
	ib.admit(j)
}

// abandon stops the runs in progress of a shared inbox when its lease is
// about to expire with the database unreachable (a sixth of it left), or
// may have expired already (a renewal came a whole lease after the one
// before: the process was paused): another instance may take their files
// over, so this one sends no more of them than the batches already
// formed (the rows not read yet are skipped), and files none of them;
// each, and each claimed but not fed yet, is claimed again and fed again,
// resumed, once the database answers, if this instance still holds it or
// gets it back. Called by the Watch goroutine on every tick.
func (ib *Inbox) abandon(now time.Time) {
	if !ib.shared() {
		return
	}
	c := ib.opts.Claims
	lapsed := c.Lapses() != ib.lapses
	expiring := !c.Valid() && !now.Before(c.LeaseUntil().Add(-c.Lease()/6))
	if !lapsed && !expiring {
		return
	}
	ib.lapses = c.Lapses()
	var names []string
	ib.mu.Lock()
	for _, j := range ib.active {
		if j.fed && !j.finished && !j.abandoned.Load() {
			j.abandoned.Store(true)
			names = append(names, j.name)
		}
	}
	ib.mu.Unlock()
	// Those claimed and not fed yet are claimed again before they are.
	for _, j := range ib.queue {
		ib.admitLater(j, dbRetry)
	}
	ib.queue = nil
	if len(names) > 0 {
		// INFO: the instance's WARN said files in hand would be finished
		// or abandoned within the lease.
		slices.Sort(names)
		ib.log.Info("the lease expired with the database unreachable: the files in hand are abandoned (no more of their rows is sent beyond the batches in flight) and resumed once it answers",
			"files", len(names), "names", names[:min(len(names), 10)])
	}
}

// sweep removes what instances gone for good left in the inbox: their
// private folders in work/ (copies of files they had in hand, long taken
// over) and their status files. Called at the start of Watch.
func (ib *Inbox) sweep() {
	if !ib.shared() {
		return
	}
	const dirPrefix = ".instance-"
	var ids []string
	paths := map[string][]string{}
	entries, _ := readFolder(ib.work)
	for _, d := range entries {
		if id, ok := strings.CutPrefix(d.Name(), dirPrefix); ok && d.IsDir() {
			ids = append(ids, id)
			paths[id] = append(paths[id], filepath.Join(ib.work, d.Name()))
		}
	}
	statuses, _ := filepath.Glob(filepath.Join(ib.dir, ".iocpipe", "status.*.json"))
	for _, p := range statuses {
		id := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "status."), ".json")
		ids = append(ids, id)
		paths[id] = append(paths[id], p)
	}
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), claimTimeout)
	gone, err := ib.opts.Claims.Gone(ctx, ids)
	cancel()
	if err != nil {
		ib.log.Log(context.Background(), ib.dbLevel(), "reading which instances are gone: what they left stays", "error", err)
		return
	}
	for _, id := range gone {
		if id == ib.opts.Claims.ID() {
			continue
		}
		for _, p := range paths[id] {
			os.RemoveAll(p)
		}
		ib.log.Info("removed what an instance gone for an hour left in the inbox", "gone", id)
	}
}
