package inbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iocpipe/iocpipe/pipeline"
	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/ledger"
)

// Defaults of Options.
const (
	DefaultSettle     = 2 * time.Second
	DefaultRescan     = 10 * time.Second
	DefaultRetryDelay = time.Minute
	DefaultGiveUp     = 24 * time.Hour
)

// Options configures an Inbox. The zero value of each field means the
// default given in its comment.
type Options struct {
	// Dir is the inbox folder. Required; created when missing unless
	// MustExist.
	Dir string
	// MustExist makes New fail (with an error wrapping fs.ErrNotExist)
	// when Dir does not exist, instead of creating it: a mistyped folder
	// is an error, not a new empty inbox.
	MustExist bool
	// WorkDir, DoneDir and FailedDir are relative to Dir unless absolute;
	// empty means .iocpipe/work, done and failed. They are created when
	// missing, and must be on Dir's file system (files move by rename).
	WorkDir, DoneDir, FailedDir string
	// Settle is how long a file's size and mtime must stay the same before
	// it is picked up; 0 means DefaultSettle.
	Settle time.Duration
	// Rescan is the period of the full listing of Dir that backs up file
	// system events; 0 means DefaultRescan.
	Rescan time.Duration
	// DeleteDone deletes an imported file instead of moving it to done/;
	// its report still goes to done/.
	DeleteDone bool
	// Ledger records acknowledged rows and imported content; nil keeps no
	// record: no resume, no duplicate detection.
	Ledger ledger.Ledger
	// Route and Sink name the route and its sink, in the ledger (see
	// ledger.Key) and in reports.
	Route, Sink string
	// Reimport imports again a file whose content the ledger has as
	// imported; otherwise such a file is moved to done/ unsent.
	Reimport bool
	// Reader is the route the pipeline reads files with, for writing
	// rejected rows in the file's own format; nil means the defaults.
	Reader *pipeline.Route
	// RetryDelay is how long a file some of whose indicators could not be
	// delivered stays in work/ before it is fed again (its acknowledged
	// rows skipped); 0 means DefaultRetryDelay.
	RetryDelay time.Duration
	// GiveUpAfter is how long a file may keep failing delivery (counted
	// from its first failed run since the Inbox was created) before it is
	// given up to failed/ with every reason; 0 means DefaultGiveUp.
	GiveUpAfter time.Duration
	// Claims, when set, shares the inbox with other instances (on this
	// host or others, the folder on a network share): each file is claimed
	// by content and route in the database, under this instance's lease;
	// files left in work/ by an instance gone are taken over once its
	// lease expired. Nil: the inbox has one owner, this process, which the
	// lock in <inbox>/.iocpipe enforces.
	Claims Claims
	// Logger receives the log; nil discards it.
	Logger *slog.Logger
}

// Stats are an Inbox's counts since it was created.
type Stats struct {
	// Claimed counts files claimed into work/ (resumed ones not included).
	Claimed int64 `json:"claimed"`
	// Resumed counts files found in work/ at start-up.
	Resumed int64 `json:"resumed"`
	// Done counts files imported; Duplicates files moved to done/ unsent
	// because their content was imported before.
	Done       int64 `json:"done"`
	Duplicates int64 `json:"duplicates"`
	// Failed counts files moved to failed/ because they could not be read;
	// Refused those moved there because they are not regular files.
	Failed  int64 `json:"failed"`
	Refused int64 `json:"refused"`
	// Retried counts files fed again after a delivery failure.
	Retried int64 `json:"retried"`
	// TakenOver counts files whose claim was taken over from an instance
	// whose lease expired (shared inboxes).
	TakenOver int64 `json:"taken_over,omitempty"`
	// Queued is the number of files ready or claimed and waiting for the
	// pipeline; InProgress those handed to it and not finished.
	Queued     int64 `json:"queued"`
	InProgress int64 `json:"in_progress"`
	// ClaimErrors counts claims that failed (other than a file that went
	// away); FilingErrors files that could not be filed away (a report, a
	// rejects file or the move to done/ or failed/).
	ClaimErrors  int64 `json:"claim_errors"`
	FilingErrors int64 `json:"filing_errors"`
}

