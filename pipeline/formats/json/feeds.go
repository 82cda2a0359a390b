package json

import (
	"bytes"
	"context"
	stdjson "encoding/json"
	"fmt"
	"strings"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/pipeline/normalize"
	"github.com/iocpipe/iocpipe/schemas"
)

// feedReader emits the indicators of OTX pulses and MISP events. A pulse
// or an event is a context for its indicators: its name (or info) stands
// in for notes an indicator lacks, its author (or creator organisation)
// is the source, and its tags apply to its indicators by the precedence
// rule. One pulse or event in a file is the file level (its tags are the
// file's tags, as a TruSTAR-shaped file's); with several in one file,
// each one's tags become its indicators' own (row-level) tags, since a
// file has one file level only. An indicator's own tags (a MISP
// attribute's) win either way.
type feedReader struct {
	ctx  context.Context
	e    *emitter
	m    *jsonMapper
	meta *jsonMeta
	// rowTags puts the contexts' tags on their rows: several in the file.
	rowTags bool
	// next is the index of the next pulse or event in meta.contexts.
	next int
}

func (fr *feedReader) setFileLevel(rd *reader) {
	format := FormatOTX
	if fr.meta.kind == kindMISP {
		format = FormatMISP
	}
	if len(fr.meta.contexts) == 1 && len(fr.meta.contexts[0].tags) > 0 {
		rd.level(format, fr.meta.contexts[0].tags, true, nil)
		return
	}
	rd.level(format, nil, false, nil)
	fr.rowTags = len(fr.meta.contexts) > 1
}

// context returns the next container's context and moves on.
func (fr *feedReader) context() feedContext {
	var c feedContext
	if fr.next < len(fr.meta.contexts) {
		c = fr.meta.contexts[fr.next]
	}
	fr.next++
	return c
}

// pulses emits the indicators of every pulse.
func (fr *feedReader) pulses(w *jsonWalk) error {
	pulse := func() error {
		ctx := fr.context()
		_, err := w.object(func(key string) error {
			if key != "indicators" {
				_, err := skipValue(w.dec)
				return err
			}
			return w.elements(func(i int) error {
				raw, line, err := w.raw()
				if err != nil {
					return err
				}
				return fr.e.emit(fr.pulseRow(ioc.Origin{Line: line, Index: i}, raw, ctx))
			})
		})
		return err
	}
	each := func() error { return w.elements(func(int) error { return pulse() }) }
	switch {
	case len(fr.meta.items) > 0:
		return w.at(fr.meta.items, each)
	case fr.meta.shape == shapeArray:
		return each()
	}
	return pulse()
}

// pulseRow maps one pulse indicator ({"indicator", "type", "created",
// "description", "observations"}) onto a row, with the pulse's context.
func (fr *feedReader) pulseRow(o ioc.Origin, raw []byte, ctx feedContext) formats.Row {
	v, err := decodeValue(raw)
	if err != nil || v.Kind != schemas.Object {
		return fr.m.itemRow(o, raw)
	}
	row := formats.Row{Origin: o}
	fields := fr.m.fields(v, nil)
	members := fields.Members()
	if a := v.Get("is_active"); a.Kind == schemas.Number && a.Str == "0" {
		row.Skip = "inactive in OTX (is_active is 0)"
	}
	members = fr.inherit(members, ctx)
	row.Fields = schemas.ObjectValue(members)
	return row
}

