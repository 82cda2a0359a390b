package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/ledger"
	"github.com/iocpipe/iocpipe/pipeline/taxii"
	"github.com/iocpipe/iocpipe/pipeline/taxii/taxiitest"
	"github.com/iocpipe/iocpipe/sinks/faults"
	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

// taxiiEpoch is when the test collections' objects were added.
var taxiiEpoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// taxiiValue is the domain of the test collections' i-th indicator.
func taxiiValue(i int) string { return fmt.Sprintf("tx%06d.example.com", i) }

// taxiiID is the STIX id of the test collections' i-th indicator.
func taxiiID(i int) string {
	x := fmt.Sprintf("%x", sha256.Sum256([]byte(taxiiValue(i))))
	return "indicator--" + x[0:8] + "-" + x[8:12] + "-8" + x[13:16] + "-8" + x[17:20] + "-" + x[20:32]
}

// taxiiIndicator is the test collections' i-th STIX indicator.
func taxiiIndicator(i int) json.RawMessage {
	created := taxiiEpoch.Add(-time.Hour).Format("2006-01-02T15:04:05.000Z")
	return json.RawMessage(fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":%q,"created":%q,"modified":%q,`+
		`"pattern":"[domain-name:value = '%s']","pattern_type":"stix","valid_from":%q}`, taxiiID(i), created, created, taxiiValue(i), created))
}

// coveredBy returns whether the i-th indicator (added at taxiiAt) is
// before cursor cur: a poll from cur does not read it again.
func coveredBy(cur taxii.Cursor) func(i int) bool {
	seen := map[string]bool{}
	for _, v := range cur.Seen {
		seen[v.ID] = true
	}
	return func(i int) bool {
		at := taxiiAt(taxiiEpoch, i)
		if !at.Equal(cur.AddedAfter) {
			return at.Before(cur.AddedAfter)
		}
		return len(seen) == 0 || seen[taxiiID(i)]
	}
}

// taxiiAt is the date_added of the test collections' i-th indicator after
// base: a third of them share one across the boundaries of pages of 100
// (the 34 around each multiple of 100, counted from 0), the others have
// one each, a millisecond apart.
func taxiiAt(base time.Time, i int) time.Time {
	if (i+17)%100 < 34 {
		i = (i+17)/100*100 - 17
	}
	return base.Add(time.Duration(i) * time.Millisecond)
}

// taxiiFill adds the indicators [from, to) to the collection id, each at
// its taxiiAt.
func taxiiFill(t *testing.T, srv *taxiitest.Server, id string, base time.Time, from, to int) {
	t.Helper()
	for i := from; i < to; {
		at := taxiiAt(base, i)
		objs := []json.RawMessage{}
		for ; i < to && taxiiAt(base, i).Equal(at); i++ {
			objs = append(objs, taxiiIndicator(i))
		}
		if _, _, err := srv.Add(id, at, objs...); err != nil {
			t.Fatal(err)
		}
	}
}

// taxiiKey is a route's taxii: polling collection of the TAXII emulator
// at root with its demo credentials (put in the environment by
// taxiiConfig); extra goes inside.
func taxiiKey(root, collection, extra string) string {
	return fmt.Sprintf("    taxii:\n      url: %s\n      collection: %s\n      username_env: TAXII_USERNAME\n      password_env: TAXII_PASSWORD\n%s",
		root, collection, extra)
}

// taxiiConfig writes watchConfig's configuration with a ledger and no
// inbox, its route feeds polling collection of the TAXII emulator at root
// into the TruSTAR emulator at sinkURL; extra goes into the route's
// taxii:.
func taxiiConfig(t *testing.T, sinkURL, root, collection, extra string) (cfg, ledgerPath string) {
	t.Helper()
	cfg = watchConfig(t, sinkURL, `""`, taxiiKey(root, collection, extra))
	ledgerPath = filepath.Join(filepath.Dir(cfg), "ledger.db")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, append([]byte("ledger: "+ledgerPath+"\n"), b...), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TAXII_USERNAME", "demo")
	t.Setenv("TAXII_PASSWORD", "demo")
	return cfg, ledgerPath
}

