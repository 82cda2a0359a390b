//go:build !linux

package inbox

import (
	"io/fs"
	"time"
)

// renameNoReplace renames oldpath to newpath, failing with an error
// satisfying errors.Is(err, fs.ErrExist) when newpath exists.
func renameNoReplace(oldpath, newpath string) error {
	return linkRename(oldpath, newpath)
}

// ctimeOf returns a file's ctime: unknown here (the mtime and size
// remain).
func ctimeOf(fs.FileInfo) time.Time { return time.Time{} }