// An Inbox watches one inbox folder for one route. Create it with New and
// call Watch with the channel the pipeline runs over (without
// Options.KeepRejects: the inbox streams each file's rejects to disk from
// its reports). Call Close once the pipeline has returned.
type Inbox struct {
	opts                    Options
	log                     *slog.Logger
	dir, work, done, failed string
	key                     string
	private                 string // snapshots and streamed rejects (see privateDir)
	statusFile              string // see publish

	// Owned by the Watch goroutine.
	cands   map[string]*cand
	ready   []string
	parts   map[string]partInfo
	renamed map[partInfo]time.Time // parts renamed away: their identity
	queue   []*job
	parked  []*job // same content as a file in progress
	told    map[string]bool
	orphans map[string]time.Time // unclaimed files in a shared work/, since when (see takeOver)
	lapses  int64                // Claims.Lapses when abandon last looked

	mu      sync.Mutex
	active  map[string]*job // by name in work/: queued, fed or waiting for a retry
	sums    map[string]*job // by content: the job importing it
	retries []*job
	wake    chan struct{}
	bg      sync.WaitGroup
	lockf   *os.File // holds the inbox's lock (see lock)
	blocked error    // why files cannot be claimed (see Health)

	claimed, resumed, doneN, dups, failedN, refused, retried atomic.Int64
	takenOver                                                atomic.Int64
	queued, inProgress                                       atomic.Int64
	claimErrs, filingErrs                                    atomic.Int64
}

// A job is one claimed file, from work/ to done/ or failed/.
type job struct {
	name string // its name in the inbox, in work/ and in reports
	path string // in work/
	// snap is the private copy the pipeline reads, sum its SHA-256 and
	// size its size; state is the claimed file's state when it was copied.
	snap  string
	sum   string
	size  int64
	state fileState
	// start is what the ledger said when the current run began (zero
	// without a ledger).
	start ledger.Start

	// Guarded by Inbox.mu: the current run's state; fed says the
	// pipeline has it.
	finished, fed bool
	retryAt       time.Time
	// abandoned says the rest of the current run is not sent: a shared
	// inbox's lease expired while the database could not be reached (see
	// abandon). The rows not read yet are skipped, and the file is not
	// filed: it is fed again once the database answers.
	abandoned atomic.Bool

	// failing is when a run over the file first failed delivery, reasons
	// the distinct reasons since (see giveUp); owned by finish.
	failing time.Time
	reasons []string
	runs    int

	// refile, when set, is the result of the run whose filing failed: at
	// retryAt the filing is tried again, without a new run (guarded by
	// Inbox.mu until then).
	refile *pipeline.FileResult
	// rej is the current run's rejects, streamed to work/ (see begin).
	rej *rejectStream
}

// New checks opts, creates the folders and returns an Inbox.
func New(opts Options) (*Inbox, error) {
	dir, work, done, failed, err := opts.dirs()
	if err != nil {
		return nil, err
	}
	if opts.Settle <= 0 {
		opts.Settle = DefaultSettle
	}
	if opts.Rescan <= 0 {
		opts.Rescan = DefaultRescan
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = DefaultRetryDelay
	}
	if opts.GiveUpAfter <= 0 {
		opts.GiveUpAfter = DefaultGiveUp
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ib := &Inbox{
		opts: opts, dir: dir, key: ledger.Key(opts.Route, opts.Sink),
		log:  opts.Logger.With("route", opts.Route, "inbox", dir),
		work: work, done: done, failed: failed,
		cands: map[string]*cand{}, parts: map[string]partInfo{}, renamed: map[partInfo]time.Time{},
		told: map[string]bool{}, orphans: map[string]time.Time{},
		active: map[string]*job{}, sums: map[string]*job{}, wake: make(chan struct{}, 1),
		private: work, statusFile: statusPath(dir),
	}
	if opts.Claims != nil {
		ib.private = privateDir(work, opts.Claims.ID())
		ib.statusFile = filepath.Join(dir, ".iocpipe", "status."+opts.Claims.ID()+".json")
	}
	if opts.MustExist {
		fi, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("inbox: %w", err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("inbox %s: not a folder", dir)
		}
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("inbox: %w", err)
	}
	if err := ib.lock(); err != nil {
		return nil, err
	}
	if err := ib.makeDirs(); err != nil {
		ib.unlock()
		return nil, err
	}
	return ib, nil
}

// makeDirs creates the work, done, failed (and private) folders, and
// checks they are on the inbox's file system: files move by rename,
// which cannot cross file systems.
func (ib *Inbox) makeDirs() error {
	if ib.shared() {
		// What an earlier process under this id left there (a restart
		// with the same --instance; Join refuses an id in use) is of no
		// use: files are copied anew.
		os.RemoveAll(ib.private)
	}
	for _, d := range []string{ib.work, ib.done, ib.failed, ib.private} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("inbox: %w", err)
		}
	}
	top, err := os.Stat(ib.dir)
	if err != nil {
		return nil
	}
	tid, ok := idOf(top)
	for _, d := range []string{ib.work, ib.done, ib.failed} {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("inbox: %w", err)
		}
		if id, _ := idOf(fi); ok && id.dev != tid.dev {
			return fmt.Errorf("inbox %s: %s is on another file system: files move by rename, so work, done and failed folders must be on the inbox's", ib.dir, d)
		}
	}
	return nil
}

