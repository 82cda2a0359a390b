package source

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/pipeline"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/pipeline/ledger"
	"github.com/iocpipe/iocpipe/pipeline/taxii"
	"github.com/iocpipe/iocpipe/pipeline/taxii/taxiitest"
)

// TestSourceCursorInOrder feeds five pages of the TAXII emulator and
// settles them out of order, as the test's own pipeline: the cursor in
// the ledger moves only over the pages settled in order, a page not
// delivered holds it, and each page is a STIX bundle named by its origin.
func TestSourceCursorInOrder(t *testing.T) {
	srv := taxiitest.NewServer(taxiitest.Options{PageSize: 100})
	defer srv.Close()
	for i := range 500 {
		obj := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-%012d","created":"2026-01-01T00:00:00Z",`+
			`"modified":"2026-01-01T00:00:00Z","pattern":"[domain-name:value = 'd%d.example.com']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`, i, i)
		if _, _, err := srv.Add(taxiitest.ScratchCollectionID, time.Time{}, json.RawMessage(obj)); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	client, err := taxii.New(taxii.Options{Username: "demo", Password: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	col, err := client.Resolve(ctx, srv.APIRoot(), taxiitest.ScratchTitle)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.OpenBolt(filepath.Join(t.TempDir(), "ledger.db"), ledger.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	key := ledger.Key("intel", "trustar")
	s, err := New(ctx, Options{Client: client, Collection: col, Route: "intel", Key: key, Ledger: l})
	if err != nil {
		t.Fatal(err)
	}
	feed := make(chan pipeline.Input, 10)
	if err := s.Poll(ctx, feed); err != nil {
		t.Fatal(err)
	}
	close(feed)
	var ins []pipeline.Input
	for in := range feed {
		ins = append(ins, in)
	}
	if len(ins) != 5 {
		t.Fatalf("%d pages fed, want 5", len(ins))
	}
	last := make([]time.Time, len(ins)) // each page's last date_added, from its origin
	for i, in := range ins {
		prefix := "taxii:intel:" + taxiitest.ScratchCollectionID + ":"
		_, rng, ok := strings.Cut(in.Name, prefix)
		_, end, ok2 := strings.Cut(rng, "/")
		if !ok || !ok2 {
			t.Fatalf("page %d named %q, want %s<first>/<last>", i+1, in.Name, prefix)
		}
		if last[i], err = time.Parse(time.RFC3339Nano, end); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(in.Path)
		if err != nil {
			t.Fatal(err)
		}
		var bundle struct {
			Type    string            `json:"type"`
			ID      string            `json:"id"`
			Objects []json.RawMessage `json:"objects"`
		}
		if err := json.Unmarshal(b, &bundle); err != nil || bundle.Type != "bundle" || !strings.HasPrefix(bundle.ID, "bundle--") || len(bundle.Objects) != 100 {
			t.Fatalf("page %d spooled as %.200s (%v)", i+1, b, err)
		}
	}
	stored := func() time.Time {
		t.Helper()
		raw, ok, err := l.Cursor(ctx, key, col.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return time.Time{}
		}
		var c taxii.Cursor
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatal(err)
		}
		return c.AddedAfter
	}
	settle := func(page int, ok bool) {
		r := pipeline.FileReport{File: ins[page-1].Name, Acked: ioc.Ranges{{0, 100}}, Final: true}
		if !ok {
			r.Acked, r.Failed = ioc.Ranges{{0, 50}}, ioc.Ranges{{50, 100}}
		}
		ins[page-1].Report(r)
	}
	waitFor := func(want time.Time, what string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !stored().Equal(want); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: cursor %s, want %s", what, stored(), want)
			}
		}
	}
	settle(2, true)
	settle(3, true)
	for _, p := range []int{1, 4, 5} {
		settle(p, false) // half delivered
	}
	if err := s.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got := stored(); !got.IsZero() {
		t.Errorf("pages 2 and 3 delivered, page 1 not: cursor %s, want none", got)
	}

	// Again, with a new Source, as after a restart: page 1 last.
	s, err = New(ctx, Options{Client: client, Collection: col, Route: "intel", Key: key, Ledger: l})
	if err != nil {
		t.Fatal(err)
	}
	feed = make(chan pipeline.Input, 10)
	if err := s.Poll(ctx, feed); err != nil {
		t.Fatal(err)
	}
	close(feed)
	ins = ins[:0]
	for in := range feed {
		ins = append(ins, in)
	}
	if len(ins) != 3 {
		// Pages 2 and 3 were imported: the ledger skips them.
		t.Fatalf("%d pages fed after pages 2 and 3 were imported, want 3 (pages 1, 4, 5)", len(ins))
	}
	settle(3, true)  // page 5
	settle(2, false) // page 4: not delivered
	settle(1, true)  // page 1: the cursor moves over pages 1 to 3
	waitFor(last[2], "page 1 settled after pages 2 and 3")
	s.Close()
	if got := stored(); !got.Equal(last[2]) {
		t.Errorf("page 4 not delivered: cursor %s, want page 3's end %s", got, last[2])
	}
}
