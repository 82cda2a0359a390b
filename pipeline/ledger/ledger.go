package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// A Ledger records which files were imported through a route and which of
// their rows were acknowledged, keyed by content (SHA-256), not by path or
// inode: a file renamed, moved or copied is still recognized. It is what
// makes a restart resume a file without sending an acknowledged row again,
// and a file whose content was imported before a duplicate.
//
// An import goes Begin, Record (any number of times), Finish. Record never
// waits for the disk: the rows are written soon after, together with those
// of other files. Finish waits until everything recorded for the content
// (and, when it is imported, that it is) is durable. Rows recorded but not yet written
// when the process dies are sent again by the next run: delivery is at
// least once, never less.
//
// A Ledger is safe for concurrent use. At most one import of a content
// through a key is in progress at a time: callers do not Begin a content
// that is still being imported.
type Ledger interface {
	// Begin looks up the content c imported through key (see Key) and
	// starts its import. Its Start says Duplicate when the content was
	// imported before with every row delivered (unless reimport), Resume
	// when earlier runs acknowledged some of its rows (Start.Skip passes
	// over them: a content imported before with rows rejected or skipped
	// sends those again), Fresh otherwise. A reimport forgets the earlier import at once, durably,
	// so that a crash cannot leave the content recorded as imported.
	Begin(ctx context.Context, key string, c Content, reimport bool) (Start, error)
	// Record notes rows of the content sum acknowledged by the sink (they
	// join those recorded before) and returns at once. It does nothing
	// for a content that was not begun, or is finished.
	Record(key, sum string, acked ioc.Ranges)
	// Undelivered notes rows of the content sum that this run settled
	// without delivering them (rejected, skipped, or failed) and returns
	// at once. Content imported with such rows is not a Duplicate when it
	// comes again: those rows are sent again, the acknowledged ones never.
	// It does nothing for a content that was not begun, or is finished.
	Undelivered(key, sum string, rows ioc.Ranges)
	// Finish ends the import of the content sum: it waits until every row
	// recorded for it is durable and, with imported, records that the
	// content is imported (from then on it is a Duplicate); then the
	// ledger forgets the import, which a later Begin resumes. It returns
	// early with ctx's error.
	Finish(ctx context.Context, key, sum string, imported bool) error
	// Get returns the durable entry of the content sum for key, if any.
	Get(ctx context.Context, key, sum string) (Entry, bool, error)
	// Entries returns every durable entry of key, by content sum.
	Entries(ctx context.Context, key string) (map[string]Entry, error)
	// Len returns the number of entries, over all keys (for metrics).
	Len() int
	// Size returns the size of the ledger's data in bytes (for metrics).
	Size() int64
	// Close writes what was recorded and not yet written, then closes the
	// ledger. Begin, Record and Finish after Close do nothing or fail with
	// ErrClosed.
	Close() error
}

// An Entry is what the ledger knows of one file's content for one key.
// Its JSON is what is stored.
type Entry struct {
	// Name is the file's name when it was last imported.
	Name string `json:"name"`
	// Size is the file's size in bytes.
	Size int64 `json:"size"`
	// Acked are the data rows acknowledged by the sink, as ranges
	// [from, to). Rows that were rejected are not in it, so that a
	// resumed import reads and reports them again.
	Acked ioc.Ranges `json:"acked,omitempty"`
	// Done says every row was delivered or rejected: the content is
	// imported.
	Done bool `json:"done,omitempty"`
	// Partial says some rows were not delivered (rejected, skipped or
	// failed, see Ledger.Undelivered) in the import: a Done content is a
	// Duplicate only without it.
	Partial bool `json:"partial,omitempty"`
	// Imported is when Done was set.
	Imported time.Time `json:"imported,omitzero"`
	// Updated is the time of the last write.
	Updated time.Time `json:"updated"`
}

// Content names a file's content for Begin.
type Content struct {
	// Sum is the hex SHA-256 of the content (see Sum).
	Sum string
	// Name is the file's name, kept in the entry.
	Name string
	// Size is the content's size in bytes.
	Size int64
}

// Status is what Begin found of a content.
type Status int

// The statuses of a content at Begin.
const (
	// Fresh: no row of the content was acknowledged before (or it is
	// imported again): every row is sent.
	Fresh Status = iota
	// Resume: earlier runs acknowledged some rows, which are not sent
	// again.
	Resume
	// Duplicate: the content was imported before, every row delivered;
	// nothing is sent, and nothing was begun.
	Duplicate
)

// A Start is Begin's answer.
type Start struct {
	Status Status
	// Entry is the ledger's entry of the content: for a Duplicate the
	// earlier import (Name, Imported), for a Resume the rows acknowledged
	// before (Acked). It is zero for a content never seen.
	Entry Entry
}

// Skip reports whether row was acknowledged by an earlier run: it is the
// pipeline.Input's Skip.
func (s Start) Skip(row int) bool { return s.Entry.Acked.Contains(row) }

// Resumed returns the rows acknowledged by earlier runs.
func (s Start) Resumed() ioc.Ranges { return s.Entry.Acked }

// ErrClosed is returned by Begin and Finish after Close.
var ErrClosed = errors.New("ledger: closed")

// Key names a route and its sink in the ledger: the same content imported
// through another route, or to another sink, is another import.
func Key(route, sink string) string { return route + "/" + sink }

// Sum returns the hex SHA-256 of the file at path and its size.
func Sum(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	return SumFile(f)
}

// SumFile returns the hex SHA-256 of what is left to read of f and its
// size.
func SumFile(f *os.File) (string, int64, error) {
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
