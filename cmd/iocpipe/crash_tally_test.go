//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

// A crashTally accounts the deliveries of a kill -9 test of n rows (or
// objects) against the TruSTAR emulator srv: after each kill, what was
// acknowledged for good at that instant (the ledger's rows, a TAXII
// cursor) and what was received; at the end, that nothing was lost and
// that every row delivered twice had been in flight at a kill (received,
// not acknowledged), charged to the latest such kill.
type crashTally struct {
	t        *testing.T
	srv      *trustartest.Server
	rowOf    func(value string) int // a delivered value's row
	name     string                 // what a row is, in messages
	received []int                  // deliveries per row
	seen     int                    // submissions read
	distinct int                    // rows received at least once

	rounds     []crashRound
	ackedAt    []func(row int) bool // per kill
	inFlightAt []map[int]bool       // per kill
}

// crashRound is one kill of a crashTally.
type crashRound struct {
	mode     string
	after    time.Duration
	acked    int // rows acknowledged at the kill
	received int // distinct rows received at the kill
	inFlight int // received, not acknowledged
	resent   int // of those, sent again later
}

func newCrashTally(t *testing.T, srv *trustartest.Server, n int, name string, rowOf func(string) int) *crashTally {
	return &crashTally{t: t, srv: srv, rowOf: rowOf, name: name, received: make([]int, n)}
}

// collect returns the rows delivered since the last call, in order.
func (c *crashTally) collect() (rows []int) {
	bodies := c.srv.Submissions()
	for _, b := range bodies[c.seen:] {
		var body struct {
			Content []struct {
				Value string `json:"value"`
			} `json:"content"`
		}
		if err := json.Unmarshal(b, &body); err != nil {
			c.t.Fatal(err)
		}
		for _, v := range body.Content {
			rows = append(rows, c.rowOf(v.Value))
		}
	}
	c.seen = len(bodies)
	return rows
}

// quiesce waits until the emulator has seen no request for a while: a
// request the killed process had sent entirely is recorded first.
func (c *crashTally) quiesce() {
	last, stable := c.srv.Stats().Submissions, time.Now()
	for time.Since(stable) < 200*time.Millisecond {
		time.Sleep(10 * time.Millisecond)
		if n := c.srv.Stats().Submissions; n != last {
			last, stable = n, time.Now()
		}
	}
}

// account counts the deliveries since the last kill (when says which):
// a row delivered again must not have been acknowledged at any kill, and
// must have been in flight at one.
func (c *crashTally) account(when string) {
	c.quiesce()
	for _, row := range c.collect() {
		for k, acked := range c.ackedAt {
			if acked(row) {
				c.t.Errorf("%s: %s %d was acknowledged at kill %d and sent again", when, c.name, row, k+1)
			}
		}
		if c.received[row] > 0 {
			k := len(c.inFlightAt) - 1
			for k >= 0 && !c.inFlightAt[k][row] {
				k--
			}
			if k < 0 {
				c.t.Errorf("%s: %s %d was sent twice without being in flight at a kill", when, c.name, row)
			} else {
				c.rounds[k].resent++
			}
		} else {
			c.distinct++
		}
		c.received[row]++
	}
}

// kill records a kill (mode, after how long) once its deliveries were
// accounted: acked says which rows were acknowledged at that instant,
// each of which must have been received.
func (c *crashTally) kill(mode string, after time.Duration, acked func(row int) bool) {
	r := crashRound{mode: mode, after: after}
	inFlight := map[int]bool{}
	for row, n := range c.received {
		switch {
		case n > 0 && !acked(row):
			inFlight[row] = true
			r.received++
		case n > 0:
			r.received++
			r.acked++
		case acked(row):
			c.t.Fatalf("kill %d: %s %d is acknowledged but the emulator never received it", len(c.rounds)+1, c.name, row)
		}
	}
	r.inFlight = len(inFlight)
	c.rounds = append(c.rounds, r)
	c.ackedAt = append(c.ackedAt, acked)
	c.inFlightAt = append(c.inFlightAt, inFlight)
}

// last returns the latest kill's round (zero before the first).
func (c *crashTally) last() crashRound {
	if len(c.rounds) == 0 {
		return crashRound{}
	}
	return c.rounds[len(c.rounds)-1]
}

