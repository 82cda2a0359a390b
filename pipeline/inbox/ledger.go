package inbox

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// The ledger is a bbolt database. Why bbolt: it is pure Go (no cgo, one
// static binary), a single file, and a copy-on-write B+tree: a commit
// writes new pages, fsyncs them, then writes and fsyncs the meta page that
// points at them, and a meta page carries a checksum. A write torn by
// kill -9 or a power cut therefore leaves the previous commit intact, and
// the ledger survives a crash at any instant without a recovery step. Its
// file lock keeps two processes from writing the same ledger.
//
// Layout: a top-level bucket "files" holds one bucket per route and sink
// (see Key); in it, the key is the hex SHA-256 of a file's content and the
// value the JSON of an Entry.

var filesBucket = []byte("files")

// An Entry is what the ledger knows of one file's content for one route.
type Entry struct {
	// Name is the file's name when it was last imported.
	Name string `json:"name"`
	// Size is the file's size in bytes.
	Size int64 `json:"size"`
	// Acked are the data rows acknowledged by the sink, as ranges
	// [from, to). Rows that were rejected are left out, so that a resumed
	// import reads and reports them again.
	Acked ioc.Ranges `json:"acked,omitempty"`
	// Done says every row was delivered or rejected: the content is
	// imported.
	Done bool `json:"done,omitempty"`
	// Imported is when Done was set.
	Imported time.Time `json:"imported,omitzero"`
	// Updated is the time of the last write.
	Updated time.Time `json:"updated"`
}

// LedgerOptions configures OpenLedger. The zero value opens for writing
// and waits up to a second for another process's lock.
type LedgerOptions struct {
	// ReadOnly opens the ledger for reading (a shared lock): for tests and
	// inspection while no writer runs.
	ReadOnly bool
	// Timeout bounds the wait for the file lock; 0 means 1s.
	Timeout time.Duration
}

// A Ledger records which files were imported and which of their rows were
// acknowledged, keyed by content (SHA-256), not by path or inode: a file
// renamed, moved or copied is still recognized. It is safe for concurrent
// use; writes are serialized and each one is synced to disk before it
// returns.
type Ledger struct {
	db   *bolt.DB
	path string
}

// ErrLedgerLocked is returned by OpenLedger when another process holds the
// ledger.
var ErrLedgerLocked = errors.New("the ledger is in use by another process")

// OpenLedger opens the ledger at path, creating it (mode 0600) when
// missing, unless opts.ReadOnly.
func OpenLedger(path string, opts LedgerOptions) (*Ledger, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout, ReadOnly: opts.ReadOnly})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("ledger %s: %w (a running iocpipe watch?)", path, ErrLedgerLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("ledger %s: %w", path, err)
	}
	l := &Ledger{db: db, path: path}
	if !opts.ReadOnly {
		err = db.Update(func(tx *bolt.Tx) error {
			_, err := tx.CreateBucketIfNotExists(filesBucket)
			return err
		})
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("ledger %s: %w", path, err)
		}
	}
	return l, nil
}

// Key names a route and its sink in the ledger: the same content imported
// through another route, or to another sink, is another import.
func Key(route, sink string) string { return route + "/" + sink }

// Path returns the ledger's file.
func (l *Ledger) Path() string { return l.path }

// Close closes the ledger.
func (l *Ledger) Close() error { return l.db.Close() }

// Size returns the size of the ledger's data in bytes.
func (l *Ledger) Size() int64 {
	var n int64
	l.db.View(func(tx *bolt.Tx) error {
		n = tx.Size()
		return nil
	})
	return n
}

// Len returns the number of entries, over all routes.
func (l *Ledger) Len() int {
	n := 0
	l.db.View(func(tx *bolt.Tx) error {
		files := tx.Bucket(filesBucket)
		if files == nil {
			return nil
		}
		return files.ForEachBucket(func(k []byte) error {
			n += files.Bucket(k).Stats().KeyN
			return nil
		})
	})
	return n
}

// Get returns the entry of the content sum for key, if there is one.
func (l *Ledger) Get(key, sum string) (Entry, bool, error) {
	var e Entry
	var ok bool
	err := l.db.View(func(tx *bolt.Tx) error {
		b := routeBucket(tx, key)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(sum))
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &e)
	})
	if err != nil {
		return Entry{}, false, fmt.Errorf("ledger %s: reading %s: %w", l.path, sum, err)
	}
	return e, ok, nil
}

