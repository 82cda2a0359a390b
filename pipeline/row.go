package pipeline

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/iocpipe/iocpipe/schemas"
)

// The canonical field names of an input row: readers map columns and keys
// onto these, the row schema (schemas/row.schema.json) checks them, and
// normalization reads them.
const (
	FieldValue      = "value"
	FieldType       = "type"
	FieldFirstSeen  = "first_seen"
	FieldLastSeen   = "last_seen"
	FieldSightings  = "sightings"
	FieldSource     = "source"
	FieldNotes      = "notes"
	FieldTags       = "tags"
	FieldEnclaves   = "enclaves"
	FieldReputation = "reputation"
)

// Fields lists the canonical field names in a fixed order.
var Fields = []string{FieldValue, FieldType, FieldFirstSeen, FieldLastSeen, FieldSightings,
	FieldSource, FieldNotes, FieldTags, FieldEnclaves, FieldReputation}

// multiSep joins several values of one row in its value field (a route
// that maps several value columns, or a split multi-value field).
const multiSep = "\x1f"

// A Row is one input record on its way through the pipeline: the reader
// fills Origin and Fields, validation and normalization fill the rest.
type Row struct {
	Origin
	// Fields is an Object Value of the canonical fields present.
	Fields schemas.Value

	// skip, when set, says why the row is not an indicator at all (a
	// pseudo-row, a STIX object of another kind): it is accounted as
	// skipped, with the reason, and not rejected.
	skip string
	// rejects are the problems found with the row or with some of its
	// values; a row with no indicators and rejects is a rejected row.
	rejects []Reject
	// rowRejected says the row failed as a whole (parse error, schema,
	// a bad field), as opposed to some of its values.
	rowRejected bool
	inds        []*Indicator
	// sub overrides the file's submission for this row (row enclaves).
	sub *Submission
}

// Get returns the row's field named name (Missing when absent).
func (r *Row) Get(name string) schemas.Value { return r.Fields.Get(name) }

// Reject is one entry of the reject report: a row, a value of a row, or a
// whole file that could not be delivered, and why.
type Reject struct {
	File  string `json:"file"`
	Line  int    `json:"line"`
	Index *int   `json:"index,omitempty"`
	ID    string `json:"id,omitempty"`
	Field string `json:"field"`
	Value string `json:"value"`
	// Reason says what is wrong, in words an analyst can act on.
	Reason string `json:"reason"`
	// Skipped marks rows that are not indicators (comments, pseudo-rows,
	// command lines, other STIX objects): reported, not counted as errors.
	Skipped bool `json:"skipped,omitempty"`
	// Sink, Status, ErrorID and TraceID are set when a sink refused it.
	Sink    string `json:"sink,omitempty"`
	Status  int    `json:"status,omitempty"`
	ErrorID string `json:"error_id,omitempty"`
	TraceID string `json:"trace_id,omitempty"`
	// Row is the data row's sequence number in its file; -1 for a file.
	Row int `json:"-"`
}

// maxRejectValue caps the value quoted in a reject, so a 100k-character
// value does not make a 100k-character report line.
const maxRejectValue = 256

func newReject(o Origin, field, value, reason string) Reject {
	r := Reject{File: o.File, Line: o.Line, ID: o.Ref, Field: field, Value: clip(value), Reason: reason, Row: o.Row}
	if o.Index >= 0 && o.Line == 0 {
		i := o.Index
		r.Index = &i
	}
	return r
}

func clip(s string) string {
	if len(s) <= maxRejectValue {
		if utf8.ValidString(s) {
			return s
		}
		return fmt.Sprintf("%q", s)
	}
	cut := maxRejectValue
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return clip(s[:cut]) + fmt.Sprintf("… (%d bytes)", len(s))
}

// A FieldError is a problem with one field of one row.
type FieldError struct {
	Field string
	Value string
	Err   error
}

func (e *FieldError) Error() string {
	if e.Value == "" {
		return e.Field + ": " + e.Err.Error()
	}
	return fmt.Sprintf("%s %q: %v", e.Field, clip(e.Value), e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

// display renders a field for a reject report.
func display(v schemas.Value) string {
	switch v.Kind {
	case schemas.String, schemas.Number, schemas.Bool:
		return v.Str
	case schemas.Missing:
		return ""
	}
	b, err := json.Marshal(v.Any())
	if err != nil {
		return v.Kind.String()
	}
	return string(b)
}
