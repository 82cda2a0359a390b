// Package json reads JSON input: arrays of items, single items, wrapper
// objects holding an array (API pages), TruSTAR submission bodies and
// JSON Lines. It registers the formats "json" and "jsonl".
//
// A JSON document is read in streamed passes, never held whole (see
// jsonwalk): the first checks the whole syntax and learns the document's
// shape and its file level, wherever it stands; then its items are walked
// (items.go) and mapped onto canonical fields. A document that turns out
// to hold the records of a threat-intel tool (STIX, MISP events, OTX
// pulses), and JSON Lines of STIX objects, are handed to the format
// registered under that tool's name, which reads the rest.
//
// Where things go: how items are found in a document (a new wrapper
// key), or a new kind of document told by its content: jsonwalk; how an
// item's keys map onto fields: jsonwalk's Mapper; how a JSON file's
// rejected items are written back: rows.go; what inspect shows: here,
// describe.go.
package json

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/formats/json/jsonwalk"
	"github.com/iocpipe/iocpipe/schemas"
)

// The format names this package registers.
const (
	FormatJSON  = "json"
	FormatJSONL = "jsonl"
)

func init() {
	formats.Register(Format{FormatJSON})
	formats.Register(Format{FormatJSONL})
}

// Format is one of the JSON formats, by name: FormatJSON or FormatJSONL.
type Format struct{ name string }

// Name implements formats.Format.
func (f Format) Name() string { return f.name }

// Sniff implements formats.Format: the extension, else a document that
// starts like JSON. STIX, MISP and OTX are told from the document's
// content once it is read as JSON.
func (f Format) Sniff(name string, head []byte) int {
	ext := strings.ToLower(filepath.Ext(name))
	switch f.name {
	case FormatJSONL:
		if ext == ".jsonl" || ext == ".ndjson" {
			return 10
		}
	case FormatJSON:
		if ext == ".json" {
			return 10
		}
		if t := bytes.TrimLeft(head, " \t\r\n"); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
			return 5
		}
	}
	return 0
}

// Open implements formats.Format. Nothing is read before the first Next.
func (f Format) Open(src *formats.Source, opts formats.Options) (formats.Reader, error) {
	rd := &reader{src: src, opts: opts, format: f.name}
	rd.Lazy.Open = rd.open
	return rd, nil
}

// A reader reads one JSON file: its first pass decides what reads the
// rest, this package or the format of the document's kind.
type reader struct {
	jsonwalk.Lazy
	src    *formats.Source
	opts   formats.Options
	format string // the format it was opened as
}

// open reads the file's beginning and returns the Reader of the rest.
func (rd *reader) open(context.Context) (formats.Reader, error) {
	m := jsonwalk.NewMapper(rd.opts)
	if rd.format == FormatJSONL {
		if first, _ := rd.src.R.Peek(4096); jsonwalk.LooksSTIX(jsonwalk.FirstLine(first)) {
			return jsonwalk.Hand(rd.src, rd.opts, stixLines())
		}
		return pull(formats.File{Format: FormatJSONL}, func(ctx context.Context, yield func(formats.Row) bool) error {
			return readJSONL(ctx, yield, rd.src.R, m, rd.opts.MaxLine())
		}), nil
	}
	doc, err := jsonwalk.ScanSource(rd.src, rd.opts)
	if err != nil {
		return nil, err
	}
	if doc.Kind != jsonwalk.Items {
		return jsonwalk.Hand(rd.src, rd.opts, doc)
	}
	second, err := rd.src.Rewind()
	if err != nil {
		return nil, err
	}
	if doc.Shape == jsonwalk.Stream {
		return pull(formats.File{Format: FormatJSONL}, func(ctx context.Context, yield func(formats.Row) bool) error {
			return readJSONL(ctx, yield, second, m, rd.opts.MaxLine())
		}), nil
	}
	var tags []formats.Tag
	if doc.Tags.Kind != schemas.Missing {
		tags = formats.Tags(doc.Tags)
	}
	level := formats.File{Format: FormatJSON, Tags: tags, TagsSet: doc.Tags.Kind != schemas.Missing, Enclaves: formats.List(doc.Enclaves)}
	return pull(level, func(ctx context.Context, yield func(formats.Row) bool) error {
		return readItems(jsonwalk.NewWalker(ctx, second, rd.opts.MaxLine()), yield, doc, m)
	}), nil
}

// stixLines returns what JSON Lines of STIX objects are to the first
// pass.
func stixLines() *jsonwalk.Doc {
	return &jsonwalk.Doc{Kind: jsonwalk.STIX, STIXLayout: jsonwalk.STIXLines}
}

// pull returns a Reader over walk, whose file level is level.
func pull(level formats.File, walk formats.Walk) formats.Reader {
	p := formats.Pull(walk)
	p.Level = level
	return p
}
