package mispcsv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gocarina/gocsv"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/formats/misp/misptype"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/pipeline/normalize"
	"github.com/iocpipe/iocpipe/schemas"
)

// An attribute is one record of the export, as gocsv decodes it by the
// header's names; columns it has no field for are ignored.
type attribute struct {
	UUID           string `csv:"uuid"`
	Category       string `csv:"category"`
	Type           string `csv:"type"`
	Value          string `csv:"value"`
	Comment        string `csv:"comment"`
	ToIDs          string `csv:"to_ids"`
	Date           string `csv:"date"`
	ObjectRelation string `csv:"object_relation"`
	ObjectName     string `csv:"object_name"`
	AttributeTag   string `csv:"attribute_tag"`
	Tag            string `csv:"tag"`
	FirstSeen      string `csv:"first_seen"`
	LastSeen       string `csv:"last_seen"`
	EventInfo      string `csv:"event_info"`
}

// A record is one record as read: its fields, line and problem, kept
// beside what gocsv makes of it.
type record struct {
	line    int
	fields  []string
	problem string
	raw     string // the record, clipped, when it has a problem
}

// chunkRecords is how many records gocsv decodes in one call.
const chunkRecords = 256

// A Reader reads the attributes of a MISP CSV export.
type Reader struct {
	rs         *records
	opts       formats.Options
	header     []string // the column names, as gocsv matches them
	raw        []string // the header as written
	headerLine int
	recs       []record
	out        []attribute
	n, pos     int
	slab       formats.Slab
	err        error // what ended reading, once the decoded rows are given out
}

// Open implements formats.Format: it reads the header.
func (Format) Open(src *formats.Source, opts formats.Options) (formats.Reader, error) {
	r := &Reader{rs: &records{br: src.R, max: opts.MaxLine()}, opts: opts}
	raw, line, long, err := r.rs.next()
	switch {
	case errors.Is(err, io.EOF):
		r.err = io.EOF
		return r, nil
	case err != nil:
		return nil, err
	case long:
		return nil, &formats.FileError{File: src.Name, Line: line, Err: errors.New("the header is " + formats.TooLong("line", r.rs.max))}
	}
	if r.raw, err = split(raw); err != nil {
		return nil, &formats.FileError{File: src.Name, Line: line, Err: fmt.Errorf("the header: %w", err)}
	}
	r.header, r.headerLine = columnNames(r.raw), line
	return r, nil
}

// File implements formats.Reader.
func (r *Reader) File() formats.File { return formats.File{Format: Name} }

// Next implements formats.Reader.
func (r *Reader) Next(ctx context.Context) (formats.Row, error) {
	if r.pos == r.n {
		if r.err != nil {
			return formats.Row{}, r.err
		}
		if err := ctx.Err(); err != nil {
			return formats.Row{}, err
		}
		r.err = r.fill()
		if r.n == 0 {
			return formats.Row{}, r.err
		}
	}
	a, rec := &r.out[r.pos], &r.recs[r.pos]
	r.pos++
	return r.row(a, rec), nil
}

// fill reads and decodes the next chunk of records. It returns what ended
// reading (io.EOF, a read error); the records read before it are decoded
// all the same.
func (r *Reader) fill() error {
	if r.recs == nil {
		r.recs, r.out = make([]record, chunkRecords), make([]attribute, chunkRecords)
	}
	r.n, r.pos = 0, 0
	rows := make([][]string, 1, chunkRecords+1)
	rows[0] = r.header
	var end error
	for r.n < chunkRecords {
		rec := &r.recs[r.n]
		if end = r.read(rec); end != nil {
			break
		}
		fields := rec.fields
		if rec.problem != "" {
			fields = make([]string, len(r.header))
		}
		rows = append(rows, fields)
		r.n++
	}
	if r.n == 0 {
		return end
	}
	if err := gocsv.UnmarshalCSV(formats.Records(rows), &r.out); err != nil {
		return err
	}
	return end
}

// read reads the next record into rec, with its problem when it cannot
// be split or does not match the header.
func (r *Reader) read(rec *record) error {
	raw, line, long, err := r.rs.next()
	if err != nil {
		return err
	}
	*rec = record{line: line}
	if long {
		rec.problem = formats.TooLong("record", r.rs.max)
		return nil
	}
	rec.fields, err = split(raw)
	switch {
	case err != nil:
		rec.problem = "invalid CSV: " + err.Error()
	case len(rec.fields) != len(r.header):
		rec.problem = fmt.Sprintf("%d fields, the header (line %d) has %d", len(rec.fields), r.headerLine, len(r.header))
	}
	if rec.problem != "" {
		rec.raw = ioc.Clip(strings.TrimRight(string(raw), "\r\n"))
	}
	return nil
}

// row maps one attribute onto a row, as MISP JSON maps one.
func (r *Reader) row(a *attribute, rec *record) formats.Row {
	o := ioc.Origin{Line: rec.line, Index: -1}
	if rec.problem != "" {
		return formats.RejectRow(o, rec.raw, rec.problem)
	}
	o.Ref = a.UUID
	row := formats.Row{Origin: o, Fields: schemas.ObjectValue([]schemas.Member{{Key: formats.FieldValue, Val: schemas.StringValue(a.Value)}})}
	parts, notes, what, err := misptype.Split(a.Type, a.Value)
	if err != nil {
		return row.WithReject(formats.FieldValue, a.Value, err.Error())
	}
	if reason, key := misptype.Skip(a.Type, a.Category, what, len(parts) > 0, misptype.Truth(a.ToIDs, true), r.opts); reason != "" {
		row.Skip, row.SkipKey = reason, key
		return row
	}
	m := r.slab.Members(6)
	m = append(m, schemas.Member{Key: formats.FieldValue, Val: schemas.StringValue(strings.Join(parts, formats.MultiSep))})
	add := func(key, v string) {
		if v = strings.TrimSpace(v); v != "" {
			m = append(m, schemas.Member{Key: key, Val: schemas.StringValue(v)})
		}
	}
	first := a.FirstSeen
	if strings.TrimSpace(first) == "" {
		first = a.Date
	}
	add(formats.FieldFirstSeen, first)
	add(formats.FieldLastSeen, a.LastSeen)
	add(formats.FieldNotes, a.notes(notes))
	tags := a.AttributeTag
	if tags == "" {
		tags = a.Tag
	}
	add(formats.FieldTags, tags)
	return formats.Row{Origin: o, Fields: r.slab.Object(m)}
}

// notes are the attribute's comment, the other parts of a composite
// value, and the object it belongs to; else the event's info.
func (a *attribute) notes(parts []string) string {
	note := normalize.CleanText(a.Comment)
	if a.ObjectName != "" {
		obj := a.ObjectName + " object"
		if a.ObjectRelation != "" {
			obj += " (" + a.ObjectRelation + ")"
		}
		note = normalize.JoinNotes(note, obj)
	}
	note = strings.Trim(strings.Join(append([]string{note}, parts...), "; "), "; ")
	if note == "" {
		note = normalize.CleanText(a.EventInfo)
	}
	return note
}