// inherit adds what a row lacks from its container: notes, source, and
// (with several containers in the file) tags.
func (fr *feedReader) inherit(members []schemas.Member, ctx feedContext) []schemas.Member {
	has := func(key string) bool {
		for _, m := range members {
			if m.Key == key && m.Val.Kind != schemas.Null && !(m.Val.Kind == schemas.String && normalize.CleanText(m.Val.Str) == "") {
				return true
			}
		}
		return false
	}
	if !has(formats.FieldNotes) && ctx.name != "" {
		members = append(members, schemas.Member{Key: formats.FieldNotes, Val: schemas.StringValue(ctx.name)})
	}
	if !has(formats.FieldSource) && ctx.source != "" {
		members = append(members, schemas.Member{Key: formats.FieldSource, Val: schemas.StringValue(ctx.source)})
	}
	if !has(formats.FieldTags) && fr.rowTags && len(ctx.tags) > 0 {
		members = append(members, schemas.Member{Key: formats.FieldTags, Val: tagValues(ctx.tags)})
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

// misp emits the attributes of every event: its own and its objects'.
func (fr *feedReader) misp(w *jsonWalk) error {
	event := func() error {
		i := fr.next
		ctx := feedContext{}
		if i < len(fr.meta.contexts) {
			ctx = fr.meta.contexts[i]
		}
		isObj, err := w.object(func(k string) error {
			switch k {
			case "Attribute":
				return fr.attributes(w, ctx, nil)
			case "Object":
				return w.elements(func(int) error {
					raw, line, err := w.raw()
					if err != nil {
						return err
					}
					return fr.object(raw, line, ctx)
				})
			}
			_, err := skipValue(w.dec)
			return err
		})
		if isObj {
			fr.next++
		}
		return err
	}
	holder := func() error {
		_, err := w.object(func(k string) error {
			if k == "Event" {
				return event()
			}
			_, err := skipValue(w.dec)
			return err
		})
		return err
	}
	switch {
	case fr.meta.mispAttributes:
		return w.at([]string{"response", "Attribute"}, func() error { return fr.attributes(w, feedContext{}, nil) })
	case fr.meta.shape == shapeArray:
		return w.elements(func(int) error { return holder() })
	}
	_, err := w.object(func(k string) error {
		switch k {
		case "Event":
			return event()
		case "response":
			return w.elements(func(int) error { return holder() })
		}
		_, err := skipValue(w.dec)
		return err
	})
	return err
}

// attributes emits the rows of the attribute array that comes next.
func (fr *feedReader) attributes(w *jsonWalk, ctx feedContext, obj *mispObjectContext) error {
	return w.elements(func(i int) error {
		raw, line, err := w.raw()
		if err != nil {
			return err
		}
		return fr.e.emit(fr.attributeRow(ioc.Origin{Line: line, Index: i}, raw, ctx, obj))
	})
}

// A mispObjectContext is what the attributes of a MISP object share: the
// object's name and comment, and its attributes that are no indicator
// (a file object's filename and size), as notes.
type mispObjectContext struct {
	note    string
	deleted bool
}

// object emits the attributes of one MISP object, read whole (objects are
// small), each with the line it starts on.
func (fr *feedReader) object(raw []byte, line int, ctx feedContext) error {
	var o struct {
		Name      string          `json:"name"`
		Comment   string          `json:"comment"`
		Deleted   flexString      `json:"deleted"`
		Attribute []mispAttribute `json:"Attribute"`
	}
	if err := stdjson.Unmarshal(raw, &o); err != nil {
		row := formats.Row{Origin: ioc.Origin{Line: line, Index: -1}, Fields: schemas.ObjectValue(nil)}
		return fr.e.emit(rejectRow(row, "", ioc.Clip(string(raw)), "invalid MISP object: "+err.Error()))
	}
	oc := &mispObjectContext{deleted: o.Deleted.truth(false)}
	var parts []string
	for _, a := range o.Attribute {
		if t, _, _ := mispType(a.Type); t == "" && a.Value != "" {
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
	if c := normalize.CleanText(o.Comment); c != "" {
		oc.note = c + " (" + oc.note + ")"
	}
	lt := &lineTracker{r: bytes.NewReader(raw)}
	dec := stdjson.NewDecoder(lt)
	dec.UseNumber()
	sub := &jsonWalk{ctx: fr.ctx, dec: dec, lt: lt, base: line - 1}
	_, err := sub.object(func(k string) error {
		if k == "Attribute" {
			return fr.attributes(sub, ctx, oc)
		}
		_, err := skipValue(dec)
		return err
	})
	return err
}

// mispAttribute is a MISP attribute, as exported by MISP: strings mostly,
// but numbers and booleans where some versions write them.
type mispAttribute struct {
	Type           string     `json:"type"`
	Value          flexString `json:"value"`
	UUID           string     `json:"uuid"`
	Comment        string     `json:"comment"`
	ToIDS          flexString `json:"to_ids"`
	Deleted        flexString `json:"deleted"`
	Timestamp      flexString `json:"timestamp"`
	FirstSeen      flexString `json:"first_seen"`
	LastSeen       flexString `json:"last_seen"`
	ObjectRelation string     `json:"object_relation"`
	Tag            []struct {
		Name string `json:"name"`
	} `json:"Tag"`
	Sighting []struct {
		Type         flexString `json:"type"`
		DateSighting flexString `json:"date_sighting"`
	} `json:"Sighting"`
}

// flexString reads a JSON string, number, boolean or null as text.
type flexString string

// UnmarshalJSON implements stdjson.Unmarshaler.
func (f *flexString) UnmarshalJSON(b []byte) error {
	v, err := decodeValue(b)
	if err != nil {
		return err
	}
	switch v.Kind {
	case schemas.String, schemas.Number, schemas.Bool:
		*f = flexString(v.Str)
	default:
		*f = ""
	}
	return nil
}

// truth reads a MISP boolean (true, "1", "true"); def when unset.
func (f flexString) truth(def bool) bool {
	switch strings.ToLower(strings.TrimSpace(string(f))) {
	case "":
		return def
	case "1", "true", "yes":
		return true
	}
	return false
}

// mispTypes maps MISP attribute types to iocpipe's; MISP's vocabulary is
// closed, so a type not here (nor an indicator type by name) is skipped.
var mispTypes = map[string]ioc.Type{
	"ip-dst": ioc.IP, "ip-src": ioc.IP, "domain": ioc.Domain, "hostname": ioc.Domain, "url": ioc.URL, "uri": ioc.URL,
	"email": ioc.Email, "email-src": ioc.Email, "email-dst": ioc.Email, "email-reply-to": ioc.Email,
	"md5": ioc.MD5, "sha1": ioc.SHA1, "sha256": ioc.SHA256, "sha512": ioc.SHA512,
	"vulnerability": ioc.CVE, "btc": ioc.Bitcoin, "regkey": ioc.RegistryKey,
}

// mispNot names MISP types that share a name with an indicator type but
// are none.
var mispNot = map[string]string{
	"link": "a reference link", "port": "a port", "text": "free text", "comment": "free text", "other": "free text",
}

// mispType resolves one MISP attribute type: the indicator type, or what
// it is when it is none; port says it is a port.
func mispType(t string) (typ ioc.Type, what string, port bool) {
	t = strings.ToLower(strings.TrimSpace(t))
	if it, ok := mispTypes[t]; ok {
		return it, "", false
	}
	if t == "port" {
		return "", "a port", true
	}
	if w, ok := mispNot[t]; ok {
		return "", w, false
	}
	it, w, ok := normalize.LookupType(t)
	switch {
	case w != "":
		return "", w, false
	case ok && it != "" && it != normalize.FileType && !normalize.IsContext(it):
		return it, "", false
	}
	return "", "a MISP type iocpipe does not send", false
}

// attributeRow maps a MISP attribute onto a row. A composite type
// ("filename|sha256", "ip-dst|port", "domain|ip") yields its indicator
// parts; its other parts (a file name, a port) go to the notes.
func (fr *feedReader) attributeRow(o ioc.Origin, raw []byte, ctx feedContext, obj *mispObjectContext) formats.Row {
	row := formats.Row{Origin: o, Fields: schemas.ObjectValue(nil)}
	var a mispAttribute
	if err := stdjson.Unmarshal(raw, &a); err != nil {
		return rejectRow(row, "", ioc.Clip(string(raw)), "invalid MISP attribute: "+err.Error())
	}
	row.Origin.Ref = a.UUID
	value := string(a.Value)
	row.Fields = schemas.ObjectValue([]schemas.Member{{Key: formats.FieldValue, Val: schemas.StringValue(value)}})
	types := strings.Split(a.Type, "|")
	if a.Type == "malware-sample" {
		types = []string{"filename", "md5"}
	}
	values := []string{value}
	if len(types) > 1 {
		values = strings.SplitN(value, "|", len(types))
		if len(values) != len(types) {
			return rejectRow(row, formats.FieldValue, value, fmt.Sprintf("MISP composite type %q needs %d values separated by '|'", a.Type, len(types)))
		}
	}
	var parts, notes []string
	what := ""
	for i, t := range types {
		it, w, port := mispType(t)
		v := normalize.CleanText(values[i])
		switch {
		case v == "":
		case port:
			notes = append(notes, "port "+v)
		case it != "":
			parts = append(parts, string(it)+formats.TypeHintSep+v)
		default:
			notes = append(notes, t+" "+v)
			if what == "" {
				what = w
			}
		}
	}
	switch {
	case a.Deleted.truth(false) || obj != nil && obj.deleted:
		row.Skip = "deleted in MISP"
		return row
	case len(parts) == 0 && what != "":
		row.Skip = fmt.Sprintf("MISP type %q is %s, not an indicator", a.Type, what)
		return row
	case len(parts) > 0 && !a.ToIDS.truth(true):
		row.Skip = "to_ids is false: MISP marks it as not for detection"
		return row
	}
	members := []schemas.Member{{Key: formats.FieldValue, Val: schemas.StringValue(strings.Join(parts, formats.MultiSep))}}
	first, last := string(a.FirstSeen), string(a.LastSeen)
	if first == "" {
		first = string(a.Timestamp)
	}
	var count int64
	var latest int64
	for _, s := range a.Sighting {
		if t := strings.TrimSpace(string(s.Type)); t != "" && t != "0" {
			continue // a false positive or an expiration, not a sighting
		}
		count++
		if ms, err := normalize.ParseTime(string(s.DateSighting)); err == nil && ms > latest {
			latest = ms
		}
	}
	if first != "" {
		members = append(members, schemas.Member{Key: formats.FieldFirstSeen, Val: schemas.StringValue(first)})
	}
	if last == "" && latest > 0 {
		if ms, err := normalize.ParseTime(first); err == nil && ms <= latest {
			last = fmt.Sprint(latest)
		}
	}
	if last != "" {
		members = append(members, schemas.Member{Key: formats.FieldLastSeen, Val: schemas.StringValue(last)})
	}
	if count > 0 {
		members = append(members, schemas.Member{Key: formats.FieldSightings, Val: schemas.Value{Kind: schemas.Number, Str: fmt.Sprint(count)}})
	}
	note := normalize.CleanText(a.Comment)
	if obj != nil {
		note = normalize.JoinNotes(note, obj.note)
	}
	note = strings.Join(append([]string{note}, notes...), "; ")
	if note = strings.Trim(note, "; "); note != "" {
		members = append(members, schemas.Member{Key: formats.FieldNotes, Val: schemas.StringValue(note)})
	}
	var tags []schemas.Value
	for _, t := range a.Tag {
		if n := normalize.CleanText(t.Name); n != "" {
			tags = append(tags, schemas.StringValue(n))
		}
	}
	if len(tags) > 0 {
		members = append(members, schemas.Member{Key: formats.FieldTags, Val: schemas.ArrayValue(tags)})
	}
	return formats.Row{Origin: row.Origin, Fields: schemas.ObjectValue(fr.inherit(members, ctx))}
}
