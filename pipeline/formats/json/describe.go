package json

import (
	"fmt"
	"strings"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/formats/json/jsonwalk"
)

// Describe implements formats.Describer: it judges the document from its
// head (HeadSize bytes), as far as the head goes. A document of another
// kind (STIX, MISP, OTX) is described by its format.
func (rd *reader) Describe(d *formats.Description) error {
	head := rd.src.Head
	d.Format = rd.format
	m := jsonwalk.NewMapper(rd.opts)
	if d.Format == FormatJSONL {
		if jsonwalk.LooksSTIX(jsonwalk.FirstLine(head)) {
			return jsonwalk.HandDescription(d, head, rd.opts, stixLines())
		}
		d.Shape = "JSON Lines: one item per line"
		m.Describe(d, jsonwalk.FirstLine(head))
		return nil
	}
	doc, err := jsonwalk.ScanHead(head, rd.opts, d)
	if err != nil {
		return err
	}
	switch {
	case doc.Kind != jsonwalk.Items:
		return jsonwalk.HandDescription(d, head, rd.opts, doc)
	case doc.Shape == jsonwalk.Stream:
		d.Format, d.Shape = FormatJSONL, "JSON Lines: one item per line"
		m.Describe(d, jsonwalk.FirstLine(head))
	case len(doc.Items) > 0:
		d.Shape = fmt.Sprintf("a wrapper object: the items are the array at %q", strings.Join(doc.Items, "."))
		m.Describe(d, firstItem(head, doc.Items))
	case doc.Shape == jsonwalk.Submission:
		d.Shape = "a TruSTAR submission: the items of content, with its tags and enclaveIds as the file's"
		m.Describe(d, firstItem(head, []string{"content"}))
	case doc.Shape == jsonwalk.Item:
		d.Shape = "a single item"
		m.Describe(d, jsonwalk.First(head, (*jsonwalk.Walker).Stop))
	default:
		d.Shape = "an array of items"
		m.Describe(d, firstItem(head, nil))
	}
	return nil
}

// firstItem returns the first element of the array at path in head.
func firstItem(head []byte, path []string) []byte {
	return jsonwalk.First(head, func(w *jsonwalk.Walker) error {
		return w.At(path, func() error { return w.Elements(func(int) error { return w.Stop() }) })
	})
}