// Dirs returns the inbox and its work, done and failed folders, absolute.
func (ib *Inbox) Dirs() (inbox, work, done, failed string) {
	return ib.dir, ib.work, ib.done, ib.failed
}

// Stats returns the counts so far; safe to call at any time.
func (ib *Inbox) Stats() Stats {
	return Stats{
		Claimed: ib.claimed.Load(), Resumed: ib.resumed.Load(), Done: ib.doneN.Load(),
		Duplicates: ib.dups.Load(), Failed: ib.failedN.Load(), Refused: ib.refused.Load(),
		Retried: ib.retried.Load(), TakenOver: ib.takenOver.Load(), Queued: ib.queued.Load(), InProgress: ib.inProgress.Load(),
		ClaimErrors: ib.claimErrs.Load(), FilingErrors: ib.filingErrs.Load(),
	}
}

// Close waits for the filing of files that finished in the background,
// removes the status file (see Status) and releases the inbox's lock. Call it after the pipeline's Run returned.
func (ib *Inbox) Close() error {
	ib.bg.Wait()
	ib.unpublish()
	if ib.shared() {
		// What is left is of files not finished, which another instance
		// (or the next run) copies again.
		os.RemoveAll(ib.private)
	}
	ib.unlock()
	return nil
}

// input is what the pipeline gets for j: its reports record the
// acknowledged rows in the ledger, and the final one files j away.
func (ib *Inbox) input(j *job) pipeline.Input {
	in := pipeline.Input{Path: j.snap, Name: j.name}
	l := ib.opts.Ledger
	if l != nil {
		in.Skip = j.start.Skip
	}
	if ib.shared() {
		start := j.start
		in.Skip = func(row int) bool { return j.abandoned.Load() || start.Skip(row) }
	}
	in.Report = func(r pipeline.FileReport) {
		j.rej.add(r.Rejects)
		if l != nil {
			l.Record(ib.key, j.sum, r.Acked)
			l.Undelivered(ib.key, j.sum, r.Rejected.Union(r.Failed))
		}
		if r.Final {
			ib.background(j, r.Result)
		}
	}
	return in
}

// background files j away outside the pipeline's goroutines: writing the
// rejected rows re-reads the file, which must not hold up the next batch.
func (ib *Inbox) background(j *job, r pipeline.FileResult) {
	ib.bg.Add(1)
	go func() {
		defer ib.bg.Done()
		ib.finish(j, r)
	}()
}

// finish files j away once its run is over (see file).
func (ib *Inbox) finish(j *job, r pipeline.FileResult) {
	ib.mu.Lock()
	if j.finished {
		ib.mu.Unlock()
		return
	}
	j.finished, j.fed = true, false
	ib.mu.Unlock()
	ib.inProgress.Add(-1)
	if j.abandoned.Load() {
		ib.end(j) // what was acknowledged is kept: the next run resumes
		ib.log.Info("abandoned run over: the file stays in work/, and is fed again once the database answers", "file", j.name,
			"delivered", r.Delivered)
		ib.retryIn(j, nil, dbRetry)
		return
	}
	if r.Err == "" && j.changed() {
		r.Err = fmt.Sprintf("the file changed after it was claimed: what was sent is its content at the claim (sha256 %s), read from a copy; "+
			"this file is not recorded as imported: drop it in again to import what it holds now", j.sum)
	}
	if r.Err != "" || r.Failed > 0 {
		ib.end(j) // not imported: the next run over it resumes
	}
	ib.file(j, r)
}

