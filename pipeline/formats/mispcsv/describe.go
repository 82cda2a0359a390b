package mispcsv

import (
	"bufio"
	"io"
	"slices"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/formats/misp/misptype"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// mapping is which columns feed which field, in the header's names; the
// first present of each list is read.
var mapping = []struct {
	field string
	cols  []string
}{
	{formats.FieldValue, []string{"value"}},
	{formats.FieldFirstSeen, []string{"first_seen", "date"}},
	{formats.FieldLastSeen, []string{"last_seen"}},
	{formats.FieldNotes, []string{"comment", "object_name", "object_relation", "event_info"}},
	{formats.FieldTags, []string{"attribute_tag", "tag"}},
}

// read are the columns the reader reads besides those of mapping.
var read = []string{"uuid", "type", "category", "to_ids"}

// Describe implements formats.Describer.
func (r *Reader) Describe(d *formats.Description) error {
	if r.header == nil {
		d.Shape = "no records (empty)"
		return nil
	}
	d.Shape = "a MISP CSV export: one attribute a record"
	d.Header, d.HeaderLine = r.raw, r.headerLine
	used := map[string]bool{}
	for _, m := range mapping {
		fm := formats.FieldMapping{Field: m.field}
		for _, c := range m.cols {
			if slices.Contains(r.header, c) {
				used[c] = true
				from := c
				switch c {
				case "value":
					from = "value, by type (composites such as filename|sha256 split; non-indicator parts go to notes)"
				}
				fm.From = append(fm.From, from)
			}
		}
		if len(fm.From) > 0 {
			d.Mapping = append(d.Mapping, fm)
		}
	}
	for i, h := range r.header {
		if !used[h] && !slices.Contains(read, h) {
			d.Unused = append(d.Unused, r.raw[i])
		}
	}
	d.Inherited = misptype.Rules(r.opts)
	return nil
}

// WriteRows implements formats.RowWriter: the header and the records of
// rows, as written (a record longer than max_line_bytes, which was not
// kept, is left out).
func (Format) WriteRows(src *formats.Source, opts formats.Options, rows ioc.Ranges, w io.Writer) error {
	rs := &records{br: src.R, max: opts.MaxLine()}
	bw := bufio.NewWriter(w)
	for n := -1; ; n++ {
		raw, _, long, err := rs.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if (n < 0 || rows.Contains(n)) && !long {
			bw.Write(raw)
			if raw[len(raw)-1] != '\n' {
				bw.WriteByte('\n')
			}
		}
	}
	return bw.Flush()
}
