//go:build unix

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/pipeline/ledger"
	"github.com/iocpipe/iocpipe/sinks/faults"
	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

// shutdownSetup starts an emulator answering after latency, writes a file
// of rows rows into a new inbox, and returns the emulator, the config and
// the inbox.
func shutdownSetup(t *testing.T, latency time.Duration, rows int) (srv *trustartest.Server, cfg, dir string) {
	t.Helper()
	srv = trustartest.NewServer(trustartest.Options{Faults: faults.Options{Latency: latency}})
	t.Cleanup(srv.Close)
	dir = filepath.Join(t.TempDir(), "inbox")
	os.MkdirAll(dir, 0o755)
	cfg = watchConfig(t, srv.URL, dir, "    settle: 100ms\n")
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, []byte(strings.Replace(string(b), "batch_size: 1000", "batch_size: 500", 1)), 0o600)
	var data strings.Builder
	data.WriteString("value\n")
	for i := range rows {
		fmt.Fprintf(&data, "row%06d.example.com\n", i)
	}
	os.WriteFile(filepath.Join(dir, "f.csv.part"), []byte(data.String()), 0o644)
	os.Rename(filepath.Join(dir, "f.csv.part"), filepath.Join(dir, "f.csv"))
	return srv, cfg, dir
}

// shutdownAcked reads the acknowledged rows from the ledger.
func shutdownAcked(t *testing.T, dir string) ioc.Ranges {
	t.Helper()
	l, err := ledger.OpenBolt(filepath.Join(dir, ".iocpipe", "ledger.db"), ledger.BoltOptions{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	entries, err := l.Entries(context.Background(), ledger.Key("feeds", "trustar"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		return e.Acked
	}
	return nil
}

// shutdownRows maps the delivered values to rows, with their counts.
func shutdownRows(t *testing.T, srv *trustartest.Server) map[int]int {
	t.Helper()
	out := map[int]int{}
	for v, n := range watchValues(t, srv.Submissions()) {
		out[crashRowOf(t, v)] += n
	}
	return out
}

func shutdownWaitExit(t *testing.T, p *crashProc, within time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(within):
		t.Fatalf("watch still running %v after the signal", within)
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

// finishAndCheck restarts watch, lets it import the rest, and checks that
// every row came and no row of acked came again.
func finishAndCheck(t *testing.T, bin, cfg, dir, logPath string, srv *trustartest.Server, rows int, acked ioc.Ranges, before map[int]int) {
	t.Helper()
	p := crashStart(t, bin, cfg, logPath)
	watchWaitFor(t, 60*time.Second, "the import to finish", func() bool {
		_, err := os.Stat(filepath.Join(dir, "done", "f.csv.report.json"))
		return err == nil
	})
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := shutdownWaitExit(t, p, 30*time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	after := shutdownRows(t, srv)
	for row := range rows {
		if after[row] == 0 {
			t.Fatalf("row %d never delivered", row)
		}
		if acked.Contains(row) && after[row] > before[row] {
			t.Fatalf("row %d was acknowledged at the stop and sent again", row)
		}
	}
}

// TestCrashShutdownGraceful: SIGTERM stops claiming, lets the requests in
// flight finish, records them, and exits 0; the restart sends only the
// rest.
func TestCrashShutdownGraceful(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary: skipped with -short")
	}
	t.Parallel()
	bin := buildBinary(t)
	srv, cfg, dir := shutdownSetup(t, 300*time.Millisecond, 20000)
	logPath := filepath.Join(t.TempDir(), "watch.log")
	p := crashStart(t, bin, cfg, logPath)
	watchWaitFor(t, 20*time.Second, "a first submission", func() bool { return srv.Stats().Submissions > 0 })
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := shutdownWaitExit(t, p, 10*time.Second); code != 0 {
		b, _ := os.ReadFile(logPath)
		t.Fatalf("exit code %d after SIGTERM, want 0\n%s", code, b)
	}
	acked := shutdownAcked(t, dir)
	before := shutdownRows(t, srv)
	if len(before) != acked.Len() || acked.Len() == 0 || acked.Len() == 20000 {
		t.Errorf("after a graceful stop, %d rows were received and %d acknowledged: want the same, some, not all", len(before), acked.Len())
	}
	if _, err := os.Stat(filepath.Join(dir, ".iocpipe", "work", "f.csv")); err != nil {
		t.Errorf("the unfinished file is not in work/: %v", err)
	}
	finishAndCheck(t, bin, cfg, dir, logPath, srv, 20000, acked, before)
}

// TestCrashShutdownSecondSignal: a second signal exits at once, and that is
// safe too.
func TestCrashShutdownSecondSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary: skipped with -short")
	}
	t.Parallel()
	bin := buildBinary(t)
	srv, cfg, dir := shutdownSetup(t, 1500*time.Millisecond, 2000)
	logPath := filepath.Join(t.TempDir(), "watch.log")
	p := crashStart(t, bin, cfg, logPath)
	// The four batches take 1.5s each; wait for them to be sent.
	time.Sleep(500 * time.Millisecond)
	p.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond)
	if !p.running() {
		t.Fatal("watch exited on the first signal while requests were in flight")
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	if code := shutdownWaitExit(t, p, time.Second); code != exitFailed {
		t.Errorf("exit code %d after a second signal, want %d", code, exitFailed)
	}
	b, _ := os.ReadFile(logPath)
	if !strings.Contains(string(b), "second signal") {
		t.Errorf("no word of the second signal in the log:\n%s", b)
	}
	time.Sleep(1500 * time.Millisecond) // let the emulator finish what it got
	acked := shutdownAcked(t, dir)
	before := shutdownRows(t, srv)
	finishAndCheck(t, bin, cfg, dir, logPath, srv, 2000, acked, before)
}
