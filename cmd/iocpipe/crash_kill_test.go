//go:build unix

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("IOCPIPE_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("%d rounds, IOCPIPE_CRASH_SEED=%d", rounds, seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	bin := buildBinary(t)
	srv := trustartest.NewServer(trustartest.Options{Faults: faults.Options{Latency: 20 * time.Millisecond}})
	t.Cleanup(srv.Close)
	dir := filepath.Join(t.TempDir(), "inbox")
	os.MkdirAll(dir, 0o755)
	cfg := watchConfig(t, srv.URL, dir, "    settle: 200ms\n")
	if b, err := os.ReadFile(cfg); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(cfg, []byte(strings.Replace(string(b), "batch_size: 1000", "batch_size: 500", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "watch.log")
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			t.Logf("watch log (end):\n%s", b)
		}
	}()

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

	// received[row] counts deliveries; seen is how many bodies were read.
	received := make([]int, crashRows)
	seen := 0
	// collect returns the rows delivered since the last call, in order.
	collect := func() (newRows []int) {
		bodies := srv.Submissions()
		for _, b := range bodies[seen:] {
			var body struct {
				Content []struct {
					Value string `json:"value"`
				} `json:"content"`
			}
			if err := json.Unmarshal(b, &body); err != nil {
				t.Fatal(err)
			}
			for _, c := range body.Content {
				newRows = append(newRows, crashRowOf(t, c.Value))
			}
		}
		seen = len(bodies)
		return newRows
	}
	// quiesce waits until the emulator has seen no request for a while:
	// a request the killed process had sent entirely is recorded first.
	quiesce := func() {
		last, stable := srv.Stats().Submissions, time.Now()
		for time.Since(stable) < 200*time.Millisecond {
			time.Sleep(10 * time.Millisecond)
			if n := srv.Stats().Submissions; n != last {
				last, stable = n, time.Now()
			}
		}
	}
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

	type round struct {
		mode     string
		after    time.Duration
		acked    int // rows acknowledged at the kill
		received int // distinct rows received at the kill
		inFlight int // received, not acknowledged
		resent   int // of those, sent again later
	}
	var stats []round
	var ackedAt []ioc.Ranges      // per kill
	var inFlightAt []map[int]bool // per kill
	// account counts the deliveries since the last kill: a row delivered
	// again must not have been acknowledged at any kill, and must have been
	// in flight at one (received, not acknowledged): the latest such kill
	// is charged with it.
	account := func(when string, newRows []int) {
		for _, row := range newRows {
			for k, a := range ackedAt {
				if a.Contains(row) {
					t.Errorf("%s: row %d was acknowledged at kill %d and sent again", when, row, k+1)
				}
			}
			if received[row] > 0 {
				k := len(inFlightAt) - 1
				for k >= 0 && !inFlightAt[k][row] {
					k--
				}
				if k < 0 {
					t.Errorf("%s: row %d was sent twice without being in flight at a kill", when, row)
				} else {
					stats[k].resent++
				}
			}
			received[row]++
		}
	}
	for r := range rounds {
		if isDone() {
			t.Fatalf("the import finished after %d of %d rounds: the kills came too late", r, rounds)
		}
		p := crashStart(t, bin, cfg, logPath)
		mode := "progress"
		if r%4 == 3 {
			// Now and then, a kill at a random instant of start-up.
			mode = "startup"
			time.Sleep(time.Duration(5+rng.IntN(60)) * time.Millisecond)
		} else {
			// Kill once the round made its share of what is left (counting
			// the rows in flight at the last kill, which come again), plus
			// a random delay: anywhere between, inside or after batches in
			// flight.
			distinct, inFlight := 0, 0
			if len(stats) > 0 {
				distinct, inFlight = stats[len(stats)-1].received, stats[len(stats)-1].inFlight
			}
			share := (crashRows - distinct) / (rounds - r + 2)
			target := srv.Stats().Indicators + int64(inFlight+share)
			stuck := time.Now().Add(30 * time.Second)
			for srv.Stats().Indicators < target && p.running() && !isDone() {
				if time.Now().After(stuck) {
					t.Fatalf("round %d: no progress for 30s (%d of %d indicators)", r+1, srv.Stats().Indicators, target)
				}
				time.Sleep(time.Millisecond)
			}
			time.Sleep(time.Duration(rng.IntN(10)) * time.Millisecond)
		}
		if !p.running() || isDone() {
			t.Fatalf("round %d: watch exited (%v) or finished the import before the kill", r+1, p.err)
		}
		after := time.Since(p.started)
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
		quiesce()
		account(fmt.Sprintf("round %d", r+1), collect())
		acked := readAcked()
		distinct := 0
		inFlight := map[int]bool{}
		for row, n := range received {
			switch {
			case n > 0 && !acked.Contains(row):
				inFlight[row] = true
				distinct++
			case n > 0:
				distinct++
			case acked.Contains(row):
				t.Fatalf("round %d: row %d is acknowledged in the ledger but the emulator never received it", r+1, row)
			}
		}
		stats = append(stats, round{mode: mode, after: after, acked: acked.Len(), received: distinct, inFlight: len(inFlight)})
		ackedAt = append(ackedAt, acked)
		inFlightAt = append(inFlightAt, inFlight)
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
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.err != nil {
			t.Errorf("watch after SIGTERM: %v, want exit 0", p.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("watch did not exit after SIGTERM")
	}
	quiesce()
	account("last run", collect())

	lost, twice, deliveries := 0, 0, 0
	for row, n := range received {
		deliveries += n
		switch {
		case n == 0:
			lost++
			if lost < 10 {
				t.Errorf("row %d was never delivered", row)
			}
		case n > 1:
			twice += n - 1
		}
	}
	resentSum := 0
	t.Logf("kill  when      after     acked  received  in flight  re-sent later")
	for i, s := range stats {
		resentSum += s.resent
		t.Logf("%5d  %-8s  %-8v  %6d  %8d  %9d  %7d", i+1, s.mode, s.after.Round(time.Millisecond), s.acked, s.received, s.inFlight, s.resent)
	}
	t.Logf("rows %d, distinct delivered %d, lost %d, deliveries %d, re-sent %d (charged to rows in flight at a kill: %d)",
		crashRows, crashRows-lost, lost, deliveries, twice, resentSum)
	if lost > 0 {
		t.Errorf("%d rows lost", lost)
	}
	if twice != resentSum {
		t.Errorf("%d rows were delivered more than once, but only %d were in flight at a kill and sent again", twice, resentSum)
	}
	r := watchReport(t, report)
	if r.Rows != crashRows || r.RowsDelivered+r.RowsResumed != crashRows || r.Status != inbox.StatusImported {
		t.Errorf("report: rows %d (%d delivered + %d resumed), want %d in all; status %s", r.Rows, r.RowsDelivered, r.RowsResumed, crashRows, r.Status)
	}
}
