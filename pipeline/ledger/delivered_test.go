package ledger

import (
	"context"
	"slices"
	"testing"
	"time"
)

// deliveredStore is what the pipeline's dedup_window uses of a ledger.
type deliveredStore interface {
	DeliveredSince(ctx context.Context, key string, since time.Time, fn func(hour int64, h uint64) bool) error
	RecordDelivered(ctx context.Context, key string, at time.Time, hashes []uint64, expire time.Time) error
}

// since returns the hashes delivered through key since t, sorted.
func since(t *testing.T, d deliveredStore, key string, at time.Time) []uint64 {
	t.Helper()
	var hs []uint64
	err := d.DeliveredSince(t.Context(), key, at, func(_ int64, h uint64) bool {
		hs = append(hs, h)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(hs)
	return hs
}

func TestLedgerDelivered(t *testing.T) {
	contract(t, func(t *testing.T, open func(t *testing.T) Ledger) {
		l := open(t)
		d := l.(deliveredStore)
		t0 := time.Date(2026, 12, 1, 10, 30, 0, 0, time.UTC)
		key, other := Key("feeds", "trustar"), Key("other", "trustar")
		// hashes above 2^63 survive PostgreSQL's bigint.
		if err := d.RecordDelivered(t.Context(), key, t0, []uint64{1, 1 << 63, 3}, t0.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := d.RecordDelivered(t.Context(), other, t0, []uint64{9}, t0.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := d.RecordDelivered(t.Context(), key, t0.Add(time.Hour), []uint64{3, 4}, t0); err != nil {
			t.Fatal(err)
		}
		if got, want := since(t, d, key, t0.Add(-time.Hour)), []uint64{1, 3, 3, 4, 1 << 63}; !slices.Equal(got, want) {
			t.Fatalf("within the window: %v, want %v", got, want)
		}
		if got, want := since(t, d, key, t0.Add(time.Hour)), []uint64{3, 4}; !slices.Equal(got, want) {
			t.Fatalf("since the next hour: %v, want %v", got, want)
		}
		l = reopenLedger(t, l, open)
		d = l.(deliveredStore)
		// A write two hours on expires the first hour, of its key only.
		if err := d.RecordDelivered(t.Context(), key, t0.Add(2*time.Hour), []uint64{5}, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got, want := since(t, d, key, time.Unix(0, 0)), []uint64{3, 4, 5}; !slices.Equal(got, want) {
			t.Fatalf("after expiry: %v, want %v (the first hour dropped)", got, want)
		}
		if got := since(t, d, other, time.Unix(0, 0)); !slices.Equal(got, []uint64{9}) {
			t.Fatalf("another key: %v, want [9]", got)
		}
		n := 0
		if err := d.DeliveredSince(t.Context(), key, time.Unix(0, 0), func(int64, uint64) bool { n++; return n < 2 }); err != nil || n != 2 {
			t.Fatalf("a walk stopped after 2: %d calls, %v", n, err)
		}
	})
}
