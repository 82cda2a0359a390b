package csv

import (
	"bufio"
	"bytes"
	stdcsv "encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/pipeline/normalize"
)

// A column projection: the canonical field and the input columns feeding
// it. Several columns feed the value field when a file carries several
// indicators per row; each may carry a type hint (a column named "url").
// Several columns of notes are joined, each with its label ("port 443",
// "Threat: botnet_cc").
type projection struct {
	field  string
	cols   []int
	hints  []ioc.Type
	labels []string
	// names are the columns' header names, for Describe.
	names []string
	// explicit says the route's columns mapping chose the columns.
	explicit bool
}

// recordReader reads a delimited file record by record: encoding/csv, or
// the line reader for padded and ';'-commented text.
type recordReader interface {
	Read() ([]string, error)
	// Line is the 1-based line where the last record read starts.
	Line() int
}

// blankRecord reports a record whose fields are all white space.
func blankRecord(rec []string) bool {
	for _, f := range rec {
		if normalize.CleanText(f) != "" {
			return false
		}
	}
	return true
}

// csvRecords is a recordReader over encoding/csv, whose input a
// recordGuard keeps from holding an over-long record.
type csvRecords struct {
	r    *stdcsv.Reader
	g    *recordGuard
	line int
	// long is the over-long records read; shifted, how many of them
	// shift says the lines of.
	long, shifted, shift int
}

func (c *csvRecords) Read() ([]string, error) {
	rec, err := c.r.Read()
	for ; c.shifted < c.long && c.shifted < len(c.g.shifts); c.shifted++ {
		c.shift += c.g.shifts[c.shifted] // encoding/csv did not see the lines skipped
	}
	if err == nil {
		c.line, _ = c.r.FieldPos(0)
		c.line += c.shift
		return rec, nil
	}
	var pe *stdcsv.ParseError // declared here: it escapes, and must not cost every row
	var ol *overlongError
	switch {
	case errors.As(err, &pe):
		pe.StartLine += c.shift
		pe.Line += c.shift
		c.line = pe.StartLine // FieldPos may have no field to report
	case errors.As(err, &ol):
		c.long++
		c.line = ol.line
	}
	return rec, err
}

func (c *csvRecords) Line() int { return c.line }

// A table reads a delimited file's records after its header: the layout
// found, the header, and the projection of each record onto the
// canonical fields.
type table struct {
	r      recordReader
	name   string
	header []string // the file's header, as written (empty names when headerless)
	proj   []projection
	first  []string // a data record read while looking for the header, still to give
	// firstLine is the line of first.
	firstLine int
	// headerLine is the header's line (0 when the file has none);
	// headerComment says it was a comment line.
	headerLine    int
	headerComment bool
	// sampled says why a column the header does not name as the value
	// is (findHeader), for inspect.
	sampled string
}

// A record is one record projected onto the canonical fields (in the
// order of the table's projections), with what was found beside it: the
// line it starts on, and a problem of the record as a whole.
type record struct {
	fields []string
	line   int
	// problem says why the record is rejected; skip, why it is skipped (a
	// pseudo-row). At most one is set.
	problem, skip string
}

// next reads the next record into rec (reusing its fields). It returns
// io.EOF at the end; a record that does not parse is no error but a
// record with its problem.
func (s *table) next(rec *record) error {
	var raw []string
	var err error
	if s.first != nil {
		raw, s.first = s.first, nil
		rec.line = s.firstLine
	} else {
		raw, err = s.r.Read()
		if err == io.EOF {
			return io.EOF
		}
		rec.line = s.r.Line()
	}
	rec.fields, rec.problem, rec.skip = rec.fields[:0], "", ""
	var pe *stdcsv.ParseError
	var ol *overlongError
	if errors.As(err, &pe) || errors.As(err, &ol) {
		if pe != nil {
			rec.line, rec.problem = pe.StartLine, describeCSVError(pe)
		} else {
			rec.line, rec.problem = ol.line, formats.TooLong("record", ol.max)
		}
		for range s.proj {
			rec.fields = append(rec.fields, "")
		}
		return nil
	} else if err != nil {
		return err
	}
	if len(raw) > len(s.header) {
		for _, extra := range raw[len(s.header):] {
			if strings.TrimSpace(extra) != "" {
				rec.problem = fmt.Sprintf("row has %d fields, but the header has %d", len(raw), len(s.header))
				break
			}
		}
	}
	if len(raw) > 0 && s.pseudo(raw) {
		if why := s.pseudoReason(raw); why != "" {
			rec.problem, rec.skip = "", why
		}
	} else if len(raw) > 1 && rec.problem == "" && sectionRow(raw) {
		rec.skip = "a section title (one cell of words, the others empty), no indicator"
	}
	for i := range s.proj {
		rec.fields = append(rec.fields, s.proj[i].pick(raw))
	}
	return nil
}

