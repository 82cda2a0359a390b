package misp

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/formats/json/jsonwalk"
	"github.com/iocpipe/iocpipe/pipeline/formats/misp/misptype"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/pipeline/normalize"
	"github.com/iocpipe/iocpipe/schemas"
)

// A reader reads the events (or attribute list) of one document whose
// first pass found them.
type reader struct {
	*formats.Pulled
	src   *formats.Source
	doc   *jsonwalk.Doc
	feed  *jsonwalk.Feed
	ctx   context.Context
	yield func(formats.Row) bool
	max   int // the longest JSON value read
	opts  formats.Options
}

// walk emits the attributes of every event: its own and its objects'.
func (rd *reader) walk(ctx context.Context, yield func(formats.Row) bool) error {
	r, err := rd.src.Rewind()
	if err != nil {
		return err
	}
	rd.Level = rd.feed.Level(Name)
	rd.ctx, rd.yield = ctx, yield
	w := jsonwalk.NewWalker(ctx, r, rd.max)
	holder := func() error {
		_, err := w.Object(func(k string) error {
			if k == "Event" {
				return rd.event(w)
			}
			_, err := w.Skip()
			return err
		})
		return err
	}
	switch {
	case rd.doc.MISPAttributes:
		return w.At([]string{"response", "Attribute"}, func() error { return rd.attributes(w, jsonwalk.Context{}, nil) })
	case rd.doc.Shape == jsonwalk.Array:
		return w.Elements(func(int) error { return holder() })
	}
	_, err = w.Object(func(k string) error {
		switch k {
		case "Event":
			return rd.event(w)
		case "response":
			return w.Elements(func(int) error { return holder() })
		}
		_, err := w.Skip()
		return err
	})
	return err
}

// event emits the attributes of the event that comes next.
func (rd *reader) event(w *jsonwalk.Walker) error {
	c := rd.feed.Current()
	isObj, err := w.Object(func(k string) error {
		switch k {
		case "Attribute":
			return rd.attributes(w, c, nil)
		case "Object":
			return w.Elements(func(int) error {
				raw, line, err := w.Raw()
				if err != nil {
					return err
				}
				return rd.object(raw, line, c)
			})
		}
		_, err := w.Skip()
		return err
	})
	if isObj {
		rd.feed.Advance()
	}
	return err
}

// attributes emits the rows of the attribute array that comes next.
func (rd *reader) attributes(w *jsonwalk.Walker, c jsonwalk.Context, obj *objectContext) error {
	return w.Elements(func(i int) error {
		raw, line, err := w.Raw()
		if err != nil {
			return err
		}
		return formats.Emit(rd.yield, rd.attributeRow(ioc.Origin{Line: line, Index: i}, raw, c, obj))
	})
}

// An objectContext is what the attributes of a MISP object share: the
// object's name and comment, and its attributes that are no indicator
// (a file object's filename and size), as notes.
type objectContext struct {
	note    string
	deleted bool
}

// object emits the attributes of one MISP object, read whole (objects are
// small), each with the line it starts on.
func (rd *reader) object(raw []byte, line int, c jsonwalk.Context) error {
	var o struct {
		Name      string      `json:"name"`
		Comment   string      `json:"comment"`
		Deleted   flexString  `json:"deleted"`
		Attribute []attribute `json:"Attribute"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		row := formats.Row{Origin: ioc.Origin{Line: line, Index: -1}, Fields: schemas.ObjectValue(nil)}
		return formats.Emit(rd.yield, row.WithReject("", ioc.Clip(string(raw)), "invalid MISP object: "+err.Error()))
	}
	oc := &objectContext{deleted: o.Deleted.truth(false)}
	var parts []string
	for _, a := range o.Attribute {
		if t, _, _ := misptype.Resolve(a.Type); t == "" && a.Value != "" {
			rel := a.ObjectRelation
			if rel == "" {
				rel = a.Type
			}
			if len(parts) < 4 {
				parts = append(parts, rel+" "+string(a.Value))
			}
		}
	}
	oc.note = o.Name + " object"
	if len(parts) > 0 {
		oc.note += ": " + strings.Join(parts, ", ")
	}
	if cm := normalize.CleanText(o.Comment); cm != "" {
		oc.note = cm + " (" + oc.note + ")"
	}
	sub := jsonwalk.NewWalker(rd.ctx, bytes.NewReader(raw), 0)
	sub.Base = line - 1
	_, err := sub.Object(func(k string) error {
		if k == "Attribute" {
			return rd.attributes(sub, c, oc)
		}
		_, err := sub.Skip()
		return err
	})
	return err
}
