package pipeline

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

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
	if sum.Extra["dedup_window_forgotten"] != 2 || sum.Deduplicated != 2 {
		t.Errorf("run 3: %+v, extra %v: want 2 deduplicated, 2 forgotten", sum.Counts, sum.Extra)
	}
	sent, sum = dedupRun(t, opts(t0.Add(4*time.Hour), 0), &recordingSink{}, []string{a, b, c, d})
	if want := []string{a, b, c, d}; !slices.Equal(sent, want) || sum.Deduplicated != 0 {
		t.Errorf("after the window: sent %v, want %v; %+v", sent, want, sum.Counts)
	}
}