// file files j away after a run whose result is r: to failed/ when it could
// not be read, back to the retry list when indicators could not be
// delivered, else to done/. When the filing itself fails, j stays in work/
// and its filing is tried again after RetryDelay (see refile).
func (ib *Inbox) file(j *job, r pipeline.FileResult) {
	held, err := ib.stillHeld(j)
	switch {
	case err != nil:
		ib.dbFailed("checking the claim before filing: the file stays in work/, and its filing is tried again once the database answers", j.name, err)
		ib.retryIn(j, &r, dbRetry)
		return
	case !held:
		ib.dropSnapshot(j)
		ib.release(j)
		return
	}
	switch {
	case r.Err != "":
		err = ib.fail(j, r)
	case r.Failed > 0 && ib.giveUp(j, &r):
		err = ib.fail(j, r)
	case r.Failed > 0:
		ib.log.Warn("some indicators could not be delivered: the file stays in work/ and is tried again",
			"file", j.name, "failed", r.Failed, "delivered", r.Delivered, "retry_in", ib.opts.RetryDelay)
		ib.retryLater(j, nil)
		return
	default:
		err = ib.imported(j, r)
	}
	if err != nil {
		ib.filingFailed("filing a file: it stays in work/, and its filing is tried again", j.name, err, "retry_in", ib.opts.RetryDelay)
		ib.retryLater(j, &r)
		return
	}
	ib.unclaim(j)
	ib.dropSnapshot(j)
	ib.release(j)
}

// retryLater puts j on the retry list for RetryDelay: with r, its filing
// (of the run whose result r is) is tried again, else the file is fed
// again.
func (ib *Inbox) retryLater(j *job, r *pipeline.FileResult) { ib.retryIn(j, r, ib.opts.RetryDelay) }

// admitLater puts j, which is not fed (no run of it is in progress), on
// the retry list for d: it is admitted again then.
func (ib *Inbox) admitLater(j *job, d time.Duration) {
	ib.mu.Lock()
	j.finished = true
	ib.mu.Unlock()
	ib.retryIn(j, nil, d)
}

// retryIn is retryLater after d.
func (ib *Inbox) retryIn(j *job, r *pipeline.FileResult, d time.Duration) {
	ib.mu.Lock()
	j.refile = r
	j.retryAt = time.Now().Add(d)
	ib.retries = append(ib.retries, j)
	ib.mu.Unlock()
}

// end ends j's run in the ledger without recording it as imported: the
// rows acknowledged so far are written, and the next run over the content
// skips them.
func (ib *Inbox) end(j *job) {
	if l := ib.opts.Ledger; l != nil {
		err := l.Finish(context.Background(), ib.key, j.sum, false)
		switch {
		case err != nil && ib.shared():
			// The ledger keeps them, and writes them once the database
			// answers (the instance said once that it does not).
			ib.dbFailed("recording acknowledged rows: kept until the database answers", j.name, err)
		case err != nil:
			ib.log.Error("recording acknowledged rows", "file", j.name, "error", err)
		}
	}
}

// release forgets j: its name in work/ and its content are free again.
func (ib *Inbox) release(j *job) {
	ib.mu.Lock()
	if ib.active[j.name] == j {
		delete(ib.active, j.name)
	}
	if ib.sums[j.sum] == j {
		delete(ib.sums, j.sum)
	}
	ib.mu.Unlock()
	select {
	case ib.wake <- struct{}{}:
	default:
	}
}

