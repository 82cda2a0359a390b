package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
)

// ErrNotRegular is returned by OpenBolt when the ledger path exists and is
// not a regular file (a named pipe, a device, a folder, a symlink).
var ErrNotRegular = errors.New("not a regular file")

// ErrCorrupt is returned by OpenBolt, and by reads and writes, when the
// ledger file is damaged (truncated, overwritten, not a ledger at all).
var ErrCorrupt = errors.New("the ledger file is corrupt")

// corruptError is ErrCorrupt about path, saying why and how to start
// fresh.
func corruptError(path, why string) error {
	return fmt.Errorf("ledger %s: %w (%s): move it away to start fresh (mv %q %q); "+
		"iocpipe then creates an empty ledger, and files it recorded as imported are imported again",
		path, ErrCorrupt, why, path, path+".corrupt")
}

// checkPath returns an error unless path is absent or a regular file; it
// never opens anything else, so a named pipe or a device cannot block or
// spin the open.
func checkPath(path string) (exists bool, err error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("ledger %s: %w", path, err)
	}
	if fi.Mode().IsRegular() {
		return true, nil
	}
	kind := "not a regular file"
	switch m := fi.Mode(); {
	case m&fs.ModeSymlink != 0:
		kind = "a symlink (name the file it points to)"
	case m.IsDir():
		kind = "a folder"
	case m&fs.ModeNamedPipe != 0:
		kind = "a named pipe"
	case m&fs.ModeDevice != 0:
		kind = "a device"
	case m&fs.ModeSocket != 0:
		kind = "a socket"
	}
	return true, fmt.Errorf("ledger %s: %w: it is %s; the ledger must be a regular file, or a path that does not exist yet", path, ErrNotRegular, kind)
}

// bbolt's on-disk meta page: a 16-byte page header, then magic, version,
// page size, flags, the root bucket (root page, sequence), the freelist
// page, the high-water mark page, the txid and an FNV-64a checksum of
// the fields before it.
const (
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	metaOffset      = 16
	metaSummed      = 56
	metaSize        = metaSummed + 8
	noFreelist      = ^uint64(0)
	minPageSize     = 512
	maxPageSize     = 1 << 20
	firstMetaLength = metaOffset + metaSize
)

// boltMeta is the part of a meta page checkFile uses.
type boltMeta struct {
	pageSize                 int64
	root, freelist, pgid, tx uint64
}

// readMeta decodes the meta page at off, or says why it is not one.
func readMeta(f io.ReaderAt, off int64) (boltMeta, error) {
	b := make([]byte, firstMetaLength)
	if _, err := f.ReadAt(b, off); err != nil {
		return boltMeta{}, errors.New("no meta page")
	}
	m := b[metaOffset:]
	le := binary.NativeEndian // bbolt writes its pages in the machine's order
	if le.Uint32(m) != boltMagic {
		return boltMeta{}, errors.New("not a bbolt database: bad magic in the meta page")
	}
	if v := le.Uint32(m[4:]); v != boltVersion {
		return boltMeta{}, fmt.Errorf("bbolt file format version %d, want %d", v, boltVersion)
	}
	h := fnv.New64a()
	h.Write(m[:metaSummed])
	if h.Sum64() != le.Uint64(m[metaSummed:]) {
		return boltMeta{}, errors.New("meta page checksum mismatch")
	}
	return boltMeta{pageSize: int64(le.Uint32(m[8:])), root: le.Uint64(m[16:]),
		freelist: le.Uint64(m[32:]), pgid: le.Uint64(m[40:]), tx: le.Uint64(m[48:])}, nil
}

// checkFile checks what bbolt trusts before it maps the file: a meta
// page that is valid (as bbolt picks it: the valid one with the highest
// txid), a file that is whole pages, and every page the meta page
// points at inside the file — a page beyond the end of a mapped file is
// a SIGBUS, not an error. An empty file is a new ledger.
func checkFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("ledger %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("ledger %s: %w", path, err)
	}
	size := fi.Size()
	if size == 0 {
		return nil
	}
	m, err := readMeta(f, 0)
	if err != nil { // bbolt falls back to the second meta page
		var err1 error
		for _, ps := range []int64{int64(os.Getpagesize()), 4096, 8192, 16384, 65536} {
			var m1 boltMeta
			if m1, err1 = readMeta(f, ps); err1 == nil && m1.pageSize == ps {
				m, err = m1, nil
				break
			}
		}
	} else if m1, err1 := readMeta(f, m.pageSize); err1 == nil && m1.tx > m.tx && m1.pageSize == m.pageSize {
		m = m1
	}
	if err != nil {
		return corruptError(path, err.Error())
	}
	return checkMeta(path, m, size)
}

// checkMeta checks a valid meta page against the file's size.
func checkMeta(path string, m boltMeta, size int64) error {
	ps := m.pageSize
	switch {
	case ps < minPageSize || ps > maxPageSize || ps&(ps-1) != 0:
		return corruptError(path, fmt.Sprintf("page size %d", ps))
	case size%ps != 0:
		return corruptError(path, fmt.Sprintf("%d bytes is not a whole number of %d-byte pages: truncated?", size, ps))
	case m.pgid > uint64(size/ps) || m.pgid < 4:
		return corruptError(path, fmt.Sprintf("it uses %d pages, beyond the end of the file (%d pages): truncated?", m.pgid, size/ps))
	case m.root >= m.pgid || m.freelist >= m.pgid && m.freelist != noFreelist:
		return corruptError(path, "the meta page points beyond the last page")
	}
	return nil
}
