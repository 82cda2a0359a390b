package formats

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/schemas"
)

// A Format reads one kind of input file.
type Format interface {
	// Name is the format's name, as routes force it (format: csv) and
	// reports name it.
	Name() string
	// Sniff says how surely a file of this name whose first bytes (after
	// any byte order mark, at most HeadSize) are head is in this format:
	// 0 not at all; higher wins. A format that reads anything as a last
	// resort answers 1.
	Sniff(name string, head []byte) int
	// Open returns a Reader over src with the route's read options. An
	// error is a file error: the file cannot be read as a whole.
	Open(src *Source, opts Options) (Reader, error)
}

// A ContentFormat is a Format found only by content, inside the files
// of another format that hands them over (MISP events and OTX pulses,
// recognised by the json format's first pass); its Sniff answers 0.
// Routes cannot force it: Names, Lookup and Detect leave it out, and
// only ByName finds it, by the name reports give such files.
type ContentFormat interface {
	Format
	// ContentOnly marks the format; it does nothing.
	ContentOnly()
}

// A Reader yields a file's records one by one.
type Reader interface {
	// Next returns the next record. It returns io.EOF at the end, and any
	// other error when the rest of the file cannot be read (a file error,
	// or ctx's). A row the reader could not make sense of is no error: it
	// comes back with its Reject set.
	Next(ctx context.Context) (Row, error)
	// File returns what the reader knows about the file as a whole. The
	// file level (format, tags, enclaves) is known once Next returned for
	// the first time, before any row is used.
	File() File
}

// A Linker is a Reader that also yields associations between the
// indicators of its file (STIX relationships).
type Linker interface {
	// Links reports, once Next returned for the first time, whether the
	// file may hold associations: the caller then remembers which
	// indicators the sink took.
	Links() bool
	// Associations returns them, once Next returned io.EOF.
	Associations() []*ioc.Association
}

// A Describer is a Reader that can say how it reads its file, for
// inspect. Describe may read ahead.
type Describer interface {
	Describe(d *Description) error
}

// A RowWriter is a Format that writes rows of a file back in the file's
// own format: the rejected rows, for the user to correct and drop back in.
type RowWriter interface {
	// WriteRows copies to w the records of src whose data rows (numbered
	// from 0 as a Reader yields them) are in rows.
	WriteRows(src *Source, opts Options, rows ioc.Ranges, w io.Writer) error
}

// A Row is one record of a file, as a Reader yields it.
type Row struct {
	// Origin says where the record is: Line, Index and Ref as the reader
	// knows them. File and Row are the caller's: the caller numbers rows.
	Origin ioc.Origin
	// Fields is an Object Value of the canonical fields present.
	Fields schemas.Value
	// Skip, when set, says why the record is no indicator at all (a
	// pseudo-row, a STIX object of another kind): it is reported as
	// skipped, with the reason, not as rejected.
	Skip string
	// SkipKey, on a skipped row, names the summary count the row adds to
	// (pipeline.Summary.Skips): for skips a route setting decides, it is
	// the setting's key (SkipMISPToIDs). Empty counts the row as skipped
	// only.
	SkipKey string
	// Reject, when set, says the record as a whole cannot be read (a parse
	// error, a line too long).
	Reject *ioc.Reject
	// Link, on a skipped row, is the relationship type of a record that is
	// an association between indicators (a STIX relationship): it is sent
	// as one when the sink takes associations.
	Link string
}

// RejectRow returns a row rejected as a whole at o.
func RejectRow(o ioc.Origin, value, reason string) Row {
	return Row{Origin: o, Fields: schemas.ObjectValue(nil)}.WithReject("", value, reason)
}

// WithReject returns r rejected as a whole at its origin, for reason;
// field and value say what in the record was wrong, when something was.
func (r Row) WithReject(field, value, reason string) Row {
	rej := ioc.NewReject(r.Origin, field, value, reason)
	r.Reject = &rej
	return r
}

// File is what a reader learned about the file as a whole.
type File struct {
	// Format is the format the file turned out to be in (a JSON document
	// may turn out to be a MISP event).
	Format string
	// Tags and Enclaves are the file's own (a TruSTAR-shaped JSON file, a
	// MISP event); TagsSet says the file sets tags, even to none.
	Tags     []Tag
	TagsSet  bool
	Enclaves []string
}

// Options are the route's read options. The zero Options reads every
// format by detection and by the aliases.
type Options struct {
	// Format forces a format by name; empty detects it.
	Format string
	// Delimiter forces the CSV delimiter; 0 detects it.
	Delimiter rune
	// Columns maps canonical fields (FieldValue, FieldType, ...) to the
	// columns of a delimited file that feed them: header names, or 1-based
	// positions written as numbers ("3"). Nil leaves every field to the
	// aliases.
	Columns map[string][]string
	// JSONFields maps canonical fields to dotted paths in JSON items; the
	// key JSONItems names the path to the array of items in a wrapper
	// object. Nil leaves everything to the defaults.
	JSONFields map[string][]string
	// MaxLineBytes is the longest line, delimited record or JSON value a
	// reader holds: a longer row is rejected and reading goes on, or,
	// where the format cannot find the next row (one JSON document), the
	// file fails. 0 means DefaultMaxLine (see MaxLine).
	MaxLineBytes int
	// MISPToIDs says which MISP attributes (MISP JSON, MISP CSV, STIX
	// written by MISP's converter) are read: MISPToIDsRequired (also the
	// empty string) skips those whose to_ids is false, MISPToIDsAny reads
	// them all.
	MISPToIDs string
}

