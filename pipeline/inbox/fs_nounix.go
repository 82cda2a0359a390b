//go:build !unix

package inbox

import (
	"io/fs"
	"os"
)

// A fileID identifies a file independently of its name; unknown here.
type fileID struct{ dev, ino uint64 }

func idOf(fs.FileInfo) (fileID, bool) { return fileID{}, false }

// openNoFollow opens path read-only; the caller checked with Lstat that it
// is a regular file.
func openNoFollow(path string) (*os.File, error) { return os.Open(path) }

// stateOf is what changes when a file's content does: here its size and
// mtime.
func stateOf(fi fs.FileInfo) fileState {
	return fileState{size: fi.Size(), mtime: fi.ModTime(), ctime: ctimeOf(fi)}
}

// lockFile would lock f; there is no flock here, so one owner per inbox
// is not enforced.
func lockFile(*os.File, bool) (bool, error) { return true, nil }

// probeLock would report whether another holds f's lock; there is no
// flock here, so no inbox is known to be watched.
func probeLock(*os.File) (bool, error) { return false, nil }
