package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// Bolt is the Ledger in a bbolt database, for one process. Why bbolt: it
// is pure Go (no cgo, one static binary), a single file, and a
// copy-on-write B+tree: a commit writes new pages, fsyncs them, then
// writes and fsyncs the meta page that points at them, and a meta page
// carries a checksum. A write torn by kill -9 or a power cut therefore
// leaves the previous commit intact, and the ledger survives a crash at
// any instant without a recovery step. Its file lock keeps two processes
// from writing the same ledger.
//
// Layout: a top-level bucket "files" holds one bucket per key (see Key);
// in it, the key is the hex SHA-256 of a file's content and the value the
// JSON of an Entry. Each write of the registrar is one transaction.
type Bolt struct {
	db   *bolt.DB
	path string
	reg  *registrar
}

var filesBucket = []byte("files")

// BoltOptions configures OpenBolt. The zero value opens for writing, waits
// up to a second for another process's lock, and discards the log.
type BoltOptions struct {
	// ReadOnly opens the ledger for reading (a shared lock): for tests and
	// inspection while no writer runs.
	ReadOnly bool
	// Timeout bounds the wait for the file lock; 0 means 1s.
	Timeout time.Duration
	// Logger receives the errors of writes nobody waits for (Record);
	// nil discards them.
	Logger *slog.Logger
}

// ErrLocked is returned by OpenBolt when another process holds the
// ledger.
var ErrLocked = errors.New("the ledger is in use by another process")

// OpenBolt opens the ledger at path, creating it (mode 0600) when missing,
// unless opts.ReadOnly; it is OpenBoltContext without a context.
func OpenBolt(path string, opts BoltOptions) (*Bolt, error) {
	return OpenBoltContext(context.Background(), path, opts)
}

// openGrace is how long opening may take beyond the lock's timeout
// before OpenBoltContext gives up (a file system that does not answer).
const openGrace = 10 * time.Second

// OpenBoltContext opens the ledger at path, creating it (mode 0600) when
// missing, unless opts.ReadOnly. The path must be absent or a regular
// file (else ErrNotRegular); a damaged file is ErrCorrupt, never a panic
// or a SIGBUS. Opening returns when ctx is done (a signal), and at the
// latest openGrace after the lock's timeout.
func OpenBoltContext(ctx context.Context, path string, opts BoltOptions) (*Bolt, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	exists, err := checkPath(path)
	if err != nil {
		return nil, err
	}
	if exists {
		if err := checkFile(path); err != nil {
			return nil, err
		}
	}
	type opened struct {
		db  *bolt.DB
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		db, err := openDB(path, opts)
		ch <- opened{db, err}
	}()
	timer := time.NewTimer(opts.Timeout + openGrace)
	defer timer.Stop()
	var o opened
	select {
	case o = <-ch:
	case <-ctx.Done():
		o.err = fmt.Errorf("ledger %s: opening: %w", path, context.Cause(ctx))
	case <-timer.C:
		o.err = fmt.Errorf("ledger %s: opening did not end within %s", path, opts.Timeout+openGrace)
	}
	if o.err != nil {
		go func() { // the open may still end: close what it opened
			if late := <-ch; late.db != nil {
				late.db.Close()
			}
		}()
		return nil, o.err
	}
	l := &Bolt{db: o.db, path: path}
	l.reg = newRegistrar(l, opts.Logger.With("ledger", path))
	return l, nil
}

// openDB opens the bbolt file and reads its buckets' roots, turning a
// panic or a memory fault of bbolt on a damaged file into ErrCorrupt.
func openDB(path string, opts BoltOptions) (db *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if db != nil {
				db.Close()
			}
			db, err = nil, corruptError(path, fmt.Sprint(r))
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout, ReadOnly: opts.ReadOnly})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("ledger %s: %w (a running iocpipe watch?)", path, ErrLocked)
	}
	if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrChecksum) || errors.Is(err, berrors.ErrVersionMismatch) {
		return nil, corruptError(path, err.Error())
	}
	if err != nil {
		return nil, fmt.Errorf("ledger %s: %w", path, err)
	}
	if !opts.ReadOnly {
		err = db.Update(func(tx *bolt.Tx) error {
			_, err := tx.CreateBucketIfNotExists(filesBucket)
			return err
		})
	}
	if err == nil {
		err = db.View(walkRoots)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("ledger %s: %w", path, err)
	}
	return db, nil
}

// walkRoots walks every route's bucket (as Len does), so that a
// garbage page there is found when opening rather than mid-run.
func walkRoots(tx *bolt.Tx) error {
	files := tx.Bucket(filesBucket)
	if files == nil {
		return nil
	}
	return files.ForEachBucket(func(k []byte) error {
		files.Bucket(k).Stats()
		return nil
	})
}

// Path returns the ledger's file.
func (l *Bolt) Path() string { return l.path }

// Begin implements Ledger.
func (l *Bolt) Begin(ctx context.Context, key string, c Content, reimport bool) (Start, error) {
	return l.reg.begin(ctx, key, c, reimport)
}

// Record implements Ledger.
func (l *Bolt) Record(key, sum string, acked ioc.Ranges) { l.reg.record(key, sum, acked) }

// Finish implements Ledger.
func (l *Bolt) Finish(ctx context.Context, key, sum string, imported bool) error {
	return l.reg.finish(ctx, key, sum, imported)
}

// Close implements Ledger.
func (l *Bolt) Close() error {
	err := l.reg.close()
	if cerr := l.db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("ledger %s: %w", l.path, cerr)
	}
	return err
}

// Size implements Ledger.
func (l *Bolt) Size() int64 {
	var n int64
	l.db.View(func(tx *bolt.Tx) error {
		n = tx.Size()
		return nil
	})
	return n
}

// Len implements Ledger.
func (l *Bolt) Len() int {
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

// Get implements Ledger.
func (l *Bolt) Get(ctx context.Context, key, sum string) (Entry, bool, error) {
	return l.get(ctx, key, sum)
}

func (l *Bolt) get(_ context.Context, key, sum string) (Entry, bool, error) {
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

// Entries implements Ledger.
func (l *Bolt) Entries(_ context.Context, key string) (map[string]Entry, error) {
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

// put writes the entries in one transaction; bbolt syncs the commit
// before Update returns.
func (l *Bolt) put(_ context.Context, ws []write) error {
	vs := make([][]byte, len(ws))
	for i, w := range ws {
		v, err := json.Marshal(w.e)
		if err != nil {
			return fmt.Errorf("ledger %s: %s: %w", l.path, w.sum, err)
		}
		vs[i] = v
	}
	err := l.db.Update(func(tx *bolt.Tx) error {
		files, err := tx.CreateBucketIfNotExists(filesBucket)
		if err != nil {
			return err
		}
		for i, w := range ws {
			b, err := files.CreateBucketIfNotExists([]byte(w.key))
			if err != nil {
				return err
			}
			if err := b.Put([]byte(w.sum), vs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ledger %s: writing %d entries: %w", l.path, len(ws), err)
	}
	return nil
}

var _ Ledger = (*Bolt)(nil)
