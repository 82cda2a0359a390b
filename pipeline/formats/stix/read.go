package stix

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strconv"
	"strings"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/formats/json/jsonwalk"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/pipeline/normalize"
	"github.com/iocpipe/iocpipe/schemas"
)

// A reader reads one STIX document whose first pass (syntax) already
// succeeded.
type reader struct {
	*formats.Pulled
	src    *formats.Source
	layout jsonwalk.STIXLayout
	// links says the file's relationships may make associations; assocs
	// are those found, once the file was read.
	links  bool
	assocs []*ioc.Association
	max    int // the longest line or JSON value read
	opts   formats.Options
}

// Links implements formats.Linker.
func (rd *reader) Links() bool { return rd.links }

// Associations implements formats.Linker.
func (rd *reader) Associations() []*ioc.Association { return rd.assocs }

// walk reads the document in its two passes.
func (rd *reader) walk(ctx context.Context, yield func(formats.Row) bool) error {
	rd.Level = formats.File{Format: Name}
	r, err := rd.src.Rewind()
	if err != nil {
		return err
	}
	ix, err := indexSTIX(ctx, r, rd.layout, rd.max)
	if err != nil {
		return err
	}
	if r, err = rd.src.Rewind(); err != nil {
		return err
	}
	schema, err := schemas.Load("stix")
	if err != nil {
		return err
	}
	rd.links = len(ix.ends) > 0
	or := &objectReader{name: rd.src.Name, ix: ix, schema: schema, opts: rd.opts}
	err = eachObject(ctx, r, rd.layout, rd.max, func(raw json.RawMessage, line, index int) error {
		o := ioc.Origin{Line: line, Index: -1}
		if raw == nil {
			return formats.Emit(yield, formats.RejectRow(o, "", formats.TooLong("line", rd.max)))
		}
		if rd.layout != jsonwalk.STIXLines && rd.layout != jsonwalk.STIXSingle {
			o.Index = index
		}
		return formats.Emit(yield, or.row(o, raw))
	})
	if err != nil {
		return err
	}
	rd.assocs = or.associations()
	return nil
}

// eachObject streams the objects of a STIX file, calling fn with each raw
// object, the line it starts on and its index; a line of JSON Lines
// longer than max bytes comes as a nil object. A JSON value longer than
// max ends the walk with a *jsonwalk.TooLongError.
func eachObject(ctx context.Context, r io.Reader, layout jsonwalk.STIXLayout, max int, fn func(raw json.RawMessage, line, index int) error) error {
	if layout == jsonwalk.STIXLines {
		return eachLine(ctx, r, max, fn)
	}
	w := jsonwalk.NewWalker(ctx, r, max)
	switch layout {
	case jsonwalk.STIXArray:
		return w.Items(true, fn)
	case jsonwalk.STIXSingle:
		return w.Items(false, fn)
	}
	return w.MemberItems("objects", fn)
}

// eachLine streams the objects of JSON Lines, one a non-blank line; a line
// longer than max bytes comes as a nil object.
func eachLine(ctx context.Context, r io.Reader, max int, fn func(raw json.RawMessage, line, index int) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	line, index := 0, 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		text, long, err := formats.ReadLine(br, max)
		if len(text) == 0 && err == io.EOF {
			return nil
		}
		line++
		if long {
			text = nil
		}
		if t := bytes.TrimSpace(text); long || len(t) > 0 {
			if err := fn(t, line, index); err != nil {
				return err
			}
			index++
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// A sightAgg sums up the sightings of one indicator.
type sightAgg struct {
	count       int64
	first, last int64
}

// A relationship is a STIX relationship, as the index pass keeps it.
type relationship struct {
	id, src, tgt, kind string
	line, index        int
}

// An index is what the index pass learns.
type index struct {
	spec       string
	identities map[string]string
	sightings  map[string]*sightAgg
	rels       []relationship
	// ends are the objects at either end of a relationship between
	// indicator-like objects; the emit pass records what they became.
	ends map[string][]ioc.Endpoint
}

// indexed is what the index pass reads of an object.
type indexed struct {
	Type          string      `json:"type"`
	ID            string      `json:"id"`
	Name          string      `json:"name"`
	SpecVersion   string      `json:"spec_version"`
	SightingOfRef string      `json:"sighting_of_ref"`
	Count         json.Number `json:"count"`
	FirstSeen     string      `json:"first_seen"`
	LastSeen      string      `json:"last_seen"`
	SourceRef     string      `json:"source_ref"`
	TargetRef     string      `json:"target_ref"`
	Kind          string      `json:"relationship_type"`
}

// indexSTIX is the index pass.
func indexSTIX(ctx context.Context, r io.Reader, layout jsonwalk.STIXLayout, max int) (*index, error) {
	ix := &index{identities: map[string]string{}, sightings: map[string]*sightAgg{}, ends: map[string][]ioc.Endpoint{}}
	err := eachObject(ctx, r, layout, max, func(raw json.RawMessage, line, i int) error {
		var o indexed
		if json.Unmarshal(raw, &o) != nil {
			return nil // the emit pass reports it
		}
		switch o.Type {
		case "identity":
			ix.identities[o.ID] = o.Name
		case "sighting":
			ix.sighting(o)
		case "relationship":
			ix.rels = append(ix.rels, relationship{id: o.ID, src: o.SourceRef, tgt: o.TargetRef, kind: o.Kind, line: line, index: i})
			if indicatorLike(refType(o.SourceRef)) && indicatorLike(refType(o.TargetRef)) {
				ix.ends[o.SourceRef], ix.ends[o.TargetRef] = nil, nil
			}
		case "bundle":
			ix.spec = o.SpecVersion
		}
		return nil
	})
	return ix, err
}

// sighting adds a sighting to its indicator's.
func (ix *index) sighting(o indexed) {
	if o.SightingOfRef == "" {
		return
	}
	a := ix.sightings[o.SightingOfRef]
	if a == nil {
		a = &sightAgg{}
		ix.sightings[o.SightingOfRef] = a
	}
	n, err := strconv.ParseInt(o.Count.String(), 10, 64)
	if err != nil || o.Count == "" {
		n = 1 // a sighting without a count is one sighting
	}
	a.count += max(n, 0)
	if t, err := normalize.ParseTime(o.FirstSeen); err == nil && t > 0 && (a.first == 0 || t < a.first) {
		a.first = t
	}
	if t, err := normalize.ParseTime(o.LastSeen); err == nil && t > a.last {
		a.last = t
	}
}

// refType is the object type named by a STIX id.
func refType(id string) string {
	t, _, _ := strings.Cut(id, "--")
	return t
}
