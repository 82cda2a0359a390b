// Package normalize holds the pure value rules of iocpipe: what a value
// is and how it is written once normalized. It cleans copy-paste debris
// (CleanText), undoes every defang spelling (Refang), detects or checks
// an indicator's type and returns its canonical form (Detect, Value,
// Split), resolves the type names feeds use (LookupType, ColumnType),
// cleans tag names (CleanTag) and turns every timestamp form into epoch
// milliseconds (ParseTime).
//
// Nothing here knows a route, a file or a sink: every function is a pure
// function of its arguments. A new value rule (a new defang spelling, a
// new type, a new timestamp form) goes here, with a case in the table
// tests beside it; the formats and the engine pick it up unchanged.
package normalize
