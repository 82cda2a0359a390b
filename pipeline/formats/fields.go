package formats

import (
	"strings"

	"github.com/iocpipe/iocpipe/pipeline/normalize"
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

// MultiSep joins several values of one row in its value field (a route
// that maps several value columns, or a split multi-value field).
const MultiSep = "\x1f"

// TypeHintSep separates a value's type hint (a column named "url") from
// the value it carries, inside the value field: "url\x1ehttp://…".
const TypeHintSep = "\x1e"

// headerNames maps column headers and JSON keys — lower-cased, with
// everything but letters and digits dropped, so "First Seen", "first_seen"
// and "firstSeen" are one key — to canonical fields. Earlier entries of
// headerRank win when a file has several columns for one field.
var headerNames = map[string]string{
	"value": FieldValue, "indicator": FieldValue, "ioc": FieldValue, "indicatorvalue": FieldValue,
	"iocvalue": FieldValue, "observable": FieldValue, "observablevalue": FieldValue, "data": FieldValue,
	"artifact": FieldValue, "entity": FieldValue, "attribute": FieldValue, "attributevalue": FieldValue,
	"entityvalue": FieldValue,

	"type": FieldType, "indicatortype": FieldType, "ioctype": FieldType, "kind": FieldType,
	"datatype": FieldType, "entitytype": FieldType, "observabletype": FieldType, "attributetype": FieldType,
	"valuetype": FieldType,

	"firstseen": FieldFirstSeen, "firstseenutc": FieldFirstSeen, "first": FieldFirstSeen,
	"firstdate": FieldFirstSeen, "dateadded": FieldFirstSeen, "dateaddedutc": FieldFirstSeen, "added": FieldFirstSeen,
	"created": FieldFirstSeen, "createdat": FieldFirstSeen, "firstobserved": FieldFirstSeen,
	"validfrom": FieldFirstSeen, "date": FieldFirstSeen, "timestamp": FieldFirstSeen,
	"datetime": FieldFirstSeen, "time": FieldFirstSeen, "reported": FieldFirstSeen,
	"firstseenat": FieldFirstSeen, "dateutc": FieldFirstSeen, "timestamputc": FieldFirstSeen,

	"lastseen": FieldLastSeen, "lastseenutc": FieldLastSeen, "last": FieldLastSeen,
	"lastdate": FieldLastSeen, "lastonline": FieldLastSeen, "lastobserved": FieldLastSeen,
	"modified": FieldLastSeen, "updated": FieldLastSeen, "validuntil": FieldLastSeen,
	"lastseenat": FieldLastSeen, "utc": FieldLastSeen,

	"sightings": FieldSightings, "sighting": FieldSightings, "count": FieldSightings,
	"hits": FieldSightings, "occurrences": FieldSightings, "observations": FieldSightings,

	"source": FieldSource, "reporter": FieldSource, "feed": FieldSource, "provider": FieldSource,
	"sourcename": FieldSource, "feedname": FieldSource, "providername": FieldSource,

	"notes": FieldNotes, "note": FieldNotes, "description": FieldNotes, "comment": FieldNotes,
	"comments": FieldNotes, "context": FieldNotes, "details": FieldNotes, "desc": FieldNotes,
	"title": FieldNotes,

	"tags": FieldTags, "tag": FieldTags, "labels": FieldTags, "label": FieldTags,

	"enclave": FieldEnclaves, "enclaves": FieldEnclaves, "enclaveid": FieldEnclaves, "enclaveids": FieldEnclaves,

	"reputation": FieldReputation,
}

// headerRank orders aliases of one field: a lower rank wins.
var headerRank = map[string]int{
	"firstseen": -3, "firstseenutc": -2, "dateadded": -1,
	"lastseen": -3, "lastseenutc": -2, "utc": 1,
	"value": -3, "indicator": -2, "ioc": -1,
	"notes": -3, "description": -2, "title": 1,
}

// contextNames are the column headers (by normalize.Key) of context about
// an indicator that no field names: a delimited file's such columns go
// to the notes, each with its header as label ("Malware Family: Emotet").
var contextNames = map[string]bool{
	"malware": true, "malwarefamily": true, "family": true, "associatedmalware": true, "malwarename": true,
	"signature": true, "threat": true, "threattype": true, "threatname": true, "role": true, "category": true,
	"campaign": true, "actor": true, "threatactor": true, "tool": true,
}

// IsContext reports whether a column header, by its normalize.Key, names
// context about an indicator that goes to the notes.
func IsContext(key string) bool { return contextNames[key] }

// FieldOf returns the canonical field a column header or JSON key is an
// alias of, compared by normalize.Key, or "" for none.
func FieldOf(name string) string { return headerNames[normalize.Key(name)] }

// FieldOfKey is FieldOf for a name already turned into its normalize.Key.
func FieldOfKey(key string) string { return headerNames[key] }

// Rank orders aliases of one field by their normalize.Key: a lower rank
// wins when a file has several columns or keys for one field.
func Rank(key string) int { return headerRank[key] }

// A FieldMapping says which input columns or JSON keys feed a canonical
// field.
type FieldMapping struct {
	// Field is the canonical field (FieldValue, FieldNotes, ...).
	Field string `json:"field"`
	// From are the columns (header names, or "column N") or JSON paths.
	From []string `json:"from"`
	// Explicit says the route's columns or json_fields chose them; else
	// the aliases did.
	Explicit bool `json:"explicit,omitempty"`
}

// A Tag is a tag as read: a name, and an enclave name or UUID when the
// input gave one ({name, enclaveId} objects).
type Tag struct {
	Name    string
	Enclave string
}

// List reads a list field: the strings of an array, or one string split
// at commas, semicolons and pipes; cleaned, empty ones dropped.
func List(v schemas.Value) []string {
	var out []string
	switch v.Kind {
	case schemas.String:
		for s := range strings.FieldsFuncSeq(v.Str, func(r rune) bool { return r == ';' || r == '|' || r == ',' }) {
			if s = normalize.CleanText(s); s != "" && !normalize.IsMissing(s) {
				out = append(out, s)
			}
		}
	case schemas.Array:
		for _, e := range v.Items() {
			if e.Kind == schemas.String {
				if s := normalize.CleanText(e.Str); s != "" {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// Tags reads a tags field: a list of names, or {name, enclaveId} objects
// as TruSTAR bodies carry them.
func Tags(v schemas.Value) []Tag {
	if v.Kind == schemas.Array {
		var out []Tag
		for _, e := range v.Items() {
			switch e.Kind {
			case schemas.String:
				out = append(out, Tag{Name: e.Str})
			case schemas.Object:
				out = append(out, Tag{Name: e.Get("name").Str, Enclave: e.Get("enclaveId").Str})
			}
		}
		return out
	}
	var out []Tag
	for _, s := range List(v) {
		out = append(out, Tag{Name: s})
	}
	return out
}
