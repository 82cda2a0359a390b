package jsonwalk

import (
	"context"
	"fmt"
	"io"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// A DocumentReader reads the JSON documents of one Kind. Its format
// (NewFormat, NewContentFormat) is registered under the Kind's name
// ("stix", "misp", "otx"), and the json and jsonl formats hand it the
// documents their first pass (Scan) found to be of its kind: a document
// is read by the format it turns out to be in, found with
// formats.ByName, never by a switch on its name.
type DocumentReader interface {
	// OpenDocument returns a Reader over src, a document whose first pass
	// found doc. Nothing is read before the Reader's first Next, which
	// rewinds src to read the document again.
	OpenDocument(src *formats.Source, opts formats.Options, doc *Doc) (formats.Reader, error)
	// DescribeDocument says in d how the document is read, from head,
	// its first bytes, whose first pass found doc (d.Truncated says when
	// head does not hold it whole).
	DescribeDocument(d *formats.Description, head []byte, opts formats.Options, doc *Doc) error
}

// NewFormat returns the format of the documents of kind, which dr reads.
// Its Sniff answers 0: such documents are found by content, by the json
// format's first pass. A route that forces it has every file read as a
// document of kind, whatever its first pass finds.
func NewFormat(kind Kind, dr DocumentReader) formats.Format { return docFormat{kind, dr} }

// NewContentFormat is NewFormat for a kind that routes cannot force: a
// formats.ContentFormat.
func NewContentFormat(kind Kind, dr DocumentReader) formats.Format {
	return contentFormat{docFormat{kind, dr}}
}

// A docFormat is the format of a kind of document.
type docFormat struct {
	kind Kind
	dr   DocumentReader
}

// Name implements formats.Format.
func (f docFormat) Name() string { return string(f.kind) }

// Sniff implements formats.Format.
func (docFormat) Sniff(name string, head []byte) int { return 0 }

// Open implements formats.Format.
func (f docFormat) Open(src *formats.Source, opts formats.Options) (formats.Reader, error) {
	return openAs(f.dr, src, opts), nil
}

// documents returns the format's DocumentReader.
func (f docFormat) documents() DocumentReader { return f.dr }

// A contentFormat is the format of a kind of document routes cannot
// force.
type contentFormat struct{ docFormat }

// ContentOnly implements formats.ContentFormat.
func (contentFormat) ContentOnly() {}

// readerOf returns the DocumentReader of the format registered for kind.
func readerOf(kind Kind) (DocumentReader, error) {
	f, _ := formats.ByName(string(kind))
	df, ok := f.(interface{ documents() DocumentReader })
	if !ok {
		return nil, fmt.Errorf("the document holds %s records and no format registered as %q reads them", kind, kind)
	}
	return df.documents(), nil
}

// Hand opens the Reader of the format that reads documents of doc's
// kind over src.
func Hand(src *formats.Source, opts formats.Options, doc *Doc) (formats.Reader, error) {
	dr, err := readerOf(doc.Kind)
	if err != nil {
		return nil, &formats.FileError{File: src.Name, Err: err}
	}
	return dr.OpenDocument(src, opts, doc)
}

// HandDescription describes a document of doc's kind by the format that
// reads such documents.
func HandDescription(d *formats.Description, head []byte, opts formats.Options, doc *Doc) error {
	dr, err := readerOf(doc.Kind)
	if err != nil {
		return err
	}
	return dr.DescribeDocument(d, head, opts, doc)
}

// openAs returns a Reader that reads src as a document of dr's kind,
// whatever else its first pass finds: the Open of a document format, for
// a route that forces it. Nothing is read before the first Next.
func openAs(dr DocumentReader, src *formats.Source, opts formats.Options) formats.Reader {
	r := &forced{dr: dr, src: src, opts: opts}
	r.Lazy.Open = func(context.Context) (formats.Reader, error) {
		doc, err := ScanSource(src, opts)
		if err != nil {
			return nil, err
		}
		return dr.OpenDocument(src, opts, doc)
	}
	return r
}

// forced is the Reader openAs returns.
type forced struct {
	Lazy
	dr   DocumentReader
	src  *formats.Source
	opts formats.Options
}

// Describe implements formats.Describer.
func (r *forced) Describe(d *formats.Description) error {
	doc, err := ScanHead(r.src.Head, r.opts, d)
	if err != nil {
		return err
	}
	return r.dr.DescribeDocument(d, r.src.Head, r.opts, doc)
}

// A Lazy is a Reader that opens the Reader it reads through at its first
// Next: a format that must read a file's beginning (a first pass) to know
// which Reader reads the rest. It is a formats.Linker and an io.Closer
// for what the Reader it opened is.
type Lazy struct {
	// Open opens the Reader; the first Next calls it, with its context. An
	// error it returns is what every Next returns.
	Open func(ctx context.Context) (formats.Reader, error)
	r    formats.Reader
	err  error
}

// Next implements formats.Reader.
func (l *Lazy) Next(ctx context.Context) (formats.Row, error) {
	if l.r == nil && l.err == nil {
		l.r, l.err = l.Open(ctx)
	}
	if l.err != nil {
		return formats.Row{}, l.err
	}
	return l.r.Next(ctx)
}

// File implements formats.Reader: the zero File until a Reader was
// opened.
func (l *Lazy) File() formats.File {
	if l.r == nil {
		return formats.File{}
	}
	return l.r.File()
}

// Links implements formats.Linker.
func (l *Lazy) Links() bool {
	lk, ok := l.r.(formats.Linker)
	return ok && lk.Links()
}

// Associations implements formats.Linker.
func (l *Lazy) Associations() []*ioc.Association {
	if lk, ok := l.r.(formats.Linker); ok {
		return lk.Associations()
	}
	return nil
}

// Close closes the Reader opened, when it is an io.Closer.
func (l *Lazy) Close() error {
	if c, ok := l.r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
