package taxii_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/taxii"
	"github.com/iocpipe/iocpipe/pipeline/taxii/taxiitest"
	"github.com/iocpipe/iocpipe/sinks"
	"github.com/iocpipe/iocpipe/sinks/faults"
)

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newClient returns a client with the demo credentials, quick backoff
// (the server's Retry-After is still honoured in full), and its log.
func newClient(t *testing.T, limit int) (*taxii.Client, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	c, err := taxii.New(taxii.Options{
		Username: "demo", Password: "demo", Limit: limit,
		HTTP:   sinks.HTTPOptions{BaseDelay: time.Millisecond, RetryDeadline: time.Minute},
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, logs
}

// ctxFor bounds a test's polls, so that a poll that loops fails the
// test instead of hanging it.
func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// poll polls col from cur to the end, round-tripping the cursor through
// JSON after every page as a ledger would, and returns the ids delivered,
// the pages and the last cursor.
func poll(t *testing.T, c *taxii.Client, col taxii.Collection, cur taxii.Cursor) (ids []string, pages []*taxii.Page, last taxii.Cursor) {
	t.Helper()
	ctx := ctxFor(t)
	last = cur
	for page, err := range c.Poll(ctx, col, cur) {
		if err != nil {
			t.Fatalf("poll: %v", err)
		}
		if len(page.Objects) != len(page.Versions) {
			t.Fatalf("page %d: %d objects, %d versions", page.Number, len(page.Objects), len(page.Versions))
		}
		for _, v := range page.Versions {
			ids = append(ids, v.ID)
		}
		pages = append(pages, page)
		b, err := json.Marshal(page.Cursor)
		if err != nil {
			t.Fatal(err)
		}
		last = taxii.Cursor{}
		if err := json.Unmarshal(b, &last); err != nil {
			t.Fatal(err)
		}
	}
	if ctx.Err() != nil {
		t.Fatal("the poll did not end")
	}
	return ids, pages, last
}

func resolve(t *testing.T, c *taxii.Client, srv *taxiitest.Server, name string) taxii.Collection {
	t.Helper()
	col, err := c.Resolve(ctxFor(t), srv.APIRoot(), name)
	if err != nil {
		t.Fatal(err)
	}
	return col
}

// indicator is a STIX 2.1 indicator numbered i.
func indicator(i int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--%08x-0000-4000-8000-%012d","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '10.%d.%d.%d']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`,
		i, i, i>>16&255, i>>8&255, i&255))
}

func indicatorID(i int) string { return fmt.Sprintf("indicator--%08x-0000-4000-8000-%012d", i, i) }

// checkOnce checks that ids are want, each once, in order.
func checkOnce(t *testing.T, ids []string, want []string) {
	t.Helper()
	count := map[string]int{}
	for _, id := range ids {
		count[id]++
	}
	for id, n := range count {
		if n > 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	for _, id := range want {
		if count[id] == 0 {
			t.Errorf("%s never delivered", id)
		}
	}
	if len(ids) != len(want) {
		t.Errorf("%d delivered, want %d", len(ids), len(want))
	}
	for i := range min(len(ids), len(want)) {
		if ids[i] != want[i] {
			t.Errorf("delivery %d is %s, want %s (out of order)", i, ids[i], want[i])
			break
		}
	}
}

// TestTAXIIPoll25000SharedDateAdded polls 25,000 indicators served in pages of
// 100, a third of them in runs of 34 sharing one date_added across every
// page boundary: each is delivered once, and polling again from the
// cursor delivers nothing.
func TestTAXIIPoll25000SharedDateAdded(t *testing.T) {
	srv := taxiitest.NewServer(taxiitest.Options{PageSize: 100})
	defer srv.Close()
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	const n = 25000
	want := make([]string, n)
	shared := 0
	for i := range n {
		b, off := (i+17)/100, (i+17)%100
		at := base.Add(time.Duration(b) * time.Second)
		if off < 34 {
			shared++ // objects 100b-17 … 100b+16 share the boundary's date_added
		} else {
			at = at.Add(time.Duration(off) * time.Millisecond)
		}
		if _, _, err := srv.Add(taxiitest.ScratchCollectionID, at, indicator(i)); err != nil {
			t.Fatal(err)
		}
		want[i] = indicatorID(i)
	}
	if shared*3 < n {
		t.Fatalf("only %d of %d share a date_added", shared, n)
	}
	c, logs := newClient(t, 100)
	col := resolve(t, c, srv, taxiitest.ScratchTitle)
	ids, pages, cur := poll(t, c, col, taxii.Cursor{})
	checkOnce(t, ids, want)
	if len(pages) != n/100 {
		t.Errorf("%d pages, want %d", len(pages), n/100)
	}
	for _, p := range pages {
		if len(p.Objects) > 100 || p.DateAddedFirst.After(p.DateAddedLast) {
			t.Errorf("page %d: %d objects, %s", p.Number, len(p.Objects), p.DateAddedRange())
		}
	}
	if want := base.Add(250 * time.Second); !cur.AddedAfter.Equal(want) {
		t.Errorf("cursor at %s, want %s", cur.AddedAfter, want)
	}
	again, _, cur2 := poll(t, c, col, cur)
	if len(again) != 0 {
		t.Errorf("a poll from the cursor delivered %d objects again", len(again))
	}
	if !cur2.AddedAfter.Equal(cur.AddedAfter) {
		t.Errorf("the cursor moved from %s to %s with nothing new", cur.AddedAfter, cur2.AddedAfter)
	}
	if strings.Contains(logs.String(), "WARN") {
		t.Errorf("warnings: %s", logs)
	}
}

// addControl adds objects through the emulator's control endpoint.
func addControl(t *testing.T, srv *taxiitest.Server, collection, query string, objects ...json.RawMessage) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--1f0e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b", "objects": objects})
	resp, err := http.Post(srv.URL+"/_emulator/taxii/collections/"+collection+"/objects"+query, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("control add: %d", resp.StatusCode)
	}
}

// TestTAXIIPollPicksUpNewObjects adds objects between polls — with their own
// date_added, with the date_added of the cursor's bound (visible only
// after the poll that reached it), and several sharing one — and checks
// that each poll from the cursor delivers exactly them.
func TestTAXIIPollPicksUpNewObjects(t *testing.T) {
	srv := taxiitest.NewServer(taxiitest.Options{PageSize: 7, SameDateAdded: 3})
	defer srv.Close()
	c, _ := newClient(t, 0)
	col := resolve(t, c, srv, taxiitest.DemoTitle)
	ids, _, cur := poll(t, c, col, taxii.Cursor{})
	if len(ids) != taxiitest.DefaultDemoObjects {
		t.Fatalf("first poll: %d objects, want %d", len(ids), taxiitest.DefaultDemoObjects)
	}
	rounds := []struct {
		name, query string
		from, n     int
	}{
		{"own date_added", "", 0, 5},
		{"at the bound", "?date_added=last", 100, 3},
		{"one shared date_added across pages", "?date_added=same", 200, 16},
		{"at the bound again", "?date_added=last", 300, 9},
	}
	for _, r := range rounds {
		var objs []json.RawMessage
		var want []string
		for i := r.from; i < r.from+r.n; i++ {
			objs = append(objs, indicator(i))
			want = append(want, indicatorID(i))
		}
		addControl(t, srv, taxiitest.DemoCollectionID, r.query, objs...)
		var got []string
		got, _, cur = poll(t, c, col, cur)
		t.Run(r.name, func(t *testing.T) { checkOnce(t, got, want) })
	}
	if got, _, _ := poll(t, c, col, cur); len(got) != 0 {
		t.Errorf("a last poll delivered %d objects again", len(got))
	}
}

// TestTAXIIPollResumesMidway stops a poll after each page in turn and resumes
// from that page's cursor: every object is delivered once in all.
func TestTAXIIPollResumesMidway(t *testing.T) {
	srv := taxiitest.NewServer(taxiitest.Options{PageSize: 6, SameDateAdded: 4})
	defer srv.Close()
	c, _ := newClient(t, 0)
	col := resolve(t, c, srv, taxiitest.DemoCollectionID)
	want, _, _ := poll(t, c, col, taxii.Cursor{})
	var got []string
	cur := taxii.Cursor{}
	for range 100 {
		n := 0
		for page, err := range c.Poll(ctxFor(t), col, cur) {
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range page.Versions {
				got = append(got, v.ID)
			}
			cur, n = page.Cursor, n+1
			break // a crash after the page was delivered and its cursor saved
		}
		if n == 0 {
			break
		}
	}
	checkOnce(t, got, want)
}

// TestTAXIIPollLongRunAtBound has more objects than a page sharing the last
// date_added: polling again from the cursor pages through them by next,
// delivering nothing.
func TestTAXIIPollLongRunAtBound(t *testing.T) {
	srv := taxiitest.NewServer(taxiitest.Options{PageSize: 10})
	defer srv.Close()
	var objs []json.RawMessage
	for i := range 35 {
		objs = append(objs, indicator(i))
	}
	for i, o := range objs[:5] {
		srv.Add(taxiitest.ScratchCollectionID, time.Date(2026, 5, 1, 0, 0, i, 0, time.UTC), o)
	}
	srv.Add(taxiitest.ScratchCollectionID, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), objs[5:]...)
	c, logs := newClient(t, 10)
	col := resolve(t, c, srv, taxiitest.ScratchCollectionID)
	ids, _, cur := poll(t, c, col, taxii.Cursor{})
	if len(ids) != 35 {
		t.Fatalf("%d objects, want 35", len(ids))
	}
	if len(cur.Seen) < 30 {
		t.Errorf("the cursor remembers %d versions at its bound, want at least the 30 there", len(cur.Seen))
	}
	again, _, _ := poll(t, c, col, cur)
	if len(again) != 0 || strings.Contains(logs.String(), "WARN") {
		t.Errorf("again: %d objects; log %s", len(again), logs)
	}
	srv.Add(taxiitest.ScratchCollectionID, time.Time{}, indicator(99))
	if more, _, _ := poll(t, c, col, cur); len(more) != 1 || more[0] != indicatorID(99) {
		t.Errorf("after one more: %v", more)
	}
}

// TestTAXIIPollBrokenServers checks that a server repeating next, or answering
// more:true with no objects, ends the poll with a WARN and no error.
func TestTAXIIPollBrokenServers(t *testing.T) {
	tests := []struct {
		name string
		opts taxiitest.Options
		warn string
	}{
		{"same next twice", taxiitest.Options{RepeatNext: true, PageSize: 10}, "same next twice"},
		{"more with no objects", taxiitest.Options{EmptyMore: true, PageSize: 10}, "more:true with no objects"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := taxiitest.NewServer(tt.opts)
			defer srv.Close()
			c, logs := newClient(t, 10)
			col := resolve(t, c, srv, taxiitest.DemoTitle)
			ids, _, cur := poll(t, c, col, taxii.Cursor{})
			if len(ids) != 10 {
				t.Errorf("%d objects delivered, want the first page's 10", len(ids))
			}
			if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), tt.warn) {
				t.Errorf("log %q does not warn %q", logs, tt.warn)
			}
			if p := srv.Stats().Pages; p != 2 {
				t.Errorf("%d pages asked for, want 2", p)
			}
			// The next poll resumes from the cursor, and ends the same way.
			more, _, _ := poll(t, c, col, cur)
			if len(more) == 0 {
				t.Error("the next poll delivered nothing")
			}
			for _, id := range more {
				if slices.Contains(ids, id) {
					t.Errorf("the next poll delivered %s again", id)
				}
			}
		})
	}
}

// TestTAXIIPollRetries checks that a 429's Retry-After is waited and that
// 5xx answers are retried.
func TestTAXIIPollRetries(t *testing.T) {
	t.Run("429 Retry-After", func(t *testing.T) {
		srv := taxiitest.NewServer(taxiitest.Options{PageSize: 20, RateLimitEvery: 2, RetryAfter: time.Second})
		defer srv.Close()
		c, _ := newClient(t, 20)
		col := resolve(t, c, srv, taxiitest.DemoTitle)
		start := time.Now()
		ids, _, _ := poll(t, c, col, taxii.Cursor{})
		if len(ids) != taxiitest.DefaultDemoObjects {
			t.Errorf("%d objects, want %d", len(ids), taxiitest.DefaultDemoObjects)
		}
		if s := srv.Stats(); s.RateLimited != 1 {
			t.Errorf("%d 429s, want 1", s.RateLimited)
		}
		if d := time.Since(start); d < time.Second {
			t.Errorf("the retry came after %s, sooner than Retry-After: 1", d)
		}
	})
	t.Run("5xx", func(t *testing.T) {
		srv := taxiitest.NewServer(taxiitest.Options{PageSize: 20, Faults: faults.Options{FailFirst: 3, FailStatus: 503}})
		defer srv.Close()
		c, _ := newClient(t, 20)
		col := resolve(t, c, srv, taxiitest.DemoTitle)
		ids, _, _ := poll(t, c, col, taxii.Cursor{})
		if len(ids) != taxiitest.DefaultDemoObjects || srv.Stats().Faults.Failed != 3 {
			t.Errorf("%d objects after %d failures", len(ids), srv.Stats().Faults.Failed)
		}
	})
	t.Run("retries are bounded", func(t *testing.T) {
		srv := taxiitest.NewServer(taxiitest.Options{Faults: faults.Options{FailRate: 1, FailStatus: 500}})
		defer srv.Close()
		c, err := taxii.New(taxii.Options{Username: "demo", Password: "demo",
			HTTP: sinks.HTTPOptions{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, RetryDeadline: 50 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		col := resolve(t, c, srv, taxiitest.DemoTitle)
		for _, err := range c.Poll(ctxFor(t), col, taxii.Cursor{}) {
			if err == nil || !strings.Contains(err.Error(), "gave up") || !strings.Contains(err.Error(), taxiitest.DemoCollectionID) {
				t.Errorf("error %v: want one that gave up, naming the collection", err)
			}
		}
	})
}

// TestTAXIIDiscoverAndResolve checks discovery and the resolving of a
// collection by id, title and alias, and the refusals.
func TestTAXIIDiscoverAndResolve(t *testing.T) {
	srv := taxiitest.NewServer(taxiitest.Options{})
	defer srv.Close()
	c, _ := newClient(t, 0)
	ctx := ctxFor(t)
	d, err := c.Discover(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.APIRoots) != 1 || d.APIRoots[0] != srv.APIRoot() || d.Default != srv.APIRoot() {
		t.Errorf("discovery: %+v, want API root %s", d, srv.APIRoot())
	}
	if _, err := c.Discover(ctx, srv.APIRoot()); !errors.Is(err, taxii.ErrNotDiscovery) {
		t.Errorf("discovery of an API root: %v", err)
	}
	root, err := c.APIRoot(ctx, strings.TrimSuffix(srv.APIRoot(), "/"))
	if err != nil || root.URL != srv.APIRoot() || root.MaxContentLength == 0 {
		t.Errorf("API root %+v, %v", root, err)
	}
	for _, name := range []string{taxiitest.DemoTitle, "demo indicators", "demo", taxiitest.DemoCollectionID} {
		col, err := c.Resolve(ctx, srv.APIRoot(), name)
		if err != nil || col.ID != taxiitest.DemoCollectionID || !col.CanRead || col.APIRoot != srv.APIRoot() {
			t.Errorf("resolve %q: %+v, %v", name, col, err)
		}
	}
	_, err = c.Resolve(ctx, srv.APIRoot(), "nope")
	if !errors.Is(err, taxii.ErrNoCollection) || !strings.Contains(err.Error(), taxiitest.ScratchTitle) {
		t.Errorf("unknown collection: %v", err)
	}
	col, err := c.Resolve(ctx, srv.APIRoot(), taxiitest.LockedTitle)
	if !errors.Is(err, taxii.ErrNotReadable) || !strings.Contains(err.Error(), "can_read") || !strings.Contains(err.Error(), taxiitest.LockedCollectionID) {
		t.Errorf("locked collection: %v", err)
	}
	// Polled anyway, the server's 403 is explained.
	for _, err := range c.Poll(ctx, col, taxii.Cursor{}) {
		if !errors.Is(err, taxii.ErrForbidden) {
			t.Errorf("poll of a locked collection: %v", err)
		}
	}
}

// TestTAXIIRefusals checks the errors of wrong credentials, of a server that
// is not TAXII 2.1, and of a proxy's page.
func TestTAXIIRefusals(t *testing.T) {
	srv := taxiitest.NewServer(taxiitest.Options{Faults: faults.Options{ProxyPage: true}})
	defer srv.Close()
	ctx := ctxFor(t)
	for _, o := range []taxii.Options{{Username: "demo", Password: "wrong"}, {Token: "demo"}, {}} {
		c, _ := taxii.New(o)
		if _, err := c.Discover(ctx, srv.URL); !errors.Is(err, taxii.ErrUnauthorized) || !strings.Contains(err.Error(), srv.URL) {
			t.Errorf("%+v: %v", o, err)
		}
	}
	if _, err := taxii.New(taxii.Options{Username: "a", Token: "b"}); err == nil {
		t.Error("Basic and a token together: no error")
	}

	c, _ := newClient(t, 0)
	col := resolve(t, c, srv, taxiitest.DemoTitle)
	for _, err := range c.Poll(ctx, col, taxii.Cursor{}) {
		if !errors.Is(err, taxii.ErrMediaType) {
			t.Errorf("proxy page: %v", err)
		}
	}

	// A TAXII 2.0 server: it refuses the 2.1 media type (406), or answers
	// 2.0 whatever was asked.
	v20 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.oasis.taxii+json; version=2.0")
		if strings.Contains(r.Header.Get("Accept"), "version=2.1") && r.URL.Path == "/strict/" {
			w.WriteHeader(http.StatusNotAcceptable)
			fmt.Fprintln(w, `{"title":"Media type not supported","description":"accept application/vnd.oasis.taxii+json; version=2.0"}`)
			return
		}
		fmt.Fprintln(w, `{"title":"TAXII 2.0","api_roots":["/api1/"],"versions":["application/vnd.oasis.taxii+json; version=2.0"]}`)
	}))
	defer v20.Close()
	if _, err := c.Discover(ctx, v20.URL+"/strict/"); !errors.Is(err, taxii.ErrMediaType) || !strings.Contains(err.Error(), "406") {
		t.Errorf("406: %v", err)
	}
	if _, err := c.Discover(ctx, v20.URL); !errors.Is(err, taxii.ErrTAXII20) || !strings.Contains(err.Error(), "version=2.0") {
		t.Errorf("2.0 answer: %v", err)
	}
}

// TestTAXIICursorJSON checks the cursor's JSON form.
func TestTAXIICursorJSON(t *testing.T) {
	tests := []struct {
		name string
		cur  taxii.Cursor
		want string
	}{
		{"zero", taxii.Cursor{}, `{}`},
		{"start", taxii.StartAfter(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)), `{"added_after":"2026-01-02T03:04:05Z"}`},
		{"bound", taxii.Cursor{AddedAfter: time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC),
			Seen: []taxii.ObjectVersion{{ID: "indicator--a", Version: "2026-01-01T00:00:00Z"}}},
			`{"added_after":"2026-01-02T03:04:05.123456Z","seen":[{"id":"indicator--a","version":"2026-01-01T00:00:00Z"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.cur)
			if err != nil || string(b) != tt.want {
				t.Fatalf("got %s (%v), want %s", b, err, tt.want)
			}
			var back taxii.Cursor
			if err := json.Unmarshal(b, &back); err != nil || !back.AddedAfter.Equal(tt.cur.AddedAfter) || len(back.Seen) != len(tt.cur.Seen) {
				t.Errorf("round trip: %+v, %v", back, err)
			}
		})
	}
}

