package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/pipeline"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/pipeline/ledger"
)

// recSink is a pipeline.Sink that records the values it delivered. It can
// fail the next sends (a transient error) and refuse values (as a 400
// would).
type recSink struct {
	mu     sync.Mutex
	values []string
	fail   atomic.Int32
	refuse map[string]bool
	delay  time.Duration
}

func (s *recSink) Send(ctx context.Context, b *ioc.Batch) (ioc.Result, error) {
	if s.delay > 0 {
		select {
		case <-time.After(s.delay):
		case <-ctx.Done():
			return ioc.Result{}, ctx.Err()
		}
	}
	if s.fail.Add(-1) >= 0 {
		return ioc.Result{}, errors.New("503 service unavailable")
	}
	var res ioc.Result
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, in := range b.Items {
		if s.refuse[in.Value] {
			res.Rejects = append(res.Rejects, ioc.ItemReject{Index: i, Reason: "refused", Status: 400})
			continue
		}
		s.values = append(s.values, in.Value)
	}
	res.Requests = 1
	res.IDs = []string{fmt.Sprintf("trace-%d", b.Seq)}
	return res, nil
}

func (s *recSink) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.values)
	slices.Sort(out)
	return out
}

func openTestLedger(t testing.TB) *ledger.Bolt {
	t.Helper()
	return openTestLedgerAt(t, filepath.Join(t.TempDir(), "ledger.db"))
}