// sectionRow reports whether rec is the title of a section of a table
// ("Network indicators,,"): its first cell capitalised words with no
// indicator among them, every other cell empty. Cheap for data rows,
// whose other cells are not all empty.
func sectionRow(rec []string) bool {
	for _, f := range rec[1:] {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	t := normalize.CleanText(rec[0])
	if !strings.ContainsRune(strings.TrimRight(t, ":"), ' ') && !strings.HasSuffix(t, ":") || len(t) > 80 || len(strings.Fields(t)) > 8 {
		return false
	}
	first, _ := utf8.DecodeRuneInString(t)
	return unicode.IsUpper(first) && !holdsIndicators([]byte(t))
}

// pseudo reports, cheaply, whether rec may be a pseudo-row: the header
// repeated, or a separator line of dashes.
func (s *table) pseudo(rec []string) bool {
	f := rec[0]
	if len(s.header) > 0 && s.header[0] != "" && len(f) == len(s.header[0]) && f == s.header[0] {
		return true
	}
	return len(f) >= 3 && (f[0] == '-' || f[0] == '=' || f[0] == '_' || f[0] == '*')
}

// pseudoReason returns why rec is a pseudo-row, or "" when it is none.
func (s *table) pseudoReason(rec []string) string {
	if len(rec) == len(s.header) {
		same := true
		for i := range rec {
			if strings.TrimSpace(rec[i]) != strings.TrimSpace(s.header[i]) {
				same = false
				break
			}
		}
		if same {
			return "the header line repeated"
		}
	}
	for _, f := range rec {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if len(f) < 3 || strings.Trim(f, f[:1]) != "" || !strings.Contains("-=_*", f[:1]) {
			return ""
		}
	}
	return "a separator line"
}

func (p *projection) pick(rec []string) string {
	if len(p.cols) == 1 && p.hints[0] == "" && p.labels[0] == "" {
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
		if v == "" || normalize.IsMissing(v) {
			continue
		}
		switch p.field {
		case formats.FieldValue:
			if b.Len() > 0 {
				b.WriteString(formats.MultiSep)
			}
			if p.hints[i] != "" {
				b.WriteString(string(p.hints[i]) + formats.TypeHintSep)
			}
		case formats.FieldNotes:
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			switch l := p.labels[i]; l {
			case "":
			case "port":
				b.WriteString("port ")
			default:
				b.WriteString(l + ": ")
			}
		case formats.FieldTags:
			if b.Len() > 0 {
				b.WriteString(";")
			}
		default:
			return v // the first non-empty column wins
		}
		b.WriteString(v)
	}
	return b.String()
}

func describeCSVError(pe *stdcsv.ParseError) string {
	switch {
	case errors.Is(pe.Err, stdcsv.ErrQuote) && pe.Line > pe.StartLine:
		return fmt.Sprintf("unbalanced quotes: a quoted field opened on line %d is not closed properly (lines %d to %d were read as one record)", pe.StartLine, pe.StartLine, pe.Line)
	case errors.Is(pe.Err, stdcsv.ErrQuote):
		return fmt.Sprintf("unbalanced quotes (at byte %d of line %d)", pe.Column, pe.Line)
	case errors.Is(pe.Err, stdcsv.ErrBareQuote):
		return fmt.Sprintf("a '\"' inside an unquoted field (at byte %d of the line): quote the field and double the quotes inside it", pe.Column)
	}
	return "malformed CSV: " + pe.Err.Error()
}

// newRecords returns the record reader for a file laid out as lay.
func newRecords(br *bufio.Reader, lay *csvLayout, max int) recordReader {
	if lay.text {
		return &textRecords{br: br, delim: lay.delim, pad: lay.pad, max: max}
	}
	g := newRecordGuard(br, lay.delim, max)
	r := stdcsv.NewReader(g)
	r.Comma = lay.delim
	r.Comment = '#'
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.ReuseRecord = true
	return &csvRecords{r: r, g: g}
}

// openCSV finds the layout and the header of a delimited file whose head
// (the first bytes, BOM removed) br can peek, and returns the table
// ready to hand gocsv its records.
func openCSV(name string, br *bufio.Reader, opts formats.Options) (*table, *csvLayout, error) {
	head, _ := br.Peek(br.Size())
	lay := layoutCSV(head, opts)
	if len(opts.Columns) == 0 {
		lay.head = bytes.Clone(head[:min(len(head), formats.HeadSize)]) // for the text fallback, when no header is found
	}
	r := newRecords(br, &lay, opts.MaxLine())
	src := &table{r: r, name: name}
	first, err := r.Read()
	for err == nil && blankRecord(first) {
		first, err = r.Read() // lines of white space only are no header
	}
	if err == io.EOF {
		return nil, &lay, nil // an empty file, or only comments or blanks: no rows
	}
	if err != nil {
		var pe *stdcsv.ParseError
		if errors.As(err, &pe) && lay.indicators() {
			// A first line that does not parse as CSV is rather text.
			return nil, &lay, &formats.FileError{File: name, Line: pe.StartLine, Err: fmt.Errorf("header: %s: %w", describeCSVError(pe), formats.ErrFallback)}
		}
		if errors.As(err, &pe) {
			return nil, &lay, &formats.FileError{File: name, Line: pe.StartLine, Err: fmt.Errorf("header: %s", describeCSVError(pe))}
		}
		var ol *overlongError
		if errors.As(err, &ol) {
			return nil, &lay, &formats.FileError{File: name, Line: ol.line, Err: fmt.Errorf("header: %s", formats.TooLong("record", ol.max))}
		}
		return nil, &lay, err
	}
	first = slices.Clone(first)
	if err := src.findHeader(first, r.Line(), &lay, opts); err != nil {
		return nil, &lay, &formats.FileError{File: name, Line: r.Line(), Err: err}
	}
	return src, &lay, nil
}

// findHeader finds the header and the canonical field of each column. The
// first record is the header when its names map a value column (through
// the route's columns, the aliases, or names of types such as "url");
// else a comment line just above the data with as many fields (URLhaus'
// "# Dateadded (UTC),URL,...") is; else a file whose first record holds
// an indicator has no header at all.
func (s *table) findHeader(first []string, line int, lay *csvLayout, opts formats.Options) error {
	cols := opts.Columns
	proj, err1 := mapColumns(first, cols)
	title := len(cols) == 0 && len(first) == 1 && strings.HasSuffix(strings.TrimSpace(first[0]), ":")
	if err1 == nil && hasValue(proj) && !title && (positional(cols) || !looksData(first)) {
		if positional(cols) && holdsIndicator(first, proj) {
			s.headerless(first, line, proj)
			return nil
		}
		s.header, s.proj, s.headerLine = first, proj, line
		return nil
	}
	for _, c := range lay.candidates {
		if looksData(c.fields) {
			continue // a commented-out record, not a header
		}
		if proj, err := mapColumns(c.fields, cols); err == nil && hasValue(proj) {
			s.header, s.proj, s.headerLine, s.headerComment = c.fields, proj, c.line, true
			s.first, s.firstLine = first, line
			return nil
		}
	}
	if err1 != nil && !positional(cols) {
		return err1
	}
	if err1 == nil && len(cols) == 0 && len(first) > 1 && !looksData(first) {
		if j, n, of := lay.indicatorColumn(); j >= 0 && j < len(first) {
			// A header whose names map no value column, over a column
			// that holds indicators: that column is the value.
			name := normalize.CleanText(first[j])
			proj = append(proj, projection{field: formats.FieldValue, cols: []int{j}, hints: []ioc.Type{""}, labels: []string{""}, names: []string{name}})
			s.header, s.proj, s.headerLine = first, proj, line
			s.sampled = fmt.Sprintf("column %q is the value: %d of its %d sampled cells are indicators", name, n, of)
			return nil
		}
	}
	if len(first) > 0 && !named(cols) {
		if _, _, _, err := normalize.Detect(normalize.Refang(normalize.CleanText(first[0]))); err == nil && (len(cols) > 0 || lay.firstColumnData()) {
			// No header: the first column holds the indicators, the
			// others are notes.
			proj := []projection{{field: formats.FieldValue, cols: []int{0}, hints: []ioc.Type{""}, labels: []string{""}, names: []string{""}}}
			if len(first) > 1 {
				n := projection{field: formats.FieldNotes}
				for i := 1; i < len(first); i++ {
					n.cols, n.hints, n.labels, n.names = append(n.cols, i), append(n.hints, ""), append(n.labels, ""), append(n.names, "")
				}
				proj = append(proj, n)
			}
			s.headerless(first, line, proj)
			return nil
		}
	}
	if err1 != nil {
		return err1
	}
	if len(cols) == 0 && lay.indicators() {
		// No header, and the first column holds no list of indicators,
		// but the file holds some: free text (a report's list under a
		// title line), which the text format reads.
		return fmt.Errorf("no header and no column of indicators (the first line is %q), but indicators in the text: %w", ioc.Clip(strings.Join(first, string(lay.delim))), formats.ErrFallback)
	}
	return fmt.Errorf("no indicator column in the header %q: name it value, indicator or ioc (or after a type, such as url or ip), or map it with the route's columns", strings.Join(first, string(lay.delim)))
}

// indicatorColumn finds, in the sampled data lines after the first (the
// header), the one column at least 95% of whose non-empty cells are
// indicators, with at least 3 such cells; -1 when there is none or more
// than one (which one is the value would be a guess). n of of is its
// count. A feed's column is all indicators; a report's first column,
// with titles and labels between them, is not (the text format reads
// those).
func (lay *csvLayout) indicatorColumn() (col, n, of int) {
	if len(lay.sample) < 2 {
		return -1, 0, 0
	}
	hits, cells := map[int]int{}, map[int]int{}
	for _, l := range lay.sample[1:] {
		for j, f := range lay.split(l) {
			cell := normalize.CleanText(f)
			if cell == "" {
				continue
			}
			cells[j]++
			if _, _, _, err := normalize.Detect(normalize.Refang(cell)); err == nil {
				hits[j]++
			}
		}
	}
	col = -1
	for j, h := range hits {
		if h >= 3 && h*20 >= cells[j]*19 {
			if col >= 0 {
				return -1, 0, 0
			}
			col, n, of = j, h, cells[j]
		}
	}
	return col, n, of
}

// firstColumnData reports whether the sampled data lines are a
// headerless list: none has a first cell that is no indicator yet holds
// one among its words ("1b38…2dfa – GoTokenTheft", free text that
// happens to start with an indicator, for the text format).
func (lay *csvLayout) firstColumnData() bool {
	for _, l := range lay.sample {
		f := lay.split(l)
		if len(f) == 0 {
			continue
		}
		cell := normalize.CleanText(f[0])
		if _, _, _, err := normalize.Detect(normalize.Refang(cell)); err == nil {
			continue
		}
		if holdsIndicators([]byte(cell)) {
			return false
		}
	}
	return true
}

func (s *table) headerless(first []string, line int, proj []projection) {
	s.proj = proj
	s.first, s.firstLine = first, line
	s.header = make([]string, len(first))
}

func hasValue(proj []projection) bool {
	for _, p := range proj {
		if p.field == formats.FieldValue {
			return true
		}
	}
	return false
}

// positional reports a columns mapping whose value columns are all given
// by position, so that it applies to a file with or without a header.
func positional(cols map[string][]string) bool {
	refs := cols[formats.FieldValue]
	if len(refs) == 0 {
		return false
	}
	for _, r := range refs {
		if _, ok := position(r); !ok {
			return false
		}
	}
	return true
}

// named reports a columns mapping that names a column by header name.
func named(cols map[string][]string) bool {
	for _, refs := range cols {
		for _, r := range refs {
			if _, ok := position(r); !ok {
				return true
			}
		}
	}
	return false
}

// holdsIndicator reports whether the record's first value column holds an
// indicator: the record is data, not a header.
func holdsIndicator(rec []string, proj []projection) bool {
	for _, p := range proj {
		if p.field != formats.FieldValue {
			continue
		}
		for _, c := range p.cols {
			if c < len(rec) {
				if _, _, _, err := normalize.Detect(normalize.Refang(normalize.CleanText(rec[c]))); err == nil {
					return true
				}
			}
		}
	}
	return false
}

// looksData reports whether a record is data rather than a header: one of
// its fields is an indicator no column is named like — an address, a URL,
// a hash, an email address — and not also a column name. Domain names
// are no evidence: "threat.name" may name a column.
func looksData(rec []string) bool {
	for _, f := range rec {
		f = normalize.CleanText(f)
		if f == "" || len(f) > 512 {
			continue
		}
		k := normalize.Key(f)
		if normalize.IsTypeName(k) || formats.FieldOfKey(k) != "" || normalize.IsPort(k) || normalize.IsGeneric(k) {
			continue
		}
		if t, _, _, err := normalize.Detect(normalize.Refang(f)); err == nil && t != ioc.Domain && t != ioc.Bitcoin {
			return true
		}
	}
	return false
}

// position parses a 1-based column position.
func position(ref string) (int, bool) {
	ref = strings.TrimSpace(ref)
	if ref == "" || strings.Trim(ref, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(ref)
	return n - 1, err == nil && n >= 1
}

// findColumn returns the index of the column ref names in header h: a
// 1-based position, or a header name (compared without regard to case,
// then to punctuation).
func findColumn(h []string, ref string) (int, error) {
	if i, ok := position(ref); ok {
		if i >= len(h) {
			return 0, fmt.Errorf("column %d is beyond the %d columns of the header", i+1, len(h))
		}
		return i, nil
	}
	want := normalize.CleanText(ref)
	for i, name := range h {
		if strings.EqualFold(normalize.CleanText(name), want) {
			return i, nil
		}
	}
	key := normalize.Key(want)
	for i, name := range h {
		if key != "" && normalize.Key(normalize.CleanText(name)) == key {
			return i, nil
		}
	}
	return 0, fmt.Errorf("no column %q in the header (%s)", ref, strings.Join(h, ", "))
}

// mapColumns finds the canonical field of each column of header h: first
// the route's columns mapping, then the aliases for the fields it leaves
// out. Without a value column by name, columns named after a type
// ("url", "dst_ip", "Host") each yield indicators; columns named after a
// port add "port N" to the notes.
func mapColumns(h []string, cols map[string][]string) ([]projection, error) {
	m := &mapping{h: h, byField: map[string]*projection{}, used: map[int]bool{}}
	for _, field := range formats.Fields {
		for _, ref := range cols[field] {
			i, err := findColumn(h, ref)
			if err != nil {
				return nil, fmt.Errorf("columns: %s: %w", field, err)
			}
			hint, label := ioc.Type(""), ""
			if field == formats.FieldValue {
				hint, _ = normalize.ColumnType(h[i])
			}
			if field == formats.FieldNotes && normalize.IsPort(normalize.Key(normalize.CleanText(h[i]))) {
				label = "port"
			}
			m.add(field, i, hint, label, true)
		}
	}
	m.aliases()
	m.typed()
	var out []projection
	for _, field := range formats.Fields {
		if p := m.byField[field]; p != nil {
			out = append(out, *p)
		}
	}
	return out, nil
}

// A mapping is mapColumns at work: the projections of a header so far and
// the columns they use.
type mapping struct {
	h       []string
	byField map[string]*projection
	used    map[int]bool
}

// add makes column col of the header feed field.
func (m *mapping) add(field string, col int, hint ioc.Type, label string, explicit bool) {
	p := m.byField[field]
	if p == nil {
		p = &projection{field: field, explicit: explicit}
		m.byField[field] = p
	}
	name := ""
	if col < len(m.h) {
		name = normalize.CleanText(m.h[col])
	}
	if field == formats.FieldNotes && label == "" && len(p.cols) > 0 {
		label = name
	}
	p.cols, p.hints, p.labels, p.names = append(p.cols, col), append(p.hints, hint), append(p.labels, label), append(p.names, name)
	m.used[col] = true
}

// aliases maps the fields the route left out through the header aliases:
// of several columns for one field, the best-ranked.
func (m *mapping) aliases() {
	type best struct{ col, rank int }
	alias := map[string]best{}
	for i, name := range m.h {
		if m.used[i] {
			continue
		}
		key := normalize.Key(normalize.CleanText(name))
		field := formats.FieldOfKey(key)
		if field == "" || m.byField[field] != nil {
			continue
		}
		r := formats.Rank(key)
		if b, ok := alias[field]; ok && r >= b.rank {
			continue
		}
		alias[field] = best{i, r}
	}
	for _, field := range formats.Fields {
		if b, ok := alias[field]; ok {
			m.add(field, b.col, "", "", false)
		}
	}
}

// typed takes, when nothing feeds the value, the columns named after a
// type ("url", "dst_ip", "hash") as values, and the port columns as notes
// unless the route chose the notes.
func (m *mapping) typed() {
	if m.byField[formats.FieldValue] == nil {
		for i, name := range m.h {
			if m.used[i] {
				continue
			}
			key := normalize.Key(normalize.CleanText(name))
			if t, ok := normalize.ColumnType(normalize.CleanText(name)); ok {
				m.add(formats.FieldValue, i, t, "", false)
			} else if normalize.IsGeneric(key) && key == "hash" {
				m.add(formats.FieldValue, i, "", "", false)
			}
		}
	}
	if p := m.byField[formats.FieldNotes]; p == nil || !p.explicit {
		for i, name := range m.h {
			key := normalize.Key(normalize.CleanText(name))
			switch {
			case m.used[i]:
			case normalize.IsPort(key):
				m.add(formats.FieldNotes, i, "", "port", false)
			case formats.IsContext(key):
				m.add(formats.FieldNotes, i, "", normalize.CleanText(name), false)
			}
		}
	}
}

// textRecords reads delimited text line by line, without quoting rules:
// for files whose separators are padded with white space (" | ") and
// files with ';' or '//' comment lines. A field in double quotes is
// unquoted.
type textRecords struct {
	br    *bufio.Reader
	delim rune
	pad   int
	max   int
	line  int
	start int
}

func (t *textRecords) Line() int { return t.start }

func (t *textRecords) Read() ([]string, error) {
	for {
		raw, long, err := formats.ReadLine(t.br, t.max)
		if len(raw) == 0 && err != nil {
			return nil, err
		}
		t.line++
		if long && commentLine(string(raw)) == 0 {
			t.start = t.line
			return nil, &overlongError{line: t.line, max: t.max}
		}
		line := strings.TrimRight(string(raw), "\r\n")
		if strings.TrimSpace(line) == "" || commentLine(line) != 0 {
			if err != nil {
				return nil, err
			}
			continue
		}
		t.start = t.line
		return splitFields(line, t.delim, t.pad), nil
	}
}

// commentLine returns the comment marker of a line ('#', ';' or '/'), or
// 0 when it is no comment. A ';' starts a comment when followed by white
// space or nothing (Spamhaus' "; Last-Modified: ..."), so that a
// ';'-separated record with an empty first field is still a record.
func commentLine(line string) byte {
	t := strings.TrimLeft(line, " \t")
	switch {
	case t == "":
		return 0
	case t[0] == '#':
		return '#'
	case t[0] == ';' && (len(t) == 1 || t[1] == ' ' || t[1] == '\t' || t[1] == ';'):
		return ';'
	case strings.HasPrefix(t, "//"):
		return '/'
	}
	return 0
}

// uncomment strips a comment line's marker and the white space after it.
func uncomment(line string) string {
	t := strings.TrimLeft(line, " \t")
	switch commentLine(t) {
	case '#':
		t = strings.TrimLeft(t, "#")
	case ';':
		t = strings.TrimLeft(t, ";")
	case '/':
		t = strings.TrimLeft(t, "/")
	}
	return strings.TrimSpace(t)
}

// separators returns the byte offsets of delim in line outside double
// quotes that have at least pad white-space characters on either side
// (the line's ends count as enough).
func separators(line string, delim rune, pad int) []int {
	var out []int
	quoted := false
	for i, c := range line {
		switch {
		case c == '"':
			quoted = !quoted
		case c == delim && !quoted:
			if pad > 0 && (padAt(line[:i], true) < pad || padAt(line[i+len(string(delim)):], false) < pad) {
				continue
			}
			out = append(out, i)
		}
	}
	if quoted {
		// An unbalanced quote: quotes are not markup here.
		if strings.ContainsRune(line, '"') {
			out = out[:0]
			for i, c := range line {
				if c == delim && (pad == 0 || padAt(line[:i], true) >= pad && padAt(line[i+len(string(delim)):], false) >= pad) {
					out = append(out, i)
				}
			}
		}
	}
	return out
}

// padAt counts the white space at the end (before) or start of s; a lot
// when s is all white space, so a line's ends count as padded.
func padAt(s string, before bool) int {
	n := 0
	for j := range len(s) {
		c := s[j]
		if before {
			c = s[len(s)-1-j]
		}
		if c != ' ' && c != '\t' {
			return n
		}
		n++
	}
	return 1 << 20
}

// splitFields splits a line at its separators, trimming each field and
// unquoting the fields in double quotes.
func splitFields(line string, delim rune, pad int) []string {
	seps := separators(line, delim, pad)
	out := make([]string, 0, len(seps)+1)
	from := 0
	for _, s := range seps {
		out = append(out, unquote(line[from:s]))
		from = s + len(string(delim))
	}
	return append(out, unquote(line[from:]))
}

func unquote(f string) string {
	f = strings.TrimSpace(f)
	if len(f) >= 2 && f[0] == '"' && f[len(f)-1] == '"' {
		f = strings.ReplaceAll(f[1:len(f)-1], `""`, `"`)
	}
	return f
}

// csvLayout is what the head of a delimited file says about its layout.
type csvLayout struct {
	delim rune
	// pad is the white space a separator needs on either side, for files
	// padded like "a  |  b"; 0 when separators are bare.
	pad int
	// text reads the file line by line (textRecords) instead of with
	// encoding/csv: padded separators, or comment lines encoding/csv
	// cannot skip (';', '//').
	text bool
	// candidates are comment lines above the first data line that may be
	// the header, nearest first.
	candidates []headerCandidate
	// dataFields is the number of fields of the first data line.
	dataFields int
	// sample is the first data lines (at most 20).
	sample []string
	// head is the file's head, kept when the route maps no columns.
	head []byte
}

// indicators reports whether a word of the head is an indicator,
// wherever it stands (holdsIndicators); false when no head was kept.
func (lay *csvLayout) indicators() bool { return holdsIndicators(lay.head) }

// holdsIndicators reports whether a word of head (split at white space
// and the usual separators) is an indicator other than a bitcoin-like
// word: a file with no header worth reading as text.
func holdsIndicators(head []byte) bool {
	for line := range bytes.Lines(head) {
		for _, w := range bytes.FieldsFunc(line, func(r rune) bool {
			return r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == ',' || r == ';' || r == '|' || r == '"' || r == '\''
		}) {
			if len(w) < 4 || len(w) > 2048 {
				continue
			}
			if t, _, _, err := normalize.Detect(normalize.Refang(normalize.CleanText(string(w)))); err == nil && t != ioc.Bitcoin {
				return true
			}
		}
	}
	return false
}

type headerCandidate struct {
	fields []string
	line   int
}

// nextLine cuts the next complete line off head (a last line without its
// newline only when the head is short: it is the file's end).
func nextLine(head []byte) (line string, rest []byte, ok bool) {
	i := bytes.IndexByte(head, '\n')
	if i < 0 {
		if len(head) == 0 || len(head) >= 32<<10 {
			return "", nil, false
		}
		return strings.TrimRight(string(head), "\r"), nil, true
	}
	return strings.TrimRight(string(head[:i]), "\r"), head[i+1:], true
}

// layoutCSV reads the layout of a delimited file from its head: the
// delimiter (the route's, else sniffed from the first data line), padded
// separators, comment styles, and the comment lines that may hold the
// header.
func layoutCSV(head []byte, opts formats.Options) csvLayout {
	lay := csvLayout{delim: opts.Delimiter}
	var above []string // the lines above the first data line
	var data []string
	for n := 0; n < 4096 && len(data) < 20; n++ {
		l, rest, ok := nextLine(head)
		if !ok {
			break
		}
		head = rest
		comment := commentLine(l)
		if comment == ';' || comment == '/' {
			lay.text = true
		}
		if len(data) == 0 {
			above = append(above, l)
		}
		if comment == 0 && strings.TrimSpace(l) != "" {
			data = append(data, l)
		}
	}
	if lay.delim == 0 {
		lay.delim = ','
		if len(data) > 0 {
			lay.delim = sniffLine(data[0])
		}
	}
	if len(data) == 0 {
		return lay
	}
	lay.sample = data
	if lay.delim != '\t' && lay.delim != ' ' {
		lay.pad = padding(data, lay.delim)
		if lay.pad > 0 {
			lay.text = true
		}
	}
	lay.dataFields = len(lay.split(data[0]))
	if lay.dataFields < 2 {
		return lay
	}
	// above ends with the first data line.
	for i := len(above) - 2; i >= 0; i-- {
		if commentLine(above[i]) == 0 {
			continue
		}
		if f := lay.split(uncomment(above[i])); len(f) == lay.dataFields {
			lay.candidates = append(lay.candidates, headerCandidate{fields: f, line: i + 1})
		}
	}
	return lay
}

// split splits one line as the file's records are split.
func (lay *csvLayout) split(line string) []string {
	if lay.text {
		return splitFields(line, lay.delim, lay.pad)
	}
	r := stdcsv.NewReader(strings.NewReader(line))
	r.Comma = lay.delim
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.LazyQuotes = true
	rec, err := r.Read()
	if err != nil {
		return nil
	}
	return rec
}

// padding returns the white space that separators of the data lines have
// on either side: 0 when the first line has a bare one; else the least
// padding that splits every sampled line into the same number of fields
// (so "1 | TEST-AS company | With | pipe  |  1.2.3.4" in a file padded
// with two spaces keeps its AS name whole).
func padding(data []string, delim rune) int {
	if len(separators(data[0], delim, 0)) == 0 || len(separators(data[0], delim, 1)) != len(separators(data[0], delim, 0)) {
		return 0
	}
	for pad := 1; pad <= 8; pad++ {
		n := len(separators(data[0], delim, pad))
		if n == 0 {
			break
		}
		same := true
		for _, l := range data[1:] {
			if len(separators(l, delim, pad)) != n {
				same = false
				break
			}
		}
		if same {
			return pad
		}
	}
	return 1
}

// sniffLine picks the delimiter of a data line: the most frequent of ',',
// tab, ';' and '|' outside quotes.
func sniffLine(line string) rune {
	t := strings.TrimSpace(line)
	best, bestN := ',', 0
	for _, d := range []rune{',', '\t', ';', '|'} {
		n, quoted := 0, false
		for _, c := range t {
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
