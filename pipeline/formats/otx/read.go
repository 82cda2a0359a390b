package otx

import (
	"context"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/formats/json/jsonwalk"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/schemas"
)

// A reader reads the pulses of one document whose first pass found them.
type reader struct {
	*formats.Pulled
	src  *formats.Source
	doc  *jsonwalk.Doc
	m    *jsonwalk.Mapper
	feed *jsonwalk.Feed
	max  int // the longest JSON value read
}

// walk emits the indicators of every pulse, each with its pulse's
// context.
func (rd *reader) walk(ctx context.Context, yield func(formats.Row) bool) error {
	r, err := rd.src.Rewind()
	if err != nil {
		return err
	}
	rd.Level = rd.feed.Level(Name)
	w := jsonwalk.NewWalker(ctx, r, rd.max)
	var pulse jsonwalk.Context
	return eachPulse(w, rd.doc, func() {
		pulse = rd.feed.Current()
		rd.feed.Advance()
	}, func(i int) error {
		raw, line, err := w.Raw()
		if err != nil {
			return err
		}
		return formats.Emit(yield, rd.row(ioc.Origin{Line: line, Index: i}, raw, pulse))
	})
}

// eachPulse walks the pulses where the first pass found them, calling
// start as each pulse begins and indicator for each element of its
// "indicators", which indicator must read.
func eachPulse(w *jsonwalk.Walker, doc *jsonwalk.Doc, start func(), indicator func(i int) error) error {
	pulse := func() error {
		start()
		_, err := w.Object(func(key string) error {
			if key != "indicators" {
				_, err := w.Skip()
				return err
			}
			return w.Elements(indicator)
		})
		return err
	}
	each := func() error { return w.Elements(func(int) error { return pulse() }) }
	switch {
	case len(doc.Items) > 0:
		return w.At(doc.Items, each)
	case doc.Shape == jsonwalk.Array:
		return each()
	}
	return pulse()
}

// row maps one pulse indicator ({"indicator", "type", "created",
// "description", "observations"}) onto a row, with the pulse's context.
func (rd *reader) row(o ioc.Origin, raw []byte, pulse jsonwalk.Context) formats.Row {
	v, err := jsonwalk.DecodeValue(raw)
	if err != nil || v.Kind != schemas.Object {
		return rd.m.ItemRow(o, raw)
	}
	row := formats.Row{Origin: o}
	members := rd.m.Fields(v, nil).Members()
	if a := v.Get("is_active"); a.Kind == schemas.Number && a.Str == "0" {
		row.Skip = "inactive in OTX (is_active is 0)"
	}
	row.Fields = schemas.ObjectValue(rd.feed.Inherit(members, pulse))
	return row
}
