package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/inbox"
	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

const (
	watchEnclave = "6a0ee2a1-2b3c-4d5e-8f90-123456789abc"
	// The emulator's credentials: no log line or metric may show them.
	watchKey    = "key-3f9c2e7d51"
	watchSecret = "secret-8b1d4c6a09"
)

// watchBuffer is a bytes.Buffer safe for the logger and the test at once.
type watchBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *watchBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *watchBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// watchConfig writes a configuration with one route watching inboxDir.
func watchConfig(t *testing.T, url, inboxDir, extra string) string {
	t.Helper()
	cfg := fmt.Sprintf(`sinks:
  trustar:
    url: %s
    rate_limit: 0
    linger: 50ms
    retry_deadline: 10s
    batch_size: 1000
routes:
  - name: feeds
    sink: trustar
    enclaves: [%s]
    inbox: %s
%s`, url, watchEnclave, inboxDir, extra)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// watchEmulator starts a TruSTAR emulator with the watch tests'
// credentials, closed with the test, and puts them in the environment.
func watchEmulator(t *testing.T) *trustartest.Server {
	t.Helper()
	srv := trustartest.NewServer(trustartest.Options{Key: watchKey, Secret: watchSecret})
	t.Cleanup(srv.Close)
	t.Setenv("TRUSTAR_API_KEY", watchKey)
	t.Setenv("TRUSTAR_API_SECRET", watchSecret)
	return srv
}

// watchValues returns every indicator value the emulator accepted, with
// how many times.
func watchValues(t *testing.T, bodies []json.RawMessage) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, b := range bodies {
		var body struct {
			Content []struct {
				Value string `json:"value"`
			} `json:"content"`
		}
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatalf("body %s: %v", b, err)
		}
		for _, c := range body.Content {
			out[c.Value]++
		}
	}
	return out
}

func watchWaitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func watchReport(t *testing.T, path string) inbox.Report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r inbox.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return r
}

func csvRows(prefix string, from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "%s%d.example.com\n", prefix, i)
	}
	return b.String()
}