// finish logs the rounds and checks that no row was lost and that every
// row delivered twice was in flight at a kill.
func (c *crashTally) finish() {
	t := c.t
	lost, twice, deliveries := 0, 0, 0
	for row, n := range c.received {
		deliveries += n
		switch {
		case n == 0:
			lost++
			if lost < 10 {
				t.Errorf("%s %d was never delivered", c.name, row)
			}
		case n > 1:
			twice += n - 1
		}
	}
	resent := 0
	t.Logf("kill  when      after     acked  received  in flight  re-sent later")
	for i, s := range c.rounds {
		resent += s.resent
		t.Logf("%5d  %-8s  %-8v  %6d  %8d  %9d  %7d", i+1, s.mode, s.after.Round(time.Millisecond), s.acked, s.received, s.inFlight, s.resent)
	}
	t.Logf("%ss %d, distinct delivered %d, lost %d, deliveries %d, re-sent %d (charged to %ss in flight at a kill: %d)",
		c.name, len(c.received), len(c.received)-lost, lost, deliveries, twice, c.name, resent)
	if lost > 0 {
		t.Errorf("%d %ss lost", lost, c.name)
	}
	if twice != resent {
		t.Errorf("%d %ss were delivered more than once, but only %d were in flight at a kill and sent again", twice, c.name, resent)
	}
}

// killRound is round r (from 0) of rounds: it starts the process (start)
// and kills it with SIGKILL, now and then (every fourth round) at a
// random instant of start-up, else once the round made its share of what
// is left (counting the rows in flight at the last kill, which come
// again) plus a random delay: anywhere between, inside or after batches
// in flight. Then it accounts the deliveries and returns how the kill
// came, for kill. done says the work finished: a kill then comes too late.
func (c *crashTally) killRound(r, rounds int, rng *rand.Rand, start func() *crashProc, done func() bool) (mode string, after time.Duration) {
	t := c.t
	if done() {
		t.Fatalf("the work finished after %d of %d rounds: the kills came too late", r, rounds)
	}
	p := start()
	mode = "progress"
	if r%4 == 3 {
		mode = "startup"
		time.Sleep(time.Duration(5+rng.IntN(60)) * time.Millisecond)
	} else {
		share := (len(c.received) - c.last().received) / (rounds - r + 2)
		target := c.srv.Stats().Indicators + int64(c.last().inFlight+share)
		stuck := time.Now().Add(30 * time.Second)
		for c.srv.Stats().Indicators < target && p.running() && !done() {
			if time.Now().After(stuck) {
				t.Fatalf("round %d: no progress for 30s (%d of %d indicators)", r+1, c.srv.Stats().Indicators, target)
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(time.Duration(rng.IntN(10)) * time.Millisecond)
	}
	if !p.running() || done() {
		t.Fatalf("round %d: watch exited (%v) or finished the work before the kill", r+1, p.err)
	}
	after = time.Since(p.started)
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
	c.account(fmt.Sprintf("round %d", r+1))
	return mode, after
}

// stop ends the last process with SIGTERM, which must exit 0, and
// accounts its deliveries.
func (c *crashTally) stop(p *crashProc) {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.err != nil {
			c.t.Errorf("watch after SIGTERM: %v, want exit 0", p.err)
		}
	case <-time.After(30 * time.Second):
		c.t.Fatal("watch did not exit after SIGTERM")
	}
	c.account("last run")
}

// crashSetUp is what a kill -9 test starts from: the random source of
// its kill instants (IOCPIPE_CRASH_SEED repeats a run; stream tells the
// tests apart), the config file cfg with batches of 500, and the log file
// of the processes, whose end is logged when the test fails.
func crashSetUp(t *testing.T, rounds int, stream uint64, cfg string) (rng *rand.Rand, logPath string) {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("IOCPIPE_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("%d rounds, IOCPIPE_CRASH_SEED=%d", rounds, seed)
	if b, err := os.ReadFile(cfg); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(cfg, []byte(strings.Replace(string(b), "batch_size: 1000", "batch_size: 500", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath = filepath.Join(t.TempDir(), "watch.log")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			t.Logf("watch log (end):\n%s", b)
		}
	})
	return rand.New(rand.NewPCG(seed, stream)), logPath
}
