// Package misp reads MISP events ({"Event": ...}, {"response":
// [{"Event": ...}]}, [{"Event": ...}]) and MISP attribute lists
// ({"response": {"Attribute": [...]}}). It registers the format "misp",
// which is found by content only: the json format's first pass tells
// MISP documents from other JSON and hands them over
// (formats.ContentFormat), so routes cannot force it.
//
// Each attribute of an event, and of its objects, is a row (read.go);
// its MISP type says which indicator type it is, or why it is none
// (attribute.go). An event is a context for its attributes
// (jsonwalk.Feed): its info stands in for notes an attribute lacks, its
// creator organisation is the source, and its tags apply to its
// attributes.
//
// Where things go: a MISP type that maps onto an indicator type, or an
// attribute property read into a field: attribute.go; what a MISP object
// passes on to its attributes: read.go; what an event passes on:
// jsonwalk's Feed.
package misp

import (
	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/formats/json/jsonwalk"
	"github.com/iocpipe/iocpipe/pipeline/formats/misp/misptype"
)

// Name is the format's name.
const Name = string(jsonwalk.MISP)

func init() { formats.Register(jsonwalk.NewContentFormat(jsonwalk.MISP, documents{})) }

// documents reads the documents of the kind MISP.
type documents struct{}

// OpenDocument implements jsonwalk.DocumentReader.
func (documents) OpenDocument(src *formats.Source, opts formats.Options, doc *jsonwalk.Doc) (formats.Reader, error) {
	rd := &reader{src: src, doc: doc, feed: jsonwalk.NewFeed(doc), max: opts.MaxLine(), opts: opts}
	rd.Pulled = formats.Pull(rd.walk)
	return rd, nil
}

// DescribeDocument implements jsonwalk.DocumentReader.
func (documents) DescribeDocument(d *formats.Description, head []byte, opts formats.Options, doc *jsonwalk.Doc) error {
	d.Format = Name
	switch {
	case doc.MISPAttributes:
		d.Shape = "a MISP attribute list"
	case d.Truncated:
		d.Shape = "MISP events"
	case len(doc.Contexts) == 1:
		d.Shape = "a MISP event"
	default:
		d.Shape = jsonwalk.Plural(len(doc.Contexts), "MISP event")
	}
	d.Shape += ": attributes and object attributes"
	d.Mapping = []formats.FieldMapping{
		{Field: formats.FieldValue, From: []string{"value, by type (composites such as filename|sha256 split; non-indicator parts go to notes)"}},
		{Field: formats.FieldFirstSeen, From: []string{"first_seen", "timestamp"}},
		{Field: formats.FieldLastSeen, From: []string{"last_seen", "Sighting[].date_sighting"}},
		{Field: formats.FieldSightings, From: []string{"Sighting[] of type 0"}},
		{Field: formats.FieldNotes, From: []string{"comment", "the object's name and other attributes"}},
		{Field: formats.FieldTags, From: []string{"Tag[].name"}},
	}
	d.Inherited = []string{"notes ← the event's info", "source ← the event's Orgc.name", jsonwalk.TagRule(len(doc.Contexts), "event")}
	d.Inherited = append(d.Inherited, misptype.Rules(opts, "deleted")...)
	return nil
}
