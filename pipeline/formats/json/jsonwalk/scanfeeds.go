package jsonwalk

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/normalize"
	"github.com/iocpipe/iocpipe/schemas"
)

// scanArray reads a root array whose '[' was read: STIX objects, OTX
// pulses, MISP events ([{"Event": ...}]) or items, told by the first
// element.
func scanArray(w *Walker, d *Doc, feeds bool) error {
	for i := 0; w.dec.More(); i++ {
		if i > 0 && d.Kind != Items {
			var err error
			if d.Kind == OTX {
				d.Contexts = append(d.Contexts, Context{})
				_, err = w.Object(func(key string) error { return scanPulseMember(w, d, key) })
			} else {
				_, err = w.Object(func(key string) error { return scanEventHolder(w, d, key) })
			}
			if err != nil {
				return err
			}
			continue
		}
		var skip json.RawMessage
		if err := w.decode(&skip); err != nil {
			return err
		}
		if i > 0 {
			continue
		}
		if LooksSTIX(skip) {
			d.stix, d.STIXLayout = true, STIXArray
			continue
		}
		if !feeds {
			continue
		}
		switch v, err := DecodeValue(skip); {
		case err != nil:
		case looksPulse(v):
			d.Kind = OTX
			d.Contexts = append(d.Contexts, pulseContext(v))
		case v.Get("Event").Kind == schemas.Object:
			d.Kind = MISP
			d.Contexts = append(d.Contexts, eventContext(v.Get("Event")))
		}
	}
	_, err := w.dec.Token()
	return err
}

// An objectScan is the first pass over a root object: what its members
// said so far.
type objectScan struct {
	w         *Walker
	d         *Doc
	itemsPath []string // the route's items path

	typ, id  string        // a STIX object's or bundle's
	rootTags schemas.Value // the root's "tags"
	pulse    Context       // the root as a single OTX pulse
	hasEvent bool          // a root "Event": a MISP event
	itemKeys bool          // a member that makes the root an item

	// wrapper is the member holding the items, if any: the first array of
	// objects, or the first under one of wrapperKeys.
	wrapper          string
	wrapperPreferred bool
	wrapperFirst     schemas.Value
	wrapperCtxs      []Context
}

// scanObject reads a root object whose '{' was read.
func scanObject(w *Walker, d *Doc, itemsPath []string) error {
	s := &objectScan{w: w, d: d, itemsPath: itemsPath}
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		if err := s.member(key); err != nil {
			return err
		}
	}
	if _, err := w.dec.Token(); err != nil {
		return err
	}
	s.finish()
	return nil
}

// member reads the value of the root's member key.
func (s *objectScan) member(key string) error {
	w, d := s.w, s.d
	switch {
	case len(s.itemsPath) > 0 && key == s.itemsPath[0]:
		found, err := w.pathArray(s.itemsPath[1:])
		if err == nil && found {
			d.Items = s.itemsPath
		}
		return err
	case key == "content" || key == "objects":
		// Possibly huge (a 500 MB bundle is one "objects" array): walk it
		// item by item instead of holding it.
		isArray, err := w.Skip()
		if err == nil && key == "content" && isArray {
			d.Shape = Submission
		}
		return err
	case key == "Event" && len(s.itemsPath) == 0:
		c := Context{}
		isObj, err := w.Object(func(k string) error { return scanEventMember(w, &c, k) })
		if isObj && err == nil {
			s.hasEvent = true
			d.Contexts = append(d.Contexts, c)
		}
		return err
	case key == "response" && len(s.itemsPath) == 0:
		return scanResponse(w, d)
	case !slices.Contains(rootKeys, key):
		return s.other(key)
	}
	return s.kept(key)
}

// other reads a member of no known meaning: an array is walked element
// by element (its first element decoded, and every pulse), never held.
func (s *objectScan) other(key string) error {
	var ctxs []Context
	pulses := false
	first, isArray, err := s.w.firstOfArray(func(i int, v schemas.Value) bool {
		if i == 0 {
			pulses = looksPulse(v)
		}
		if pulses {
			ctxs = append(ctxs, pulseContext(v))
		}
		return pulses
	})
	if err != nil {
		return err
	}
	_, typed := normalize.ColumnType(key)
	switch {
	case !isArray && (formats.FieldOfKey(normalize.Key(key)) == formats.FieldValue || typed):
		s.itemKeys = true
	case isArray && first.Kind == schemas.Object && len(s.itemsPath) == 0:
		if preferred := slices.Contains(wrapperKeys, key); s.wrapper == "" || preferred && !s.wrapperPreferred {
			s.wrapper, s.wrapperFirst, s.wrapperCtxs, s.wrapperPreferred = key, first, ctxs, preferred
		}
	}
	return nil
}

// kept reads a member of rootKeys.
func (s *objectScan) kept(key string) error {
	var raw json.RawMessage
	if err := s.w.decode(&raw); err != nil {
		return err
	}
	switch key {
	case "type":
		json.Unmarshal(raw, &s.typ)
	case "id":
		json.Unmarshal(raw, &s.id)
	case "name", "author_name":
		pulseText(&s.pulse, key, raw)
	case "tags", "enclaveIds":
		v, err := DecodeValue(raw)
		if err != nil {
			return err
		}
		if key == "tags" {
			s.d.Tags, s.rootTags = v, v
		} else {
			s.d.Enclaves = v
		}
	}
	return nil
}

