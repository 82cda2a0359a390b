package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/gocarina/gocsv"

	"github.com/iocpipe/iocpipe/schemas"
)

// csvRecord is what gocsv decodes each record into. The reader in front of
// gocsv (csvSource) has already mapped the file's columns onto these
// canonical names, so the struct is the same for every file.
type csvRecord struct {
	Value      string `csv:"value"`
	Type       string `csv:"type"`
	FirstSeen  string `csv:"first_seen"`
	LastSeen   string `csv:"last_seen"`
	Sightings  string `csv:"sightings"`
	Source     string `csv:"source"`
	Notes      string `csv:"notes"`
	Tags       string `csv:"tags"`
	Enclaves   string `csv:"enclaves"`
	Reputation string `csv:"reputation"`
	Line       int    `csv:"__line"`
	Err        string `csv:"__err"`
}

func (r *csvRecord) fields() [10]struct{ name, val string } {
	return [10]struct{ name, val string }{
		{FieldValue, r.Value}, {FieldType, r.Type}, {FieldFirstSeen, r.FirstSeen}, {FieldLastSeen, r.LastSeen},
		{FieldSightings, r.Sightings}, {FieldSource, r.Source}, {FieldNotes, r.Notes}, {FieldTags, r.Tags},
		{FieldEnclaves, r.Enclaves}, {FieldReputation, r.Reputation},
	}
}

// A column projection: the canonical field and the input columns feeding
// it. Several columns feed the value field when a file carries several
// indicators per row; each may carry a type hint (a column named "url").
type projection struct {
	field string
	cols  []int
	hints []Type
}

// csvSource is the gocsv.CSVReader that feeds gocsv: it reads the file
// with encoding/csv set up for the detected delimiter, finds the header,
// and hands gocsv records already projected onto canonical names, plus the
// line number and any parse error of each record.
type csvSource struct {
	ctx    context.Context
	r      *csv.Reader
	name   string
	header []string // the file's header, as written
	proj   []projection
	out    []string
	sent   bool     // the canonical header was handed out
	first  []string // a headerless file's first record, still to send
	line   int
}

// Read implements gocsv.CSVReader.
func (s *csvSource) Read() ([]string, error) {
	if !s.sent {
		s.sent = true
		names := make([]string, 0, len(s.proj)+2)
		for _, p := range s.proj {
			names = append(names, p.field)
		}
		return append(names, "__line", "__err"), nil
	}
	if err := s.ctx.Err(); err != nil {
		return nil, err
	}
	var rec []string
	var err error
	if s.first != nil {
		rec, s.first = s.first, nil
	} else {
		rec, err = s.r.Read()
		if err == io.EOF {
			return nil, io.EOF
		}
		s.line, _ = s.r.FieldPos(0)
	}
	out := s.out[:0]
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		for range s.proj {
			out = append(out, "")
		}
		out = append(out, strconv.Itoa(pe.StartLine), describeCSVError(pe))
		s.out = out
		return out, nil
	} else if err != nil {
		return nil, err
	}
	problem := ""
	if len(rec) > len(s.header) {
		for _, extra := range rec[len(s.header):] {
			if strings.TrimSpace(extra) != "" {
				problem = fmt.Sprintf("row has %d fields, but the header has %d", len(rec), len(s.header))
				break
			}
		}
	}
	for _, p := range s.proj {
		out = append(out, p.pick(rec))
	}
	out = append(out, strconv.Itoa(s.line), problem)
	s.out = out
	return out, nil
}

// ReadAll implements gocsv.CSVReader; gocsv's streaming calls never use
// it, and reading a whole file into memory is what this reader avoids.
func (s *csvSource) ReadAll() ([][]string, error) {
	return nil, errors.New("csvSource: ReadAll is not supported: rows are streamed")
}

func (p projection) pick(rec []string) string {
	if len(p.cols) == 1 && p.hints[0] == "" {
		if c := p.cols[0]; c < len(rec) {
			return rec[c]
		}
		return ""
	}
	var b strings.Builder
	for i, c := range p.cols {
		if c >= len(rec) {
			continue
		}
		v := strings.TrimSpace(rec[c])
		if v == "" || isMissing(v) {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(multiSep)
		}
		if p.hints[i] != "" {
			b.WriteString(string(p.hints[i]) + typeHintSep)
		}
		b.WriteString(v)
	}
	return b.String()
}

// typeHintSep separates a column's type hint from the value it carries.
const typeHintSep = "\x1e"

func describeCSVError(pe *csv.ParseError) string {
	switch {
	case errors.Is(pe.Err, csv.ErrQuote) && pe.Line > pe.StartLine:
		return fmt.Sprintf("unbalanced quotes: a quoted field opened on line %d is not closed properly (lines %d to %d were read as one record)", pe.StartLine, pe.StartLine, pe.Line)
	case errors.Is(pe.Err, csv.ErrQuote):
		return fmt.Sprintf("unbalanced quotes (at byte %d of line %d)", pe.Column, pe.Line)
	case errors.Is(pe.Err, csv.ErrBareQuote):
		return fmt.Sprintf("a '\"' inside an unquoted field (at byte %d of the line): quote the field and double the quotes inside it", pe.Column)
	}
	return "malformed CSV: " + pe.Err.Error()
}

