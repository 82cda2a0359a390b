package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

// BenchmarkLedgerAcks measures how fast acknowledgements reach the ledger
// with many small files: `iocpipe run` imports 2,000 files of 5 rows each
// through the real pipeline into the TruSTAR emulator, with a bbolt ledger
// on disk or a PostgreSQL one on the test server (a new one per
// iteration, so that every file is imported). Each
// file's acknowledged rows are recorded, and each file is recorded as
// imported at the end. It reports acknowledged files and rows per second
// over the whole run, and the same without a ledger (the floor).
func BenchmarkLedgerAcks(b *testing.B) {
	const files, rows = 2000, 5
	srv := trustartest.NewServer(trustartest.Options{})
	b.Cleanup(srv.Close)
	b.Setenv("TRUSTAR_API_KEY", "demo")
	b.Setenv("TRUSTAR_API_SECRET", "demo")
	dir := b.TempDir()
	in := filepath.Join(dir, "in")
	if err := os.MkdirAll(in, 0o755); err != nil {
		b.Fatal(err)
	}
	for f := range files {
		var data bytes.Buffer
		data.WriteString("value\n")
		for r := range rows {
			fmt.Fprintf(&data, "f%04d-r%d.example.com\n", f, r)
		}
		if err := os.WriteFile(filepath.Join(in, fmt.Sprintf("f%04d.csv", f)), data.Bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	// none is the floor: the same import without a ledger.
	for _, kind := range []string{"bolt", "postgres", "none"} {
		b.Run("ledger="+kind, func(b *testing.B) { benchRun(b, srv, dir, in, kind, files, rows) })
	}
}

func benchRun(b *testing.B, srv *trustartest.Server, dir, in, kind string, files, rows int) {
	var elapsed time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		cfg := filepath.Join(dir, "config.yaml")
		top := ""
		switch kind {
		case "bolt":
			top = "ledger: " + filepath.Join(dir, fmt.Sprintf("ledger-%d.db", i)) + "\n"
		case "postgres":
			b.Setenv("IOCPIPE_TEST_DSN", pg.Database(b))
			top = pgLedgerKey
		}
		body := fmt.Sprintf("%ssinks:\n  trustar:\n    url: %s\n    rate_limit: 0\n    linger: 20ms\n"+
			"routes:\n  - name: feeds\n    sink: trustar\n    enclaves: [%s]\n", top, srv.URL, watchEnclave)
		if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
			b.Fatal(err)
		}
		srv.Reset()
		var stdout, stderr bytes.Buffer
		b.StartTimer()
		start := time.Now()
		code := run(context.Background(), &env{stdout: &stdout, stderr: &stderr}, []string{"run", "--config", cfg, "--log-level", "warn", in})
		elapsed += time.Since(start)
		b.StopTimer()
		if code != 0 {
			b.Fatalf("exit %d\n%s", code, stderr.String())
		}
		if got := srv.Stats().Indicators; got != int64(files*rows) {
			b.Fatalf("%d indicators delivered, want %d", got, files*rows)
		}
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(n*float64(files)/elapsed.Seconds(), "files/s")
	b.ReportMetric(n*float64(files*rows)/elapsed.Seconds(), "acked-rows/s")
}
