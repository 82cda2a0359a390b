package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/pipeline/ledger"
	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

// runLedgerConfig writes a configuration whose one route has no inbox;
// top is added at the top level (a ledger: key), route to the route.
func runLedgerConfig(t *testing.T, url, top, route string) string {
	t.Helper()
	cfg := fmt.Sprintf(`%s
sinks:
  trustar:
    url: %s
    rate_limit: 0
    linger: 20ms
routes:
  - name: feeds
    sink: trustar
    enclaves: [%s]
%s`, top, url, watchEnclave, route)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

type runOutcome struct {
	code           int
	stdout, stderr string
	values         map[string]int
}

func runWithLedger(t *testing.T, srv *trustartest.Server, args ...string) runOutcome {
	t.Helper()
	srv.Reset()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), &env{stdout: &stdout, stderr: &stderr}, args)
	return runOutcome{code: code, stdout: stdout.String(), stderr: stderr.String(), values: watchValues(t, srv.Submissions())}
}

// TestRunLedger: run consults the ledger: a file imported before is
// skipped and said so, unless --reimport; a file partly acknowledged
// resumes; the same content twice in one run is sent once.
func TestRunLedger(t *testing.T) {
	srv := trustartest.NewServer(trustartest.Options{})
	t.Cleanup(srv.Close)
	t.Setenv("TRUSTAR_API_KEY", "demo")
	t.Setenv("TRUSTAR_API_SECRET", "demo")
	dir := t.TempDir()
	ledgerPath := filepath.Join(dir, "state", "ledger.db")
	cfg := runLedgerConfig(t, srv.URL, "ledger: "+ledgerPath, "")
	a := filepath.Join(dir, "a.csv")
	os.WriteFile(a, []byte("value\n"+csvRows("a", 0, 10)), 0o644)
	copyOfA := filepath.Join(dir, "copy-of-a.csv")
	os.WriteFile(copyOfA, []byte("value\n"+csvRows("a", 0, 10)), 0o644)

	o := runWithLedger(t, srv, "run", "--config", cfg, a, copyOfA)
	if o.code != 0 || len(o.values) != 10 {
		t.Fatalf("first run: exit %d, %d values, want 0 and 10\n%s", o.code, len(o.values), o.stderr)
	}
	if !strings.Contains(o.stderr, "same content as") {
		t.Errorf("the copy in the same run was not said to be skipped:\n%s", o.stderr)
	}

	o = runWithLedger(t, srv, "run", "--config", cfg, a)
	if o.code != 0 || len(o.values) != 0 {
		t.Errorf("second run: exit %d, %d values sent, want 0 and none", o.code, len(o.values))
	}
	if !strings.Contains(o.stderr, "already imported on") || !strings.Contains(o.stderr, "use --reimport to import it again") {
		t.Errorf("second run did not say the file was skipped:\n%s", o.stderr)
	}

	o = runWithLedger(t, srv, "run", "--config", cfg, "--reimport", a)
	if o.code != 0 || len(o.values) != 10 {
		t.Errorf("--reimport: exit %d, %d values, want 0 and 10", o.code, len(o.values))
	}

	// A file of which rows 0-5 were acknowledged by a run that died.
	b := filepath.Join(dir, "b.csv")
	os.WriteFile(b, []byte("value\n"+csvRows("b", 0, 10)), 0o644)
	l, err := ledger.OpenBolt(ledgerPath, ledger.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sum, size, _ := ledger.Sum(b)
	key := ledger.Key("feeds", "trustar")
	if _, err := l.Begin(context.Background(), key, ledger.Content{Sum: sum, Name: "b.csv", Size: size}, false); err != nil {
		t.Fatal(err)
	}
	l.Record(key, sum, ioc.Ranges{{0, 6}}) // written by Close below

	// While another process holds the ledger, run says so.
	o = runWithLedger(t, srv, "run", "--config", cfg, b)
	if o.code != exitFailed || !strings.Contains(o.stderr, "in use by another process") {
		t.Errorf("ledger held elsewhere: exit %d, want %d, with a clear message:\n%s", o.code, exitFailed, o.stderr)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	o = runWithLedger(t, srv, "run", "--config", cfg, b)
	if o.code != 0 || len(o.values) != 4 || o.values["b5.example.com"] != 0 || o.values["b6.example.com"] != 1 {
		t.Errorf("resumed run: exit %d, values %v, want b6-b9", o.code, o.values)
	}
	if !strings.Contains(o.stdout, "6 already delivered earlier") {
		t.Errorf("summary does not count the resumed rows:\n%s", o.stdout)
	}
	l, err = ledger.OpenBolt(ledgerPath, ledger.BoltOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	e, ok, _ := l.Get(context.Background(), key, sum)
	l.Close()
	if !ok || !e.Done || fmt.Sprint(e.Acked) != "[[0 10]]" {
		t.Errorf("ledger after the resumed run: %+v", e)
	}
}

// TestRunLedgerLocation: with no ledger key, run uses the first inbox's
// .iocpipe/ledger.db; with neither, it keeps none.
func TestRunLedgerLocation(t *testing.T) {
	srv := trustartest.NewServer(trustartest.Options{})
	t.Cleanup(srv.Close)
	t.Setenv("TRUSTAR_API_KEY", "demo")
	t.Setenv("TRUSTAR_API_SECRET", "demo")
	dir := t.TempDir()
	a := filepath.Join(dir, "a.csv")
	os.WriteFile(a, []byte("value\n"+csvRows("loc", 0, 2)), 0o644)
	box := filepath.Join(dir, "box")
	cfg := runLedgerConfig(t, srv.URL, "", "    inbox: "+box+"\n    create_inbox: true\n")
	if o := runWithLedger(t, srv, "run", "--config", cfg, a); o.code != 0 {
		t.Fatalf("exit %d:\n%s", o.code, o.stderr)
	}
	if _, err := os.Stat(filepath.Join(box, ".iocpipe", "ledger.db")); err != nil {
		t.Errorf("no ledger in the inbox: %v", err)
	}
	if o := runWithLedger(t, srv, "run", "--config", cfg, a); len(o.values) != 0 {
		t.Errorf("second run sent %d values", len(o.values))
	}
	cfg = runLedgerConfig(t, srv.URL, "", "")
	for range 2 {
		if o := runWithLedger(t, srv, "run", "--config", cfg, a); o.code != 0 || len(o.values) != 2 {
			t.Errorf("without a ledger: exit %d, %d values, want 0 and 2", o.code, len(o.values))
		}
	}
}
