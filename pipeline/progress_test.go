package pipeline

import (
	"context"
	"os"
	"testing"
)

// TestProgressCountsTheRun checks that a finished run's progress agrees
// with its summary: every row read, every batched indicator answered,
// the delivered ones counted as delivered.
func TestProgressCountsTheRun(t *testing.T) {
	path := writeFile(t, "p.csv", "value\n1.2.3.4\nevil.example.com\n1.2.3.4\nnot an indicator\nrefused.example.com\n")
	p, err := New(Options{Route: testRoute(), Sink: refusingSink{refuse: map[string]bool{"refused.example.com": true}}, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Progress(); got != (Progress{}) {
		t.Fatalf("before Run: got %+v, want zero", got)
	}
	in := make(chan Input, 1)
	in <- Input{Path: path, Name: "p.csv"}
	close(in)
	sum, err := p.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Progress{Bytes: fi.Size(), Rows: 5, Indicators: 3, Answered: 3, Delivered: 2}
	if got := p.Progress(); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if sum.Rows != 5 || sum.Delivered != 2 || sum.Merged != 1 {
		t.Errorf("summary %+v: want 5 rows, 2 delivered, 1 merged", sum.Counts)
	}
}
