package jsonwalk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/schemas"
)

// A Shape is how a JSON document holds its records.
type Shape int

// The shapes of a document.
const (
	Array      Shape = iota // [ item, ... ]
	Submission              // {"enclaveIds", "content": [...], "tags"}
	Item                    // a single object (or a wrapper: see Doc.Items)
	Stream                  // several top-level values: JSON Lines
)

// A Kind is what the records of a document are: plain items, or the
// documents of a threat-intel tool, each named as the format that reads
// them (see DocumentReader).
type Kind string

// The kinds of records the first pass tells apart.
const (
	// Items are indicator items: an array, one object, a submission's
	// content, a wrapper's array.
	Items Kind = ""
	// STIX is STIX 2.x objects: a bundle, an array, one object, or one
	// object per line.
	STIX Kind = "stix"
	// MISP is MISP events ({"Event": ...}, {"response": [{"Event":
	// ...}]}, [{"Event": ...}]) or a MISP attribute list ({"response":
	// {"Attribute": [...]}}).
	MISP Kind = "misp"
	// OTX is AlienVault OTX pulses: an array of pulses, one pulse, or an
	// API page ({"results": [...]}), each pulse with its indicators.
	OTX Kind = "otx"
)

// A STIXLayout is how the objects of a STIX document are laid out.
type STIXLayout int

// The layouts of STIX objects. The zero STIXLayout is a bundle.
const (
	STIXBundle STIXLayout = iota // {"type": "bundle", "objects": [...]}
	STIXArray                    // [ object, ... ]
	STIXSingle                   // one object
	STIXLines                    // one object per line
)

// A Doc is what the first pass learns about a document.
type Doc struct {
	// Shape is how the document holds its records.
	Shape Shape
	// Kind is what the records are.
	Kind Kind
	// STIXLayout is how the objects of a STIX document are laid out.
	STIXLayout STIXLayout
	// Items is the path of object keys from the root to the array of
	// records (a wrapper such as {"data": [...]}, the route's items path,
	// the array of pulses of an API page), empty when the root holds
	// them.
	Items []string
	// Tags and Enclaves are a submission's top-level tags and enclaveIds;
	// Missing when the document has none.
	Tags, Enclaves schemas.Value
	// Contexts are the OTX pulses or MISP events, in document order: what
	// their indicators inherit.
	Contexts []Context
	// MISPAttributes marks a MISP attribute list ({"response":
	// {"Attribute": [...]}}) rather than events.
	MISPAttributes bool

	// stix is set, during the scan, when the document holds STIX objects:
	// Kind becomes STIX at its end, whatever else it found.
	stix bool
}

// A Context is a container of indicators within a document, an OTX pulse
// or a MISP event, with what its indicators inherit.
type Context struct {
	Name   string        // the pulse's name, the event's info
	Source string        // the pulse's author, the event's creator organisation
	Tags   []formats.Tag // the pulse's tags, the event's tags
}

// wrapperKeys are the keys under which API responses commonly hold their
// array of records ({"query_status": "ok", "data": [...]}): an object
// that is no item itself holds its items in the first of these that is an
// array of objects, else in its first array of objects.
var wrapperKeys = []string{"data", "results", "items", "iocs", "indicators", "records", "entries", "observables"}

// rootKeys are the members of a root object the first pass keeps: STIX
// type and id, a pulse's name and author, a submission's tags and
// enclaves.
var rootKeys = []string{"type", "id", "name", "author_name", "tags", "enclaveIds"}

// A layoutError is a document that parses but does not have the layout
// the route says it has.
type layoutError struct{ msg string }

// Error implements error.
func (e *layoutError) Error() string { return e.msg }

// Scan is the first pass: it reads the whole document, checking its
// syntax, and returns its shape and top-level metadata: STIX, a TruSTAR
// submission, OTX pulses, MISP events, a wrapper object holding the items
// (or the route's json_fields items path), or plain items. Large arrays
// are walked element by element, never held whole. On an error, the Doc
// holds what was learned before it.
func Scan(r io.Reader, opts formats.Options) (Doc, error) {
	d, err := scan(newBareWalker(r, opts.MaxLine()), opts)
	if d.stix {
		d.Kind = STIX
	}
	return d, err
}