// TestWatchInbox drops files into an inbox while watch runs against the
// TruSTAR emulator: one written slowly in pieces (pauses shorter than the
// settle period), one renamed in from .part after long pauses, a symlink,
// an empty file, a 1-byte file, a file with rejects, a broken JSON file,
// and a duplicate; it checks done/, failed/, the reports and the exact
// indicators the emulator received, then the metrics and a clean exit.
func TestWatchInbox(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 12s: a file is written over 10s")
	}
	srv := watchEmulator(t)
	dir := filepath.Join(t.TempDir(), "inbox")
	cfg := watchConfig(t, srv.URL, dir, "    settle: 1s\n    rescan: 2s\n")
	in := func(name string) string { return filepath.Join(dir, name) }
	// Filed: the report is written first, then the file moved beside it.
	filed := func(dir, name string) bool {
		_, err1 := os.Stat(in(dir + "/" + name + ".report.json"))
		_, err2 := os.Lstat(in(dir + "/" + name))
		return err1 == nil && err2 == nil
	}
	done := func(name string) bool { return filed("done", name) }
	failed := func(name string) bool { return filed("failed", name) }

	// Present at start-up.
	os.MkdirAll(dir, 0o755)
	os.WriteFile(in("early.csv"), []byte("value\n"+csvRows("early", 0, 3)), 0o644)

	var stderr watchBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, &env{stdout: io.Discard, stderr: &stderr}, []string{"watch", "--config", cfg, "--metrics-addr", "127.0.0.1:0", "--log-level", "debug"})
	}()
	var metricsURL string
	watchWaitFor(t, 10*time.Second, "the metrics address in the log", func() bool {
		sc := bufio.NewScanner(strings.NewReader(stderr.String()))
		for sc.Scan() {
			var l struct{ Msg, Metrics string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "serving metrics" {
				metricsURL = l.Metrics
				return true
			}
		}
		return false
	})

	// Written in 16 pieces over about 10s, each pause shorter than the
	// settle period (1s): never picked up half written.
	// (A machine too loaded to keep the pauses short makes the check
	// inconclusive, not failed: maxGap says.)
	var writers sync.WaitGroup
	var maxGap time.Duration
	writers.Add(2)
	go func() {
		defer writers.Done()
		f, err := os.Create(in("slow.csv"))
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		f.WriteString("value\n")
		last := time.Now()
		for i := range 16 {
			time.Sleep(time.Duration(550+10*i) * time.Millisecond)
			f.WriteString(csvRows("slow", i*10, i*10+10))
			maxGap, last = max(maxGap, time.Since(last)), time.Now()
		}
	}()
	// Paused longer than the settle period, but under a .part name, then
	// renamed: picked up whole.
	go func() {
		defer writers.Done()
		f, err := os.Create(in("big.csv.part"))
		if err != nil {
			t.Error(err)
			return
		}
		f.WriteString("value\n")
		for i := range 3 {
			f.WriteString(csvRows("big", i*5, i*5+5))
			time.Sleep(1500 * time.Millisecond)
		}
		f.Close()
		if err := os.Rename(in("big.csv.part"), in("big.csv")); err != nil {
			t.Error(err)
		}
	}()

	outside := filepath.Join(t.TempDir(), "elsewhere.csv")
	os.WriteFile(outside, []byte("value\nelsewhere.example.com\n"), 0o600)
	os.Symlink(outside, in("link.csv"))
	os.WriteFile(in("empty.csv"), nil, 0o644)
	os.WriteFile(in("one.csv"), []byte("\n"), 0o644)
	os.WriteFile(in("good.csv"), []byte("value,notes\n"+csvRows("good", 0, 4)), 0o644)
	os.WriteFile(in("rejects.csv"), []byte("value,notes\nfine.example.com,ok\nnot an indicator,oops\n"), 0o644)
	os.WriteFile(in("broken.json"), []byte(`[{"value": "broken.example.com"},`), 0o644)
	os.WriteFile(in(".hidden.csv"), []byte("value\nhidden.example.com\n"), 0o644)

	watchWaitFor(t, 20*time.Second, "good.csv imported", func() bool { return done("good.csv") })
	os.WriteFile(in("good-again.csv"), []byte("value,notes\n"+csvRows("good", 0, 4)), 0o644)
	writers.Wait()
	watchWaitFor(t, 20*time.Second, "every file filed", func() bool {
		return done("early.csv") && done("slow.csv") && done("big.csv") && done("empty.csv") && done("one.csv") &&
			done("rejects.csv") && done("good-again.csv") && failed("broken.json") && failed("link.csv")
	})

	slowOK := maxGap < time.Second
	if !slowOK {
		t.Logf("a pause of %v between writes (the machine is loaded): slow.csv may be picked up early; not checked", maxGap)
	}
	// The emulator received each valid indicator exactly once.
	var want []string
	for _, set := range []struct {
		prefix   string
		from, to int
	}{{"early", 0, 3}, {"slow", 0, 160}, {"big", 0, 15}, {"good", 0, 4}} {
		for i := set.from; i < set.to; i++ {
			want = append(want, fmt.Sprintf("%s%d.example.com", set.prefix, i))
		}
	}
	want = append(want, "fine.example.com")
	got := watchValues(t, srv.Submissions())
	if !slowOK {
		for v := range got {
			if strings.HasPrefix(v, "slow") {
				delete(got, v)
			}
		}
		want = slices.DeleteFunc(want, func(v string) bool { return strings.HasPrefix(v, "slow") })
	}
	for _, v := range want {
		if got[v] != 1 {
			t.Errorf("%s received %d times, want once", v, got[v])
		}
	}
	if len(got) != len(want) {
		var extra []string
		for v := range got {
			if !slices.Contains(want, v) {
				extra = append(extra, v)
			}
		}
		t.Errorf("received %d values, want %d; unexpected: %v", len(got), len(want), extra)
	}

	// Reports.
	if r := watchReport(t, in("done/slow.csv.report.json")); slowOK && (r.Rows != 160 || r.Delivered != 160 || r.Status != inbox.StatusImported) {
		t.Errorf("slow.csv imported in part: %+v", r)
	}
	if r := watchReport(t, in("done/big.csv.report.json")); r.Rows != 15 {
		t.Errorf("big.csv: %+v", r)
	}
	r := watchReport(t, in("done/rejects.csv.report.json"))
	if r.Rows != 2 || r.Delivered != 1 || r.RowsRejected != 1 || r.RejectedRows != "rejects.csv.rejects.csv" || r.Rejects != "rejects.csv.rejects.jsonl" {
		t.Errorf("rejects.csv: %+v", r)
	}
	if b, _ := os.ReadFile(in("done/rejects.csv.rejects.csv")); string(b) != "value,notes\nnot an indicator,oops\n" {
		t.Errorf("rejects.csv.rejects.csv = %q", b)
	}
	if b, _ := os.ReadFile(in("done/rejects.csv.rejects.jsonl")); !strings.Contains(string(b), `"line":3`) {
		t.Errorf("rejects.csv.rejects.jsonl = %s", b)
	}
	for _, name := range []string{"empty.csv", "one.csv"} {
		if r := watchReport(t, in("done/"+name+".report.json")); r.Status != inbox.StatusImported || r.Rows != 0 {
			t.Errorf("%s: %+v", name, r)
		}
	}
	if r := watchReport(t, in("done/good-again.csv.report.json")); r.Status != inbox.StatusDuplicate || r.DuplicateOf != "good.csv" {
		t.Errorf("good-again.csv: %+v", r)
	}
	if r := watchReport(t, in("failed/broken.json.report.json")); r.Status != inbox.StatusFailed || r.Err == "" {
		t.Errorf("broken.json: %+v", r)
	}
	if r := watchReport(t, in("failed/link.csv.report.json")); r.Status != inbox.StatusRefused {
		t.Errorf("link.csv: %+v", r)
	}
	if fi, err := os.Lstat(in("failed/link.csv")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("failed/link.csv should be the link itself: %v, %v", fi, err)
	}
	if _, err := os.Stat(in(".hidden.csv")); err != nil {
		t.Errorf(".hidden.csv was taken: %v", err)
	}
	for _, name := range []string{"done/good.csv.report.json", "done/rejects.csv.rejects.csv", "done/rejects.csv.rejects.jsonl"} {
		if fi, err := os.Stat(in(name)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (%v), want 0600", name, fi.Mode().Perm(), err)
		}
	}

	// Metrics and health.
	var metrics string
	lines := []string{
		`iocpipe_files_total{event="duplicate",route="feeds"} 1`,
		`iocpipe_files_total{event="failed",route="feeds"} 1`,
		`iocpipe_files_total{event="refused",route="feeds"} 1`,
		`iocpipe_rows_total{outcome="rejected",route="feeds"} 1`,
		`iocpipe_sink_send_duration_seconds_count{outcome="ok",route="feeds",sink="trustar"}`,
		`iocpipe_queue_depth{route="feeds"} 0`,
		`iocpipe_ledger_bytes`,
		`iocpipe_submissions_total{route="feeds",sink="trustar"}`,
		`iocpipe_sink_retries_total{route="feeds",sink="trustar"} 0`,
	}
	if slowOK {
		lines = append(lines,
			`iocpipe_files_total{event="done",route="feeds"} 7`,
			`iocpipe_indicators_total{outcome="delivered",route="feeds"} 183`,
			`iocpipe_ledger_entries 7`)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		metrics = watchGet(t, metricsURL)
		missing := slices.DeleteFunc(slices.Clone(lines), func(l string) bool { return strings.Contains(metrics, l) })
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("metrics lack %s", strings.Join(missing, "\n"))
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	checkMetricCounts(t, metrics)
	if h := watchGet(t, strings.TrimSuffix(metricsURL, "/metrics")+"/healthz"); h != "ok\n" {
		t.Errorf("healthz: %q", h)
	}

	cancel()
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("exit code %d, want 0", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch did not stop")
	}
	logs := stderr.String()
	for _, secret := range []string{watchKey, watchSecret} {
		if strings.Contains(logs, secret) || strings.Contains(metrics, secret) {
			t.Errorf("the secret %q appears in the logs or metrics", secret)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", logs)
	}
}

func watchGet(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// checkMetricCounts checks the count identity in watch's metrics: rows
// read are delivered, merged, rejected, skipped, failed or resumed, and
// indicators delivered, merged, rejected or failed.
func checkMetricCounts(t *testing.T, metrics string) {
	t.Helper()
	values := func(name string) map[string]float64 {
		m := map[string]float64{}
		re := regexp.MustCompile(`(?m)^iocpipe_` + name + `\{outcome="(\w+)",route="feeds"\} (\S+)$`)
		for _, sm := range re.FindAllStringSubmatch(metrics, -1) {
			v, err := strconv.ParseFloat(sm[2], 64)
			if err != nil {
				t.Fatalf("%s: %v", sm[0], err)
			}
			m[sm[1]] = v
		}
		return m
	}
	rows := values("rows_total")
	if sum := rows["delivered"] + rows["merged"] + rows["rejected"] + rows["skipped"] + rows["failed"] + rows["resumed"] + rows["deduplicated"]; rows["read"] == 0 || sum != rows["read"] {
		t.Errorf("rows_total: read %v, outcomes add up to %v (%v)", rows["read"], sum, rows)
	}
	inds := values("indicators_total")
	if sum := inds["delivered"] + inds["merged"] + inds["rejected"] + inds["failed"] + inds["skipped"] + inds["deduplicated"]; inds["read"] == 0 || sum != inds["read"] {
		t.Errorf("indicators_total: read %v, outcomes add up to %v (%v)", inds["read"], sum, inds)
	}
}
