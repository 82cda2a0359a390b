// Package otx reads AlienVault OTX pulses: an array of pulses, one pulse,
// or an API page ({"results": [...]}), each pulse with its indicators.
// It registers the format "otx", which is found by content only: the
// json format's first pass tells pulses from other JSON and hands them
// over (formats.ContentFormat), so routes cannot force it.
//
// A pulse is a context for its indicators (jsonwalk.Feed): its name
// stands in for notes an indicator lacks, its author is the source, and
// its tags apply to its indicators. An indicator's keys are mapped as a
// JSON item's are (jsonwalk.Mapper).
//
// Where things go: what an OTX indicator carries beyond a JSON item's
// keys (is_active): read.go; how pulses are told from other JSON:
// jsonwalk's first pass; what a pulse passes on: jsonwalk's Feed.
package otx

import (
	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/formats/json/jsonwalk"
)

// Name is the format's name.
const Name = string(jsonwalk.OTX)

func init() { formats.Register(jsonwalk.NewContentFormat(jsonwalk.OTX, documents{})) }

// documents reads the documents of the kind OTX.
type documents struct{}

// OpenDocument implements jsonwalk.DocumentReader.
func (documents) OpenDocument(src *formats.Source, opts formats.Options, doc *jsonwalk.Doc) (formats.Reader, error) {
	rd := &reader{src: src, doc: doc, m: jsonwalk.NewMapper(opts), feed: jsonwalk.NewFeed(doc), max: opts.MaxLine()}
	rd.Pulled = formats.Pull(rd.walk)
	return rd, nil
}

// DescribeDocument implements jsonwalk.DocumentReader: the mapping is
// that of the first pulse's first indicator.
func (documents) DescribeDocument(d *formats.Description, head []byte, opts formats.Options, doc *jsonwalk.Doc) error {
	d.Format = Name
	d.Shape = jsonwalk.Plural(len(doc.Contexts), "OTX pulse") + ", each with its indicators"
	if d.Truncated {
		d.Shape = "OTX pulses, each with its indicators"
	}
	d.Inherited = []string{"notes ← the pulse's name", "source ← the pulse's author_name", jsonwalk.TagRule(len(doc.Contexts), "pulse")}
	first := jsonwalk.First(head, func(w *jsonwalk.Walker) error {
		return eachPulse(w, doc, func() {}, func(int) error { return w.Stop() })
	})
	jsonwalk.NewMapper(opts).Describe(d, first)
	return nil
}