// checkOnce fails unless got holds each of the indicators [0, n) once
// and nothing else.
func checkOnce(t *testing.T, got map[string]int, n int) {
	t.Helper()
	bad := 0
	for i := range n {
		if c := got[taxiiValue(i)]; c != 1 && bad < 10 {
			t.Errorf("%s delivered %d times, want once", taxiiValue(i), c)
			bad++
		}
	}
	if len(got) != n {
		t.Errorf("%d distinct values delivered, want %d", len(got), n)
	}
}

// readCursor reads the route feeds's cursor of collection id from the
// bbolt ledger at path (no process holds it).
func readCursor(t *testing.T, path, id string) (taxii.Cursor, bool) {
	t.Helper()
	l, err := ledger.OpenBolt(path, ledger.BoltOptions{ReadOnly: true, Timeout: 5 * time.Second})
	if os.IsNotExist(err) || err != nil && strings.Contains(err.Error(), "no such file") {
		return taxii.Cursor{}, false
	}
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	raw, ok, err := l.Cursor(context.Background(), ledger.Key("feeds", "trustar"), id)
	if err != nil {
		t.Fatal(err)
	}
	var c taxii.Cursor
	if ok {
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatalf("the cursor %s: %v", raw, err)
		}
	}
	return c, ok
}

