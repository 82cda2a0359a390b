package ioc

import (
	"fmt"
	"unicode/utf8"
)

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
	// Failed marks an indicator or association that could not be
	// delivered (retries ran out, the run stopped first), as opposed to
	// one refused or invalid: it is sent again by a later run.
	Failed bool `json:"failed,omitempty"`
	// Row is the data row's sequence number in its file; -1 for a file.
	Row int `json:"-"`
}

// maxRejectValue caps the value quoted in a reject, so a 100k-character
// value does not make a 100k-character report line.
const maxRejectValue = 256

// NewReject returns the reject of the record at o: field and value say
// what is wrong (value clipped for the report), reason says why. The
// index of a JSON array item is kept beside its line, which items written
// on one line share.
func NewReject(o Origin, field, value, reason string) Reject {
	r := Reject{File: o.File, Line: o.Line, ID: o.Ref, Field: field, Value: Clip(value), Reason: reason, Row: o.Row}
	if o.Index >= 0 {
		i := o.Index
		r.Index = &i
	}
	return r
}

// Clip shortens s for a report: at most 256 bytes, cut on a character
// boundary with the full length noted, and quoted when not valid UTF-8.
func Clip(s string) string {
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
	return Clip(s[:cut]) + fmt.Sprintf("… (%d bytes)", len(s))
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
	return fmt.Sprintf("%s %q: %v", e.Field, Clip(e.Value), e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }
