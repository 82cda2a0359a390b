package inbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// lockName is the lock file in <inbox>/.iocpipe/: whoever holds its flock
// owns the inbox.
const lockName = "lock"

// lockTries and lockPause are how often and how long apart lock tries
// again before the inbox is taken as owned.
const (
	lockTries = 5
	lockPause = 20 * time.Millisecond
)

// ErrOwned is returned by New when another process (or Inbox) watches the
// inbox: one inbox has one owner, or every file would be sent twice.
var ErrOwned = errors.New("watched by another process")

// lock takes the inbox's lock, creating <inbox>/.iocpipe/ when missing,
// and writes this process's id into the lock file. It fails with ErrOwned
// when another holds it.
func (ib *Inbox) lock() error {
	meta := filepath.Join(ib.dir, ".iocpipe")
	if err := os.MkdirAll(meta, 0o700); err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	path := filepath.Join(meta, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("inbox %s: the lock: %w", ib.dir, err)
	}
	shared := ib.opts.Claims != nil
	ok, err := lockFile(f, shared)
	// iocpipe status probes the lock for an instant (see Watched): try
	// again for a moment before calling the inbox owned.
	for i := 0; i < lockTries && err == nil && !ok; i++ {
		time.Sleep(lockPause)
		ok, err = lockFile(f, shared)
	}
	if err != nil || !ok {
		f.Close()
		if err != nil {
			return fmt.Errorf("inbox %s: locking %s: %w", ib.dir, path, err)
		}
		pid, _ := os.ReadFile(path)
		if shared {
			return fmt.Errorf("inbox %s: %w (process %s holds %s) without sharing it: an inbox is shared only by instances whose ledger is PostgreSQL; stop it, or give it the same ledger",
				ib.dir, ErrOwned, strings.TrimSpace(string(pid)), path)
		}
		return fmt.Errorf("inbox %s: %w (process %s holds %s): stop it, or give this route another inbox (several instances share one inbox with a PostgreSQL ledger)",
			ib.dir, ErrOwned, strings.TrimSpace(string(pid)), path)
	}
	if !shared {
		// Shared, the file would name one instance of several.
		if err := f.Truncate(0); err == nil {
			f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		}
	}
	ib.mu.Lock()
	old := ib.lockf
	ib.lockf = f
	ib.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

// unlock releases the inbox's lock.
func (ib *Inbox) unlock() {
	ib.mu.Lock()
	f := ib.lockf
	ib.lockf = nil
	ib.mu.Unlock()
	if f != nil {
		f.Close()
	}
}

// CheckDirs checks an inbox's work, done and failed folders (absolute, or
// relative to dir): distinct, none inside another nor the inbox inside one
// of them, and inside the inbox only as a folder of its own (never the
// inbox itself, which is never watched recursively).
func CheckDirs(dir, work, done, failed string) error {
	dir = filepath.Clean(dir)
	named := []struct{ key, path string }{{"work_dir", work}, {"done_dir", done}, {"failed_dir", failed}}
	for i := range named {
		named[i].path = resolve(dir, named[i].path, defaults[i])
	}
	for _, a := range named {
		if a.path == dir {
			return fmt.Errorf("%s %s is the inbox itself: give it a folder of its own", a.key, a.path)
		}
		if within(dir, a.path) {
			return fmt.Errorf("%s %s holds the inbox %s: give it a folder of its own", a.key, a.path, dir)
		}
	}
	for i, a := range named {
		for _, b := range named[i+1:] {
			switch {
			case a.path == b.path:
				return fmt.Errorf("%s and %s are the same folder %s: each needs its own", a.key, b.key, a.path)
			case within(b.path, a.path):
				return fmt.Errorf("%s %s is inside %s %s: none may be inside another", b.key, b.path, a.key, a.path)
			case within(a.path, b.path):
				return fmt.Errorf("%s %s is inside %s %s: none may be inside another", a.key, a.path, b.key, b.path)
			}
		}
	}
	return nil
}

// dirs returns the inbox folder (absolute) and its work, done and failed
// folders, checked with CheckDirs.
func (o Options) dirs() (dir, work, done, failed string, err error) {
	if o.Dir == "" {
		return "", "", "", "", errors.New("inbox: no folder")
	}
	if dir, err = filepath.Abs(o.Dir); err != nil {
		return "", "", "", "", fmt.Errorf("inbox %s: %w", o.Dir, err)
	}
	if err := CheckDirs(dir, o.WorkDir, o.DoneDir, o.FailedDir); err != nil {
		return "", "", "", "", fmt.Errorf("inbox %s: %w", dir, err)
	}
	return dir, resolve(dir, o.WorkDir, defaults[0]), resolve(dir, o.DoneDir, defaults[1]), resolve(dir, o.FailedDir, defaults[2]), nil
}

// defaults are the work, done and failed folders, relative to the inbox.
var defaults = [3]string{filepath.Join(".iocpipe", "work"), "done", "failed"}

// resolve returns p (def when empty), relative to dir unless absolute.
func resolve(dir, p, def string) string {
	if p == "" {
		p = def
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

// within reports whether path is strictly inside dir.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// ownFile reports whether name is one of the files iocpipe writes beside a
// filed file (a report, the rejects, the rejected rows): such a file is
// never imported, even dropped into the inbox. To import corrected
// rejected rows, drop them in under another name.
func ownFile(name string) bool {
	if strings.HasSuffix(name, reportSuffix) || strings.HasSuffix(name, ".rejected-rows.jsonl") {
		return true
	}
	stem := strings.TrimSuffix(name, filepath.Ext(name))
	return stem != name && strings.HasSuffix(stem, ".rejects")
}
