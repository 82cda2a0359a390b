// Package text reads free text: the IOC lists analysts copy out of
// reports and blog posts (a title, section headings, "hash – Tool" lines,
// defanged URLs inside command lines), and the "CSV" files that are such
// reports with commas. It registers the format "text", which a route
// forces with format: text, and which reads what the csv format hands
// over (formats.ErrFallback: no header and no column of indicators).
//
// A file is read line by line (LF, CRLF or CR line endings). Each line
// with indicators is one row: every indicator in it (extract.go), with
// the rest of the line, and the title of the section it sits under, as
// the row's notes. A line with no indicator is a section title (a short
// line, "Captcha landing pages:") or prose, skipped with that reason; a
// line whose only candidate looks like an indicator but is none (a hash
// of the wrong length) is rejected with the reason. Blank lines, and
// lines of separators only (",", "----"), are no rows.
//
// Where things go: what is an indicator in a line, and what is a file
// name, a version or a date: extract.go; a value rule (a defang
// spelling, a type): package normalize.
package text

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/schemas"
)

// Name is the format's name.
const Name = "text"

func init() { formats.Register(Format{}) }

// Format is the free-text format. The zero Format is ready to use.
type Format struct{}

// Name implements formats.Format.
func (Format) Name() string { return Name }

// Sniff implements formats.Format: any text, as the last resort (the csv
// format, surer of every file it may read, hands over the files that are
// no table).
func (Format) Sniff(name string, head []byte) int { return 1 }

// Open implements formats.Format.
func (Format) Open(src *formats.Source, opts formats.Options) (formats.Reader, error) {
	return &Reader{lines: newLines(src.R, opts.MaxLine()), max: opts.MaxLine()}, nil
}

// Reasons a line is skipped.
const (
	skipTitle = "a section title, no indicator"
	skipProse = "no indicator in the line"
)

// A Reader reads the indicators of a text file, a row per line holding
// any.
type Reader struct {
	lines   *lines
	max     int
	section string // the title of the section being read
	// ahead holds the rows Describe read ahead, still to give.
	ahead []formats.Row
	// raw is the last row's line as written, kept when keepRaw (for
	// WriteRows).
	raw     string
	keepRaw bool
}

// File implements formats.Reader.
func (r *Reader) File() formats.File { return formats.File{Format: Name} }

// Next implements formats.Reader.
func (r *Reader) Next(ctx context.Context) (formats.Row, error) {
	if len(r.ahead) > 0 {
		row := r.ahead[0]
		r.ahead = r.ahead[1:]
		return row, nil
	}
	return r.read(ctx)
}

// read reads the next row from the file.
func (r *Reader) read(ctx context.Context) (formats.Row, error) {
	for {
		if err := ctx.Err(); err != nil {
			return formats.Row{}, err
		}
		raw, long, err := r.lines.next()
		if err != nil {
			return formats.Row{}, err
		}
		o := ioc.Origin{Line: r.lines.n, Index: -1}
		if r.keepRaw {
			r.raw = string(raw)
		}
		if long {
			return formats.RejectRow(o, "", formats.TooLong("line", r.max)), nil
		}
		if row, ok := r.row(o, string(raw)); ok {
			return row, nil
		}
	}
}

// row makes the row of one line; ok false says the line is no row
// (blank, or separators only).
func (r *Reader) row(o ioc.Origin, line string) (formats.Row, bool) {
	x := extract(line, r.section)
	switch {
	case x.empty:
		return formats.Row{}, false
	case len(x.found) > 0:
		return r.indicators(o, &x), true
	case x.bad != "":
		return formats.RejectRow(o, x.badValue, x.bad), true
	case x.skip != "":
		return skipped(o, line, x.skip), true
	case x.title != "":
		r.section = x.title
		return skipped(o, line, skipTitle), true
	}
	return skipped(o, line, skipProse), true
}

// indicators is the row of a line holding indicators.
func (r *Reader) indicators(o ioc.Origin, x *extraction) formats.Row {
	parts := make([]string, 0, len(x.found))
	for _, f := range x.found {
		parts = append(parts, string(f.typ)+formats.TypeHintSep+f.value)
	}
	m := []schemas.Member{{Key: formats.FieldValue, Val: schemas.StringValue(strings.Join(parts, formats.MultiSep))}}
	notes := x.notes
	switch {
	case r.section != "" && notes != "":
		notes = r.section + ": " + notes
	case r.section != "":
		notes = r.section
	}
	if notes != "" {
		m = append(m, schemas.Member{Key: formats.FieldNotes, Val: schemas.StringValue(notes)})
	}
	return formats.Row{Origin: o, Fields: schemas.ObjectValue(m)}
}

// skipped is a line skipped for why, the line as its value.
func skipped(o ioc.Origin, line, why string) formats.Row {
	v := schemas.StringValue(ioc.Clip(strings.TrimSpace(line)))
	return formats.Row{Origin: o, Skip: why, Fields: schemas.ObjectValue([]schemas.Member{{Key: formats.FieldValue, Val: v}})}
}

// describeRows is how many rows Describe reads ahead to show.
const describeRows = 5

// Describe implements formats.Describer: how lines are read, and the
// first lines holding indicators, with what was found in them.
func (r *Reader) Describe(d *formats.Description) error {
	d.Shape = "free text, read line by line: every indicator in a line, the rest of the line and its section's title as notes"
	d.LineByLine = true
	d.Mapping = []formats.FieldMapping{
		{Field: formats.FieldValue, From: []string{"every indicator in the line"}},
		{Field: formats.FieldNotes, From: []string{"the section title", "the rest of the line"}},
	}
	for len(r.ahead) < 64 {
		row, err := r.read(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		r.ahead = append(r.ahead, row)
	}
	shown := 0
	for _, row := range r.ahead {
		if row.Skip != "" || row.Reject != nil || shown == describeRows {
			continue
		}
		shown++
		vals := strings.ReplaceAll(row.Fields.Get(formats.FieldValue).Str, formats.MultiSep, ", ")
		vals = strings.ReplaceAll(vals, formats.TypeHintSep, " ")
		from := fmt.Sprintf("line %d: %s", row.Origin.Line, vals)
		if n := row.Fields.Get(formats.FieldNotes).Str; n != "" {
			from += " (notes: " + n + ")"
		}
		d.Samples = append(d.Samples, from)
	}
	return nil
}