// imported writes j's report (and rejects) to done/, moves (or deletes)
// the file, and only then records the content as imported: the ledger says
// done only for a file filed with its report. A crash at any point is
// safe: before the move, a restart resumes the file (its acknowledged rows
// skipped) and files it under the name its report gives (see reserve);
// after, the file is in done/ with its report, and the same content
// dropped in again resumes rather than being a duplicate.
func (ib *Inbox) imported(j *job, r pipeline.FileResult) (err error) {
	rowsSuf := rowsSuffix(j.name, r.Format)
	suffixes := []string{reportSuffix, rejectsSuffix, rowsSuf}
	dest, stale, err := reserve(ib.done, j.name, suffixes, j.sum)
	if err != nil {
		return err
	}
	if stale {
		if err := removeStale(ib.done, dest, suffixes); err != nil {
			return err
		}
	}
	rep := ib.newReport(r, StatusImported)
	rep.SHA256, rep.Size = j.sum, j.size
	var written []string
	defer func() {
		if err != nil {
			ib.undo(j, written)
		}
	}()
	if err := ib.writeRejects(j, &rep, dest, rowsSuf, &written); err != nil {
		return err
	}
	if ib.opts.DeleteDone {
		rep.Deleted = true
	} else {
		rep.MovedTo = dest
	}
	if err := writeJSONFile(filepath.Join(ib.done, dest+reportSuffix), rep); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	written = append(written, filepath.Join(ib.done, dest+reportSuffix))
	if err := ib.put(j.path, dest); err != nil {
		return fmt.Errorf("moving the file to done/: %w", err)
	}
	if l := ib.opts.Ledger; l != nil {
		// Finish waits for the ledger's write, which is local and short;
		// the file is filed away whatever the command's context says.
		if err := l.Finish(context.Background(), ib.key, j.sum, true); err != nil {
			ib.filingFailed("recording the import in the ledger: the file is in done/, but the same content dropped in again is not a duplicate", j.name, err)
		}
	}
	ib.doneN.Add(1)
	ib.log.Info("imported", "file", j.name, "rows", r.Rows, "rows_resumed", r.RowsResumed,
		"rows_rejected", r.RowsRejected, "delivered", r.Delivered, "deduplicated", r.Deduplicated, "rejected", r.Rejected, "submissions", r.Submissions,
		"report", filepath.Join(ib.done, dest+reportSuffix))
	return nil
}

// writeRejects files the rejects of j's run (rep) in done/ beside dest:
// the rejected rows in the file's format, when it has one that can be
// written back, and the reasons (the stream of them, moved from work/),
// naming them in rep. What it wrote is added to written.
func (ib *Inbox) writeRejects(j *job, rep *Report, dest, rowsSuf string, written *[]string) error {
	if j.rej == nil || j.rej.len() == 0 {
		return nil
	}
	rows, _ := j.rej.rejectedRows()
	p := filepath.Join(ib.done, dest+rowsSuf)
	ok, err := writeRejectedRows(p, j.snap, rep.Format, ib.opts.Reader, rows)
	switch {
	case errors.Is(err, pipeline.ErrRowsFormat):
		ib.log.Info("the rejected rows of this format cannot be written back: see the rejects", "file", j.name, "format", rep.Format)
	case err != nil:
		return fmt.Errorf("writing rejected rows: %w", err)
	case ok:
		rep.RejectedRows = dest + rowsSuf
		*written = append(*written, p)
	}
	if err := j.rej.place(filepath.Join(ib.done, dest+rejectsSuffix)); err != nil {
		return fmt.Errorf("writing rejects: %w", err)
	}
	rep.Rejects = dest + rejectsSuffix
	return nil
}

// undo takes back what a filing of j that failed wrote to done/, so that
// the next attempt starts afresh: the files written, and the rejects moved
// there go back to work/.
func (ib *Inbox) undo(j *job, written []string) {
	for _, p := range written {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			ib.log.Warn("removing a file of a filing that failed", "file", j.name, "path", p, "error", err)
		}
	}
	if j.rej != nil {
		if err := j.rej.unplace(); err != nil {
			ib.log.Warn("taking back the rejects of a filing that failed", "file", j.name, "error", err)
		}
	}
}

// put moves a work/ file to done/dest, or deletes it with DeleteDone.
func (ib *Inbox) put(path, dest string) error {
	if ib.opts.DeleteDone {
		return os.Remove(path)
	}
	return renameNoReplace(path, filepath.Join(ib.done, dest))
}

