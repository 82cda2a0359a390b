// Package csv reads delimited text: CSV, TSV, pipe- and semicolon-
// separated feeds, padded columns (" | "), headers in comment lines,
// headerless lists of indicators. It registers the format "csv".
//
// A file is read in three layers: the layout (delimiter, padding, comment
// styles, candidate header lines) is sniffed from its head (layout.go); a
// table finds the header and projects each record onto the canonical
// fields (read.go); gocsv decodes the projected records, a chunk at a
// time, into csvRecord structs, from which the Reader makes rows
// (decode.go). Line numbers and record problems travel beside each
// record, never inside its fields.
package csv

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/schemas"
)

func init() { formats.Register(Format{}) }

// Format is the delimited-text format. The zero Format is ready to use.
type Format struct{}

// Name implements formats.Format.
func (Format) Name() string { return "csv" }

// Sniff implements formats.Format: a delimited file's extension makes it
// sure; anything else is read as delimited text, before the text format
// (which reads what Open hands over, formats.ErrFallback: no header and
// no column of indicators).
func (Format) Sniff(name string, head []byte) int {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv", ".tsv", ".psv", ".tab":
		return 10
	}
	return 2
}

// Open implements formats.Format.
func (Format) Open(src *formats.Source, opts formats.Options) (formats.Reader, error) {
	br := src.R
	if crOnly(src.Head) {
		br = bufio.NewReaderSize(crToLF{src.R}, formats.HeadSize)
	}
	t, lay, err := openCSV(src.Name, br, opts)
	if err != nil {
		return nil, err
	}
	r := &Reader{t: t, lay: lay, valueAt: -1}
	if t != nil {
		r.names = make([]string, len(t.proj))
		for i, p := range t.proj {
			r.names[i] = p.field
			if p.field == formats.FieldValue {
				r.valueAt = i
			}
		}
	}
	return r, nil
}

// A Reader reads the records of a delimited file.
type Reader struct {
	t   *table // nil for a file without records
	lay *csvLayout
	// names are the canonical fields of the projections, in order: the
	// header gocsv decodes by. valueAt is the value field's position.
	names   []string
	valueAt int
	dec     decoder
	slab    formats.Slab
	err     error // what ended reading, once the decoded rows are given out
}

// File implements formats.Reader.
func (r *Reader) File() formats.File { return formats.File{Format: "csv"} }

// Next implements formats.Reader.
func (r *Reader) Next(ctx context.Context) (formats.Row, error) {
	if r.t == nil {
		return formats.Row{}, io.EOF
	}
	if r.dec.pos == r.dec.n {
		if r.err != nil {
			return formats.Row{}, r.err
		}
		if err := ctx.Err(); err != nil {
			return formats.Row{}, err
		}
		r.err = r.dec.fill(r.t, r.names)
		if r.dec.n == 0 {
			return formats.Row{}, r.err
		}
	}
	rec, meta := &r.dec.out[r.dec.pos], &r.dec.recs[r.dec.pos]
	r.dec.pos++
	return r.row(rec, meta), nil
}

// row turns a decoded record into a Row.
func (r *Reader) row(rec *csvRecord, meta *record) formats.Row {
	o := ioc.Origin{Line: meta.line, Index: -1}
	switch {
	case meta.skip != "":
		v := ""
		if r.valueAt >= 0 {
			v = meta.fields[r.valueAt]
		}
		return formats.Row{Origin: o, Skip: meta.skip, Fields: schemas.ObjectValue([]schemas.Member{{Key: formats.FieldValue, Val: schemas.StringValue(v)}})}
	case meta.problem != "":
		return formats.RejectRow(o, "", meta.problem)
	}
	fs := rec.fields()
	n := 0
	for _, f := range fs {
		if f.val != "" {
			n++
		}
	}
	m := r.slab.Members(n)
	for _, f := range fs {
		if f.val != "" {
			m = append(m, schemas.Member{Key: f.name, Val: schemas.Value{Kind: schemas.String, Str: f.val}})
		}
	}
	return formats.Row{Origin: o, Fields: r.slab.Object(m)}
}

// crOnly reports whether a file's head ends its lines with CR alone
// (classic Mac files): CRs and no LF.
func crOnly(head []byte) bool {
	return bytes.IndexByte(head, '\r') >= 0 && bytes.IndexByte(head, '\n') < 0
}

// crToLF reads a file whose lines end with CR as if they ended with LF.
type crToLF struct{ r io.Reader }

func (c crToLF) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for i, b := range p[:n] {
		if b == '\r' {
			p[i] = '\n'
		}
	}
	return n, err
}
