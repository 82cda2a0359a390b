package pipeline

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/ledger"
)

// TestDedupWindow: what a run delivered is not sent again by a later run
// within the window (it counts as deduplicated, its rows acknowledged),
// and is after it; the memory holds at most MaxRemembered hashes. The
// ledger is a real bbolt one (both ledgers pass the same contract:
// ledger.TestLedgerDelivered); the clock is injected.
func TestDedupWindow(t *testing.T) {
	led, err := ledger.OpenBolt(filepath.Join(t.TempDir(), "ledger.db"), ledger.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	a, b, c, d := "a.example.com", "b.example.com", "c.example.com", "d.example.com"
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	opts := func(at time.Time, max int) Options {
		return Options{DedupWindow: time.Hour, Delivered: led, DedupKey: ledger.Key("feeds", "trustar"),
			Now: func() time.Time { return at }, MaxRemembered: max, DedupAcrossFiles: true}
	}
	sent, sum := dedupRun(t, opts(t0, 0), &recordingSink{}, []string{a, b})
	if !slices.Equal(sent, []string{a, b}) || sum.Deduplicated != 0 {
		t.Fatalf("run 1: sent %v, %+v", sent, sum.Counts)
	}
	sent, sum = dedupRun(t, opts(t0.Add(30*time.Minute), 0), &recordingSink{}, []string{b, c}, []string{a, c, d})
	if want := []string{c, d}; !slices.Equal(sent, want) {
		t.Errorf("run 2, within the window: sent %v, want %v", sent, want)
	}
	if sum.Deduplicated != 2 || sum.RowsDeduplicated != 2 || sum.Delivered != 2 || sum.RowsMerged != 1 {
		t.Errorf("run 2: %+v, want 2 deduplicated rows and indicators", sum.Counts)
	}
	sent, sum = dedupRun(t, opts(t0.Add(90*time.Minute), 2), &recordingSink{}, []string{a, b, c, d})
	if len(sent) != 2 {
		t.Errorf("run 3, the memory bounded to 2 of the 4 delivered: sent %v, want 2 of them", sent)
	}
	// forgotten: 2 not loaded, and the 2 it delivered (no room to record them).
	if sum.Extra["dedup_window_forgotten"] != 4 || sum.Deduplicated != 2 {
		t.Errorf("run 3: %+v, extra %v: want 2 deduplicated, 4 forgotten", sum.Counts, sum.Extra)
	}
	sent, sum = dedupRun(t, opts(t0.Add(4*time.Hour), 0), &recordingSink{}, []string{a, b, c, d})
	if want := []string{a, b, c, d}; !slices.Equal(sent, want) || sum.Deduplicated != 0 {
		t.Errorf("after the window: sent %v, want %v; %+v", sent, want, sum.Counts)
	}
}

// TestDedupWindowRows: a row whose indicators were all delivered within
// the window is a deduplicated row; one with a new indicator is
// delivered (its other indicator still counts as deduplicated).
func TestDedupWindowRows(t *testing.T) {
	led, err := ledger.OpenBolt(filepath.Join(t.TempDir(), "ledger.db"), ledger.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	run := func(text string) ([]string, Summary) {
		t.Helper()
		route := testRoute()
		route.Columns = map[string][]string{formats.FieldValue: {"x", "y"}}
		sink := &recordingSink{}
		p, err := New(Options{Route: route, Sink: sink, DedupWindow: time.Hour, Delivered: led, DedupKey: "k"})
		if err != nil {
			t.Fatal(err)
		}
		in := make(chan Input, 1)
		in <- Input{Path: writeFile(t, "f.csv", text)}
		close(in)
		sum, err := p.Run(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(sink.sent)
		return sink.sent, sum
	}
	run("x,y\na.example.com,b.example.com\n")
	sent, sum := run("x,y\na.example.com,b.example.com\na.example.com,c.example.com\n")
	if !slices.Equal(sent, []string{"c.example.com"}) {
		t.Errorf("sent %v, want c only", sent)
	}
	c := sum.Counts
	if c.RowsDeduplicated != 1 || c.RowsDelivered != 1 || c.Deduplicated != 3 || c.Delivered != 1 || c.Rows != 2 {
		t.Errorf("%+v: want 1 deduplicated row and 1 delivered, 3 deduplicated indicators and 1 delivered", c)
	}
}

// TestDedupWindowStoreBound: the senders record no more delivered
// indicators than the memory holds (MaxRemembered), so the store stays
// within the bound; those beyond are counted.
func TestDedupWindowStoreBound(t *testing.T) {
	led, err := ledger.OpenBolt(filepath.Join(t.TempDir(), "ledger.db"), ledger.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	opts := Options{DedupWindow: time.Hour, Delivered: led, DedupKey: "k", MaxRemembered: 2}
	sent, sum := dedupRun(t, opts, &recordingSink{}, []string{"a.example.com", "b.example.com", "c.example.com", "d.example.com"})
	if len(sent) != 4 || sum.Extra["dedup_window_forgotten"] != 2 {
		t.Errorf("sent %v, extra %v: want all 4 sent, 2 forgotten", sent, sum.Extra)
	}
	n := 0
	if err := led.DeliveredSince(t.Context(), "k", time.Now().Add(-time.Hour), func(int64, uint64) bool { n++; return true }); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("the store holds %d hashes, want the bound, 2", n)
	}
}
