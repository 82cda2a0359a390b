package inbox

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// snapshotPrefix starts the names of the private copies in work/: dotfiles,
// which are never taken for claimed files.
const snapshotPrefix = ".snapshot-"

// errChanging is a file that changed while it was being copied.
var errChanging = errors.New("the file changed while it was being read")

// open makes the job of a claimed file: it copies the file into a private
// snapshot in work/ (mode 0600, a name of its own), hashing the bytes as
// they are copied. The pipeline reads the snapshot, so that what is sent
// is what the hash names, whatever happens to the claimed file afterwards;
// the job keeps the claimed file's state (see changed).
func (ib *Inbox) open(name, path string) (*job, error) {
	f, err := openNoFollow(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	before := stateOf(fi)
	if err := os.MkdirAll(ib.private, 0o700); err != nil {
		return nil, fmt.Errorf("taking a private copy to read: %w", err)
	}
	snap, err := os.CreateTemp(ib.private, snapshotPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("taking a private copy to read: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(snap, h), f)
	if cerr := snap.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		fi, err = f.Stat()
	}
	if err == nil && (!stateOf(fi).equal(before) || n != fi.Size()) {
		err = errChanging
	}
	if err != nil {
		os.Remove(snap.Name())
		return nil, err
	}
	return &job{name: name, path: path, snap: snap.Name(), sum: hex.EncodeToString(h.Sum(nil)), size: n, state: stateOf(fi)}, nil
}

// changed reports whether j's claimed file is not what was copied at claim
// any more: written, truncated, replaced or gone.
func (j *job) changed() bool {
	fi, err := os.Lstat(j.path)
	return err != nil || !stateOf(fi).equal(j.state)
}

// dropSnapshot removes j's snapshot (and what is left of its rejects in
// work/) once j is filed away for good.
func (ib *Inbox) dropSnapshot(j *job) {
	if j.rej != nil {
		j.rej.drop()
	}
	if j.snap == "" {
		return
	}
	if err := os.Remove(j.snap); err != nil && !errors.Is(err, os.ErrNotExist) {
		ib.log.Warn("removing a snapshot", "file", j.name, "error", err)
	}
}

// removeSnapshots removes the snapshots and streamed rejects an earlier
// run left in work/ (a resumed file is copied again, and its rejects are
// found again).
func (ib *Inbox) removeSnapshots(names []string) {
	for _, n := range names {
		if strings.HasPrefix(n, snapshotPrefix) || strings.HasPrefix(n, rejectsPrefix) {
			os.Remove(filepath.Join(ib.work, n))
		}
	}
}
