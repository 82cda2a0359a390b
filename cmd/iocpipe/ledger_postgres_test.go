package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/inbox"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/pipeline/ledger"
	"github.com/iocpipe/iocpipe/pipeline/ledger/pgtest"
	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

// pg is the PostgreSQL server of this test binary.
var pg pgtest.Shared

func TestMain(m *testing.M) { os.Exit(pg.Run(m)) }

// pgLedgerKey is the ledger key of a configuration with a PostgreSQL
// ledger whose DSN is in $IOCPIPE_TEST_DSN.
const pgLedgerKey = "ledger:\n  postgres:\n    dsn_env: IOCPIPE_TEST_DSN\n"

// TestRunPostgresLedger: run with a PostgreSQL ledger, against the
// TruSTAR emulator: a second run of the same file sends nothing (already
// imported), a file partly acknowledged resumes, and --reimport sends
// everything again.
func TestRunPostgresLedger(t *testing.T) {
	srv := trustartest.NewServer(trustartest.Options{})
	t.Cleanup(srv.Close)
	t.Setenv("TRUSTAR_API_KEY", "demo")
	t.Setenv("TRUSTAR_API_SECRET", "demo")
	dsn := pg.Database(t)
	t.Setenv("IOCPIPE_TEST_DSN", dsn)
	dir := t.TempDir()
	cfg := runLedgerConfig(t, srv.URL, pgLedgerKey, "")
	a := filepath.Join(dir, "a.csv")
	os.WriteFile(a, []byte("value\n"+csvRows("a", 0, 10)), 0o644)

	o := runWithLedger(t, srv, "run", "--config", cfg, a)
	if o.code != 0 || len(o.values) != 10 {
		t.Fatalf("first run: exit %d, %d values, want 0 and 10\n%s", o.code, len(o.values), o.stderr)
	}
	o = runWithLedger(t, srv, "run", "--config", cfg, a)
	if o.code != 0 || len(o.values) != 0 {
		t.Errorf("second run: exit %d, %d values sent, want 0 and none", o.code, len(o.values))
	}
	if !strings.Contains(o.stderr, "already imported on") {
		t.Errorf("second run did not say the file was skipped:\n%s", o.stderr)
	}
	o = runWithLedger(t, srv, "run", "--config", cfg, "--reimport", a)
	if o.code != 0 || len(o.values) != 10 {
		t.Errorf("--reimport: exit %d, %d values, want 0 and 10", o.code, len(o.values))
	}

	// A file of which rows 0-5 were acknowledged by an instance that died;
	// another instance holds the ledger meanwhile (PostgreSQL is shared).
	b := filepath.Join(dir, "b.csv")
	os.WriteFile(b, []byte("value\n"+csvRows("b", 0, 10)), 0o644)
	l, err := ledger.OpenPostgres(context.Background(), dsn, ledger.PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sum, size, _ := ledger.Sum(b)
	key := ledger.Key("feeds", "trustar")
	if _, err := l.Begin(context.Background(), key, ledger.Content{Sum: sum, Name: "b.csv", Size: size}, false); err != nil {
		t.Fatal(err)
	}
	l.Record(key, sum, ioc.Ranges{{0, 6}})
	if err := l.Finish(context.Background(), key, sum, false); err != nil {
		t.Fatal(err)
	}
	o = runWithLedger(t, srv, "run", "--config", cfg, b)
	if o.code != 0 || len(o.values) != 4 || o.values["b5.example.com"] != 0 || o.values["b6.example.com"] != 1 {
		t.Errorf("resumed run: exit %d, values %v, want b6-b9\n%s", o.code, o.values, o.stderr)
	}
	e, ok, err := l.Get(context.Background(), key, sum)
	if err != nil || !ok || !e.Done || fmt.Sprint(e.Acked) != "[[0 10]]" {
		t.Errorf("ledger after the resumed run: %+v, %v", e, err)
	}
}

// TestPostgresLedgerConfig: the DSN comes from the environment, a missing
// variable is a configuration error naming it (exit 2), and ledger
// migrate prints the schema version.
func TestPostgresLedgerConfig(t *testing.T) {
	srv := trustartest.NewServer(trustartest.Options{})
	t.Cleanup(srv.Close)
	t.Setenv("TRUSTAR_API_KEY", "demo")
	t.Setenv("TRUSTAR_API_SECRET", "demo")
	cfg := runLedgerConfig(t, srv.URL, pgLedgerKey, "")
	a := filepath.Join(t.TempDir(), "a.csv")
	os.WriteFile(a, []byte("value\n"+csvRows("a", 0, 2)), 0o644)
	t.Setenv("IOCPIPE_TEST_DSN", "") // empty is unset
	for _, args := range [][]string{{"run", "--config", cfg, a}, {"ledger", "migrate", "--config", cfg}} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), &env{stdout: &stdout, stderr: &stderr}, args)
		if code != exitUsage || !strings.Contains(stderr.String(), "IOCPIPE_TEST_DSN is not set") {
			t.Errorf("%s without the DSN: exit %d, want %d naming the variable:\n%s", args[0], code, exitUsage, stderr.String())
		}
	}

	t.Setenv("IOCPIPE_TEST_DSN", pg.Database(t))
	for range 2 { // the second finds nothing to do
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), &env{stdout: &stdout, stderr: &stderr}, []string{"ledger", "migrate", "--config", cfg})
		if want := fmt.Sprintf("ledger schema version %d\n", ledger.SchemaVersion()); code != 0 || stdout.String() != want {
			t.Errorf("ledger migrate: exit %d, printed %q, want 0 and %q\n%s", code, stdout.String(), want, stderr.String())
		}
	}

	boltCfg := runLedgerConfig(t, srv.URL, "ledger: state/ledger.db", "")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), &env{stdout: &stdout, stderr: &stderr}, []string{"ledger", "migrate", "--config", boltCfg})
	if want := "state/ledger.db: bbolt, no migrations\n"; code != 0 || !strings.HasSuffix(stdout.String(), want) {
		t.Errorf("ledger migrate on bbolt: exit %d, printed %q, want 0 and ...%q\n%s", code, stdout.String(), want, stderr.String())
	}

	bad := []struct{ name, top, want string }{
		{"unknown key", "ledger:\n  mysql: {}\n", `unknown key "mysql"`},
		{"unknown postgres key", "ledger:\n  postgres:\n    dsn: x\n", `unknown key "dsn"`},
		{"a list", "ledger: [a]\n", "a file path or a mapping"},
		{"lease too short", "ledger:\n  postgres:\n    lease: 200ms\n", "ledger.postgres.lease: 200ms is too short"},
		{"lease not a duration", "ledger:\n  postgres:\n    lease: soon\n", "soon"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadConfig(runLedgerConfig(t, srv.URL, tt.top, ""))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
	c, err := LoadConfig(runLedgerConfig(t, srv.URL, "ledger:\n  postgres:\n", ""))
	if err != nil || c.Ledger.Postgres == nil || c.Ledger.Postgres.DSNEnv != defaultDSNEnv || time.Duration(c.Ledger.Postgres.Lease) != ledger.DefaultLease {
		t.Errorf("postgres with no keys: %+v, %v; want dsn_env %s and lease %s", c.Ledger.Postgres, err, defaultDSNEnv, ledger.DefaultLease)
	}
}

// TestWatchPostgresLedger: watch with a PostgreSQL ledger that another
// instance wrote: a file of which that instance had rows 0-5
// acknowledged resumes with row 6, and a content it imported is filed as
// a duplicate, nothing sent.
func TestWatchPostgresLedger(t *testing.T) {
	srv := trustartest.NewServer(trustartest.Options{})
	t.Cleanup(srv.Close)
	t.Setenv("TRUSTAR_API_KEY", "demo")
	t.Setenv("TRUSTAR_API_SECRET", "demo")
	dsn := pg.Database(t)
	t.Setenv("IOCPIPE_TEST_DSN", dsn)
	dir := filepath.Join(t.TempDir(), "inbox")
	os.MkdirAll(dir, 0o755)
	resumed, imported := "value\n"+csvRows("b", 0, 10), "value\n"+csvRows("a", 0, 3)

	other, err := ledger.OpenPostgres(context.Background(), dsn, ledger.PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	key := ledger.Key("feeds", "trustar")
	for _, f := range []struct {
		name, content string
		acked         ioc.Ranges
		imported      bool
	}{{"b.csv", resumed, ioc.Ranges{{0, 6}}, false}, {"a.csv", imported, ioc.Ranges{{0, 3}}, true}} {
		path := filepath.Join(t.TempDir(), f.name)
		os.WriteFile(path, []byte(f.content), 0o644)
		sum, size, _ := ledger.Sum(path)
		if _, err := other.Begin(context.Background(), key, ledger.Content{Sum: sum, Name: f.name, Size: size}, false); err != nil {
			t.Fatal(err)
		}
		other.Record(key, sum, f.acked)
		if err := other.Finish(context.Background(), key, sum, f.imported); err != nil {
			t.Fatal(err)
		}
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}

	cfg := watchConfig(t, srv.URL, dir, "    settle: 200ms\n    rescan: 1s\n")
	cfg = rewriteTop(t, cfg, pgLedgerKey)
	log := startWatch(t, cfg)
	os.WriteFile(filepath.Join(dir, "b-again.csv"), []byte(resumed), 0o644)
	os.WriteFile(filepath.Join(dir, "a-again.csv"), []byte(imported), 0o644)
	done := func(name string) bool {
		_, err := os.Stat(filepath.Join(dir, "done", name+".report.json"))
		return err == nil
	}
	watchWaitFor(t, 60*time.Second, "both files filed in done/", func() bool { return done("b-again.csv") && done("a-again.csv") })
	values := watchValues(t, srv.Submissions())
	if len(values) != 4 || values["b5.example.com"] != 0 || values["b6.example.com"] != 1 || values["b9.example.com"] != 1 {
		t.Errorf("sent %v, want b6-b9 once each\n%s", values, log.String())
	}
	if r := watchReport(t, filepath.Join(dir, "done", "a-again.csv.report.json")); r.Status != inbox.StatusDuplicate || r.DuplicateOf != "a.csv" {
		t.Errorf("a-again.csv: %+v, want a duplicate of a.csv", r)
	}
	if !strings.Contains(log.String(), "postgres 127.0.0.1:") {
		t.Errorf("the log does not name the PostgreSQL ledger:\n%s", log.String())
	}
}

// rewriteTop adds top at the top of the configuration file path.
func rewriteTop(t *testing.T, path, top string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append([]byte(top), b...), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
