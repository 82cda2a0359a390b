//go:build unix

package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
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

	bin := buildBinary(t)
	tx := taxiitest.NewServer(taxiitest.Options{PageSize: 100, Faults: faults.Options{Latency: 5 * time.Millisecond}})
	defer tx.Close()
	taxiiFill(t, tx, taxiitest.ScratchCollectionID, taxiiEpoch, 0, taxiiCrashObjects)
	sink := trustartest.NewServer(trustartest.Options{Faults: faults.Options{Latency: 20 * time.Millisecond}})
	defer sink.Close()
	cfg, ledgerPath := taxiiConfig(t, sink.URL, tx.APIRoot(), taxiitest.ScratchTitle, "      poll: 1s\n")
	rng, logPath := crashSetUp(t, rounds, 2, cfg)

	tally := newCrashTally(t, sink, taxiiCrashObjects, "indicator", func(v string) int {
		var i int
		if _, err := fmt.Sscanf(v, "tx%06d.example.com", &i); err != nil || i < 0 || i >= taxiiCrashObjects {
			t.Fatalf("unexpected value %q", v)
		}
		return i
	})
	for r := range rounds {
		mode, after := tally.killRound(r, rounds, rng, func() *crashProc { return crashStart(t, bin, cfg, logPath) }, func() bool { return false })
		cur, _ := readCursor(t, ledgerPath, taxiitest.ScratchCollectionID)
		tally.kill(mode, after, coveredBy(cur))
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
	tally.stop(p)
	tally.finish()
	t.Logf("pages served %d", tx.Stats().Pages)
	cur, _ := readCursor(t, ledgerPath, taxiitest.ScratchCollectionID)
	if covered := coveredBy(cur); !covered(taxiiCrashObjects - 1) {
		t.Errorf("the cursor %s does not cover the last indicator after the last poll", cur.AddedAfter)
	}
}
