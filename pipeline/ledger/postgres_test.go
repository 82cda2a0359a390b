package ledger

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// TestPostgresMigrateTogether: instances starting together on a new
// database apply each migration once (pg_advisory_lock), and all open.
func TestPostgresMigrateTogether(t *testing.T) {
	dsn := pg.Database(t)
	const instances = 5
	var wg sync.WaitGroup
	errs := make(chan error, instances)
	for range instances {
		wg.Go(func() {
			l, err := OpenPostgres(t.Context(), dsn, PostgresOptions{})
			if err == nil {
				err = l.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	v, err := MigratePostgres(t.Context(), dsn)
	if err != nil || v != SchemaVersion() || v < 1 {
		t.Fatalf("MigratePostgres: version %d, %v; want %d", v, err, SchemaVersion())
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n, distinct int
	if err := conn.QueryRow(t.Context(), "SELECT count(*), count(DISTINCT version) FROM iocpipe_schema_migrations").Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != distinct || n != len(must(migrations())) {
		t.Errorf("%d migrations recorded (%d distinct), want %d once each", n, distinct, len(must(migrations())))
	}
	// A schema newer than this build is refused, naming the versions.
	if _, err := conn.Exec(t.Context(), "INSERT INTO iocpipe_schema_migrations (version, name) VALUES (9999, 'future')"); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenPostgres(t.Context(), dsn, PostgresOptions{}); err == nil || !strings.Contains(err.Error(), "9999") {
		t.Errorf("a newer schema: %v, want an error naming version 9999", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestPostgresShared: what one instance finishes, another sees at once.
func TestPostgresShared(t *testing.T) {
	ctx := context.Background()
	dsn := pg.Database(t)
	a, b := openTestPostgres(t, dsn), openTestPostgres(t, dsn)
	if _, err := a.Begin(ctx, "r/s", Content{Sum: "abc", Name: "a.csv", Size: 3}, false); err != nil {
		t.Fatal(err)
	}
	a.Record("r/s", "abc", ioc.Ranges{{0, 3}})
	if err := a.Finish(ctx, "r/s", "abc", true); err != nil {
		t.Fatal(err)
	}
	st, err := b.Begin(ctx, "r/s", Content{Sum: "abc", Name: "b.csv", Size: 3}, false)
	if err != nil || st.Status != Duplicate || st.Entry.Name != "a.csv" {
		t.Errorf("the other instance: %+v, %v; want a Duplicate of a.csv", st, err)
	}
}

// TestPostgresErrors: a server that does not answer is an error naming
// it, never the password.
func TestPostgresErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // a port nobody listens on
	bad := "postgres://postgres:s3cret@" + addr + "/db?sslmode=disable&connect_timeout=5"
	_, err = OpenPostgres(t.Context(), bad, PostgresOptions{})
	if err == nil {
		t.Fatal("opening a server that is not there succeeded")
	}
	if msg := err.Error(); strings.Contains(msg, "s3cret") || !strings.Contains(msg, addr) {
		t.Errorf("error %q: want the host, never the password", msg)
	}
	if _, err := OpenPostgres(t.Context(), "postgres://u:s3cret@[::1", PostgresOptions{}); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("a bad DSN: %v", err)
	}
}
