package jsonwalk

import (
	"fmt"
	"slices"
	"strings"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/pipeline/normalize"
	"github.com/iocpipe/iocpipe/schemas"
)

// A Mapper maps JSON objects (items, OTX indicators) onto canonical
// fields: the route's json_fields paths first, then the key aliases for
// the fields they leave out. The zero Mapper maps by the aliases alone.
type Mapper struct {
	paths map[string][][]string
}

// NewMapper returns the Mapper of a route's read options.
func NewMapper(opts formats.Options) *Mapper {
	m := &Mapper{}
	for field, paths := range opts.JSONFields {
		if field == formats.JSONItems {
			continue
		}
		for _, p := range paths {
			if m.paths == nil {
				m.paths = map[string][][]string{}
			}
			m.paths[field] = append(m.paths[field], strings.Split(p, "."))
		}
	}
	return m
}

// ItemRow maps one JSON item onto a row: an object's keys through the
// route's json_fields and the key aliases, or a bare string as the value.
// Anything else, or raw that does not parse, is a rejected row.
func (m *Mapper) ItemRow(o ioc.Origin, raw []byte) formats.Row {
	row := formats.Row{Origin: o, Fields: schemas.ObjectValue(nil)}
	v, err := DecodeValue(raw)
	if err != nil {
		return formats.RejectRow(o, ioc.Clip(string(raw)), "invalid JSON: "+err.Error())
	}
	switch v.Kind {
	case schemas.String:
		row.Fields = schemas.ObjectValue([]schemas.Member{{Key: formats.FieldValue, Val: v}})
	case schemas.Object:
		row.Fields = m.Fields(v, nil)
	default:
		return formats.RejectRow(o, ioc.Clip(string(raw)), fmt.Sprintf("a JSON %s is not an indicator: items must be objects or strings", v.Kind))
	}
	return row
}

// Fields maps an object's members onto canonical fields; of several keys
// for one field, the best-ranked wins. Numbers and booleans of scalar
// fields keep their kind, so the schema sees what the file said; a null
// is no value. With sources, it records which keys fed which field.
func (m *Mapper) Fields(obj schemas.Value, sources *[]formats.FieldMapping) schemas.Value {
	var out []schemas.Member
	var done map[string]bool
	for _, field := range formats.Fields {
		paths := m.paths[field]
		if len(paths) == 0 {
			continue
		}
		if done == nil {
			done = map[string]bool{}
		}
		done[field] = true
		var leaves []schemas.Value
		var hints []ioc.Type
		var from []string
		for _, p := range paths {
			found := collect(obj, p)
			hint := ioc.Type("")
			if field == formats.FieldValue {
				hint, _ = normalize.ColumnType(p[len(p)-1])
			}
			for range found {
				hints = append(hints, hint)
			}
			leaves = append(leaves, found...)
			from = append(from, strings.Join(p, "."))
		}
		if sources != nil {
			*sources = append(*sources, formats.FieldMapping{Field: field, From: from, Explicit: true})
		}
		if v, ok := combine(field, leaves, hints); ok {
			out = append(out, schemas.Member{Key: field, Val: v})
		}
	}
	return schemas.ObjectValue(defaultFields(obj, done, out, sources))
}

// Describe says in d which keys of raw, one JSON item, feed which field.
func (m *Mapper) Describe(d *formats.Description, raw []byte) {
	if len(raw) == 0 {
		return
	}
	v, err := DecodeValue(raw)
	if err != nil {
		return
	}
	switch v.Kind {
	case schemas.String:
		d.Mapping = []formats.FieldMapping{{Field: formats.FieldValue, From: []string{"the item itself (a string)"}}}
	case schemas.Object:
		var sources []formats.FieldMapping
		m.Fields(v, &sources)
		slices.SortStableFunc(sources, func(a, b formats.FieldMapping) int {
			return slices.Index(formats.Fields, a.Field) - slices.Index(formats.Fields, b.Field)
		})
		for _, fm := range sources {
			if n := len(d.Mapping); n > 0 && d.Mapping[n-1].Field == fm.Field {
				d.Mapping[n-1].From = append(d.Mapping[n-1].From, fm.From...)
				continue
			}
			d.Mapping = append(d.Mapping, fm)
		}
	}
}

// collect returns the values at path in v; a step through an array
// collects from every element, and arrays at the end are flattened.
func collect(v schemas.Value, path []string) []schemas.Value {
	cur := []schemas.Value{v}
	for _, seg := range path {
		var next []schemas.Value
		for _, c := range cur {
			switch c.Kind {
			case schemas.Object:
				if x := c.Get(seg); x.Kind != schemas.Missing && x.Kind != schemas.Null {
					next = append(next, x)
				}
			case schemas.Array:
				for _, it := range c.Items() {
					if x := it.Get(seg); x.Kind != schemas.Missing && x.Kind != schemas.Null {
						next = append(next, x)
					}
				}
			}
		}
		cur = next
	}
	var out []schemas.Value
	for _, c := range cur {
		if c.Kind == schemas.Array {
			for _, it := range c.Items() {
				if it.Kind != schemas.Null {
					out = append(out, it)
				}
			}
			continue
		}
		out = append(out, c)
	}
	return out
}

// combine makes one field of several values: each value its own
// indicator, tags united, notes joined; for the other fields the first
// value wins. A single value keeps its kind.
func combine(field string, leaves []schemas.Value, hints []ioc.Type) (schemas.Value, bool) {
	switch {
	case len(leaves) == 0:
		return schemas.Value{}, false
	case len(leaves) == 1 && (field != formats.FieldValue || hints[0] == ""):
		return leaves[0], true
	}
	switch field {
	case formats.FieldValue:
		var b strings.Builder
		for i, l := range leaves {
			if b.Len() > 0 {
				b.WriteString(formats.MultiSep)
			}
			if hints[i] != "" {
				b.WriteString(string(hints[i]) + formats.TypeHintSep)
			}
			b.WriteString(l.Str)
		}
		return schemas.StringValue(b.String()), true
	case formats.FieldTags:
		var items []schemas.Value
		for _, l := range leaves {
			if l.Kind == schemas.String {
				for _, s := range formats.List(l) {
					items = append(items, schemas.StringValue(s))
				}
				continue
			}
			items = append(items, l)
		}
		return schemas.ArrayValue(items), true
	case formats.FieldNotes:
		var parts []string
		for _, l := range leaves {
			if s := normalize.CleanText(l.Str); s != "" {
				parts = append(parts, s)
			}
		}
		return schemas.StringValue(strings.Join(parts, "; ")), true
	}
	return leaves[0], true
}
