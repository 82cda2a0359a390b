package pipeline

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"golang.org/x/sync/errgroup"
)

func TestMerge(t *testing.T) {
	tag := func(names ...string) []ioc.Tag {
		var out []ioc.Tag
		for _, n := range names {
			out = append(out, ioc.Tag{Name: n, Enclave: "e"})
		}
		return out
	}
	tests := []struct {
		name string
		a, b ioc.Indicator
		want ioc.Indicator
	}{
		{
			name: "sightings summed, widest times",
			a:    ioc.Indicator{FirstSeen: 200, LastSeen: 300, Sightings: 2},
			b:    ioc.Indicator{FirstSeen: 100, LastSeen: 250, Sightings: 3},
			want: ioc.Indicator{FirstSeen: 100, LastSeen: 300, Sightings: 5},
		},
		{
			name: "unknown times do not win",
			a:    ioc.Indicator{FirstSeen: 0, LastSeen: 0},
			b:    ioc.Indicator{FirstSeen: 100, LastSeen: 200},
			want: ioc.Indicator{FirstSeen: 100, LastSeen: 200},
		},
		{
			name: "row tags replace route tags",
			a:    ioc.Indicator{TagLevel: ioc.LevelRoute},
			b:    ioc.Indicator{TagLevel: ioc.LevelRow, Tags: tag("x")},
			want: ioc.Indicator{TagLevel: ioc.LevelRow, Tags: tag("x")},
		},
		{
			name: "row tags of both are united",
			a:    ioc.Indicator{TagLevel: ioc.LevelRow, Tags: tag("a", "b")},
			b:    ioc.Indicator{TagLevel: ioc.LevelRow, Tags: tag("b", "c")},
			want: ioc.Indicator{TagLevel: ioc.LevelRow, Tags: tag("a", "b", "c")},
		},
		{
			name: "a lower level does not touch row tags",
			a:    ioc.Indicator{TagLevel: ioc.LevelRow, Tags: tag("a")},
			b:    ioc.Indicator{TagLevel: ioc.LevelFile},
			want: ioc.Indicator{TagLevel: ioc.LevelRow, Tags: tag("a")},
		},
		{
			name: "notes joined, source kept",
			a:    ioc.Indicator{Source: "s1", Notes: "n1"},
			b:    ioc.Indicator{Source: "s2", Notes: "n2"},
			want: ioc.Indicator{Source: "s1", Notes: "n1; n2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, d := tt.a, tt.b
			a.Value, d.Value, a.Type, d.Type = "x", "x", ioc.Domain, ioc.Domain
			merge(&a, &d)
			got := &a
			if got.FirstSeen != tt.want.FirstSeen || got.LastSeen != tt.want.LastSeen ||
				got.Sightings != tt.want.Sightings || got.TagLevel != tt.want.TagLevel || !slices.Equal(got.Tags, tt.want.Tags) ||
				got.Notes != tt.want.Notes || got.Source != tt.want.Source || got.Merged != 1 {
				t.Errorf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestOrderedKeepsOrder(t *testing.T) {
	g, ctx := errgroup.WithContext(context.Background())
	in := make(chan *chunk)
	var mu sync.Mutex
	workers := map[int]bool{}
	out := ordered(ctx, g, in, 4, func() func(*chunk) {
		return func(c *chunk) {
			// Uneven work: later chunks often finish first.
			time.Sleep(time.Duration(c.bytes%3) * time.Millisecond)
			mu.Lock()
			workers[int(c.bytes)%4] = true
			mu.Unlock()
		}
	})
	go func() {
		for i := range 200 {
			in <- &chunk{bytes: int64(i)}
		}
		close(in)
	}()
	n := int64(0)
	for c := range out {
		if c.bytes != n {
			t.Fatalf("chunk %d came out at position %d", c.bytes, n)
		}
		n++
	}
	if err := g.Wait(); err != nil || n != 200 {
		t.Fatalf("got %d chunks, %v", n, err)
	}
}

// TestSubmissionKeys checks that file tags and row enclaves make
// submissions of their own, and that tags bind to the right enclave.
func TestSubmissionKeys(t *testing.T) {
	r := testRoute()
	r.EnclaveNames["Other"] = "9f0c1a52-3b7e-4c1d-8e2f-5a6b7c8d9e01"
	f := &fileState{route: r}
	f.setFileLevel([]formats.Tag{{Name: "File Tag"}}, true, nil)
	if f.subs.baseErr != nil {
		t.Fatal(f.subs.baseErr)
	}
	base := f.subs.base
	if base.TagLevel != ioc.LevelFile || fmt.Sprint(base.Tags) != "[{file-tag "+testEnclave+"}]" {
		t.Errorf("base submission %+v", base)
	}
	other, err := f.subs.get([]string{"9f0c1a52-3b7e-4c1d-8e2f-5a6b7c8d9e01"})
	if err != nil || other.Key == base.Key || other.Tags[0].Enclave != "9f0c1a52-3b7e-4c1d-8e2f-5a6b7c8d9e01" {
		t.Errorf("row-enclave submission %+v, %v", other, err)
	}
	// A tag bound to an enclave outside the submission is an error.
	g := &fileState{route: r}
	g.setFileLevel([]formats.Tag{{Name: "x", Enclave: "Other"}}, true, nil)
	if g.subs.baseErr == nil {
		t.Error("a file tag in a foreign enclave was accepted")
	}
}

// slowSink answers after a pause, so that files finish reading long
// before their batch is acknowledged.
type slowSink struct{}

func (slowSink) Send(ctx context.Context, b *ioc.Batch) (ioc.Result, error) {
	time.Sleep(50 * time.Millisecond)
	return ioc.Result{Requests: 1}, nil
}

// TestDoneWaitsForOpenBatches: a file whose rows are still in an open
// batch when its reading ends is not done until that batch is
// acknowledged (watch mode moves it to done/ and marks it imported then).
func TestDoneWaitsForOpenBatches(t *testing.T) {
	p, err := New(Options{Route: testRoute(), Sink: slowSink{}, Linger: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var results []FileResult
	in := make(chan Input, 3)
	for i := range 3 {
		in <- Input{Path: writeFile(t, fmt.Sprintf("f%d.csv", i), fmt.Sprintf("value\nf%d-a.example.com\nf%d-b.example.com\n", i, i)),
			Report: func(r FileReport) {
				if r.Final {
					mu.Lock()
					results = append(results, r.Result)
					mu.Unlock()
				}
			}}
	}
	close(in)
	if _, err := p.Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if len(results) != 3 {
		t.Fatalf("%d files done, want 3", len(results))
	}
	for _, r := range results {
		if r.Delivered != 2 || r.Submissions != 1 || len(r.Acked) != 1 || r.Acked[0] != [2]int{0, 2} {
			t.Errorf("%s done with %+v: want 2 delivered in 1 submission, rows [0,2) acknowledged", r.File, r)
		}
	}
}
