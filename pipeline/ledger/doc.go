// Package ledger remembers, by content hash, which files were imported
// through a route and which of their rows the sink acknowledged: it is
// what makes a restart resume a file without sending an acknowledged row
// again, and a file whose content was imported before, every row
// delivered, a duplicate (one imported with rows rejected, skipped or
// failed sends those rows again, never the delivered ones). Both
// `iocpipe run` and watch mode (package inbox) use it the same way:
//
//	start, err := l.Begin(ctx, ledger.Key(route, sink), content, reimport)
//	// start.Status: Duplicate (skip the file), Resume or Fresh;
//	// start.Skip is the pipeline.Input's Skip.
//	l.Record(key, sum, report.Acked)        // each pipeline.FileReport; never waits
//	l.Undelivered(key, sum, report.Rejected.Union(report.Failed))
//	err = l.Finish(ctx, key, sum, imported) // durable: every record (and "imported")
//
// Writes go through one registrar goroutine per ledger (registrar.go), as
// Filebeat's registrar owns its registry: Record hands it the rows and
// returns, it writes every import changed since its last write in one
// commit, and Finish (and Begin, when it must write) waits for the commit
// that includes it. Acknowledgements therefore never wait for fsync, and
// many small files share one. At least once holds: a row is recorded only
// after the sink acknowledged it, a file is filed as imported only after
// Finish, and rows recorded but not yet written when the process dies are
// simply sent again.
//
// Implementations: Bolt (bolt.go), a bbolt file for one process, and
// Postgres (postgres.go, migrate.go), a PostgreSQL database several
// instances may share. Each is one type with the store methods (get, and
// put of several entries in one durable commit) that hands them to a
// registrar and implements the rest of Ledger (Get, Entries, Len, Size,
// Close); both keep Entry's JSON as the stored form. Begin's decisions
// and the registrar are shared, so they behave the same by construction,
// and one contract suite (contract_test.go) runs on both. Package pgtest
// starts a throw-away PostgreSQL server for the tests.
//
// Both ledgers also keep the cursors of polled sources (cursor.go: a
// route's taxii: collection, package pipeline/taxii/source), per route key
// and collection, written durably by PutCursor; they are no entries.
package ledger