// finish decides, from all the members, what the root object is.
func (s *objectScan) finish() {
	d := s.d
	if d.Shape == Item {
		d.Tags, d.Enclaves = schemas.Value{}, schemas.Value{}
	}
	switch {
	case s.typ == "bundle":
		d.stix, d.STIXLayout = true, STIXBundle
	case s.typ != "" && strings.HasPrefix(s.id, s.typ+"--"):
		d.stix, d.STIXLayout = true, STIXSingle
	}
	if d.stix || d.Shape == Submission || len(s.itemsPath) > 0 {
		d.Contexts = nil
		return
	}
	switch {
	case s.hasEvent:
		d.Kind = MISP
	case d.Kind == MISP:
		// a "response" of events or attributes
	case s.itemKeys || s.wrapper == "":
		d.Contexts = nil // a single item
	case s.wrapper == "indicators" && !looksPulse(s.wrapperFirst) && (s.pulse.Name != "" || s.id != ""):
		// A single OTX pulse: its indicators, with its name and tags.
		d.Kind = OTX
		s.pulse.Tags = tagList(s.rootTags)
		d.Contexts = []Context{s.pulse}
	case looksPulse(s.wrapperFirst):
		d.Kind, d.Items, d.Contexts = OTX, []string{s.wrapper}, s.wrapperCtxs
	default:
		d.Items = []string{s.wrapper}
		d.Contexts = nil
	}
}

// scanResponse reads the value of a root "response" member: MISP events
// ([{"Event": ...}]) or attributes ({"Attribute": [...]}).
func scanResponse(w *Walker, d *Doc) error {
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('['):
		for w.dec.More() {
			if _, err := w.Object(func(k string) error { return scanEventHolder(w, d, k) }); err != nil {
				return err
			}
		}
		if len(d.Contexts) > 0 {
			d.Kind = MISP
		}
	case json.Delim('{'):
		for w.dec.More() {
			tok, err := w.dec.Token()
			if err != nil {
				return err
			}
			isArray, err := w.Skip()
			if err != nil {
				return err
			}
			if k, _ := tok.(string); k == "Attribute" && isArray {
				d.Kind, d.MISPAttributes = MISP, true
				d.Contexts = []Context{{}}
			}
		}
	default:
		return nil // a scalar: nothing to scan
	}
	_, err = w.dec.Token()
	return err
}

// scanEventHolder reads a member of an element of a MISP events list:
// {"Event": {...}}.
func scanEventHolder(w *Walker, d *Doc, key string) error {
	if key != "Event" {
		_, err := w.Skip()
		return err
	}
	c := Context{}
	isObj, err := w.Object(func(k string) error { return scanEventMember(w, &c, k) })
	if isObj {
		d.Contexts = append(d.Contexts, c)
	}
	return err
}

// scanEventMember reads one member of a MISP event in the first pass: its
// info, tags and creator; its attributes and objects are walked over.
func scanEventMember(w *Walker, c *Context, key string) error {
	switch key {
	case "info", "Tag", "Orgc":
		var raw json.RawMessage
		if err := w.decode(&raw); err != nil {
			return err
		}
		v, err := DecodeValue(raw)
		if err != nil {
			return err
		}
		switch key {
		case "info":
			c.Name = v.Str
		case "Tag":
			c.Tags = tagList(v)
		case "Orgc":
			c.Source = v.Get("name").Str
		}
		return nil
	}
	_, err := w.Skip()
	return err
}

// scanPulseMember reads one member of an OTX pulse in the first pass.
func scanPulseMember(w *Walker, d *Doc, key string) error {
	if key == "indicators" {
		_, err := w.Skip()
		return err
	}
	var raw json.RawMessage
	if err := w.decode(&raw); err != nil {
		return err
	}
	c := &d.Contexts[len(d.Contexts)-1]
	switch key {
	case "name", "author_name":
		pulseText(c, key, raw)
	case "tags":
		if v, err := DecodeValue(raw); err == nil {
			c.Tags = tagList(v)
		}
	}
	return nil
}

// pulseText reads a pulse's "name" or "author_name" member into c.
func pulseText(c *Context, key string, raw []byte) {
	if key == "name" {
		json.Unmarshal(raw, &c.Name)
	} else {
		json.Unmarshal(raw, &c.Source)
	}
}

// looksPulse reports whether an object is an OTX pulse: an "indicators"
// array and a name or id.
func looksPulse(v schemas.Value) bool {
	return v.Get("indicators").Kind == schemas.Array && (v.Get("name").Kind == schemas.String || v.Get("id").Kind != schemas.Missing)
}

func pulseContext(v schemas.Value) Context {
	return Context{Name: v.Get("name").Str, Source: v.Get("author_name").Str, Tags: tagList(v.Get("tags"))}
}

func eventContext(v schemas.Value) Context {
	return Context{Name: v.Get("info").Str, Source: v.Get("Orgc").Get("name").Str, Tags: tagList(v.Get("Tag"))}
}

// tagList reads a list of tags: names, or objects with a name (MISP's
// {"name": "tlp:white"}).
func tagList(v schemas.Value) []formats.Tag {
	var out []formats.Tag
	switch v.Kind {
	case schemas.Array:
		for _, t := range v.Items() {
			switch t.Kind {
			case schemas.String:
				if s := normalize.CleanText(t.Str); s != "" {
					out = append(out, formats.Tag{Name: s})
				}
			case schemas.Object:
				if s := normalize.CleanText(t.Get("name").Str); s != "" {
					out = append(out, formats.Tag{Name: s})
				}
			}
		}
	case schemas.String:
		out = formats.Tags(v)
	}
	return out
}
