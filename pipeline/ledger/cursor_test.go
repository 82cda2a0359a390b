package ledger

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
)

// cursorStore is what a polled source needs of a ledger.
type cursorStore interface {
	Cursor(ctx context.Context, key, collection string) ([]byte, bool, error)
	PutCursor(ctx context.Context, key, collection string, cursor []byte) error
}

var (
	_ cursorStore = (*Bolt)(nil)
	_ cursorStore = (*Postgres)(nil)
)

// sameJSON reports whether a and b are the same JSON value (PostgreSQL's
// jsonb does not keep the spacing or the order of keys).
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

// TestLedgerCursor stores cursors per route key and collection, replaces
// them, keeps them apart, keeps them across a reopen, and refuses what is
// not JSON.
func TestLedgerCursor(t *testing.T) {
	contract(t, func(t *testing.T, open func(t *testing.T) Ledger) {
		ctx := context.Background()
		l := open(t)
		cs := l.(cursorStore)
		key, other := Key("intel", "trustar"), Key("intel", "misp")
		const col = "9f2c6d3e-1b7a-4c55-8e0d-3a61f2b4c7d8"
		if _, ok, err := cs.Cursor(ctx, key, col); err != nil || ok {
			t.Fatalf("a new ledger: Cursor = ok %v, err %v; want none", ok, err)
		}
		first := []byte(`{"added_after":"2026-01-05T09:00:39.123456Z"}`)
		second := []byte(`{"added_after":"2026-01-05T09:01:00.000001Z","seen":[{"id":"indicator--1","version":"2026-01-01T00:00:00Z"}]}`)
		for _, c := range [][]byte{first, second} {
			if err := cs.PutCursor(ctx, key, col, c); err != nil {
				t.Fatal(err)
			}
		}
		if err := cs.PutCursor(ctx, other, col, first); err != nil {
			t.Fatal(err)
		}
		if err := cs.PutCursor(ctx, key, "scratch", first); err != nil {
			t.Fatal(err)
		}
		if err := cs.PutCursor(ctx, key, col, []byte(`{"added_after":`)); err == nil {
			t.Error("PutCursor took what is not JSON")
		}
		l = reopenLedger(t, l, open)
		cs = l.(cursorStore)
		for _, want := range []struct {
			key, col string
			cursor   []byte
		}{{key, col, second}, {other, col, first}, {key, "scratch", first}} {
			got, ok, err := cs.Cursor(ctx, want.key, want.col)
			if err != nil || !ok {
				t.Fatalf("Cursor(%s, %s) after a reopen: ok %v, err %v", want.key, want.col, ok, err)
			}
			if !sameJSON(t, got, want.cursor) {
				t.Errorf("Cursor(%s, %s) = %s, want %s", want.key, want.col, got, want.cursor)
			}
		}
		if _, ok, _ := cs.Cursor(ctx, other, "scratch"); ok {
			t.Error("a cursor of another key and collection")
		}
		if l.Len() != 0 {
			t.Errorf("Len = %d: cursors are no entries", l.Len())
		}
	})
}
