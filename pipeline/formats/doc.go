// Package formats is the seam between iocpipe's engine and the input
// formats, modelled on image's RegisterFormat and encoding/csv's Reader.
//
// A Format says whether a file looks like it (Sniff) and opens a pull
// Reader over it (Open). Formats register themselves from their package's
// init, and Detect is the one decision of which format reads a file: run,
// watch, validate, inspect and the rejected-rows writer all go through
// Open, which calls Detect. A Reader yields one Row per record with Next,
// io.EOF at the end; the caller owns the loop, the goroutines and the
// stop. A Reader never reaches into the engine: it knows the route's read
// options (Options), not its sink, ledger or accounting.
//
// Where things go:
//
//   - a new input format: a new folder pipeline/formats/<name> whose init
//     calls formats.Register, with its own testdata/<case>/ folders beside
//     it (run by formatstest.Run), and one blank import line in
//     cmd/iocpipe (formats.go);
//   - a new kind of JSON document told by its content (as STIX, MISP and
//     OTX are): a Kind in json/jsonwalk's first pass, and a folder whose
//     init registers jsonwalk.NewFormat (or NewContentFormat, for a
//     format routes cannot force) with its DocumentReader;
//   - a field alias shared by every format (a new column header for
//     first_seen): fields.go here;
//   - a value rule (a defang spelling, a type name, a timestamp form):
//     package normalize, not here.
//
// Optional interfaces a Reader may implement: Linker (associations between
// indicators, STIX relationships), Describer (what inspect shows). A Format
// may implement RowWriter to write rejected rows back in its own format,
// and ContentFormat when it is found only by content, through another
// format (MISP, OTX): routes cannot force it, so Names and Lookup leave it
// out, and ByName finds it.
package formats
