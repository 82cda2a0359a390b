package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	bolt "go.etcd.io/bbolt"
)

// Cursors of polled sources (a route's taxii:). Both ledgers keep, per
// route key (see Key) and collection, the cursor where the next poll
// starts, as opaque JSON the source defines (package taxii's Cursor): in
// bbolt a top-level bucket "cursors" with a bucket per key whose keys are
// the collections, each value the JSON of a storedCursor; in PostgreSQL
// the table iocpipe_taxii_cursors (route_key, collection, cursor,
// updated_at). A PutCursor is durable when it returns (a bbolt commit,
// fsynced; a PostgreSQL statement, committed), so the caller writes a
// cursor only once everything before it was acknowledged.

var cursorsBucket = []byte("cursors")

// storedCursor is the bbolt value of a cursor.
type storedCursor struct {
	Cursor  json.RawMessage `json:"cursor"`
	Updated time.Time       `json:"updated"`
}

// Cursor returns the cursor stored for key and collection, and whether
// there is one.
func (l *Bolt) Cursor(_ context.Context, key, collection string) ([]byte, bool, error) {
	var out []byte
	err := l.db.View(func(tx *bolt.Tx) error {
		top := tx.Bucket(cursorsBucket)
		if top == nil {
			return nil
		}
		b := top.Bucket([]byte(key))
		if b == nil {
			return nil
		}
		v := b.Get([]byte(collection))
		if v == nil {
			return nil
		}
		var sc storedCursor
		if err := json.Unmarshal(v, &sc); err != nil {
			return err
		}
		out = append([]byte(nil), sc.Cursor...)
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("ledger %s: reading the cursor of %s, collection %s: %w", l.path, key, collection, err)
	}
	return out, out != nil, nil
}

// PutCursor stores cursor (JSON) for key and collection, durably, in
// place of the one stored before.
func (l *Bolt) PutCursor(_ context.Context, key, collection string, cursor []byte) error {
	if !json.Valid(cursor) {
		return fmt.Errorf("ledger %s: the cursor of %s, collection %s, is not JSON", l.path, key, collection)
	}
	v, err := json.Marshal(storedCursor{Cursor: cursor, Updated: time.Now().UTC()})
	if err == nil {
		err = l.db.Update(func(tx *bolt.Tx) error {
			top, err := tx.CreateBucketIfNotExists(cursorsBucket)
			if err != nil {
				return err
			}
			b, err := top.CreateBucketIfNotExists([]byte(key))
			if err != nil {
				return err
			}
			return b.Put([]byte(collection), v)
		})
	}
	if err != nil {
		return fmt.Errorf("ledger %s: writing the cursor of %s, collection %s: %w", l.path, key, collection, err)
	}
	return nil
}

// Cursor returns the cursor stored for key and collection, and whether
// there is one.
func (l *Postgres) Cursor(ctx context.Context, key, collection string) ([]byte, bool, error) {
	var raw []byte
	err := l.pool.QueryRow(ctx, "SELECT cursor FROM iocpipe_taxii_cursors WHERE route_key = $1 AND collection = $2", key, collection).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("ledger %s: reading the cursor of %s, collection %s: %w", l.name, key, collection, err)
	}
	return raw, true, nil
}

// upsertCursor writes one cursor, in place of the one stored before.
const upsertCursor = `INSERT INTO iocpipe_taxii_cursors (route_key, collection, cursor, updated_at)
VALUES ($1, $2, $3::jsonb, now())
ON CONFLICT (route_key, collection) DO UPDATE
SET cursor = EXCLUDED.cursor, updated_at = EXCLUDED.updated_at`

// PutCursor stores cursor (JSON) for key and collection, durably, in
// place of the one stored before.
func (l *Postgres) PutCursor(ctx context.Context, key, collection string, cursor []byte) error {
	if !json.Valid(cursor) {
		return fmt.Errorf("ledger %s: the cursor of %s, collection %s, is not JSON", l.name, key, collection)
	}
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	if _, err := l.pool.Exec(ctx, upsertCursor, key, collection, string(cursor)); err != nil {
		return fmt.Errorf("ledger %s: writing the cursor of %s, collection %s: %w", l.name, key, collection, err)
	}
	return nil
}
