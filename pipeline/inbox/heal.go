package inbox

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/fsnotify/fsnotify"
)

// Health returns nil while the inbox can claim files, else why not: a
// claim failed (until the folders are healed), or another process owns
// the inbox since it was re-created. Safe to call at any time.
func (ib *Inbox) Health() error {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	return ib.blocked
}

// errLockLost says the inbox's lock file is no longer the one it holds.
var errLockLost = errors.New("the inbox folder was replaced: its lock is not this process's any more")

// block stops claiming with err (nil resumes), logging a new reason once.
func (ib *Inbox) block(err error) {
	ib.mu.Lock()
	old := ib.blocked
	ib.blocked = err
	ib.mu.Unlock()
	switch {
	case err != nil && (old == nil || old.Error() != err.Error()):
		ib.log.Error("the inbox cannot claim files: no file is picked up until this is fixed", "error", err)
	case err == nil && old != nil:
		ib.log.Info("the inbox can claim files again")
	}
}

// claimFailed counts and reports a claim that failed for a reason other
// than the file going away: claiming stops until heal.
func (ib *Inbox) claimFailed(name string, err error) {
	ib.claimErrs.Add(1)
	ib.log.Error("claiming a file", "file", name, "error", err)
	ib.block(err)
}

// filingFailed counts a file that could not be filed away, and logs it.
func (ib *Inbox) filingFailed(msg, name string, err error, args ...any) {
	ib.filingErrs.Add(1)
	ib.log.Error(msg, append([]any{"file", name, "error", err}, args...)...)
}

// heal re-creates the inbox's folders when they went away (the inbox was
// deleted and re-created, say), re-taking the lock and watching the new
// folder; another process holding the lock by then stops claiming. With
// retry, a claim error is cleared even when nothing was missing, so that
// the next claim tries again (a claim that keeps failing is then logged
// once per retry).
func (ib *Inbox) heal(w *fsnotify.Watcher, retry bool) {
	missing := false
	for _, d := range []string{ib.dir, ib.work, ib.done, ib.failed} {
		if _, err := os.Stat(d); errors.Is(err, fs.ErrNotExist) {
			missing = true
		}
	}
	if !missing && ib.holdsLock() {
		if retry {
			ib.block(nil)
		}
		return
	}
	ib.log.Warn("inbox folders or lock missing: re-creating them")
	if err := os.MkdirAll(ib.dir, 0o750); err != nil {
		ib.block(err)
		return
	}
	if !ib.holdsLock() {
		if err := ib.lock(); err != nil {
			ib.block(err)
			return
		}
	}
	for _, d := range []string{ib.work, ib.done, ib.failed} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			ib.block(err)
			return
		}
	}
	w.Remove(ib.dir) // the folder watched before is gone
	if err := w.Add(ib.dir); err != nil {
		ib.block(err)
		return
	}
	ib.block(nil)
}

// holdsLock reports whether the lock file in the inbox is the one this
// Inbox holds locked.
func (ib *Inbox) holdsLock() bool {
	ib.mu.Lock()
	f := ib.lockf
	ib.mu.Unlock()
	if f == nil {
		return false
	}
	held, err1 := f.Stat()
	now, err2 := os.Lstat(filepath.Join(ib.dir, ".iocpipe", lockName))
	return err1 == nil && err2 == nil && os.SameFile(held, now)
}
