package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// verdictSink refuses the values in refuse (as a 400 would) and fails
// those in fail (not delivered); it delivers the others.
type verdictSink struct{ refuse, fail map[string]bool }

func (s verdictSink) Send(_ context.Context, b *ioc.Batch) (ioc.Result, error) {
	res := ioc.Result{Requests: 1}
	for i, in := range b.Items {
		switch {
		case s.refuse[in.Value]:
			res.Rejects = append(res.Rejects, ioc.ItemReject{Index: i, Reason: "refused", Status: 400})
		case s.fail[in.Value]:
			res.Failed = append(res.Failed, ioc.ItemReject{Index: i, Reason: "503 service unavailable", Status: 503})
		}
	}
	return res, nil
}

// TestFileReports: a file's reports say which rows were acknowledged,
// rejected and failed (never inferred from a reason), carry every reject
// in order, end with one final report carrying the result, and are made
// outside the tracker's lock (the callback may call back into the
// pipeline).
func TestFileReports(t *testing.T) {
	const enclave = "11111111-2222-4333-8444-555555555555"
	path := filepath.Join(t.TempDir(), "f.csv")
	// Rows: 0 ok, 1 no value (rejected), 2 refused by the sink, 3 ok,
	// 4 failed, 5 ok, 6 ok.
	data := "value\na.example.com\n\"\"\nrefused.example.com\nb.example.com\nfailed.example.com\nc.example.com\nd.example.com\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	var p *Pipeline
	var reports []FileReport
	report := func(r FileReport) {
		_ = p.Summary() // would deadlock under the tracker's lock
		reports = append(reports, r)
	}
	var err error
	p, err = New(Options{
		Route: &Route{Name: "t", Sink: "mem", Enclaves: []string{enclave}},
		Sink: verdictSink{
			refuse: map[string]bool{"refused.example.com": true},
			fail:   map[string]bool{"failed.example.com": true},
		},
		KeepRejects: true, MaxBatch: 2, InFlight: 3, Workers: 2, Linger: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	in := make(chan Input, 1)
	in <- Input{Path: path, Name: "f.csv", Report: report}
	close(in)
	if _, err := p.Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}

	var acked, rejected, failed ioc.Ranges
	var rejects []ioc.Reject
	finals := 0
	for i, r := range reports {
		if r.File != "f.csv" {
			t.Errorf("report %d names %q, want f.csv", i, r.File)
		}
		acked, rejected, failed = acked.Union(r.Acked), rejected.Union(r.Rejected), failed.Union(r.Failed)
		rejects = append(rejects, r.Rejects...)
		if r.Final {
			finals++
			if i != len(reports)-1 {
				t.Errorf("final report %d of %d is not the last", i, len(reports))
			}
		}
	}
	if finals != 1 {
		t.Fatalf("%d final reports, want 1", finals)
	}
	for _, c := range []struct {
		name string
		got  ioc.Ranges
		want string
	}{{"acked", acked, "[[0 1] [3 4] [5 7]]"}, {"rejected", rejected, "[[1 3]]"}, {"failed", failed, "[[4 5]]"}} {
		if got := fmt.Sprint(c.got); got != c.want {
			t.Errorf("%s rows %s, want %s", c.name, got, c.want)
		}
	}
	res := reports[len(reports)-1].Result
	// Each row in one outcome: 4 delivered, 2 rejected (1 without a
	// value, 1 refused), 1 failed; each indicator likewise.
	if res.Rows != 7 || res.RowsDelivered != 4 || res.RowsRejected != 2 || res.RowsFailed != 1 || res.RowsMerged != 0 ||
		res.Indicators != 6 || res.Delivered != 4 || res.Rejected != 1 || res.Failed != 1 {
		t.Errorf("result %+v", res.Counts)
	}
	if fmt.Sprint(res.Acked) != fmt.Sprint(acked) {
		t.Errorf("result acked %v, reports acked %v", res.Acked, acked)
	}
	var reasons []string
	for _, r := range rejects {
		reasons = append(reasons, fmt.Sprintf("%d:%s", r.Row, r.Reason))
	}
	var kept []string
	for _, r := range res.Rejects {
		kept = append(kept, fmt.Sprintf("%d:%s", r.Row, r.Reason))
	}
	if !slices.Equal(reasons, kept) {
		t.Errorf("rejects in reports %q, kept %q: want the same, in the same order", reasons, kept)
	}
	sorted := slices.Sorted(slices.Values(reasons))
	if len(sorted) != 3 || !strings.HasPrefix(sorted[0], "1:") || sorted[1] != "2:refused" || !strings.HasPrefix(sorted[2], "4:not delivered") {
		t.Errorf("rejects %q: want rows 1 (no value), 2 (refused) and 4 (not delivered)", reasons)
	}
}
