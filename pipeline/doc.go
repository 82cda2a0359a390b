// Package pipeline is iocpipe's engine: it imports files into a sink
// through the stages read → validate → normalize → batch → send, each in
// its own goroutines joined by bounded channels under one errgroup, so
// that memory stays flat whatever the input's size and the first fatal
// error stops every stage.
//
//   - read (read.go): one file at a time, opened through formats.Open (the
//     one format decision) and pulled row by row from its formats.Reader;
//     rows are numbered here, rows a ledger already acknowledged are
//     skipped, and rows travel in chunks.
//   - validate (pipeline.go): every row against schemas/row.schema.json,
//     on the compiled fast path.
//   - normalize (normalize.go, value.go): rows into ioc.Indicators with
//     the pure rules of package normalize, plus what needs the route: tag
//     precedence, enclaves, submissions.
//   - batch (batch.go): indicators grouped per submission, duplicates of
//     a file merged, batches closed by size, bytes or linger.
//   - send (pipeline.go): InFlight senders hand batches to the Sink.
//   - the tracker (tracker.go) accounts for every row and indicator and
//     tells each file's fate.
//
// The engine knows no format and no API: formats register themselves with
// pipeline/formats, and a Sink is the interface defined here, implemented
// by sinks/<api>. Where things go: a new input format is a package under
// pipeline/formats; a new value rule is in pipeline/normalize; a new sink
// is a package under sinks plus one row of the sink table in cmd/iocpipe;
// what the engine does with rows and batches (validation, precedence,
// batching, accounting) is here.
package pipeline
