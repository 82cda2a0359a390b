package jsonwalk

import (
	"strconv"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/normalize"
	"github.com/iocpipe/iocpipe/schemas"
)

// A Feed hands out, in document order, the contexts of a document's
// containers (OTX pulses, MISP events) to the reader of their
// indicators, and passes on to each indicator what it lacks. A pulse or
// an event is a context for its indicators: its name (or info) stands in
// for notes an indicator lacks, its author (or creator organisation) is
// the source, and its tags apply to its indicators by the precedence
// rule. One container in a file is the file level (its tags are the
// file's tags, as a TruSTAR-shaped file's); with several in one file,
// each one's tags become its indicators' own (row-level) tags, since a
// file has one file level only. An indicator's own tags win either way.
type Feed struct {
	contexts []Context
	// rowTags puts the contexts' tags on their rows: several in the file.
	rowTags bool
	// next is the index of the next container in contexts.
	next int
}

// NewFeed returns the Feed of doc's contexts.
func NewFeed(doc *Doc) *Feed {
	return &Feed{contexts: doc.Contexts, rowTags: len(doc.Contexts) > 1}
}

// Level returns the file level of the document, read as format: the
// tags of its one container, if it has one.
func (f *Feed) Level(format string) formats.File {
	if len(f.contexts) == 1 && len(f.contexts[0].Tags) > 0 {
		return formats.File{Format: format, Tags: f.contexts[0].Tags, TagsSet: true}
	}
	return formats.File{Format: format}
}

// Current returns the context of the container that comes next (the
// zero Context past the last one).
func (f *Feed) Current() Context {
	if f.next < len(f.contexts) {
		return f.contexts[f.next]
	}
	return Context{}
}

// Advance moves on to the next container.
func (f *Feed) Advance() { f.next++ }

// Inherit adds to an indicator's fields what they lack from its
// container c: notes, source, and (with several containers in the file)
// tags.
func (f *Feed) Inherit(members []schemas.Member, c Context) []schemas.Member {
	has := func(key string) bool {
		for _, m := range members {
			if m.Key == key && m.Val.Kind != schemas.Null && !(m.Val.Kind == schemas.String && normalize.CleanText(m.Val.Str) == "") {
				return true
			}
		}
		return false
	}
	if !has(formats.FieldNotes) && c.Name != "" {
		members = append(members, schemas.Member{Key: formats.FieldNotes, Val: schemas.StringValue(c.Name)})
	}
	if !has(formats.FieldSource) && c.Source != "" {
		members = append(members, schemas.Member{Key: formats.FieldSource, Val: schemas.StringValue(c.Source)})
	}
	if !has(formats.FieldTags) && f.rowTags && len(c.Tags) > 0 {
		members = append(members, schemas.Member{Key: formats.FieldTags, Val: tagValues(c.Tags)})
	}
	return members
}

func tagValues(tags []formats.Tag) schemas.Value {
	items := make([]schemas.Value, len(tags))
	for i, t := range tags {
		items[i] = schemas.StringValue(t.Name)
	}
	return schemas.ArrayValue(items)
}

// TagRule says, for inspect, how the tags of n containers called what
// ("pulse", "event") reach their indicators.
func TagRule(n int, what string) string {
	if n == 1 {
		return "tags ← the " + what + "'s tags, as the file's tags"
	}
	return "tags ← each " + what + "'s tags, as its indicators' own tags (several " + what + "s in one file)"
}

// Plural says how many containers called s there are: "1 MISP event",
// "3 MISP events".
func Plural(n int, s string) string {
	if n == 1 {
		return "1 " + s
	}
	return strconv.Itoa(n) + " " + s + "s"
}