// fail moves j to failed/ with a report saying why.
func (ib *Inbox) fail(j *job, r pipeline.FileResult) error {
	r.Rejects = nil
	if r.Started.IsZero() {
		r.Started = time.Now().UTC()
		r.Finished = r.Started
	}
	rep := ib.newReport(r, StatusFailed)
	rep.SHA256, rep.Size, rep.Reasons = j.sum, j.size, j.reasons
	if err := ib.toFailed(j.path, j.name, rep); err != nil {
		return fmt.Errorf("moving the file to failed/: %w", err)
	}
	ib.failedN.Add(1)
	ib.log.Warn("file not imported: moved to failed/", "file", j.name, "reason", r.Err)
	return nil
}

// failNow moves a file that could not be opened as a job to failed/.
func (ib *Inbox) failNow(name, path string, err error) {
	if err := ib.fail(&job{name: name, path: path}, pipeline.FileResult{File: name, Err: err.Error()}); err != nil {
		ib.filingFailed("filing a file that cannot be read: it stays in work/", name, err)
	}
}

// toFailed writes a report to failed/ and moves path there.
func (ib *Inbox) toFailed(path, name string, rep Report) error {
	dest, stale, err := reserve(ib.failed, name, []string{reportSuffix}, rep.SHA256)
	if err != nil {
		return err
	}
	if stale {
		if err := removeStale(ib.failed, dest, []string{reportSuffix}); err != nil {
			return err
		}
	}
	rep.MovedTo = dest
	if rep.File == "" {
		rep.File = name
	}
	if err := writeJSONFile(filepath.Join(ib.failed, dest+reportSuffix), rep); err != nil {
		return err
	}
	return renameNoReplace(path, filepath.Join(ib.failed, dest))
}

// duplicate moves j, whose content was imported before (e), to done/
// without sending anything. A report left in done/ by the import of j
// itself, stopped at the rename, stays: it names the file as filed.
func (ib *Inbox) duplicate(j *job, e ledger.Entry) error {
	dest, stale, err := reserve(ib.done, j.name, []string{reportSuffix}, j.sum)
	if err != nil {
		return err
	}
	imported := e.Imported
	rep := ib.newReport(pipeline.FileResult{File: j.name, Started: time.Now().UTC(), Finished: time.Now().UTC()}, StatusDuplicate)
	rep.SHA256, rep.Size, rep.DuplicateOf, rep.ImportedBefore = j.sum, j.size, e.Name, &imported
	if ib.opts.DeleteDone {
		rep.Deleted = true
	} else {
		rep.MovedTo = dest
	}
	if !stale {
		if err := writeJSONFile(filepath.Join(ib.done, dest+reportSuffix), rep); err != nil {
			return fmt.Errorf("writing the report: %w", err)
		}
	}
	if err := ib.put(j.path, dest); err != nil {
		return fmt.Errorf("moving a duplicate to done/: %w", err)
	}
	ib.dups.Add(1)
	ib.log.Info(fmt.Sprintf("already imported on %s: not sent again (use --reimport to import it again)", e.Imported.Local().Format(time.DateTime)),
		"file", j.name, "imported_as", e.Name, "moved_to", filepath.Join(ib.done, dest))
	return nil
}

// admit decides what to do with a claimed (or resumed) job: a file with
// the same content as one in progress waits for it, a duplicate goes to
// done/, any other is queued for the pipeline.
func (ib *Inbox) admit(j *job) {
	ib.mu.Lock()
	ib.active[j.name] = j
	if other := ib.sums[j.sum]; other != nil && other != j {
		ib.mu.Unlock()
		ib.log.Info("same content as a file in progress: it waits", "file", j.name, "other", other.name)
		ib.parked = append(ib.parked, j)
		return
	}
	ib.sums[j.sum] = j
	ib.mu.Unlock()
	if !ib.hold(j) {
		return
	}
	st, err := ib.begin(j)
	if err != nil {
		ib.log.Error("reading the ledger: the file waits in work/", "file", j.name, "error", err)
		ib.admitLater(j, ib.opts.RetryDelay)
		return
	}
	switch st.Status {
	case ledger.Duplicate:
		if err := ib.duplicate(j, st.Entry); err != nil {
			ib.filingFailed("filing a duplicate: it stays in work/, and is tried again", j.name, err, "retry_in", ib.opts.RetryDelay)
			ib.admitLater(j, ib.opts.RetryDelay)
			return
		}
		ib.unclaim(j)
		ib.dropSnapshot(j)
		ib.release(j)
		return
	case ledger.Resume:
		ib.log.Info("resuming: rows acknowledged before are skipped", "file", j.name, "rows_acknowledged", st.Resumed().Len())
	}
	ib.queue = append(ib.queue, j)
}

