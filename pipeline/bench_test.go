package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iocpipe/iocpipe/pipeline"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/sinks/trustar"
)

// encodeSink encodes each batch as TruSTAR would receive it, and drops it:
// the pipeline's own cost, without the network.
type encodeSink struct{}

func (encodeSink) Send(ctx context.Context, b *ioc.Batch) (ioc.Result, error) {
	for range trustar.Encoder(b) {
	}
	return ioc.Result{Requests: 1}, nil
}

func benchCSV(b *testing.B, rows int) string {
	b.Helper()
	var sb strings.Builder
	sb.WriteString("value,type,first_seen,last_seen,sightings,source,notes,tags\n")
	for i := range rows {
		tags := ""
		if i%2 == 0 {
			tags = "malware;c2"
		}
		fmt.Fprintf(&sb, "host-%d.example.com,domain,2024-01-02T03:04:05Z,2024-01-03T03:04:05Z,%d,feed-%d,note %d,%s\n", i, i%7, i%3, i, tags)
	}
	path := filepath.Join(b.TempDir(), "bench.csv")
	if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkPipelineCSV measures read → validate → normalize → batch →
// encode for a 100,000-row CSV; ns/op is per file.
func BenchmarkPipelineCSV(b *testing.B) {
	path := benchCSV(b, 100000)
	route := &pipeline.Route{Name: "bench", Sink: "trustar", Enclaves: []string{"c04caa4e-4d1b-47fc-b9e2-c9ce11396b44"}, Tags: []string{"bench"}}
	b.ReportAllocs()
	for b.Loop() {
		p, err := pipeline.New(pipeline.Options{Route: route, Sink: encodeSink{}})
		if err != nil {
			b.Fatal(err)
		}
		in := make(chan pipeline.Input, 1)
		in <- pipeline.Input{Path: path}
		close(in)
		s, err := p.Run(context.Background(), in)
		if err != nil || s.Delivered != 100000 {
			b.Fatalf("delivered %d: %v", s.Delivered, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100000, "ns/row")
}
