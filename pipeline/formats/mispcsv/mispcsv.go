// Package mispcsv reads MISP's CSV export (MISP's "CSV" download and the
// restSearch returnFormat csv): a header starting
// uuid,event_id,category,type,value,comment,to_ids,date, often followed by
// object_relation, attribute_tag, object_uuid, object_name,
// object_meta_category, first_seen, last_seen and, with context, the
// event's columns (event_info, event_tag, ...). It registers the format
// "misp-csv", found by that header (its Sniff beats generic CSV's).
//
// Each record is one MISP attribute and is read as MISP JSON reads one
// (package misp), through the same table (misp/misptype): its type says
// which indicator it is, composite types split, non-indicator types and
// references are skipped with the reason, to_ids is honoured as the
// route's misp_to_ids says; comment → notes, date (YYYYMMDD) or
// first_seen → firstSeen, last_seen → lastSeen, attribute_tag → tags.
//
// Records are read as lines, joined while a quoted field is open (so a
// comment may span lines and no record is held beyond max_line_bytes),
// split with encoding/csv, and decoded a chunk at a time by gocsv.
package mispcsv

import (
	"bytes"
	"encoding/csv"
	"slices"
	"strings"

	"github.com/iocpipe/iocpipe/pipeline/formats"
)

// Name is the format's name.
const Name = "misp-csv"

func init() { formats.Register(Format{}) }

// Format is MISP's CSV export. The zero Format is ready to use.
type Format struct{}

// Name implements formats.Format.
func (Format) Name() string { return Name }

// required are the columns a header must have to be MISP's.
var required = []string{"uuid", "event_id", "category", "type", "value", "to_ids"}

// Sniff implements formats.Format: a first line holding MISP's columns
// (uuid, event_id, category, type, value, to_ids) is surely MISP's export,
// whatever the file's name; generic CSV scores 10 at most.
func (Format) Sniff(name string, head []byte) int {
	line, _, _ := bytes.Cut(head, []byte("\n"))
	header, err := csv.NewReader(bytes.NewReader(line)).Read()
	if err != nil {
		return 0
	}
	names := columnNames(header)
	for _, r := range required {
		if !slices.Contains(names, r) {
			return 0
		}
	}
	return 20
}

// columnNames are a header's names as gocsv matches them: trimmed and
// lower-cased.
func columnNames(header []string) []string {
	out := make([]string, len(header))
	for i, h := range header {
		out[i] = strings.ToLower(strings.TrimSpace(h))
	}
	return out
}