// TestTAXIICursorAdvance checks Advance's three cases.
func TestTAXIICursorAdvance(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, b := taxii.ObjectVersion{ID: "x--a"}, taxii.ObjectVersion{ID: "x--b"}
	cur := taxii.Cursor{AddedAfter: t0, Seen: []taxii.ObjectVersion{a}}
	tests := []struct {
		name string
		page taxii.Page
		want taxii.Cursor
	}{
		{"later", taxii.Page{DateAddedFirst: t0, DateAddedLast: t0.Add(time.Second), Versions: []taxii.ObjectVersion{b}},
			taxii.Cursor{AddedAfter: t0.Add(time.Second), Seen: []taxii.ObjectVersion{b}}},
		{"at the bound", taxii.Page{DateAddedFirst: t0, DateAddedLast: t0, Versions: []taxii.ObjectVersion{b, a}},
			taxii.Cursor{AddedAfter: t0, Seen: []taxii.ObjectVersion{a, b}}},
		{"empty", taxii.Page{}, cur},
		{"before", taxii.Page{DateAddedFirst: t0.Add(-time.Hour), DateAddedLast: t0.Add(-time.Second), Versions: []taxii.ObjectVersion{b}}, cur},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cur.Advance(&tt.page)
			if !got.AddedAfter.Equal(tt.want.AddedAfter) || fmt.Sprint(got.Seen) != fmt.Sprint(tt.want.Seen) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestTAXIIPollWithoutNext pages a server that gives no next by added_after
// alone: every object once; a run of equal date_added longer than a page
// ends the poll with a WARN instead of a loop.
func TestTAXIIPollWithoutNext(t *testing.T) {
	srv := taxiitest.NewServer(taxiitest.Options{NoNext: true, PageSize: 7, SameDateAdded: 3})
	defer srv.Close()
	c, logs := newClient(t, 0)
	col := resolve(t, c, srv, taxiitest.DemoTitle)
	ids, _, cur := poll(t, c, col, taxii.Cursor{})
	if len(ids) != taxiitest.DefaultDemoObjects || strings.Contains(logs.String(), "WARN") {
		t.Fatalf("%d objects, want %d; log %s", len(ids), taxiitest.DefaultDemoObjects, logs)
	}
	checkOnce(t, ids, ids)
	var objs []json.RawMessage
	for i := range 20 {
		objs = append(objs, indicator(i))
	}
	srv.Add(taxiitest.DemoCollectionID, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), objs...)
	more, _, _ := poll(t, c, col, cur)
	if len(more) != 7 || !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("a run of 20 at one instant in pages of 7 without next: %d delivered, log %s", len(more), logs)
	}
}