func (p *Pipeline) readCSV(ctx context.Context, f *fileState, e *emitter, br *bufio.Reader) error {
	head, _ := br.Peek(br.Size())
	delim := p.route.Delimiter
	if delim == 0 {
		delim = sniffDelimiter(head)
	}
	r := csv.NewReader(br)
	r.Comma = delim
	r.Comment = '#'
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.ReuseRecord = true

	src := &csvSource{ctx: ctx, r: r, name: f.name}
	first, err := r.Read()
	if err == io.EOF {
		f.setFileLevel(nil, false, nil)
		return nil // an empty file, or only comments: no rows
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return &FileError{File: f.name, Line: pe.StartLine, Err: fmt.Errorf("header: %s", describeCSVError(pe))}
		}
		return err
	}
	first = slices.Clone(first)
	src.header = first
	if err := src.mapHeader(first); err != nil {
		line, _ := r.FieldPos(0)
		return &FileError{File: f.name, Line: line, Err: err}
	}
	if src.first != nil {
		src.line, _ = r.FieldPos(0)
	}
	f.setFileLevel(nil, false, nil)

	records := make(chan *csvRecord, chunkRows)
	done := make(chan error, 1)
	go func() {
		done <- gocsv.UnmarshalDecoderToChan(gocsv.NewSimpleDecoderFromCSVReader(src), records)
	}()
	var emitErr error
	for rec := range records {
		if emitErr != nil {
			continue // drain: csvSource sees the cancelled context and stops
		}
		emitErr = e.emit(src.row(e, rec))
	}
	if err := <-done; err != nil && ctx.Err() == nil {
		return err
	}
	return emitErr
}

// row turns a decoded record into a Row.
func (s *csvSource) row(e *emitter, rec *csvRecord) Row {
	row := Row{Origin: Origin{Line: rec.Line, Index: -1}}
	if rec.Err != "" {
		row.rejects = []Reject{newReject(Origin{File: s.name, Line: rec.Line, Index: -1}, "", "", rec.Err)}
		row.rowRejected = true
		row.Fields = schemas.ObjectValue(nil)
		return row
	}
	fs := rec.fields()
	n := 0
	for _, f := range fs {
		if f.val != "" {
			n++
		}
	}
	m := e.members(n)
	for _, f := range fs {
		if f.val != "" {
			m = append(m, schemas.Member{Key: f.name, Val: schemas.Value{Kind: schemas.String, Str: f.val}})
		}
	}
	row.Fields = e.object(m)
	return row
}

// mapHeader finds the canonical field of each column. Without a value
// column it tries columns named after a type ("url", "ip", "sha256"),
// and a file whose first line is an indicator has no header at all.
func (s *csvSource) mapHeader(h []string) error {
	byField := map[string]*projection{}
	rank := map[string]int{}
	var order []string
	add := func(field string, col int, hint Type, r int) {
		p, ok := byField[field]
		switch {
		case !ok:
			p = &projection{field: field}
			byField[field] = p
			order = append(order, field)
		case field == FieldValue && hint != "":
			// several typed value columns: each yields an indicator
		case r < rank[field]:
			p.cols, p.hints = nil, nil
		default:
			return
		}
		rank[field] = r
		p.cols = append(p.cols, col)
		p.hints = append(p.hints, hint)
	}
	for i, name := range h {
		key := typeKey(cleanText(name))
		if field := headerNames[key]; field != "" {
			add(field, i, "", headerRank[key])
		}
	}
	if _, ok := byField[FieldValue]; !ok {
		for i, name := range h {
			key := typeKey(cleanText(name))
			if t, ok := typeNames[key]; ok && key != "address" && key != "host" || key == "hash" {
				add(FieldValue, i, t, 0)
			}
		}
	}
	if _, ok := byField[FieldValue]; !ok {
		if len(h) > 0 {
			if _, _, _, err := detect(refang(cleanText(h[0]))); err == nil {
				// No header: the first column holds the indicators.
				s.proj = []projection{{field: FieldValue, cols: []int{0}, hints: []Type{""}}}
				s.first = h
				s.header = make([]string, len(h))
				return nil
			}
		}
		return fmt.Errorf("no indicator column in the header %q: name it value, indicator or ioc (or after a type, such as url or ip)", strings.Join(h, string(',')))
	}
	for _, f := range order {
		s.proj = append(s.proj, *byField[f])
	}
	return nil
}

// sniffDelimiter picks the delimiter of the first data line: the most
// frequent of ',', tab, ';' and '|' outside quotes.
func sniffDelimiter(head []byte) rune {
	for len(head) > 0 {
		line := head
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			head = nil
		}
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' {
			continue
		}
		best, bestN := ',', 0
		for _, d := range []rune{',', '\t', ';', '|'} {
			n, quoted := 0, false
			for _, c := range string(t) {
				switch {
				case c == '"':
					quoted = !quoted
				case c == d && !quoted:
					n++
				}
			}
			if n > bestN {
				best, bestN = d, n
			}
		}
		return best
	}
	return ','
}