func scan(w *Walker, opts formats.Options) (Doc, error) {
	var d Doc
	var itemsPath []string
	if p := opts.JSONFields[formats.JSONItems]; len(p) > 0 && p[0] != "" {
		itemsPath = strings.Split(p[0], ".")
	}
	tok, err := w.dec.Token()
	if err == io.EOF {
		return d, errors.New("empty JSON document")
	}
	if err != nil {
		return d, err
	}
	switch tok {
	case json.Delim('['):
		d.Shape = Array
		if err := scanArray(w, &d, len(itemsPath) == 0); err != nil {
			return d, err
		}
	case json.Delim('{'):
		d.Shape = Item
		if err := scanObject(w, &d, itemsPath); err != nil {
			return d, err
		}
		if len(itemsPath) > 0 && len(d.Items) == 0 && !d.stix && d.Shape != Submission {
			return d, &layoutError{fmt.Sprintf("the route's json_fields items path %q leads to no array in this document", strings.Join(itemsPath, "."))}
		}
	default:
		return d, fmt.Errorf("a JSON document must be an array or an object, not %v", tok)
	}
	return d, scanRest(w, &d)
}

// scanRest reads what follows the first value: another value makes the
// file JSON Lines, whose bad lines are row rejects, not file errors.
func scanRest(w *Walker, d *Doc) error {
	if _, err := w.dec.Token(); err == io.EOF {
		return nil
	} else if err != nil {
		return err
	}
	d.Shape = Stream
	d.Kind, d.Items, d.Contexts = Items, nil, nil
	if d.stix {
		d.STIXLayout = STIXLines
	}
	for {
		var skip json.RawMessage
		if err := w.decode(&skip); err != nil {
			return nil // the end, or a bad line: a row reject in JSONL
		}
	}
}

// ScanSource runs the first pass over src, from where src.R stands, for
// a Reader: a document that does not parse, or lacks the layout the
// route says it has, is a *formats.FileError, saying that nothing of the
// file was sent.
func ScanSource(src *formats.Source, opts formats.Options) (*Doc, error) {
	lt := newLineTracker(src.R)
	d, err := Scan(lt, opts)
	var le *layoutError
	var tl *TooLongError
	if errors.As(err, &tl) {
		return nil, &formats.FileError{File: src.Name, Line: lt.lineAt(tl.Offset), Err: fmt.Errorf("nothing of the file was sent: %w", err)}
	}
	if errors.As(err, &le) {
		return nil, &formats.FileError{File: src.Name, Err: fmt.Errorf("nothing of the file was sent: %w", err)}
	}
	if err != nil {
		var se *json.SyntaxError
		line := 0
		if errors.As(err, &se) {
			line = lt.lineAt(se.Offset)
		}
		return nil, &formats.FileError{File: src.Name, Line: line, Err: fmt.Errorf("invalid JSON, so nothing of the file was sent: %w", err)}
	}
	return &d, nil
}

// ScanHead runs the first pass over the head of a file, for a Describer:
// when the head holds the whole file, a document that does not parse is
// an error; else the shape is judged from what the head holds, and
// d.Truncated says so.
func ScanHead(head []byte, opts formats.Options, d *formats.Description) (*Doc, error) {
	whole := len(head) < formats.HeadSize
	doc, err := Scan(bytes.NewReader(head), opts)
	var le *layoutError
	if errors.As(err, &le) && whole {
		return nil, err
	}
	if err != nil {
		if whole {
			return nil, fmt.Errorf("invalid JSON, so nothing of the file would be sent: %w", err)
		}
		d.Truncated = true
	}
	return &doc, nil
}

// LooksSTIX reports whether raw JSON is a STIX object or bundle: a "type"
// and an "id" of the form type--uuid.
func LooksSTIX(raw []byte) bool {
	var head struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	if json.Unmarshal(raw, &head) != nil || head.Type == "" {
		return false
	}
	return head.Type == "bundle" || strings.HasPrefix(head.ID, head.Type+"--")
}
