package ledger

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Delivered indicators (dedup_window). Both ledgers keep the 64-bit hashes
// of the indicators delivered through a route key grouped by the hour
// they were delivered in, so that expiry drops whole hours: in bbolt a
// top-level bucket "delivered" with a bucket per key holding a bucket per
// hour (8-byte big-endian Unix hour) whose keys are the hashes; in
// PostgreSQL the table iocpipe_delivered (route_key, hour, hash). A
// window therefore reaches back to the start of the hour it begins in:
// up to an hour more than asked, never less.

var deliveredBucket = []byte("delivered")

// Hour is the Unix hour t falls in, the bucket of a delivery at t.
func Hour(t time.Time) int64 { return t.Unix() / 3600 }

// errStop ends a walk when its callback says so.
var errStop = errors.New("stop")

// DeliveredSince calls fn with each hash delivered through key in the
// hour of since or later, until fn returns false.
func (l *Bolt) DeliveredSince(_ context.Context, key string, since time.Time, fn func(hour int64, h uint64) bool) error {
	from := hourKey(Hour(since))
	err := l.db.View(func(tx *bolt.Tx) error {
		b := deliveredRoute(tx, key)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(from); k != nil; k, v = c.Next() {
			if v != nil {
				continue
			}
			hour := int64(binary.BigEndian.Uint64(k))
			err := b.Bucket(k).ForEach(func(h, _ []byte) error {
				if len(h) == 8 && !fn(hour, binary.BigEndian.Uint64(h)) {
					return errStop
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return fmt.Errorf("ledger %s: reading delivered indicators of %s: %w", l.path, key, err)
	}
	return nil
}

// RecordDelivered stores the hashes delivered through key at at, and
// drops the hours before the hour of expire, in one transaction.
func (l *Bolt) RecordDelivered(_ context.Context, key string, at time.Time, hashes []uint64, expire time.Time) error {
	err := l.db.Update(func(tx *bolt.Tx) error {
		top, err := tx.CreateBucketIfNotExists(deliveredBucket)
		if err != nil {
			return err
		}
		route, err := top.CreateBucketIfNotExists([]byte(key))
		if err != nil {
			return err
		}
		if err := dropHours(route, Hour(expire)); err != nil {
			return err
		}
		hb, err := route.CreateBucketIfNotExists(hourKey(Hour(at)))
		if err != nil {
			return err
		}
		hb.FillPercent = 0.9 // hashes come in no order; most pages stay full
		var k [8]byte
		for _, h := range hashes {
			binary.BigEndian.PutUint64(k[:], h)
			if err := hb.Put(k[:], nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ledger %s: recording %d delivered indicators of %s: %w", l.path, len(hashes), key, err)
	}
	return nil
}

// dropHours deletes the hour buckets of route before hour.
func dropHours(route *bolt.Bucket, hour int64) error {
	var old [][]byte
	c := route.Cursor()
	limit := hourKey(hour)
	for k, _ := c.First(); k != nil && string(k) < string(limit); k, _ = c.Next() {
		old = append(old, append([]byte(nil), k...))
	}
	for _, k := range old {
		if err := route.DeleteBucket(k); err != nil {
			return err
		}
	}
	return nil
}

func deliveredRoute(tx *bolt.Tx, key string) *bolt.Bucket {
	top := tx.Bucket(deliveredBucket)
	if top == nil {
		return nil
	}
	return top.Bucket([]byte(key))
}

// hourKey is the bbolt key of an hour: big-endian, so that hours sort.
// Hours before 1970 do not occur (the clock is the machine's).
func hourKey(hour int64) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(max(hour, 0)))
}

// DeliveredSince calls fn with each hash delivered through key in the
// hour of since or later, until fn returns false.
func (l *Postgres) DeliveredSince(ctx context.Context, key string, since time.Time, fn func(hour int64, h uint64) bool) error {
	rows, err := l.pool.Query(ctx, "SELECT hour, hash FROM iocpipe_delivered WHERE route_key = $1 AND hour >= $2", key, Hour(since))
	if err != nil {
		return fmt.Errorf("ledger %s: reading delivered indicators of %s: %w", l.name, key, err)
	}
	defer rows.Close()
	for rows.Next() {
		var hour, h int64
		if err := rows.Scan(&hour, &h); err != nil {
			return fmt.Errorf("ledger %s: reading delivered indicators of %s: %w", l.name, key, err)
		}
		if !fn(hour, uint64(h)) {
			return nil
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("ledger %s: reading delivered indicators of %s: %w", l.name, key, err)
	}
	return nil
}

// RecordDelivered stores the hashes delivered through key at at, and
// drops the hours before the hour of expire, in one transaction.
func (l *Postgres) RecordDelivered(ctx context.Context, key string, at time.Time, hashes []uint64, expire time.Time) error {
	hs := make([]int64, len(hashes))
	for i, h := range hashes {
		hs[i] = int64(h)
	}
	tx, err := l.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("ledger %s: recording delivered indicators of %s: %w", l.name, key, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit, a no-op
	if _, err := tx.Exec(ctx, "DELETE FROM iocpipe_delivered WHERE route_key = $1 AND hour < $2", key, Hour(expire)); err != nil {
		return fmt.Errorf("ledger %s: expiring delivered indicators of %s: %w", l.name, key, err)
	}
	const insert = `INSERT INTO iocpipe_delivered (route_key, hour, hash)
		SELECT $1, $2, h FROM unnest($3::bigint[]) AS h ON CONFLICT DO NOTHING`
	if _, err := tx.Exec(ctx, insert, key, Hour(at), hs); err != nil {
		return fmt.Errorf("ledger %s: recording %d delivered indicators of %s: %w", l.name, len(hashes), key, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("ledger %s: recording delivered indicators of %s: %w", l.name, key, err)
	}
	return nil
}
