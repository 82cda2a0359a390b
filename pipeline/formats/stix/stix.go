// Package stix reads STIX 2.x documents: bundles, bare arrays of STIX
// objects, single objects, and JSON Lines of objects. It registers the
// format "stix", which routes may force; a JSON or JSON Lines file whose
// content is STIX is handed to it by the json format.
//
// A document is read in two streamed passes, never whole (read.go):
//
//  1. the index pass keeps what later objects may need from earlier ones
//     and the other way round — identity names (created_by_ref),
//     sightings per indicator, and relationships;
//  2. the emit pass turns each object into a row (objects.go):
//     indicators through the pattern parser (stixpattern), observables
//     (SCOs) and observed-data directly, and everything else into a
//     skipped row with its reason.
//
// Relationships between objects that became indicators become
// associations, resolved after the emit pass.
//
// Where things go: a new object type that can become an indicator, or a
// new property read into a field: objects.go; a new pattern construct:
// stixpattern; the schema objects are checked against: schemas/stix.
package stix

import (
	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/formats/json/jsonwalk"
	"github.com/iocpipe/iocpipe/pipeline/formats/misp/misptype"
)

// Name is the format's name.
const Name = string(jsonwalk.STIX)

func init() { formats.Register(jsonwalk.NewFormat(jsonwalk.STIX, documents{})) }

// documents reads the documents of the kind STIX.
type documents struct{}

// OpenDocument implements jsonwalk.DocumentReader.
func (documents) OpenDocument(src *formats.Source, opts formats.Options, doc *jsonwalk.Doc) (formats.Reader, error) {
	rd := &reader{src: src, layout: doc.STIXLayout, max: opts.MaxLine(), opts: opts}
	rd.Pulled = formats.Pull(rd.walk)
	return rd, nil
}

// layouts says how the objects are laid out, for inspect.
var layouts = map[jsonwalk.STIXLayout]string{
	jsonwalk.STIXBundle: "a STIX bundle",
	jsonwalk.STIXArray:  "an array of STIX objects",
	jsonwalk.STIXSingle: "one STIX object",
	jsonwalk.STIXLines:  "STIX objects, one per line",
}

// DescribeDocument implements jsonwalk.DocumentReader.
func (documents) DescribeDocument(d *formats.Description, head []byte, opts formats.Options, doc *jsonwalk.Doc) error {
	d.Format = Name
	d.Shape = layouts[doc.STIXLayout]
	d.Mapping = []formats.FieldMapping{
		{Field: formats.FieldValue, From: []string{"indicator patterns", "observables (SCOs)", "observed-data"}},
		{Field: formats.FieldFirstSeen, From: []string{"valid_from", "sightings"}},
		{Field: formats.FieldLastSeen, From: []string{"valid_until", "sightings' last_seen"}},
		{Field: formats.FieldNotes, From: []string{"name", "description", "a file composite's other comparisons (file:name)"}},
		{Field: formats.FieldTags, From: []string{"indicator_types", "labels (but MISP's misp:type, misp:category, misp:to_ids)"}},
		{Field: formats.FieldSource, From: []string{"created_by_ref identity name"}},
	}
	d.Inherited = append([]string{"MISP converter labels: misp:type and misp:category skip what is no indicator"}, misptype.Rules(opts)...)
	return nil
}