// begin (re)starts j's run: its ledger record and its run state.
func (ib *Inbox) begin(j *job) (ledger.Start, error) {
	var st ledger.Start
	if l := ib.opts.Ledger; l != nil {
		var err error
		// A ledger write is local and short: no file is left half begun
		// because the watch is stopping.
		st, err = l.Begin(context.Background(), ib.key, ledger.Content{Sum: j.sum, Name: j.name, Size: j.size}, ib.opts.Reimport)
		if err != nil {
			return st, err
		}
	}
	if j.rej != nil {
		j.rej.drop() // an earlier run's: this one reports them again
	}
	ib.mu.Lock()
	j.start, j.finished = st, false
	j.rej = newRejectStream(j.snap)
	ib.mu.Unlock()
	j.abandoned.Store(false)
	return st, nil
}

// resume queues the files left in work/ by an earlier run; shared, those
// left by instances gone (see takeOver).
func (ib *Inbox) resume() {
	if ib.shared() {
		ib.takeOver(time.Now())
		return
	}
	entries, err := os.ReadDir(ib.work)
	if err != nil {
		ib.log.Error("reading work/", "dir", ib.work, "error", err)
		return
	}
	for _, d := range entries {
		name := d.Name()
		if ignored(name) {
			ib.removeSnapshots([]string{name})
			continue
		}
		path := filepath.Join(ib.work, name)
		fi, err := os.Lstat(path)
		if err != nil {
			continue
		}
		if !fi.Mode().IsRegular() {
			ib.refuse(path, name, fi)
			continue
		}
		j, err := ib.open(name, path)
		if err != nil {
			ib.failNow(name, path, err)
			continue
		}
		ib.resumed.Add(1)
		ib.log.Info("resuming a file claimed before", "file", name)
		ib.admit(j)
	}
}

// claim moves a ready file from the inbox into work/ and admits it. It
// reports false when the file must wait (its name is taken in work/).
func (ib *Inbox) claim(name string, c *cand) bool {
	src := filepath.Join(ib.dir, name)
	fi, err := os.Lstat(src)
	if err != nil {
		return true // gone
	}
	if !fi.Mode().IsRegular() {
		ib.refuse(src, name, fi)
		return true
	}
	if formats.IsNotData(name) {
		ib.fileRefused(src, name, "not data (documentation, a licence, configuration or code, by its name): not imported", slog.LevelInfo)
		return true
	}
	ib.mu.Lock()
	_, busy := ib.active[name]
	ib.mu.Unlock()
	if busy {
		return false
	}
	dst := filepath.Join(ib.work, name)
	if err := renameNoReplace(src, dst); err != nil {
		if errors.Is(err, fs.ErrExist) && ib.shared() {
			// Most likely another instance's rename of the same file won
			// (with the link-and-remove fallback of file systems without
			// renameat2): its source goes away, or waits its turn.
			ib.log.Debug("a file of the same name is in work/: another instance claims it, or it waits", "file", name)
			return false
		}
		if errors.Is(err, fs.ErrExist) {
			if !ib.told["work:"+name] {
				ib.told["work:"+name] = true
				ib.log.Warn("a file of the same name is in work/ but not in progress: waiting (restart to resume it)", "file", name)
			}
			return false
		}
		if _, serr := os.Lstat(src); errors.Is(err, fs.ErrNotExist) && serr != nil {
			return true // gone
		}
		ib.claimFailed(name, err) // work/ went away, say: claiming stops until heal
		return false
	}
	delete(ib.told, "work:"+name)
	ib.claimed.Add(1)
	j, err := ib.open(name, dst)
	// A writer that still had the file open may have gone on writing:
	// hand it back to the inbox and let it settle again.
	if after, serr := os.Lstat(dst); errors.Is(err, errChanging) || err == nil && serr == nil && (after.Size() != c.size || !after.ModTime().Equal(c.mtime)) {
		if j != nil {
			ib.dropSnapshot(j)
			j = nil
		}
		if err = renameNoReplace(dst, src); err == nil {
			ib.claimed.Add(-1)
			ib.log.Warn("file changed while being claimed: left in the inbox to settle again", "file", name)
			return true
		}
		j, err = ib.open(name, dst)
	}
	if err != nil {
		ib.failNow(name, dst, err)
		return true
	}
	ib.log.Info("claimed", "file", name, "size", j.size, "sha256", j.sum)
	ib.admit(j)
	return true
}