// The values of Options.MISPToIDs, as the route key misp_to_ids takes
// them.
const (
	MISPToIDsRequired = "required"
	MISPToIDsAny      = "any"
)

// SkipMISPToIDs is the SkipKey of MISP attributes skipped for to_ids
// false: the route key that imports them (misp_to_ids: any).
const SkipMISPToIDs = "misp_to_ids"

// JSONItems is the key of Options.JSONFields that names the path to the
// array of items in a wrapper object.
const JSONItems = "items"

// HeadSize is how much of a file Sniff sees.
const HeadSize = 64 << 10

// A Source is an open input file: its name, its head, and a reader at its
// start. Formats that read a file twice (a first pass over a JSON
// document) rewind it.
type Source struct {
	// Name is how reports name the file.
	Name string
	// Path is where the file is, for formats that say so in messages.
	Path string
	// Head is the file's first bytes (at most HeadSize, byte order mark
	// removed).
	Head []byte
	// R reads the file from its start (byte order mark removed).
	R *bufio.Reader

	file *os.File
	wrap func(io.Reader) io.Reader
}

// Rewind returns a fresh reader at the file's start, byte order mark
// removed; R is reset to it too.
func (s *Source) Rewind() (*bufio.Reader, error) {
	if s.file == nil {
		return nil, errors.New("the input cannot be read twice")
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	var r io.Reader = s.file
	if s.wrap != nil {
		r = s.wrap(r)
	}
	s.R = bufio.NewReaderSize(r, HeadSize)
	if h, _ := s.R.Peek(3); bytes.HasPrefix(h, utf8BOM) {
		s.R.Discard(3)
	}
	return s.R, nil
}

// Body returns the file after its byte order mark, for formats that copy
// its bytes (the rejected-rows writers).
func (s *Source) Body() (*io.SectionReader, error) {
	if s.file == nil {
		return nil, errors.New("the input cannot be read twice")
	}
	fi, err := s.file.Stat()
	if err != nil {
		return nil, err
	}
	bom := int64(0)
	var h [3]byte
	if n, _ := s.file.ReadAt(h[:], 0); n == 3 && bytes.Equal(h[:], utf8BOM) {
		bom = 3
	}
	return io.NewSectionReader(s.file, bom, fi.Size()-bom), nil
}

// A FileError is a file that cannot be read as a whole.
type FileError struct {
	File string
	Line int
	Err  error
	// Format is the format the file was being read as, when it was known.
	Format string
}

// Error implements error: the file, its line when known, and the reason.
func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return e.File + ": " + e.Err.Error()
}

// Unwrap returns the reason.
func (e *FileError) Unwrap() error { return e.Err }

// The registry. It is filled by the formats' init functions, before main
// runs, and only read after: the one piece of package state, as in image
// and database/sql.
var (
	mu       sync.RWMutex
	registry []Format
)

// Register makes a format available to Detect, Lookup and ByName. It
// panics when a format of the same name is registered twice.
func Register(f Format) {
	mu.Lock()
	defer mu.Unlock()
	for _, g := range registry {
		if g.Name() == f.Name() {
			panic("formats: " + f.Name() + " registered twice")
		}
	}
	registry = append(registry, f)
}

// Lookup returns the format a route may force under name: one registered
// under it that is no ContentFormat.
func Lookup(name string) (Format, bool) {
	f, ok := ByName(name)
	if !ok || contentOnly(f) {
		return nil, false
	}
	return f, true
}

// ByName returns the format registered under name, a ContentFormat too:
// the format a file was read as (File.Format), or the one a format hands
// a file's content to.
func ByName(name string) (Format, bool) {
	mu.RLock()
	defer mu.RUnlock()
	for _, f := range registry {
		if f.Name() == name {
			return f, true
		}
	}
	return nil, false
}

// Names returns the names of the formats a route may force (those
// Lookup finds), sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	var out []string
	for _, f := range registry {
		if !contentOnly(f) {
			out = append(out, f.Name())
		}
	}
	slices.Sort(out)
	return out
}

// contentOnly reports whether f is a ContentFormat.
func contentOnly(f Format) bool {
	_, ok := f.(ContentFormat)
	return ok
}

// ErrFallback, wrapped in the error of a Format's Open, says the file is
// not in that format after all, though its Sniff said it may be: a
// delimited file whose first line is no header and none of whose columns
// holds indicators. When the format was detected, not forced, Open and
// Describe then open the file with the next format by Sniff (the text
// format, which reads any text), and Describe says why.
var ErrFallback = errors.New("not in this format")

// Detect picks the format of a file: the one forced by name (Lookup),
// else the one whose Sniff is surest (ties go to the format registered first).
func Detect(name string, head []byte, forced string) (Format, error) {
	if forced != "" {
		f, ok := Lookup(forced)
		if !ok {
			return nil, fmt.Errorf("unknown format %q (known: %v)", forced, Names())
		}
		return f, nil
	}
	ranked := rank(name, head)
	if len(ranked) == 0 {
		return nil, errors.New("no registered format reads this file")
	}
	return ranked[0], nil
}

// rank returns the formats whose Sniff reads the file, the surest first
// (ties in the order of registration).
func rank(name string, head []byte) []Format {
	mu.RLock()
	defer mu.RUnlock()
	type scored struct {
		f Format
		s int
	}
	var out []scored
	for _, f := range registry {
		if s := f.Sniff(name, head); s > 0 {
			out = append(out, scored{f, s})
		}
	}
	slices.SortStableFunc(out, func(a, b scored) int { return b.s - a.s })
	fs := make([]Format, len(out))
	for i, o := range out {
		fs[i] = o.f
	}
	return fs
}
