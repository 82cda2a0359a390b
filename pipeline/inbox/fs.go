package inbox

import (
	"errors"
	"io/fs"
	"os"
	"time"
)

// linkRename renames without replacing: link (which fails when newpath
// exists), then unlink. A crash in between leaves both names; the content
// ledger makes the second one a duplicate.
func linkRename(oldpath, newpath string) error {
	if err := os.Link(oldpath, newpath); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		// No hard links here (some network and FUSE file systems): check,
		// then rename; the window between the two is the best we can do.
		if _, serr := os.Lstat(newpath); serr == nil {
			return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.ErrExist}
		}
		return os.Rename(oldpath, newpath)
	}
	return os.Remove(oldpath)
}

// A fileState is what changes when a file's content does (see stateOf).
type fileState struct {
	id           fileID
	size         int64
	mtime, ctime time.Time
}

func (s fileState) equal(o fileState) bool {
	return s.id == o.id && s.size == o.size && s.mtime.Equal(o.mtime) && s.ctime.Equal(o.ctime)
}
