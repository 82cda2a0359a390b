// Package pgtest starts private, throw-away PostgreSQL servers for tests,
// the way net/http/httptest serves HTTP: Start runs Debian's initdb and
// pg_ctl (through postgres.sh, the script beside it, which a person can
// run too) as an unprivileged user, on a free loopback port, with the data
// in a temporary folder, and returns the server's DSN; Close stops it and
// removes the folder.
//
// A test binary shares one server, started at the first test that asks
// for a database, each test getting a database of its own:
//
//	var pg pgtest.Shared
//
//	func TestMain(m *testing.M) { os.Exit(pg.Run(m)) }
//
//	func TestX(t *testing.T) { dsn := pg.Database(t); ... }
//
// A server that cannot start fails the test with the reason. Setting
// IOCPIPE_NO_POSTGRES=1 skips the PostgreSQL tests instead, saying so.
package pgtest

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

//go:embed postgres.sh
var script string

// OptOut is the environment variable that skips the PostgreSQL tests
// when set to a non-empty value other than 0.
const OptOut = "IOCPIPE_NO_POSTGRES"

// A Server is a running PostgreSQL server of Start.
type Server struct {
	// DSN connects to its database postgres as the superuser postgres.
	DSN string
	dir string
}

// Start starts a server; it is stopped by Close, or when this process
// ends without calling it.
func Start(ctx context.Context) (*Server, error) {
	out, err := run(ctx, "start", "0", strconv.Itoa(os.Getpid()))
	if err != nil {
		return nil, err
	}
	s := &Server{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		switch k {
		case "dir":
			s.dir = v
		case "dsn":
			s.DSN = v
		}
	}
	if s.dir == "" || s.DSN == "" {
		return nil, fmt.Errorf("pgtest: postgres.sh start printed %q", out)
	}
	return s, nil
}

// Close stops the server and removes its data.
func (s *Server) Close() error {
	_, err := run(context.Background(), "stop", s.dir)
	return err
}

// Pause stops the server, keeping its data: clients lose their
// connections, and new ones are refused until Resume (a crash test of
// the database).
func (s *Server) Pause() error {
	_, err := run(context.Background(), "pause", s.dir)
	return err
}

// Resume starts a paused server again, on the same port.
func (s *Server) Resume() error {
	_, err := run(context.Background(), "resume", s.dir)
	return err
}

// run runs postgres.sh with args, returning its output.
func run(ctx context.Context, args ...string) (string, error) {
	dir, err := os.MkdirTemp("", "pgtest")
	if err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "postgres.sh")
	if err := os.WriteFile(path, []byte(script), 0o700); err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", append([]string{path}, args...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("pgtest: postgres.sh %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// CreateDatabase creates the database name and returns its DSN.
func (s *Server) CreateDatabase(ctx context.Context, name string) (string, error) {
	conn, err := pgx.Connect(ctx, s.DSN)
	if err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("pgtest: creating database %s: %w", name, err)
	}
	u, err := url.Parse(s.DSN)
	if err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// DropDatabase drops the database name, closing its connections.
func (s *Server) DropDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, s.DSN)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("pgtest: dropping database %s: %w", name, err)
	}
	return nil
}

// Shared is one server for a test binary, started at the first Database.
// A zero Shared is ready to use; Run stops its server.
type Shared struct {
	mu  sync.Mutex
	srv *Server
	err error // why the server did not start
	n   int   // databases created
}

// Run runs the tests and then stops the server, if one was started; it
// returns m.Run's exit code.
func (s *Shared) Run(m *testing.M) int {
	code := m.Run()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		if err := s.srv.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		s.srv = nil
	}
	return code
}

// Database returns the DSN of a new, empty database on the shared
// server, dropped when t ends. It fails t when the server cannot start,
// and skips t when IOCPIPE_NO_POSTGRES is set.
func (s *Shared) Database(t testing.TB) string {
	t.Helper()
	if v := os.Getenv(OptOut); v != "" && v != "0" {
		t.Skipf("%s=%s: PostgreSQL tests skipped", OptOut, v)
	}
	srv, name, err := s.next(t.Context())
	if err != nil {
		t.Fatalf("%v (set %s=1 to skip the PostgreSQL tests)", err, OptOut)
	}
	dsn, err := srv.CreateDatabase(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.DropDatabase(context.Background(), name); err != nil {
			t.Error(err)
		}
	})
	return dsn
}

// next starts the server if needed and names the next database.
func (s *Shared) next(ctx context.Context) (*Server, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil && s.err == nil {
		s.srv, s.err = Start(ctx)
	}
	if s.err != nil {
		return nil, "", s.err
	}
	s.n++
	return s.srv, fmt.Sprintf("test_%d", s.n), nil
}
