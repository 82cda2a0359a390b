package pipeline

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// recordingSink records every value it is sent, failing those in fail.
type recordingSink struct {
	mu   sync.Mutex
	sent []string
	fail map[string]bool
}

func (s *recordingSink) Send(_ context.Context, b *ioc.Batch) (ioc.Result, error) {
	res := ioc.Result{Requests: 1}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, in := range b.Items {
		s.sent = append(s.sent, in.Value)
		if s.fail[in.Value] {
			res.Failed = append(res.Failed, ioc.ItemReject{Index: i, Reason: "503 service unavailable", Status: 503})
		}
	}
	return res, nil
}

// dedupRun imports the files (each a list of values) and returns what
// was sent, sorted, and the summary; every row must end in one outcome.
func dedupRun(t *testing.T, opts Options, sink *recordingSink, files ...[]string) ([]string, Summary) {
	t.Helper()
	opts.Route, opts.Sink, opts.Workers = testRoute(), sink, 2
	if opts.MaxBatch == 0 {
		opts.MaxBatch = 2 // duplicates fall into other batches
	}
	opts.Linger = time.Hour
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	in := make(chan Input, len(files))
	for i, values := range files {
		text := "value\n"
		for _, v := range values {
			text += v + "\n"
		}
		in <- Input{Path: writeFile(t, fmt.Sprintf("f%d.csv", i), text)}
	}
	close(in)
	sum, err := p.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if n := sum.RowsDelivered + sum.RowsMerged + sum.RowsRejected + sum.RowsSkipped + sum.RowsFailed + sum.RowsResumed + sum.RowsDeduplicated; n != sum.Rows {
		t.Errorf("rows: %d read, %d in outcomes: %+v", sum.Rows, n, sum.Counts)
	}
	if n := sum.Delivered + sum.Merged + sum.Rejected + sum.Failed + sum.Deduplicated; n != sum.Indicators {
		t.Errorf("indicators: %d found, %d in outcomes: %+v", sum.Indicators, n, sum.Counts)
	}
	slices.Sort(sink.sent)
	return sink.sent, sum
}

// TestDuplicatesAcrossBatches: a duplicate is not sent again when it falls
// into another batch of the same file, whether the earlier one is still in
// flight or delivered; the other file's duplicate is, unless the run
// finds duplicates across files.
func TestDuplicatesAcrossBatches(t *testing.T) {
	a, b, c, d := "a.example.com", "b.example.com", "c.example.com", "d.example.com"
	sent, sum := dedupRun(t, Options{InFlight: 1}, &recordingSink{}, []string{a, b, a, c, a, d, b})
	if want := []string{a, b, c, d}; !slices.Equal(sent, want) {
		t.Errorf("one file: sent %v, want %v", sent, want)
	}
	if sum.RowsDelivered != 4 || sum.RowsMerged != 3 || sum.Merged != 3 || sum.Delivered != 4 {
		t.Errorf("one file: %+v", sum.Counts)
	}

	sent, _ = dedupRun(t, Options{}, &recordingSink{}, []string{a, b}, []string{b, c})
	if want := []string{a, b, b, c}; !slices.Equal(sent, want) {
		t.Errorf("two files, each its own scope: sent %v, want %v", sent, want)
	}
	sent, sum = dedupRun(t, Options{DedupAcrossFiles: true}, &recordingSink{}, []string{a, b}, []string{b, c}, []string{a, b, c})
	if want := []string{a, b, c}; !slices.Equal(sent, want) {
		t.Errorf("across files: sent %v, want %v", sent, want)
	}
	if sum.Rows != 7 || sum.RowsDelivered != 3 || sum.RowsMerged != 4 {
		t.Errorf("across files: %+v", sum.Counts)
	}
}

// TestDuplicateOfAFailure: a duplicate of an indicator that could not be
// delivered is not counted as delivered: riding on it, its row fails with
// it; coming after, it is sent itself.
func TestDuplicateOfAFailure(t *testing.T) {
	a, b := "a.example.com", "b.example.com"
	sink := &recordingSink{fail: map[string]bool{b: true}}
	sent, sum := dedupRun(t, Options{DedupAcrossFiles: true, InFlight: 1}, sink, []string{b, a}, []string{a, b})
	if n := len(slices.DeleteFunc(slices.Clone(sent), func(v string) bool { return v != a })); n != 1 {
		t.Errorf("a sent %d times, want once: %v", n, sent)
	}
	if sum.RowsFailed != 2 || sum.RowsDelivered+sum.RowsMerged != 2 {
		t.Errorf("%+v", sum.Counts)
	}
}

// TestRememberedBound: beyond MaxRemembered indicators a duplicate may be
// sent again, and the indicators not remembered are counted.
func TestRememberedBound(t *testing.T) {
	a, b := "a.example.com", "b.example.com"
	sent, sum := dedupRun(t, Options{MaxRemembered: 1}, &recordingSink{}, []string{a, b, a, b})
	if want := []string{a, b, b}; !slices.Equal(sent, want) {
		t.Errorf("sent %v, want %v", sent, want)
	}
	if sum.Extra["not_deduplicated"] != 2 {
		t.Errorf("not_deduplicated %d, want 2: %v", sum.Extra["not_deduplicated"], sum.Extra)
	}
}