// Entries returns every entry of key by content sum.
func (l *Ledger) Entries(key string) (map[string]Entry, error) {
	out := map[string]Entry{}
	err := l.db.View(func(tx *bolt.Tx) error {
		b := routeBucket(tx, key)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var e Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			out[string(k)] = e
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("ledger %s: %w", l.path, err)
	}
	return out, nil
}

func routeBucket(tx *bolt.Tx, key string) *bolt.Bucket {
	files := tx.Bucket(filesBucket)
	if files == nil {
		return nil
	}
	return files.Bucket([]byte(key))
}

// put writes one entry in its own transaction; bbolt syncs the commit
// before Update returns.
func (l *Ledger) put(key, sum string, e Entry) error {
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	err = l.db.Update(func(tx *bolt.Tx) error {
		files, err := tx.CreateBucketIfNotExists(filesBucket)
		if err != nil {
			return err
		}
		b, err := files.CreateBucketIfNotExists([]byte(key))
		if err != nil {
			return err
		}
		return b.Put([]byte(sum), v)
	})
	if err != nil {
		return fmt.Errorf("ledger %s: writing %s: %w", l.path, sum, err)
	}
	return nil
}

// Track starts recording the import of the content sum through key. It
// loads what earlier runs acknowledged, so that Skip passes over those
// rows; fresh forgets them (and that the content was imported), to import
// it again. Nothing is written before the first acknowledgement, unless
// fresh resets an existing entry.
func (l *Ledger) Track(key, sum, name string, size int64, fresh bool) (*Tracked, error) {
	e, ok, err := l.Get(key, sum)
	if err != nil {
		return nil, err
	}
	t := &Tracked{l: l, key: key, sum: sum}
	if ok && fresh {
		e = Entry{Name: name, Size: size, Updated: time.Now().UTC()}
		if err := l.put(key, sum, e); err != nil {
			return nil, err
		}
	}
	e.Name, e.Size = name, size
	t.entry, t.prev, t.written = e, e.Acked, e.Acked
	return t, nil
}

// Tracked is one file's import recorded in a Ledger: its Skip and Ack
// methods are the pipeline.Input hooks, and Reject must see the file's
// rejects (pipeline.Options.OnReject) so that rejected rows stay
// unacknowledged. Create it with Ledger.Track.
type Tracked struct {
	l        *Ledger
	key, sum string
	prev     ioc.Ranges // acknowledged by earlier runs; read-only

	mu       sync.Mutex
	entry    Entry
	written  ioc.Ranges
	rejected map[int]struct{}
}

// Sum returns the content's SHA-256, in hex.
func (t *Tracked) Sum() string { return t.sum }

// Resumed returns the rows acknowledged by earlier runs, which Skip
// passes over.
func (t *Tracked) Resumed() ioc.Ranges { return t.prev }

// Skip reports whether row was acknowledged by an earlier run.
func (t *Tracked) Skip(row int) bool { return t.prev.Contains(row) }

// Reject notes a reject of the file: a row with a reject (a skipped row
// included) is left out of the acknowledged ranges, so that an import
// resumed after a crash reads it again and its reject is reported in the
// final report. File-level rejects (Row -1) are ignored.
func (t *Tracked) Reject(r ioc.Reject) {
	if r.Row < 0 {
		return
	}
	t.mu.Lock()
	if t.rejected == nil {
		t.rejected = map[int]struct{}{}
	}
	t.rejected[r.Row] = struct{}{}
	t.mu.Unlock()
}

// Ack records the rows acknowledged so far in this run (as
// pipeline.Input.Ack gives them), united with those of earlier runs and
// less the rejected rows, in one synced write. It writes nothing when
// nothing changed.
func (t *Tracked) Ack(acked [][2]int) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.prev.Union(ioc.NormalizeRanges(acked))
	if len(t.rejected) > 0 {
		rows := make([]int, 0, len(t.rejected))
		for row := range t.rejected {
			rows = append(rows, row)
		}
		slices.Sort(rows)
		r = r.Without(rows)
	}
	if slices.Equal(r, t.written) {
		return nil
	}
	e := t.entry
	e.Acked, e.Updated = r, time.Now().UTC()
	if err := t.l.put(t.key, t.sum, e); err != nil {
		return err
	}
	t.entry, t.written = e, r
	return nil
}

// Finish records that the content is imported: a file with the same
// content is a duplicate from now on.
func (t *Tracked) Finish() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entry
	now := time.Now().UTC()
	e.Done, e.Imported, e.Updated = true, now, now
	if err := t.l.put(t.key, t.sum, e); err != nil {
		return err
	}
	t.entry = e
	return nil
}

// Sum returns the hex SHA-256 of the file at path and its size.
func Sum(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	return sumFile(f)
}

func sumFile(f *os.File) (string, int64, error) {
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