// TestTAXIIPollRefusesBadPages checks the errors of a page too large to read
// and of a page without the date_added headers, which a cursor needs.
func TestTAXIIPollRefusesBadPages(t *testing.T) {
	srv := taxiitest.NewServer(taxiitest.Options{})
	defer srv.Close()
	c, err := taxii.New(taxii.Options{Username: "demo", Password: "demo", MaxPageBytes: 2000})
	if err != nil {
		t.Fatal(err)
	}
	col := resolve(t, c, srv, taxiitest.DemoTitle)
	for _, err := range c.Poll(ctxFor(t), col, taxii.Cursor{}) {
		if err == nil || !strings.Contains(err.Error(), "larger than 2000 bytes") {
			t.Errorf("large page: %v", err)
		}
	}

	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", taxii.MediaType)
		fmt.Fprintf(w, `{"more":false,"objects":[%s]}`, indicator(1))
	}))
	defer bare.Close()
	col = taxii.Collection{APIRoot: bare.URL + "/api1/", ID: "c", Title: "bare", CanRead: true}
	for _, err := range c.Poll(ctxFor(t), col, taxii.Cursor{}) {
		if !errors.Is(err, taxii.ErrMediaType) || !strings.Contains(err.Error(), "X-TAXII-Date-Added-First") || !strings.Contains(err.Error(), `"bare"`) {
			t.Errorf("page without headers: %v", err)
		}
	}
}

// BenchmarkPoll polls 10,000 indicators in pages of 1,000 over loopback.
func BenchmarkPoll(b *testing.B) {
	srv := taxiitest.NewServer(taxiitest.Options{PageSize: 1000})
	defer srv.Close()
	for i := range 10000 {
		srv.Add(taxiitest.ScratchCollectionID, time.Time{}, indicator(i))
	}
	c, err := taxii.New(taxii.Options{Username: "demo", Password: "demo", Limit: 1000})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	col, err := c.Resolve(ctx, srv.APIRoot(), taxiitest.ScratchTitle)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		n := 0
		for p, err := range c.Poll(ctx, col, taxii.Cursor{}) {
			if err != nil {
				b.Fatal(err)
			}
			n += len(p.Objects)
		}
		if n != 10000 {
			b.Fatalf("%d objects", n)
		}
	}
}
