package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/sinks/faults"
	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

// faultRows is the size of the fault-mode imports: small by default so
// make test stays quick; IOCPIPE_FAULT_ROWS=100000 gives the run.
func faultRows(t *testing.T) int {
	if s := os.Getenv("IOCPIPE_FAULT_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("IOCPIPE_FAULT_ROWS: %v", err)
		}
		return n
	}
	return 20000
}

func writeRows(t *testing.T, n int, value func(i int) string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("value,first_seen\n")
	for i := range n {
		fmt.Fprintf(&b, "%s,2024-05-01T00:00:00Z\n", value(i))
	}
	path := filepath.Join(t.TempDir(), "rows.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestFaultModes imports through each fault of the emulator and checks
// the exact set of rows received: every valid row at least once, none
// missing.
func TestFaultModes(t *testing.T) {
	if testing.Short() {
		t.Skip("fault modes take seconds each")
	}
	outage := 2 * time.Second
	if os.Getenv("IOCPIPE_FAULT_ROWS") != "" {
		outage = 10 * time.Second
	}
	modes := []struct {
		name string
		f    faults.Options
	}{
		{"fail-rate 0.3 with 500", faults.Options{FailRate: 0.3, FailStatus: 500}},
		{"fail-rate 0.3 with 429", faults.Options{FailRate: 0.3, FailStatus: 429, WaitTime: 200 * time.Millisecond}},
		{"drop-rate 0.2", faults.Options{DropRate: 0.2}},
		{"latency 200ms", faults.Options{Latency: 200 * time.Millisecond}},
		{"outage " + outage.String(), faults.Options{Outage: outage}},
	}
	n := faultRows(t)
	input := writeRows(t, n, func(i int) string { return fmt.Sprintf("f%d.example.net", i) })
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			m.f.Seed = 42
			srv := newEmulator(t, trustartest.Options{Faults: m.f, MaxIndicators: 10000})
			cfg := testConfig(t, srv.URL, "")
			// Smaller batches than 10,000 give the faults more requests to bite.
			cfg = rewriteConfig(t, cfg, "    retry_deadline: 10s\n", "    batch_size: 2000\n    retry_deadline: 2m\n")
			start := time.Now()
			o := runImport(t, srv, "run", "--config", cfg, input)
			elapsed := time.Since(start)
			if o.exit != exitOK {
				t.Fatalf("exit %d: %s", o.exit, o.stderr)
			}
			got := map[string]int{}
			for _, b := range decodeBodies(t, o.bodies) {
				for _, c := range b.Content {
					got[c.Value]++
				}
			}
			for i := range n {
				if got[fmt.Sprintf("f%d.example.net", i)] == 0 {
					t.Fatalf("f%d.example.net never arrived", i)
				}
			}
			fc := srv.Stats().Faults
			extra := fc.Failed + fc.Dropped + fc.Outage
			t.Logf("%d rows delivered in %s; %d accepted submissions, %d extra requests (failed %d, dropped %d, outage %d)",
				n, elapsed.Round(time.Millisecond), len(o.bodies), extra, fc.Failed, fc.Dropped, fc.Outage)
		})
	}
}

// rewriteConfig replaces text in a config file.
func rewriteConfig(t *testing.T, path, old, new string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("config has no %q", old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRejectPatternIsolated: 10,000 rows of which 7 match the emulator's
// --reject-pattern: 9,993 delivered, the 7 in the reject report with the
// server's error id, in at most ~100 requests.
func TestRejectPatternIsolated(t *testing.T) {
	srv := newEmulator(t, trustartest.Options{Faults: faults.Options{RejectPattern: regexp.MustCompile(`refuse-me-[0-9]+\.example\.com`)}})
	cfg := testConfig(t, srv.URL, "")
	bad := map[int]bool{17: true, 1234: true, 1235: true, 5000: true, 7777: true, 9001: true, 9999: true}
	input := writeRows(t, 10000, func(i int) string {
		if bad[i] {
			return fmt.Sprintf("refuse-me-%d.example.com", i)
		}
		return fmt.Sprintf("ok-%d.example.com", i)
	})
	o := runImport(t, srv, "run", "--config", cfg, input)
	if o.exit != exitRejected {
		t.Fatalf("exit %d, want 3: %s", o.exit, o.stderr)
	}
	delivered := 0
	for _, b := range decodeBodies(t, o.bodies) {
		delivered += len(b.Content)
	}
	if delivered != 9993 {
		t.Errorf("delivered %d, want 9993", delivered)
	}
	if len(o.rejects) != 7 {
		t.Fatalf("rejects: got %d, want 7", len(o.rejects))
	}
	for _, r := range o.rejects {
		if !strings.HasPrefix(r["value"].(string), "refuse-me-") || r["error_id"] == nil || r["status"] != float64(400) || r["line"] == nil {
			t.Errorf("reject %v: want the refused value, status 400, line and the server's error id", r)
		}
	}
	st := srv.Stats()
	if requests := st.Submissions + st.Rejected; requests > 100 {
		t.Errorf("%d requests, want at most 100", requests)
	} else {
		t.Logf("9,993 delivered, 7 refused rows isolated in %d requests", requests)
	}
}

// TestUnreachableGivesUp: with the API down (connection refused) a run
// retries until retry_deadline, then exits 1 naming what was not
// delivered; with a timeout shorter than the API's latency it does too,
// saying the rows may have been delivered (the API may have processed a
// request that timed out).
func TestUnreachableGivesUp(t *testing.T) {
	srv := newEmulator(t, trustartest.Options{Faults: faults.Options{Latency: 2 * time.Second}})
	tests := []struct {
		name, url, extra, reason string
	}{
		{"connection refused", "http://127.0.0.1:1", "", "not delivered"},
		{"timeouts", srv.URL, "    timeout: 300ms\n", "may have been delivered: the request timed out after"},
	}
	input := writeRows(t, 3, func(i int) string { return fmt.Sprintf("u%d.example.org", i) })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, tt.url, "")
			cfg = rewriteConfig(t, cfg, "    retry_deadline: 10s\n", "    retry_deadline: 1500ms\n"+tt.extra)
			start := time.Now()
			o := runImport(t, srv, "run", "--config", cfg, input)
			if o.exit != exitFailed {
				t.Fatalf("exit %d, want 1: %s", o.exit, o.stderr)
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("gave up after %s", d)
			}
			if !strings.Contains(o.stderr, "could not be delivered") || len(o.rejects) != 3 {
				t.Errorf("stderr %q, %d rejects: want the 3 rows named as not delivered", o.stderr, len(o.rejects))
			}
			for _, r := range o.rejects {
				if !strings.HasPrefix(r["reason"].(string), tt.reason) {
					t.Errorf("reject %v", r)
				}
			}
		})
	}
}
