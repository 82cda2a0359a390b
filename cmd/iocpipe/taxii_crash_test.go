//go:build unix

package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/taxii/taxiitest"
	"github.com/iocpipe/iocpipe/sinks/faults"
	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

// taxiiCrashObjects is the size of the TAXII crash test's collection.
const taxiiCrashObjects = 20000

// TestTAXIICrashKill polls a collection of 20,000 indicators (pages of
// 100, a third sharing date_added across page boundaries) with the watch
// binary and kills it with SIGKILL 10 times at random moments of the poll
// (IOCPIPE_TAXII_CRASH_ROUNDS), restarting it each time. After each kill
// it reads the cursor in the ledger (what was acknowledged for good at
// that instant) and the TruSTAR emulator's submissions. It checks that
// every indicator is delivered, that none before the cursor at a kill is
// ever sent again, and that those sent twice were in flight at a kill
// (received, after the cursor); it reports them per round.
// IOCPIPE_CRASH_SEED repeats a run.
func TestTAXIICrashKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it: skipped with -short")
	}
	rounds := 10
	if s := os.Getenv("IOCPIPE_TAXII_CRASH_ROUNDS"); s != "" {
		rounds, _ = strconv.Atoi(s)
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("IOCPIPE_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("%d rounds, IOCPIPE_CRASH_SEED=%d", rounds, seed)
	rng := rand.New(rand.NewPCG(seed, 2))

	bin := buildBinary(t)
	tx := taxiitest.NewServer(taxiitest.Options{PageSize: 100, Faults: faults.Options{Latency: 5 * time.Millisecond}})
	defer tx.Close()
	taxiiFill(t, tx, taxiitest.ScratchCollectionID, taxiiEpoch, 0, taxiiCrashObjects)
	sink := trustartest.NewServer(trustartest.Options{Faults: faults.Options{Latency: 20 * time.Millisecond}})
	defer sink.Close()
	cfg, ledgerPath := taxiiConfig(t, sink.URL, tx.APIRoot(), taxiitest.ScratchTitle, "      poll: 1s\n")
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

	received := make([]int, taxiiCrashObjects) // deliveries per indicator
	distinct, seen := 0, 0
	collect := func() (newRows []int) {
		bodies := sink.Submissions()
		for v, n := range watchValues(t, bodies[seen:]) {
			var i int
			if _, err := fmt.Sscanf(v, "tx%06d.example.com", &i); err != nil || i < 0 || i >= taxiiCrashObjects {
				t.Fatalf("unexpected value %q", v)
			}
			for range n {
				newRows = append(newRows, i)
			}
		}
		seen = len(bodies)
		return newRows
	}
	quiesce := func() {
		last, stable := sink.Stats().Submissions, time.Now()
		for time.Since(stable) < 200*time.Millisecond {
			time.Sleep(10 * time.Millisecond)
			if n := sink.Stats().Submissions; n != last {
				last, stable = n, time.Now()
			}
		}
	}
	type round struct {
		mode                              string
		after                             time.Duration
		acked, received, inFlight, resent int
	}
	var stats []round
	var coveredAt []func(int) bool
	var inFlightAt []map[int]bool
	account := func(when string, newRows []int) {
		for _, i := range newRows {
			for k, covered := range coveredAt {
				if covered(i) {
					t.Errorf("%s: %s was before the cursor at kill %d and sent again", when, taxiiValue(i), k+1)
				}
			}
			if received[i] > 0 {
				k := len(inFlightAt) - 1
				for k >= 0 && !inFlightAt[k][i] {
					k--
				}
				if k < 0 {
					t.Errorf("%s: %s was sent twice without being in flight at a kill", when, taxiiValue(i))
				} else {
					stats[k].resent++
				}
			} else {
				distinct++
			}
			received[i]++
		}
	}
	for r := range rounds {
		p := crashStart(t, bin, cfg, logPath)
		mode := "poll"
		if r%4 == 3 {
			mode = "startup"
			time.Sleep(time.Duration(5+rng.IntN(60)) * time.Millisecond)
		} else {
			inFlight := 0
			if len(stats) > 0 {
				inFlight = stats[len(stats)-1].inFlight
			}
			share := (taxiiCrashObjects - distinct) / (rounds - r + 2)
			target := sink.Stats().Indicators + int64(inFlight+share)
			stuck := time.Now().Add(30 * time.Second)
			for sink.Stats().Indicators < target && p.running() {
				if time.Now().After(stuck) {
					t.Fatalf("round %d: no progress for 30s (%d of %d indicators)", r+1, sink.Stats().Indicators, target)
				}
				time.Sleep(time.Millisecond)
			}
			time.Sleep(time.Duration(rng.IntN(10)) * time.Millisecond)
		}
		if !p.running() {
			t.Fatalf("round %d: watch exited before the kill: %v", r+1, p.err)
		}
		after := time.Since(p.started)
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
		quiesce()
		account(fmt.Sprintf("round %d", r+1), collect())
		cur, _ := readCursor(t, ledgerPath, taxiitest.ScratchCollectionID)
		covered := coveredBy(cur)
		acked, got := 0, 0
		inFlight := map[int]bool{}
		for i, n := range received {
			switch {
			case covered(i) && n == 0:
				t.Fatalf("round %d: %s is before the cursor but was never received", r+1, taxiiValue(i))
			case covered(i):
				acked++
				got++
			case n > 0:
				inFlight[i] = true
				got++
			}
		}
		stats = append(stats, round{mode: mode, after: after, acked: acked, received: got, inFlight: len(inFlight)})
		coveredAt = append(coveredAt, covered)
		inFlightAt = append(inFlightAt, inFlight)
	}

	// The last start polls to the end; a poll after that finds nothing.
	before := 0
	if b, err := os.ReadFile(logPath); err == nil {
		before = strings.Count(string(b), `"msg":"TAXII poll done"`)
	}
	p := crashStart(t, bin, cfg, logPath)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		b, _ := os.ReadFile(logPath)
		if strings.Count(string(b), `"msg":"TAXII poll done"`) > before && int(sink.Stats().Indicators) >= taxiiCrashObjects {
			break
		}
		if time.Now().After(deadline) || !p.running() {
			t.Fatalf("the poll did not end after the last restart (running: %v)", p.running())
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
	for i, n := range received {
		deliveries += n
		switch {
		case n == 0:
			lost++
			if lost < 10 {
				t.Errorf("%s was never delivered", taxiiValue(i))
			}
		case n > 1:
			twice += n - 1
		}
	}
	resentSum := 0
	t.Logf("kill  when     after     acked  received  in flight  re-sent later")
	for i, s := range stats {
		resentSum += s.resent
		t.Logf("%5d  %-7s  %-8v  %6d  %8d  %9d  %7d", i+1, s.mode, s.after.Round(time.Millisecond), s.acked, s.received, s.inFlight, s.resent)
	}
	t.Logf("indicators %d, delivered %d, lost %d, deliveries %d, re-sent %d (charged to indicators in flight at a kill: %d); pages served %d",
		taxiiCrashObjects, taxiiCrashObjects-lost, lost, deliveries, twice, resentSum, tx.Stats().Pages)
	if lost > 0 {
		t.Errorf("%d indicators lost", lost)
	}
	if twice != resentSum {
		t.Errorf("%d indicators were delivered more than once, but only %d were in flight at a kill and sent again", twice, resentSum)
	}
	cur, _ := readCursor(t, ledgerPath, taxiitest.ScratchCollectionID)
	if covered := coveredBy(cur); !covered(taxiiCrashObjects - 1) {
		t.Errorf("the cursor %s does not cover the last indicator after the last poll", cur.AddedAfter)
	}
}
