package pipeline

import (
	"context"
	"os"
	"testing"
)

// TestProgressCountsTheRun checks that a finished run's progress agrees
// with its summary: every row read, resumed or batched, every batched
// indicator answered, the delivered ones counted as delivered.
func TestProgressCountsTheRun(t *testing.T) {
	path := writeFile(t, "p.csv", "value\n1.2.3.4\nevil.example.com\n1.2.3.4\nnot an indicator\nrefused.example.com\n")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		skip func(int) bool
		want Progress
	}{
		{"all read", nil, Progress{Bytes: fi.Size(), Rows: 5, Batched: 5, Indicators: 3, Answered: 3, Delivered: 2}},
		// The first row was delivered before: its duplicate is not merged.
		{"resumed", func(r int) bool { return r == 0 }, Progress{Bytes: fi.Size(), Rows: 5, Resumed: 1, Batched: 4, Indicators: 3, Answered: 3, Delivered: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(Options{Route: testRoute(), Sink: refusingSink{refuse: map[string]bool{"refused.example.com": true}}, Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Progress(); got != (Progress{}) {
				t.Fatalf("before Run: got %+v, want zero", got)
			}
			in := make(chan Input, 1)
			in <- Input{Path: path, Name: "p.csv", Skip: tt.skip}
			close(in)
			sum, err := p.Run(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			got := p.Progress()
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if got.Batched != sum.Rows-sum.RowsResumed || got.Rows != sum.Rows || got.Delivered != sum.Delivered || got.Resumed != sum.RowsResumed {
				t.Errorf("progress %+v disagrees with the summary %+v", got, sum.Counts)
			}
		})
	}
}
