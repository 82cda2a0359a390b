//go:build unix

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/inbox"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/pipeline/ledger"
	"github.com/iocpipe/iocpipe/sinks/faults"
	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

// crashRows is the size of the crash test's import.
const crashRows = 100000

// crashProc is one iocpipe watch process.
type crashProc struct {
	cmd     *exec.Cmd
	started time.Time
	exited  chan struct{}
	err     error
}

func crashStart(t *testing.T, bin, cfg, logPath string) *crashProc {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "watch", "--config", cfg, "--log-level", "debug")
	cmd.Env = append(os.Environ(), "TRUSTAR_API_KEY=demo", "TRUSTAR_API_SECRET=demo")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = crashProcAttr()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &crashProc{cmd: cmd, started: time.Now(), exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

func (p *crashProc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// crashRounds is the number of kill -9 rounds: IOCPIPE_CRASH_ROUNDS, else 3.
func crashRounds(t *testing.T) int {
	s := os.Getenv("IOCPIPE_CRASH_ROUNDS")
	if s == "" {
		return 3
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("IOCPIPE_CRASH_ROUNDS=%q: want a positive number", s)
	}
	return n
}

// crashRowOf maps a delivered value back to its row.
func crashRowOf(t *testing.T, v string) int {
	n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(v, "row"), ".example.com"))
	if err != nil || n < 0 || n >= crashRows {
		t.Fatalf("unexpected value %q", v)
	}
	return n
}

// TestCrashKill imports 100,000 rows with watch and kills it with SIGKILL
// at random moments, IOCPIPE_CRASH_ROUNDS times (3 unless set), restarting
// it each time. After each kill it reads the ledger (what was
// acknowledged at that instant) and the emulator's submissions. It checks
// that every row is delivered at least once, that no row acknowledged at
// a kill is ever sent again, and that rows sent twice are only rows that
// were received but not yet acknowledged at a kill (batches in flight);
// it reports those per round. IOCPIPE_CRASH_SEED repeats a run.
func TestCrashKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it: skipped with -short")
	}
	t.Parallel()
	rounds := crashRounds(t)

	bin := buildBinary(t)
	srv := trustartest.NewServer(trustartest.Options{Faults: faults.Options{Latency: 20 * time.Millisecond}})
	t.Cleanup(srv.Close)
	dir := filepath.Join(t.TempDir(), "inbox")
	os.MkdirAll(dir, 0o755)
	cfg := watchConfig(t, srv.URL, dir, "    settle: 200ms\n")
	rng, logPath := crashSetUp(t, rounds, 1, cfg)

	var data strings.Builder
	data.WriteString("value,notes\n")
	for i := range crashRows {
		fmt.Fprintf(&data, "row%06d.example.com,row %d\n", i, i)
	}
	part := filepath.Join(dir, "big.csv.part")
	if err := os.WriteFile(part, []byte(data.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(part, filepath.Join(dir, "big.csv")); err != nil {
		t.Fatal(err)
	}
	ledgerPath := filepath.Join(dir, ".iocpipe", "ledger.db")
	report := filepath.Join(dir, "done", "big.csv.report.json")
	isDone := func() bool { _, err := os.Stat(report); return err == nil }

	tally := newCrashTally(t, srv, crashRows, "row", func(v string) int { return crashRowOf(t, v) })
	readAcked := func() ioc.Ranges {
		l, err := ledger.OpenBolt(ledgerPath, ledger.BoltOptions{ReadOnly: true, Timeout: 5 * time.Second})
		if err != nil {
			if os.IsNotExist(err) || strings.Contains(err.Error(), "no such file") {
				return nil
			}
			t.Fatalf("opening the ledger after a kill: %v", err)
		}
		defer l.Close()
		entries, err := l.Entries(context.Background(), ledger.Key("feeds", "trustar"))
		if err != nil {
			t.Fatalf("reading the ledger after a kill: %v", err)
		}
		if len(entries) > 1 {
			t.Fatalf("ledger has %d entries, want at most 1", len(entries))
		}
		for _, e := range entries {
			return e.Acked
		}
		return nil
	}

	for r := range rounds {
		mode, after := tally.killRound(r, rounds, rng, func() *crashProc { return crashStart(t, bin, cfg, logPath) }, isDone)
		tally.kill(mode, after, readAcked().Contains)
	}

	// The last start runs to the end.
	p := crashStart(t, bin, cfg, logPath)
	deadline := time.Now().Add(2 * time.Minute)
	for !isDone() {
		if time.Now().After(deadline) || !p.running() {
			t.Fatalf("the import did not finish after the last restart (running: %v)", p.running())
		}
		time.Sleep(20 * time.Millisecond)
	}
	tally.stop(p)
	tally.finish()
	r := watchReport(t, report)
	if r.Rows != crashRows || r.RowsDelivered+r.RowsResumed != crashRows || r.Status != inbox.StatusImported {
		t.Errorf("report: rows %d (%d delivered + %d resumed), want %d in all; status %s", r.Rows, r.RowsDelivered, r.RowsResumed, crashRows, r.Status)
	}
}