func openTestLedgerAt(t testing.TB, path string) *ledger.Bolt {
	t.Helper()
	l, err := ledger.OpenBolt(path, ledger.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

type harness struct {
	t    *testing.T
	dir  string
	ib   *Inbox
	sink *recSink
	stop func()
}

// startInbox watches opts.Dir (a new temporary folder when empty) with a
// pipeline delivering to sink, until the test ends or stop is called.
func startInbox(t *testing.T, opts Options, sink *recSink) *harness {
	t.Helper()
	return startInboxRelay(t, opts, sink, nil)
}

// startInboxRelay is startInbox with relay, when set, called with each
// input between the inbox and the pipeline.
func startInboxRelay(t *testing.T, opts Options, sink *recSink, relay func(pipeline.Input)) *harness {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	if opts.Ledger == nil {
		opts.Ledger = openTestLedger(t)
	}
	if opts.Settle == 0 {
		opts.Settle = 200 * time.Millisecond
	}
	if opts.Rescan == 0 {
		opts.Rescan = time.Second
	}
	opts.Route, opts.Sink = "feeds", "test"
	if testing.Verbose() {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ib, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.New(pipeline.Options{
		Route: &pipeline.Route{Name: "feeds", Sink: "test", Enclaves: []string{"11111111-2222-4333-8444-555555555555"}},
		Sink:  sink, Linger: 20 * time.Millisecond, Workers: 2, MaxBatch: 50,
	})
	if err != nil {
		t.Fatal(err)
	}
	feed, watchFeed := make(chan pipeline.Input), make(chan pipeline.Input)
	relayed := make(chan struct{})
	go func() {
		defer close(relayed)
		for in := range watchFeed {
			if relay != nil {
				relay(in)
			}
			feed <- in
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	watched, ran := make(chan error, 1), make(chan error, 1)
	go func() { _, err := p.Run(context.Background(), feed); ran <- err }()
	go func() { watched <- ib.Watch(ctx, watchFeed) }()
	var once sync.Once
	h := &harness{t: t, dir: opts.Dir, ib: ib, sink: sink}
	h.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-watched; err != nil {
				t.Errorf("Watch: %v", err)
			}
			close(watchFeed)
			<-relayed
			p.Stop()
			close(feed)
			if err := <-ran; err != nil {
				t.Errorf("Run: %v", err)
			}
			ib.Close()
		})
	}
	t.Cleanup(h.stop)
	return h
}

func (h *harness) path(parts ...string) string {
	return filepath.Join(append([]string{h.dir}, parts...)...)
}

func (h *harness) write(name, content string) {
	h.t.Helper()
	if err := os.WriteFile(h.path(name), []byte(content), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// waitFor polls cond until it holds, or fails the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func readReport(t *testing.T, path string) Report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, want 0600", path, fi.Mode().Perm())
	}
	return r
}

func rowsCSV(prefix string, n int) string {
	var b strings.Builder
	b.WriteString("value\n")
	for i := range n {
		fmt.Fprintf(&b, "%s%d.example.com\n", prefix, i)
	}
	return b.String()
}

func values(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s%d.example.com", prefix, i))
	}
	return out
}

func TestWatchLifecycle(t *testing.T) {
	sink := &recSink{refuse: map[string]bool{"refuse-me.example.com": true}}
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "secret.csv")
	os.WriteFile(outside, []byte("value\nsecret.example.com\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "present.csv"), []byte(rowsCSV("present", 3)), 0o644)
	h := startInbox(t, Options{Dir: dir}, sink)

	h.write("good.csv", rowsCSV("good", 5))
	h.write("rej.csv", "value,notes\nok1.example.com,fine\nnot an indicator,bad\nrefuse-me.example.com,sink says no\n")
	h.write("bad.json", `[{"value": "a.example.com"}, `)
	h.write("empty.csv", "")
	h.write("one.csv", "\n")
	h.write(".hidden.csv", rowsCSV("hidden", 1))
	h.write("later.csv.part", rowsCSV("part", 1))
	h.write("other.tmp", rowsCSV("tmp", 1))
	os.Symlink(outside, h.path("link.csv"))
	os.Mkdir(h.path("sub"), 0o755)
	h.write("README.md", "value\nreadme.example.com\n")

	// Filed: the report is written first, then the file moved beside it.
	done := func(name string) bool {
		return exists(h.path("done", name+reportSuffix)) && exists(h.path("done", name))
	}
	failed := func(name string) bool {
		return exists(h.path("failed", name+reportSuffix)) && exists(h.path("failed", name))
	}
	waitFor(t, 10*time.Second, "files filed", func() bool {
		return done("present.csv") && done("good.csv") && done("rej.csv") && done("empty.csv") && done("one.csv") &&
			failed("bad.json") && failed("link.csv") && failed("README.md")
	})
	if r := readReport(t, h.path("failed", "README.md"+reportSuffix)); r.Status != StatusRefused || !strings.Contains(r.Err, "not data") {
		t.Errorf("README.md report: %+v", r)
	}

	want := append(append(values("present", 0, 3), values("good", 0, 5)...), "ok1.example.com")
	slices.Sort(want)
	if got := sink.got(); !slices.Equal(got, want) {
		t.Errorf("delivered %v\nwant %v", got, want)
	}
	r := readReport(t, h.path("done", "good.csv.report.json"))
	if r.Status != StatusImported || r.Rows != 5 || r.Delivered != 5 || r.MovedTo != "good.csv" || r.SHA256 == "" || r.File != "good.csv" {
		t.Errorf("good.csv report: %+v", r)
	}
	r = readReport(t, h.path("done", "rej.csv.report.json"))
	if r.Rows != 3 || r.Delivered != 1 || r.RowsDelivered != 1 || r.RowsRejected != 2 || r.Rejected != 2 || r.RejectedRows != "rej.csv.rejects.csv" {
		t.Errorf("rej.csv report: %+v", r)
	}
	rows, _ := os.ReadFile(h.path("done", "rej.csv.rejects.csv"))
	if got, want := string(rows), "value,notes\nnot an indicator,bad\nrefuse-me.example.com,sink says no\n"; got != want {
		t.Errorf("rej.csv.rejects.csv:\n%s\nwant\n%s", got, want)
	}
	reasons, _ := os.ReadFile(h.path("done", "rej.csv.rejects.jsonl"))
	if n := strings.Count(string(reasons), "\n"); n != 2 || !strings.Contains(string(reasons), `"reason":"refused"`) {
		t.Errorf("rej.csv.rejects.jsonl (%d lines):\n%s", n, reasons)
	}
	for _, name := range []string{"empty.csv", "one.csv"} {
		if r := readReport(t, h.path("done", name+reportSuffix)); r.Status != StatusImported || r.Rows != 0 {
			t.Errorf("%s: %+v", name, r)
		}
	}
	if r := readReport(t, h.path("failed", "bad.json.report.json")); r.Status != StatusFailed || r.Err == "" || !exists(h.path("failed", "bad.json")) {
		t.Errorf("bad.json: %+v", r)
	}
	r = readReport(t, h.path("failed", "link.csv.report.json"))
	if fi, err := os.Lstat(h.path("failed", "link.csv")); err != nil || fi.Mode()&os.ModeSymlink == 0 || r.Status != StatusRefused {
		t.Errorf("link.csv: moved as a link? %v %v; report %+v", fi, err, r)
	}
	for _, name := range []string{".hidden.csv", "later.csv.part", "other.tmp", "sub"} {
		if !exists(h.path(name)) {
			t.Errorf("%s was taken from the inbox", name)
		}
	}

	// The same content again, under another name: filed, not sent.
	before := len(sink.got())
	h.write("good-again.csv", rowsCSV("good", 5))
	waitFor(t, 5*time.Second, "duplicate filed", func() bool { return done("good-again.csv") })
	r = readReport(t, h.path("done", "good-again.csv.report.json"))
	if r.Status != StatusDuplicate || r.DuplicateOf != "good.csv" || r.ImportedBefore == nil {
		t.Errorf("duplicate report: %+v", r)
	}
	// Other content under a taken name: never overwrites.
	h.write("good.csv", rowsCSV("new", 2))
	waitFor(t, 5*time.Second, "good-2.csv", func() bool { return done("good-2.csv") })
	if got := len(sink.got()); got != before+2 {
		t.Errorf("delivered %d more, want 2", got-before)
	}
	if b, _ := os.ReadFile(h.path("done", "good.csv")); string(b) != rowsCSV("good", 5) {
		t.Errorf("done/good.csv was overwritten")
	}
	waitFor(t, time.Second, "stats", func() bool {
		st := h.ib.Stats()
		return st.Done == 6 && st.Duplicates == 1 && st.Failed == 1 && st.Refused == 2 && st.Claimed == 8
	})
}

// A file written in pieces, with pauses shorter than the settle period, is
// imported once, whole.
func TestWatchSlowWriter(t *testing.T) {
	sink := &recSink{}
	h := startInbox(t, Options{Settle: 500 * time.Millisecond}, sink)
	f, err := os.Create(h.path("slow.csv"))
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("value\n")
	const pieces, per = 15, 10
	var maxGap time.Duration
	last := time.Now()
	for i := range pieces {
		time.Sleep(time.Duration(100+20*(i%6)) * time.Millisecond)
		for j := range per {
			fmt.Fprintf(f, "slow%d.example.com\n", i*per+j)
		}
		maxGap, last = max(maxGap, time.Since(last)), time.Now()
	}
	f.Close()
	if maxGap >= 500*time.Millisecond {
		t.Skipf("a pause of %v between writes (the machine is loaded): inconclusive", maxGap)
	}
	waitFor(t, 10*time.Second, "slow.csv filed", func() bool { return exists(h.path("done", "slow.csv.report.json")) })
	if r := readReport(t, h.path("done", "slow.csv.report.json")); r.Rows != pieces*per {
		t.Errorf("imported %d rows, want %d", r.Rows, pieces*per)
	}
	want := values("slow", 0, pieces*per)
	slices.Sort(want)
	if got := sink.got(); !slices.Equal(got, want) {
		t.Errorf("delivered %d values, want %d", len(got), len(want))
	}
}

// A file renamed in from a .part name is complete: it is picked up without
// waiting for the settle period, however long its writer paused.
func TestWatchPartRename(t *testing.T) {
	sink := &recSink{}
	h := startInbox(t, Options{Settle: 2 * time.Second}, sink)
	f, err := os.Create(h.path("big.csv.part"))
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("value\n")
	for i := range 3 {
		fmt.Fprintf(f, "part%d.example.com\n", i)
		time.Sleep(300 * time.Millisecond)
	}
	f.Close()
	time.Sleep(100 * time.Millisecond)
	renamed := time.Now()
	if err := os.Rename(h.path("big.csv.part"), h.path("big.csv")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "big.csv filed", func() bool { return exists(h.path("done", "big.csv.report.json")) })
	if took := time.Since(renamed); took > 1500*time.Millisecond {
		t.Errorf("picked up %v after the rename: it waited for the settle period", took)
	}
	if r := readReport(t, h.path("done", "big.csv.report.json")); r.Rows != 3 {
		t.Errorf("rows %d, want 3", r.Rows)
	}
}

// A file left in work/ resumes: the rows the ledger has are not sent again.
func TestWatchResume(t *testing.T) {
	dir := t.TempDir()
	l := openTestLedger(t)
	work := filepath.Join(dir, ".iocpipe", "work")
	os.MkdirAll(work, 0o700)
	path := filepath.Join(work, "r.csv")
	os.WriteFile(path, []byte(rowsCSV("r", 10)), 0o644)
	sum, size, err := ledger.Sum(path)
	if err != nil {
		t.Fatal(err)
	}
	key := ledger.Key("feeds", "test")
	if _, err := l.Begin(context.Background(), key, ledger.Content{Sum: sum, Name: "r.csv", Size: size}, false); err != nil {
		t.Fatal(err)
	}
	l.Record(key, sum, ioc.Ranges{{0, 6}})
	if err := l.Close(); err != nil { // written, as by a run that ended there
		t.Fatal(err)
	}
	l = openTestLedgerAt(t, l.Path())
	sink := &recSink{}
	h := startInbox(t, Options{Dir: dir, Ledger: l}, sink)
	// Filed, then recorded as imported (Stats.Done counts it after both).
	waitFor(t, 5*time.Second, "r.csv filed", func() bool { return exists(h.path("done", "r.csv")) && h.ib.Stats().Done == 1 })
	if got, want := sink.got(), values("r", 6, 10); !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
	if r := readReport(t, h.path("done", "r.csv.report.json")); r.RowsResumed != 6 || r.Rows != 10 || r.RowsDelivered != 4 {
		t.Errorf("report: %+v", r)
	}
	e, _, _ := l.Get(context.Background(), key, sum)
	if !e.Done || fmt.Sprint(e.Acked) != "[[0 10]]" {
		t.Errorf("ledger: %+v", e)
	}
	if h.ib.Stats().Resumed != 1 {
		t.Errorf("stats: %+v", h.ib.Stats())
	}
}

// Indicators that could not be delivered keep the file in work/; it is fed
// again, and only what was not acknowledged is sent.
func TestWatchRetry(t *testing.T) {
	sink := &recSink{}
	sink.fail.Store(1)
	h := startInbox(t, Options{RetryDelay: 300 * time.Millisecond}, sink)
	h.write("x.csv", rowsCSV("x", 120)) // three batches of 50: the first fails
	waitFor(t, 10*time.Second, "x.csv filed", func() bool { return exists(h.path("done", "x.csv.report.json")) })
	want := values("x", 0, 120)
	slices.Sort(want)
	if got := sink.got(); !slices.Equal(got, want) {
		t.Errorf("delivered %d values (%v), want each of the 120 once", len(got), got)
	}
	waitFor(t, time.Second, "stats", func() bool { st := h.ib.Stats(); return st.Retried == 1 && st.Done == 1 })
	if r := readReport(t, h.path("done", "x.csv.report.json")); r.RowsResumed != 70 || r.Delivered != 50 {
		t.Errorf("report: %+v", r)
	}
}

func TestWatchDeleteDone(t *testing.T) {
	sink := &recSink{}
	h := startInbox(t, Options{DeleteDone: true, DoneDir: filepath.Join(t.TempDir(), "archive")}, sink)
	h.write("d.csv", rowsCSV("d", 2))
	_, work, done, _ := h.ib.Dirs()
	waitFor(t, 5*time.Second, "d.csv report", func() bool { return exists(filepath.Join(done, "d.csv.report.json")) })
	waitFor(t, 5*time.Second, "d.csv deleted", func() bool { return !exists(filepath.Join(work, "d.csv")) })
	if exists(filepath.Join(done, "d.csv")) || exists(h.path("d.csv")) {
		t.Error("d.csv was kept")
	}
	if r := readReport(t, filepath.Join(done, "d.csv.report.json")); !r.Deleted || r.MovedTo != "" {
		t.Errorf("report: %+v", r)
	}
}

func TestNewRefusesOtherFileSystem(t *testing.T) {
	other, err := os.MkdirTemp("/dev/shm", "inbox-test-")
	if err != nil {
		t.Skip("no /dev/shm")
	}
	defer os.RemoveAll(other)
	dir := t.TempDir()
	a, _ := os.Stat(dir)
	b, _ := os.Stat(other)
	ida, _ := idOf(a)
	idb, ok := idOf(b)
	if !ok || ida.dev == idb.dev {
		t.Skip("/dev/shm is on the same file system here")
	}
	_, err = New(Options{Dir: dir, DoneDir: filepath.Join(other, "done")})
	if err == nil || !strings.Contains(err.Error(), "another file system") {
		t.Errorf("got %v, want an error naming the other file system", err)
	}
}

// A file rewritten in work/ after its claim: what is sent is the content
// the hash names (the copy taken at claim), the file goes to failed/ with
// the reason, and its original content dropped in again is not refused as
// imported: every row of it is delivered, once.
func TestWatchRewrittenAfterClaim(t *testing.T) {
	sink := &recSink{}
	orig := rowsCSV("orig", 5)
	var h *harness
	h = startInboxRelay(t, Options{}, sink, func(in pipeline.Input) {
		if err := os.WriteFile(h.path(".iocpipe", "work", "a.csv"), []byte(rowsCSV("evil", 5)), 0o644); err != nil {
			t.Error(err)
		}
	})
	h.write("a.csv", orig)
	waitFor(t, 10*time.Second, "a.csv filed", func() bool {
		return exists(h.path("failed", "a.csv.report.json")) || exists(h.path("done", "a.csv.report.json"))
	})
	if r := readReport(t, h.path("failed", "a.csv.report.json")); !strings.Contains(r.Err, "changed after it was claimed") {
		t.Errorf("report: %+v, want failed as changed after its claim", r)
	}
	h.write("a-again.csv", orig)
	waitFor(t, 10*time.Second, "a-again.csv filed", func() bool { return exists(h.path("done", "a-again.csv.report.json")) })
	if got, want := sink.got(), values("orig", 0, 5); !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v (the original content, once)", got, want)
	}
}

// A file dropped in again whose content was imported with a row the sink
// refused is not a duplicate: that row is sent again, the delivered ones
// are not.
func TestWatchRedropSendsUndelivered(t *testing.T) {
	sink := &recSink{refuse: map[string]bool{"r2.example.com": true}}
	h := startInbox(t, Options{}, sink)
	content := rowsCSV("r", 4)
	h.write("a.csv", content)
	waitFor(t, 10*time.Second, "a.csv filed", func() bool { return exists(h.path("done", "a.csv.report.json")) })
	sink.mu.Lock()
	sink.refuse = nil // the sink's mind changed (or the 400 named no row)
	sink.mu.Unlock()
	h.write("a-again.csv", content)
	waitFor(t, 10*time.Second, "a-again.csv filed", func() bool { return exists(h.path("done", "a-again.csv.report.json")) })
	if r := readReport(t, h.path("done", "a-again.csv.report.json")); r.Status != StatusImported || r.Delivered != 1 || r.RowsResumed != 3 {
		t.Errorf("re-drop report: %+v, want imported, 1 delivered, 3 resumed", r)
	}
	if got, want := sink.got(), values("r", 0, 4); !slices.Equal(got, want) {
		t.Errorf("delivered %v, want each of %v once", got, want)
	}
}

// A file whose delivery keeps failing is given up to failed/ after
// GiveUpAfter, with every reason, instead of being retried for ever.
func TestWatchGiveUp(t *testing.T) {
	sink := &recSink{}
	sink.fail.Store(1 << 30)
	h := startInbox(t, Options{RetryDelay: 100 * time.Millisecond, GiveUpAfter: 400 * time.Millisecond}, sink)
	h.write("g.csv", rowsCSV("g", 3))
	waitFor(t, 10*time.Second, "g.csv given up", func() bool { return exists(h.path("failed", "g.csv.report.json")) })
	r := readReport(t, h.path("failed", "g.csv.report.json"))
	if r.Status != StatusFailed || !strings.Contains(r.Err, "given up") || !slices.Contains(r.Reasons, "503 service unavailable") {
		t.Errorf("report: %+v", r)
	}
	if !exists(h.path("failed", "g.csv")) || h.ib.Stats().Retried < 1 {
		t.Errorf("g.csv in failed/? %v; stats %+v", exists(h.path("failed", "g.csv")), h.ib.Stats())
	}
}
