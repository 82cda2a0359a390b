//go:build unix

package main

import (
	"bytes"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/cmd/internal/cluster"
	"github.com/iocpipe/iocpipe/pipeline/ledger/pgtest"
)

// The numbers of the cluster tests: 1,000 files of 100 rows, batches of
// 500 rows (200 calls at least), and an emulator that admits clusterLimit
// calls of one client id in any clusterWindow: the API's window is a
// minute, a short one makes the import take several windows' worth of
// calls (more than one window allows) in seconds. The instances'
// rate_limit is 10 % under it.
const (
	clusterFiles  = 1000
	clusterRows   = 100
	clusterLimit  = 50
	clusterWindow = 5 * time.Second
	clusterLease  = 3 * time.Second
)

// clusterRun runs the cluster with o (its sizes filled in) and fails t
// with every failure the run found.
func clusterRun(t *testing.T, o cluster.Options) *cluster.Result {
	t.Helper()
	if v := os.Getenv(pgtest.OptOut); v != "" && v != "0" {
		t.Skipf("%s=%s: PostgreSQL tests skipped", pgtest.OptOut, v)
	}
	o.Bin, o.Dir = buildBinary(t), t.TempDir()
	o.Files, o.Rows, o.Limit, o.Window, o.BatchSize = clusterFiles, clusterRows, clusterLimit, clusterWindow, 500
	if s := os.Getenv("IOCPIPE_CLUSTER_SEED"); s != "" {
		o.Seed, _ = strconv.ParseUint(s, 10, 64)
	}
	var log bytes.Buffer
	o.Log = &log
	res, err := cluster.Run(t.Context(), o)
	t.Logf("%s", log.String())
	if err != nil {
		t.Fatalf("%v (IOCPIPE_CLUSTER_SEED=%d repeats it)", err, o.Seed)
	}
	var out bytes.Buffer
	res.Print(&out)
	t.Logf("IOCPIPE_CLUSTER_SEED=%d\n%s", res.Seed, out.String())
	for _, f := range res.Failures() {
		t.Error(f)
	}
	if res.Calls <= clusterLimit {
		t.Errorf("%d calls: not more than one window allows (%d), the rate limit was not tested", res.Calls, clusterLimit)
	}
	if res.Done != clusterFiles {
		t.Errorf("%d files filed in done/, want %d", res.Done, clusterFiles)
	}
	if t.Failed() {
		for _, in := range res.Instances {
			if b, err := os.ReadFile(in.Log); err == nil {
				if len(b) > 6000 {
					b = b[len(b)-6000:]
				}
				t.Logf("%s's log (end):\n%s", in.ID, b)
			}
		}
	}
	return res
}

// TestClusterKill: three instances on one inbox with a PostgreSQL ledger;
// 1,000 files of 100 rows dropped while they run; one instance killed
// with SIGKILL at a random moment and not restarted. Every row is
// delivered, rows sent twice are only rows the killed instance had in
// flight (never one the ledger had acknowledged at the kill), every file
// is in done/ once with its report, and the emulator answered no 429.
// IOCPIPE_CLUSTER_SEED repeats a run.
func TestClusterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three instances for half a minute: skipped with -short")
	}
	res := clusterRun(t, cluster.Options{Instances: 3, Kill: true, Lease: clusterLease})
	if res.HeldAtKills == 0 {
		t.Errorf("the killed instance held no file at its kill: takeover was not tested (IOCPIPE_CLUSTER_SEED=%d)", res.Seed)
	}
	var busy int
	for _, in := range res.Instances {
		if in.Files > 0 {
			busy++
		}
	}
	if busy < 2 {
		t.Errorf("only %d instances imported files: the inbox was not shared", busy)
	}
}

// TestClusterRestarts: the same, and then the two survivors killed and
// restarted at random, 5 times: still nothing lost, nothing acknowledged
// sent again.
func TestClusterRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three instances for half a minute: skipped with -short")
	}
	clusterRun(t, cluster.Options{Instances: 3, Kill: true, Restarts: 5, Lease: clusterLease})
}

// TestClusterDatabaseDown: PostgreSQL stopped for 20 s in the middle of
// the import: every instance says so in a WARN, pauses, and finishes the
// import when it is back; nothing lost, nothing sent twice.
func TestClusterDatabaseDown(t *testing.T) {
	if testing.Short() {
		t.Skip("stops PostgreSQL for 20s: skipped with -short")
	}
	res := clusterRun(t, cluster.Options{Instances: 3, DBPause: 20 * time.Second})
	for id, warned := range res.Warned {
		if !warned {
			t.Errorf("instance %s did not warn that the database was unreachable", id)
		}
	}
	if res.Resent > 0 {
		t.Errorf("%d rows sent twice, though no instance was killed", res.Resent)
	}
}

// TestClusterPause: one instance stopped with SIGSTOP for longer than its
// lease, then woken: the others take its files over meanwhile; it says
// its lease lapsed, abandons what it had in hand, and files nothing it
// lost. Every row is delivered, every file filed once, and rows sent
// twice are only of files it had in hand when it stopped, none of them
// acknowledged then.
func TestClusterPause(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three instances for half a minute: skipped with -short")
	}
	res := clusterRun(t, cluster.Options{Instances: 3, Pause: 3 * clusterLease, Lease: clusterLease})
	lapsed := 0
	for _, l := range res.Lapsed {
		if l {
			lapsed++
		}
	}
	if lapsed != 1 {
		t.Errorf("%d instances said their lease lapsed (%v), want the one paused", lapsed, res.Lapsed)
	}
}