// refuse moves what is not a regular file to failed/ (a symlink is moved,
// never followed); folders and sockets stay where they are.
func (ib *Inbox) refuse(path, name string, fi fs.FileInfo) {
	mode := fi.Mode()
	var reason string
	switch {
	case mode.IsDir():
		if !ib.told[path] {
			ib.told[path] = true
			ib.log.Info("a folder in the inbox is not imported (the inbox is not watched recursively)", "folder", name)
		}
		return
	case mode&fs.ModeSocket != 0:
		if !ib.told[path] {
			ib.told[path] = true
			ib.log.Warn("a socket in the inbox is not a file: left in place", "file", name)
		}
		return
	case mode&fs.ModeSymlink != 0:
		reason = "a symbolic link: refused, links are never followed (copy or move the file itself into the inbox)"
	case mode&fs.ModeNamedPipe != 0:
		reason = "a named pipe (FIFO), not a regular file: refused"
	case mode&fs.ModeDevice != 0:
		reason = "a device, not a regular file: refused"
	default:
		reason = fmt.Sprintf("not a regular file (%s): refused", mode.Type())
	}
	ib.fileRefused(path, name, reason, slog.LevelWarn)
}

// fileRefused moves what the inbox does not import to failed/ with a
// report giving the reason, and logs it at level.
func (ib *Inbox) fileRefused(path, name, reason string, level slog.Level) {
	now := time.Now().UTC()
	rep := ib.newReport(pipeline.FileResult{File: name, Err: reason, Started: now, Finished: now}, StatusRefused)
	if err := ib.toFailed(path, name, rep); err != nil {
		if !ib.told[path] {
			ib.told[path] = true
			ib.filingErrs.Add(1)
			ib.log.Error("refused, and could not be moved to failed/", "file", name, "reason", reason, "error", err)
		}
		return
	}
	ib.refused.Add(1)
	ib.log.Log(context.Background(), level, "refused: moved to failed/", "file", name, "reason", reason)
}

// ignored reports whether a name in the inbox is never picked up: a
// dotfile (.iocpipe among them).
func ignored(name string) bool { return strings.HasPrefix(name, ".") }

// isPart reports whether name is a file still being written, by the
// convention writers follow.
func isPart(name string) bool {
	return strings.HasSuffix(name, ".part") || strings.HasSuffix(name, ".tmp")
}

// dueRetries queues the jobs whose retry time has come; none while a
// shared inbox's database does not answer.
func (ib *Inbox) dueRetries(now time.Time) {
	if !ib.canClaim() {
		return
	}
	ib.mu.Lock()
	var due []*job
	ib.retries = slices.DeleteFunc(ib.retries, func(j *job) bool {
		if now.Before(j.retryAt) {
			return false
		}
		due = append(due, j)
		return true
	})
	ib.mu.Unlock()
	for _, j := range due {
		if r := j.refile; r != nil {
			j.refile = nil
			ib.log.Info("trying the filing again", "file", j.name)
			ib.bg.Add(1)
			go func() {
				defer ib.bg.Done()
				ib.file(j, *r)
			}()
			continue
		}
		ib.retried.Add(1)
		ib.release(j)
		ib.log.Info("trying again", "file", j.name)
		ib.admit(j)
	}
}

// unpark admits again the jobs whose content is no longer in progress.
func (ib *Inbox) unpark() {
	parked := ib.parked
	ib.parked = nil
	for _, j := range parked {
		ib.mu.Lock()
		busy := ib.sums[j.sum] != nil
		if !busy && ib.active[j.name] == j {
			delete(ib.active, j.name)
		}
		ib.mu.Unlock()
		if busy {
			ib.parked = append(ib.parked, j)
			continue
		}
		ib.admit(j)
	}
}
