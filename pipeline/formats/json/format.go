// Package json reads JSON input: arrays of items, single items, wrapper
// objects holding an array (API pages), TruSTAR submission bodies, JSON
// Lines, and the JSON documents of threat-intel tools found among them:
// STIX 2.x (bundles, arrays, single objects, one object per line), MISP
// events and attribute lists, and AlienVault OTX pulses. It registers the
// formats "json", "jsonl" and "stix"; a file's reported format may also be
// "misp" or "otx", told by its content.
//
// A JSON document is read in streamed passes, never held whole: the first
// (scan.go) checks the whole syntax and learns the document's shape and
// its file level, wherever it stands; then its items are walked (walk.go)
// and mapped onto canonical fields (mapper.go), STIX objects through the
// pattern parser (stix.go, stixpattern), MISP and OTX with what their
// events and pulses pass on (feeds.go).
package json

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// The format names this package reads and reports.
const (
	FormatJSON  = "json"
	FormatJSONL = "jsonl"
	FormatSTIX  = "stix"
	// FormatOTX is AlienVault OTX pulses: an array of pulses, one pulse, or
	// an API page ({"results": [...]}), each pulse with its indicators.
	FormatOTX = "otx"
	// FormatMISP is MISP events ({"Event": ...}, {"response": [{"Event":
	// ...}]}, [{"Event": ...}]) or a MISP attribute list ({"response":
	// {"Attribute": [...]}}).
	FormatMISP = "misp"
)

func init() {
	formats.Register(Format{FormatJSON})
	formats.Register(Format{FormatJSONL})
	formats.Register(Format{FormatSTIX})
}

// Format is one of the JSON formats, by name.
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
	rd.Pulled = formats.Pull(func(ctx context.Context, yield func(formats.Row) bool) error {
		return rd.walk(ctx, &emitter{yield: yield})
	})
	return rd, nil
}

// A reader reads one JSON file.
type reader struct {
	*formats.Pulled
	src    *formats.Source
	opts   formats.Options
	format string // the format it was opened as
	// links says the file's STIX relationships may make associations;
	// assocs are those found, once the file was read.
	links  bool
	assocs []*ioc.Association
}

// level sets the file level: the format the document turned out to be
// in, and its own tags and enclaves.
func (rd *reader) level(format string, tags []formats.Tag, tagsSet bool, enclaves []string) {
	rd.Level = formats.File{Format: format, Tags: tags, TagsSet: tagsSet, Enclaves: enclaves}
}

// Links implements formats.Linker.
func (rd *reader) Links() bool { return rd.links }

// Associations implements formats.Linker.
func (rd *reader) Associations() []*ioc.Association { return rd.assocs }

// An emitter hands a walk's rows to the Reader, their values carved from
// one slab.
type emitter struct {
	yield func(formats.Row) bool
	slab  formats.Slab
}

// emit hands r on; it returns formats.ErrStopped when the reader was
// closed.
func (e *emitter) emit(r formats.Row) error {
	if !e.yield(r) {
		return formats.ErrStopped
	}
	return nil
}
