package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/inbox"
)

// TestStatusSharedInbox: two watches share an inbox through a PostgreSQL
// ledger (in this process, as two instances a and b): every file is
// imported once, by one of them, whose id its report gives; status lists
// both instances, live, with the inbox "shared by 2 instances", and the
// metrics carry the instance label.
func TestStatusSharedInbox(t *testing.T) {
	srv := watchEmulator(t)
	t.Setenv("IOCPIPE_TEST_DSN", pg.Database(t))
	dir := filepath.Join(t.TempDir(), "inbox")
	os.MkdirAll(dir, 0o700)
	cfg := watchConfig(t, srv.URL, dir, "    settle: 100ms\n    rescan: 200ms\n")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, append([]byte(pgLedgerKey), b...), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := ln.Addr().String()
	ln.Close()
	startWatch(t, cfg, "--instance", "a")
	startWatch(t, cfg, "--instance", "b", "--metrics-addr", metricsAddr)

	const files = 20
	for i := range files {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("f%02d.csv", i)), "value\n"+csvRows(fmt.Sprintf("s%d-", i), 0, 5))
	}
	watchWaitFor(t, 20*time.Second, "every file filed", func() bool {
		reps, _ := filepath.Glob(filepath.Join(dir, "done", "*.report.json"))
		return len(reps) == files
	})
	reps, _ := filepath.Glob(filepath.Join(dir, "done", "*.report.json"))
	by := map[string]int{}
	for _, p := range reps {
		if r := watchReport(t, p); r.Status != inbox.StatusImported || r.MovedTo != r.File {
			t.Errorf("%s: %+v, want imported once under its name", p, r)
		} else {
			by[r.Instance]++
		}
	}
	if by["a"]+by["b"] != files {
		t.Errorf("files by instance %v, want all %d by a or b", by, files)
	}
	if v := watchValues(t, srv.Submissions()); len(v) != files*5 {
		t.Errorf("%d distinct values delivered, want %d", len(v), files*5)
	} else {
		for val, n := range v {
			if n != 1 {
				t.Errorf("%s delivered %d times", val, n)
			}
		}
	}

	var out struct {
		Routes    []routeStatus
		Instances []instanceState
	}
	watchWaitFor(t, 10*time.Second, "both instances' status", func() bool {
		var o, e bytes.Buffer
		run(context.Background(), &env{stdout: &o, stderr: &e}, []string{"status", "--json", "--config", cfg, "--timeout", "2s"})
		if err := json.Unmarshal(o.Bytes(), &out); err != nil {
			t.Fatalf("status --json: %v\n%s", err, e.String())
		}
		w := out.Routes[0].Watch
		done := int64(0)
		for _, in := range out.Instances {
			done += in.Inboxes["feeds"].Done
		}
		return w != nil && slices.Equal(w.Instances, []string{"a", "b"}) && done == files
	})
	if len(out.Instances) != 2 {
		t.Fatalf("instances %+v, want a and b", out.Instances)
	}
	for _, in := range out.Instances {
		if !in.Live || in.PID != os.Getpid() || in.Host == "" || in.Inboxes["feeds"].Done != int64(by[in.ID]) {
			t.Errorf("instance %+v, want live, this process, with its counts", in)
		}
	}
	_, stdout, _ := cliRunEnv(t, "status", "--config", cfg)
	for _, want := range []string{"shared by 2 instances: a, b", "instances: 2 live of 2 known", "  a  ", "  b  "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("status text lacks %q:\n%s", want, stdout)
		}
	}
	if m := watchGet(t, "http://"+metricsAddr+"/metrics"); !strings.Contains(m, `instance="b"`) || !strings.Contains(m, `iocpipe_files_total{event="done",instance="b",route="feeds"}`) {
		t.Errorf("metrics lack the instance label:\n%.2000s", m)
	}
}
