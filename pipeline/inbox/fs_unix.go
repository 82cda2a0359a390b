//go:build unix

package inbox

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// A fileID identifies a file independently of its name: device and inode.
type fileID struct{ dev, ino uint64 }

func idOf(fi fs.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}, true
}

// openNoFollow opens path read-only, refusing a symlink.
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
}

// stateOf is what changes when a file's content does: its identity, size,
// mtime and ctime (which nobody can set back: a write, a truncation, even
// a touch that restores the mtime, moves it).
func stateOf(fi fs.FileInfo) fileState {
	s := fileState{size: fi.Size(), mtime: fi.ModTime()}
	s.id, _ = idOf(fi)
	s.ctime = ctimeOf(fi)
	return s
}

// lockFile takes a lock on f without waiting, exclusive unless shared:
// false when another open file (another process, or another Inbox) holds
// one that excludes it.
func lockFile(f *os.File, shared bool) (bool, error) {
	how := syscall.LOCK_EX
	if shared {
		how = syscall.LOCK_SH
	}
	err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}

// probeLock reports whether another open file holds a lock on f (shared
// or exclusive), taking an exclusive one for an instant.
func probeLock(f *os.File) (bool, error) {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return false, syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