// TestTAXIIRun25k polls a collection of 25,000 indicators in pages of
// 100, a third sharing date_added values across page boundaries, with
// iocpipe run --route: every indicator is delivered once, each page is
// reported under its origin, the cursor ends at the last date_added, and
// a second run finds nothing new.
func TestTAXIIRun25k(t *testing.T) {
	const n = 25000
	tx := taxiitest.NewServer(taxiitest.Options{PageSize: 100})
	defer tx.Close()
	taxiiFill(t, tx, taxiitest.ScratchCollectionID, taxiiEpoch, 0, n)
	sink := trustartest.NewServer(trustartest.Options{})
	defer sink.Close()
	cfg, ledgerPath := taxiiConfig(t, sink.URL, tx.APIRoot(), taxiitest.ScratchTitle, "      limit: 1000\n")
	reportPath := filepath.Join(t.TempDir(), "report.json")

	started := time.Now()
	code, _, stderr := cliRun(t, "run", "--config", cfg, "--route", "feeds", "--report", reportPath)
	if code != exitOK {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	t.Logf("%d indicators in %d pages: %v", n, tx.Stats().Pages, time.Since(started).Round(time.Millisecond))
	checkOnce(t, watchValues(t, sink.Submissions()), n)
	if p := tx.Stats().Pages; p != n/100 {
		t.Errorf("%d pages served, want %d (pages of 100)", p, n/100)
	}
	var r report
	b, err := os.ReadFile(reportPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	prefix := "taxii:feeds:" + taxiitest.ScratchCollectionID + ":"
	rows := int64(0)
	for _, f := range r.Files {
		if !strings.HasPrefix(f.File, prefix) || !strings.Contains(f.File, "/") {
			t.Errorf("a page reported as %q, want %s<first>/<last>", f.File, prefix)
		}
		rows += f.Rows
	}
	if len(r.Files) != n/100 || rows != n || r.Summary.Delivered != n {
		t.Errorf("report: %d pages, %d rows, %d delivered; want %d, %d, %d", len(r.Files), rows, r.Summary.Delivered, n/100, n, n)
	}
	cur, ok := readCursor(t, ledgerPath, taxiitest.ScratchCollectionID)
	last := taxiiAt(taxiiEpoch, n-1)
	if !ok || !cur.AddedAfter.Equal(last) {
		t.Errorf("cursor %+v (stored %v), want added_after %s", cur.AddedAfter, ok, last.Format(time.RFC3339Nano))
	}

	before := len(sink.Submissions())
	code, _, stderr = cliRun(t, "run", "--config", cfg, "--route", "feeds")
	if code != exitOK || !strings.Contains(stderr, "nothing to import: no new object in TAXII collection") {
		t.Errorf("second run: exit %d, want 0 saying nothing is new\n%s", code, stderr)
	}
	if after := len(sink.Submissions()); after != before {
		t.Errorf("the second run sent %d submissions, want none", after-before)
	}
}

// TestTAXIIWatchBetweenPolls runs watch on a collection and adds objects
// between its polls — later ones, and some at the very date_added the
// cursor ends on: each poll picks up what is new, and nothing is sent
// twice.
func TestTAXIIWatchBetweenPolls(t *testing.T) {
	tx := taxiitest.NewServer(taxiitest.Options{PageSize: 100})
	defer tx.Close()
	taxiiFill(t, tx, taxiitest.ScratchCollectionID, taxiiEpoch, 0, 500)
	sink := watchEmulator(t)
	cfg, _ := taxiiConfig(t, sink.URL, tx.APIRoot(), taxiitest.ScratchCollectionID, "      poll: 1s\n")
	log := startWatch(t, cfg)
	delivered := func(n int) func() bool {
		return func() bool { return len(watchValues(t, sink.Submissions())) >= n }
	}
	watchWaitFor(t, 30*time.Second, "the first 500 indicators", delivered(500))

	// Later objects, then objects at the cursor's very date_added.
	taxiiFill(t, tx, taxiitest.ScratchCollectionID, taxiiEpoch, 500, 800)
	watchWaitFor(t, 30*time.Second, "the 300 added", delivered(800))
	last := taxiiAt(taxiiEpoch, 799)
	objs := []json.RawMessage{}
	for i := 800; i < 805; i++ {
		objs = append(objs, taxiiIndicator(i))
	}
	if _, _, err := tx.Add(taxiitest.ScratchCollectionID, last, objs...); err != nil {
		t.Fatal(err)
	}
	watchWaitFor(t, 30*time.Second, "the 5 added at the cursor's date_added", delivered(805))
	// One more poll after the last: nothing is sent again.
	n := strings.Count(log.String(), "TAXII poll done")
	watchWaitFor(t, 30*time.Second, "another poll", func() bool { return strings.Count(log.String(), "TAXII poll done") > n })
	checkOnce(t, watchValues(t, sink.Submissions()), 805)
	if !strings.Contains(log.String(), `"page":"taxii:feeds:`+taxiitest.ScratchCollectionID+`:`) {
		t.Errorf("the log names no page by its origin:\n%.3000s", log.String())
	}
}

// TestTAXIIStartErrors: a route whose collection cannot be polled fails
// at start, naming the route's key: a locked collection (can_read false),
// one the API root does not list, a TAXII 2.0 server (exit 2); wrong
// credentials (exit 1).
func TestTAXIIStartErrors(t *testing.T) {
	tx := taxiitest.NewServer(taxiitest.Options{})
	defer tx.Close()
	sink := trustartest.NewServer(trustartest.Options{})
	defer sink.Close()
	for _, tt := range []struct {
		name, collection string
		password         string
		code             int
		want             []string
	}{
		{"locked", taxiitest.LockedTitle, "demo", exitUsage, []string{"routes[0] (feeds).taxii.collection", "can_read is false"}},
		{"unknown", "nope", "demo", exitUsage, []string{"routes[0] (feeds).taxii.collection", "no such collection", taxiitest.DemoTitle}},
		{"password", "demo", "wrong", exitFailed, []string{"routes[0] (feeds).taxii", "401"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := taxiiConfig(t, sink.URL, tx.APIRoot(), tt.collection, "")
			t.Setenv("TAXII_PASSWORD", tt.password)
			for _, args := range [][]string{{"run", "--config", cfg, "--route", "feeds"}, {"watch", "--config", cfg}} {
				code, _, stderr := cliRun(t, args...)
				if code != tt.code {
					t.Errorf("%s: exit %d, want %d\n%s", args[0], code, tt.code, stderr)
				}
				for _, w := range tt.want {
					if !strings.Contains(stderr, w) {
						t.Errorf("%s: stderr does not say %q:\n%s", args[0], w, stderr)
					}
				}
			}
		})
	}
	if got := len(sink.Submissions()); got != 0 {
		t.Errorf("%d submissions, want none", got)
	}

	// A run of no PATH on a route without taxii: is a usage error.
	cfg := watchConfig(t, sink.URL, t.TempDir(), "")
	if code, _, stderr := cliRun(t, "run", "--config", cfg, "--route", "feeds"); code != exitUsage || !strings.Contains(stderr, "route feeds has no taxii:") {
		t.Errorf("run --route feeds with no PATH: exit %d\n%s", code, stderr)
	}
}

// TestTAXIIFailedPageHoldsCursor: a page whose delivery fails stops the
// poll and leaves the cursor before it (exit 1); the next run, with the
// sink working, resumes there and delivers the rest, the rows
// acknowledged before not again.
func TestTAXIIFailedPageHoldsCursor(t *testing.T) {
	tx := taxiitest.NewServer(taxiitest.Options{PageSize: 100})
	defer tx.Close()
	taxiiFill(t, tx, taxiitest.ScratchCollectionID, taxiiEpoch, 0, 1000)
	broken := trustartest.NewServer(trustartest.Options{Faults: faults.Options{FailPattern: regexp.MustCompile(`tx000450\.example\.com`)}})
	defer broken.Close()
	cfg, ledgerPath := taxiiConfig(t, broken.URL, tx.APIRoot(), taxiitest.ScratchTitle, "")
	b, _ := os.ReadFile(cfg)
	// Batches of 50 rows, failing fast.
	text := strings.Replace(strings.Replace(string(b), "retry_deadline: 10s", "retry_deadline: 200ms", 1), "batch_size: 1000", "batch_size: 50", 1)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := cliRun(t, "run", "--config", cfg, "--route", "feeds")
	if code != exitFailed {
		t.Fatalf("run with a failing batch: exit %d, want 1\n%s", code, stderr)
	}
	first := watchValues(t, broken.Submissions())
	cur, _ := readCursor(t, ledgerPath, taxiitest.ScratchCollectionID)
	// The page holding row 450 starts at row 400; the cursor stays before it.
	covered := coveredBy(cur)
	if covered(400) || !covered(399) {
		t.Errorf("cursor %s after a failed page: want after row 399 and before row 400", cur.AddedAfter)
	}

	fixed := trustartest.NewServer(trustartest.Options{})
	defer fixed.Close()
	if err := os.WriteFile(cfg, []byte(strings.Replace(text, broken.URL, fixed.URL, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := cliRun(t, "run", "--config", cfg, "--route", "feeds"); code != exitOK {
		t.Fatalf("run again: exit %d\n%s", code, stderr)
	}
	second := watchValues(t, fixed.Submissions())
	all := map[string]int{}
	again := 0
	for v := range first {
		all[v]++
	}
	for v := range second {
		if all[v] > 0 {
			again++
			var i int
			fmt.Sscanf(v, "tx%06d.example.com", &i)
			if covered(i) {
				t.Errorf("%s was before the cursor, and sent again", v)
			}
		}
		all[v]++
	}
	for i := range 1000 {
		if all[taxiiValue(i)] == 0 {
			t.Errorf("%s never delivered", taxiiValue(i))
		}
	}
	// Sent again: only rows after the cursor (pages fetched again from
	// it are cut elsewhere when it ends within a run of equal date_added,
	// so the ledger does not know them), and only as many as a poll feeds
	// past the cursor.
	t.Logf("first run delivered %d, the second %d, %d of them again", len(first), len(second), again)
	// At most (in_flight + 1) × batch_size objects are fed past the
	// cursor, and a page more.
	if window := (4+1)*50 + 100; again > window {
		t.Errorf("%d rows sent again, want at most %d", again, window)
	}
}

// TestTAXIIPostgresLedger: run --route on a taxii: route with a
// PostgreSQL ledger keeps the cursor there: a second run sends only what
// was added since, --reimport everything again.
func TestTAXIIPostgresLedger(t *testing.T) {
	tx := taxiitest.NewServer(taxiitest.Options{PageSize: 100})
	defer tx.Close()
	taxiiFill(t, tx, taxiitest.ScratchCollectionID, taxiiEpoch, 0, 300)
	sink := trustartest.NewServer(trustartest.Options{})
	defer sink.Close()
	t.Setenv("IOCPIPE_TEST_DSN", pg.Database(t))
	cfg, ledgerPath := taxiiConfig(t, sink.URL, tx.APIRoot(), taxiitest.ScratchTitle, "")
	b, _ := os.ReadFile(cfg)
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(b), "ledger: "+ledgerPath+"\n", pgLedgerKey, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	sent := 0
	runOnce := func(what string, want int, args ...string) {
		t.Helper()
		code, _, stderr := cliRun(t, append([]string{"run", "--config", cfg, "--route", "feeds"}, args...)...)
		bodies := sink.Submissions()
		got := watchValues(t, bodies[sent:])
		sent = len(bodies)
		if code != exitOK || len(got) != want {
			t.Errorf("%s: exit %d, %d values sent; want 0 and %d\n%s", what, code, len(got), want, stderr)
		}
	}
	runOnce("first run", 300)
	taxiiFill(t, tx, taxiitest.ScratchCollectionID, taxiiEpoch, 300, 350)
	runOnce("after 50 were added", 50)
	runOnce("nothing new", 0)
	runOnce("--reimport", 350, "--reimport")
	if _, err := os.Stat(ledgerPath); err == nil {
		t.Errorf("a bbolt ledger was written beside the PostgreSQL one")
	}
}

// TestTAXIIWatchInboxAndTAXII: a route with both inbox: and taxii: feeds
// one pipeline from both; its ledger (the inbox's default) keeps the
// cursor.
func TestTAXIIWatchInboxAndTAXII(t *testing.T) {
	tx := taxiitest.NewServer(taxiitest.Options{PageSize: 100})
	defer tx.Close()
	taxiiFill(t, tx, taxiitest.ScratchCollectionID, taxiiEpoch, 0, 250)
	sink := watchEmulator(t)
	dir := filepath.Join(t.TempDir(), "inbox")
	os.MkdirAll(dir, 0o755)
	t.Setenv("TAXII_USERNAME", "demo")
	t.Setenv("TAXII_PASSWORD", "demo")
	cfg := watchConfig(t, sink.URL, dir, "    settle: 200ms\n"+taxiiKey(tx.APIRoot(), taxiitest.ScratchTitle, "      poll: 1s\n"))
	startWatch(t, cfg)
	os.WriteFile(filepath.Join(dir, "a.csv"), []byte("value\n"+csvRows("inbox", 0, 20)), 0o644)
	watchWaitFor(t, 30*time.Second, "the file and the collection delivered", func() bool {
		_, err := os.Stat(filepath.Join(dir, "done", "a.csv.report.json"))
		return err == nil && len(watchValues(t, sink.Submissions())) >= 270
	})
	got := watchValues(t, sink.Submissions())
	for i := range 20 {
		if v := fmt.Sprintf("inbox%d.example.com", i); got[v] != 1 {
			t.Errorf("%s delivered %d times, want once", v, got[v])
		}
		delete(got, fmt.Sprintf("inbox%d.example.com", i))
	}
	checkOnce(t, got, 250)
}

// TestCheckTAXII: iocpipe check finds a taxii: route's collection, and
// fails, naming why, on one that cannot be read.
func TestCheckTAXII(t *testing.T) {
	srv := watchEmulator(t)
	tx := taxiitest.NewServer(taxiitest.Options{})
	t.Cleanup(tx.Close)
	cfg, _ := taxiiConfig(t, srv.URL, tx.APIRoot(), "demo", "")
	code, stdout, _ := cliRunEnv(t, "check", "--config", cfg)
	if want := `route feeds: taxii ` + tx.APIRoot() + `: collection: ok ("Demo indicators"`; code != 0 || !strings.Contains(stdout, want) {
		t.Errorf("check: exit %d, want 0 and %q:\n%s", code, want, stdout)
	}
	locked, _ := taxiiConfig(t, srv.URL, tx.APIRoot(), "Locked", "")
	code, stdout, _ = cliRunEnv(t, "check", "--config", locked)
	if code != 1 || !strings.Contains(stdout, "collection: FAILED") || !strings.Contains(stdout, "read") {
		t.Errorf("check of a collection that cannot be read: exit %d, want 1 and FAILED saying why:\n%s", code, stdout)
	}
}
