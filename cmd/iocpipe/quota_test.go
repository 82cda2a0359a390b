package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

// The numbers of TestSharedQuota. The emulator admits quotaLimit calls of
// a client id in any quotaWindow (the API's window is a minute; a short
// one lets the test exceed it, and stay under it, in seconds). Each of
// the three instances has the same rate_limit and burst:
//
//   - Shared, one bucket of quotaRate a second and quotaBurst makes at
//     most quotaBurst + quotaRate·quotaWindow = 2 + 6·2 = 14 calls in any
//     2 s, under the emulator's 20; the 21st call in a window would need
//     the arrivals to drift 1.2 s from the grants ((21-2)/6 s = 3.2 s
//     apart, in a 2 s window). The 30 calls (3 instances × 100 rows /
//     batch_size 10) take (30-2)/6 ≈ 4.7 s.
//   - Unshared, each instance bursts 2 and then makes 6 a second: its 10
//     calls go out within 1.4 s, so the 30 of the three (which start
//     together) fall within one 2 s window: 30 > 20, and 429s come.
const (
	quotaLimit    = 20
	quotaWindow   = 2 * time.Second
	quotaRate     = 6 // calls a second
	quotaBurst    = 2
	quotaRows     = 100
	quotaBatch    = 10
	quotaInstance = 3
)

// quotaConfig writes the configuration of one instance: the emulator at
// url, the numbers above, and top (the ledger key, or "").
func quotaConfig(t *testing.T, url, top string) string {
	t.Helper()
	cfg := fmt.Sprintf(`%s
sinks:
  trustar:
    url: %s
    rate_limit: %d
    burst: %d
    batch_size: %d
    linger: 20ms
routes:
  - name: feeds
    sink: trustar
    enclaves: [%s]
`, top, url, quotaRate*60, quotaBurst, quotaBatch, watchEnclave)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runInstances runs quotaInstance `iocpipe run` at once, in-process, each
// with its own configuration (top: its ledger key) and sink client, each
// fetching its own TruSTAR token for one client id, each importing quotaRows rows of
// its own; it returns their stderr when one fails.
func runInstances(t *testing.T, srv *trustartest.Server, top string) {
	t.Helper()
	t.Setenv("TRUSTAR_API_KEY", watchKey)
	t.Setenv("TRUSTAR_API_SECRET", watchSecret)
	var wg sync.WaitGroup
	codes := make([]int, quotaInstance)
	stderrs := make([]bytes.Buffer, quotaInstance)
	for i := range quotaInstance {
		cfg := quotaConfig(t, srv.URL, top)
		file := filepath.Join(t.TempDir(), "feed.csv")
		if err := os.WriteFile(file, []byte("value\n"+csvRows(fmt.Sprintf("i%d-", i), 0, quotaRows)), 0o600); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			var stdout bytes.Buffer
			codes[i] = run(context.Background(), &env{stdout: &stdout, stderr: &stderrs[i]}, []string{"run", "--config", cfg, file})
		})
	}
	wg.Wait()
	for i, code := range codes {
		if code != 0 {
			t.Errorf("instance %d: exit %d\n%s", i, code, stderrs[i].String())
		}
	}
	values := watchValues(t, srv.Submissions())
	if len(values) != quotaInstance*quotaRows {
		t.Errorf("the emulator got %d distinct indicators, want %d", len(values), quotaInstance*quotaRows)
	}
}

// TestSharedQuota: three instances whose ledger is PostgreSQL draw from
// one bucket per credential, and together stay within the emulator's
// rate limit: no 429, everything delivered. The same three with no
// shared ledger each spend the quota on their own, and get 429s (the
// test can fail). See the numbers above.
func TestSharedQuota(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 6s: 30 calls at 6 a second, then the same unshared")
	}
	newServer := func() *trustartest.Server {
		srv := trustartest.NewServer(trustartest.Options{Key: watchKey, Secret: watchSecret,
			RateLimit: quotaLimit, RateWindow: quotaWindow})
		t.Cleanup(srv.Close)
		return srv
	}
	t.Run("shared", func(t *testing.T) {
		srv := newServer()
		t.Setenv("IOCPIPE_TEST_DSN", pg.Database(t))
		runInstances(t, srv, pgLedgerKey)
		st := srv.Stats()
		if st.RateLimited != 0 {
			t.Errorf("the emulator answered %d calls with 429, want none", st.RateLimited)
		}
		if st.Submissions != quotaInstance*quotaRows/quotaBatch {
			t.Errorf("%d submissions, want %d", st.Submissions, quotaInstance*quotaRows/quotaBatch)
		}
		if st.TokensIssued < quotaInstance {
			t.Errorf("%d tokens issued, want one per instance at least", st.TokensIssued)
		}
	})
	t.Run("unshared", func(t *testing.T) {
		srv := newServer()
		runInstances(t, srv, "")
		if st := srv.Stats(); st.RateLimited == 0 {
			t.Errorf("no 429 without the shared quota: the test cannot tell (stats %+v)", st)
		}
	})
}
