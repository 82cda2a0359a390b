package json

import (
	"bufio"
	"bytes"
	"context"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/pipeline/normalize"
	"github.com/iocpipe/iocpipe/schemas"
)

// jsonShape is what a JSON document holds.
type jsonShape int

const (
	shapeArray      jsonShape = iota // [ item, ... ]
	shapeSubmission                  // {"enclaveIds", "content": [...], "tags"}
	shapeItem                        // a single indicator object
	shapeStream                      // several top-level values: JSONL
)

// jsonKind is what the items of a JSON document are.
type jsonKind int

const (
	kindItems  jsonKind = iota // indicator items: an array, one object, a submission's content, a wrapper's array
	kindPulses                 // AlienVault OTX pulses, each with its indicators[]
	kindMISP                   // MISP events ({"Event"}, {"response": [...]}) or a MISP attribute list
)

// jsonMeta is what the first pass learns about a document.
type jsonMeta struct {
	shape    jsonShape
	tags     schemas.Value // a submission's top-level tags
	enclaves schemas.Value // a submission's enclaveIds
	// stix is set when the document holds STIX objects, with their layout.
	stix      bool
	stixShape stixShape

	// kind is what the items are; items is the path of object keys from
	// the root to their array (a wrapper such as {"data": [...]}, the
	// "response" of MISP), empty when the root holds them.
	kind  jsonKind
	items []string
	// contexts are the pulses or events, in document order: what their
	// indicators inherit.
	contexts []feedContext
	// mispAttributes marks a MISP attribute list ({"response":
	// {"Attribute": [...]}}) rather than events.
	mispAttributes bool
}

// A feedContext is a container of indicators within a file: an OTX pulse
// or a MISP event, with what its indicators inherit.
type feedContext struct {
	name   string        // pulse name, event info
	source string        // pulse author, event creator organisation
	tags   []formats.Tag // pulse tags, event tags
}

// wrapperKeys are the keys under which API responses commonly hold their
// array of records ({"query_status": "ok", "data": [...]}): an object
// that is no item itself holds its items in the first of these that is an
// array of objects, else in its first array of objects.
var wrapperKeys = []string{"data", "results", "items", "iocs", "indicators", "records", "entries", "observables"}

// rootKeys are the members of a root object the first pass keeps: STIX
// type and id, a pulse's name and author, a submission's tags and
// enclaves.
var rootKeys = []string{"type", "id", "name", "author_name", "tags", "enclaveIds"}

// walk reads a JSON document in two streamed passes: the first checks
// that the whole document parses (nothing of a broken file is sent) and
// collects the file-level tags and enclaves, wherever they stand, and the
// tags of each OTX pulse or MISP event; the second emits the items. JSONL
// goes line by line instead.
func (rd *reader) walk(ctx context.Context, e *emitter) error {
	m := newJSONMapper(rd.opts)
	br := rd.src.R
	if rd.format == FormatJSONL {
		if first, _ := br.Peek(4096); looksSTIX(firstLine(first)) {
			return rd.readSTIX(ctx, e, stixLines)
		}
		rd.level(FormatJSONL, nil, false, nil)
		return readJSONL(ctx, e, br, m)
	}
	lt := &lineTracker{r: br}
	meta, err := scanJSONRoute(lt, rd.opts)
	var le *layoutError
	if errors.As(err, &le) {
		return &formats.FileError{File: rd.src.Name, Err: fmt.Errorf("nothing of the file was sent: %w", err)}
	}
	if err != nil {
		var se *stdjson.SyntaxError
		line := 0
		if errors.As(err, &se) {
			line = lt.lineAt(se.Offset)
		}
		return &formats.FileError{File: rd.src.Name, Line: line, Err: fmt.Errorf("invalid JSON, so nothing of the file was sent: %w", err)}
	}
	if meta.stix || rd.format == FormatSTIX {
		return rd.readSTIX(ctx, e, meta.stixShape)
	}
	second, err := rd.src.Rewind()
	if err != nil {
		return err
	}
	if meta.shape == shapeStream {
		rd.level(FormatJSONL, nil, false, nil)
		return readJSONL(ctx, e, second, m)
	}
	switch meta.kind {
	case kindPulses, kindMISP:
		fr := &feedReader{ctx: ctx, e: e, m: m, meta: &meta}
		fr.setFileLevel(rd)
		lt = &lineTracker{r: second}
		dec := stdjson.NewDecoder(lt)
		dec.UseNumber()
		w := &jsonWalk{ctx: ctx, dec: dec, lt: lt}
		if meta.kind == kindPulses {
			return fr.pulses(w)
		}
		return fr.misp(w)
	}
	var tags []formats.Tag
	if meta.tags.Kind != schemas.Missing {
		tags = formats.Tags(meta.tags)
	}
	rd.level(FormatJSON, tags, meta.tags.Kind != schemas.Missing, formats.List(meta.enclaves))
	lt = &lineTracker{r: second}
	dec := stdjson.NewDecoder(lt)
	dec.UseNumber()
	if len(meta.items) > 0 {
		w := &jsonWalk{ctx: ctx, dec: dec, lt: lt}
		return w.at(meta.items, func() error { return emitItems(ctx, dec, lt, e, true, m) })
	}
	switch meta.shape {
	case shapeItem:
		return emitItems(ctx, dec, lt, e, false, m)
	case shapeArray:
		return emitItems(ctx, dec, lt, e, true, m)
	}
	// A submission: emit the items of its "content".
	return eachMemberItem(ctx, dec, lt, "content", func(raw stdjson.RawMessage, line, index int) error {
		return e.emit(m.itemRow(ioc.Origin{Line: line, Index: index}, raw))
	})
}

// emitItems emits an array's items (or one item) from dec.
func emitItems(ctx context.Context, dec *stdjson.Decoder, lt *lineTracker, e *emitter, array bool, m *jsonMapper) error {
	return eachItem(ctx, dec, lt, array, func(raw stdjson.RawMessage, line, index int) error {
		o := ioc.Origin{Line: line, Index: -1}
		if array {
			o.Index = index
		}
		return e.emit(m.itemRow(o, raw))
	})
}

// eachItem streams the items of the array dec is at (or, with array
// false, the one value), calling fn with each raw item, the line it
// starts on and its index. Only one item is held at a time.
func eachItem(ctx context.Context, dec *stdjson.Decoder, lt *lineTracker, array bool, fn func(raw stdjson.RawMessage, line, index int) error) error {
	if array {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if tok != stdjson.Delim('[') {
			return errNotArray{tok}
		}
	}
	for i := 0; !array && i == 0 || array && dec.More(); i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		var raw stdjson.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		if err := fn(raw, lt.lineAt(dec.InputOffset()-int64(len(raw))), i); err != nil {
			return err
		}
	}
	if array {
		_, err := dec.Token()
		return err
	}
	return nil
}

// errNotArray says eachItem found something else than an array.
type errNotArray struct{ tok stdjson.Token }

func (e errNotArray) Error() string {
	return fmt.Sprintf("expected an array of items, found %v", e.tok)
}

// eachMemberItem walks the object dec is at and streams, with eachItem,
// the items of the array under key; other members are skipped.
func eachMemberItem(ctx context.Context, dec *stdjson.Decoder, lt *lineTracker, key string, fn func(raw stdjson.RawMessage, line, index int) error) error {
	if _, err := dec.Token(); err != nil {
		return err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if k, _ := tok.(string); k == key {
			if err := eachItem(ctx, dec, lt, true, fn); err != nil {
				if na, ok := err.(errNotArray); ok {
					return fmt.Errorf("%q must be an array, found %v", key, na.tok)
				}
				return err
			}
			continue
		}
		if _, err := skipValue(dec); err != nil {
			return err
		}
	}
	return nil
}

// decodeValue decodes raw JSON into a Value, numbers kept as written.
func decodeValue(raw []byte) (schemas.Value, error) {
	var x any
	dec := stdjson.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&x); err != nil {
		return schemas.Value{}, err
	}
	return schemas.FromAny(x), nil
}

// itemRow maps one JSON item onto a row: an object's keys through the
// route's json_fields and the key aliases, or a bare string as the value.
func (m *jsonMapper) itemRow(o ioc.Origin, raw []byte) formats.Row {
	row := formats.Row{Origin: o, Fields: schemas.ObjectValue(nil)}
	v, err := decodeValue(raw)
	if err != nil {
		return formats.RejectRow(o, ioc.Clip(string(raw)), "invalid JSON: "+err.Error())
	}
	switch v.Kind {
	case schemas.String:
		row.Fields = schemas.ObjectValue([]schemas.Member{{Key: formats.FieldValue, Val: v}})
	case schemas.Object:
		row.Fields = m.fields(v, nil)
	default:
		return formats.RejectRow(o, ioc.Clip(string(raw)), fmt.Sprintf("a JSON %s is not an indicator: items must be objects or strings", v.Kind))
	}
	return row
}

// A jsonMapper maps JSON items onto canonical fields: the route's
// json_fields paths first, then the key aliases for the fields they leave
// out.
type jsonMapper struct {
	paths map[string][][]string
}

func newJSONMapper(r formats.Options) *jsonMapper {
	m := &jsonMapper{}
	for field, paths := range r.JSONFields {
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

// fields maps an object's members onto canonical fields; of several keys
// for one field, the best-ranked wins. Numbers and booleans of scalar
// fields keep their kind, so the schema sees what the file said; a null
// is no value. With sources, it records which keys fed which field.
func (m *jsonMapper) fields(obj schemas.Value, sources *[]formats.FieldMapping) schemas.Value {
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

// defaultFields maps the members of obj onto the fields not yet done:
// keys through the aliases (one level of nesting too: {"ioc": {"value",
// "type"}}), then, without a value key, keys named after a type ("url",
// "ip_address", "sha256_hash"), and ports into the notes.
func defaultFields(obj schemas.Value, done map[string]bool, out []schemas.Member, sources *[]formats.FieldMapping) []schemas.Member {
	type cand struct {
		key  string
		val  schemas.Value
		rank int
	}
	best := map[string]cand{}
	consider := func(key, path string, v schemas.Value, rank int) {
		field := formats.FieldOfKey(key)
		if field == "" || done[field] || v.Kind == schemas.Null {
			return
		}
		if b, ok := best[field]; ok && rank >= b.rank {
			return
		}
		best[field] = cand{path, v, rank}
	}
	members := obj.Members()
	for _, m := range members {
		key := normalize.Key(m.Key)
		if m.Val.Kind == schemas.Object {
			// {"source": {"name": ...}}: the nested keys come first; the
			// object itself only when none of them says more.
			consider(key, m.Key, m.Val, formats.Rank(key)+30)
		} else {
			consider(key, m.Key, m.Val, formats.Rank(key))
		}
		if m.Val.Kind == schemas.Object {
			for _, c := range m.Val.Members() {
				ck := normalize.Key(c.Key)
				path := m.Key + "." + c.Key
				if formats.FieldOfKey(key+ck) != "" {
					consider(key+ck, path, c.Val, formats.Rank(key+ck)+10)
				} else {
					consider(ck, path, c.Val, formats.Rank(ck)+20)
				}
			}
		}
	}
	for _, field := range formats.Fields {
		b, ok := best[field]
		if !ok {
			continue
		}
		if field == formats.FieldNotes && b.val.Kind == schemas.String && normalize.CleanText(b.val.Str) == "" {
			continue // an empty description leaves room for the ports and the context
		}
		out = append(out, schemas.Member{Key: field, Val: b.val})
		if sources != nil {
			*sources = append(*sources, formats.FieldMapping{Field: field, From: []string{b.key}})
		}
	}
	if _, ok := best[formats.FieldValue]; !ok && !done[formats.FieldValue] {
		var leaves []schemas.Value
		var hints []ioc.Type
		var from []string
		for _, m := range members {
			t, ok := normalize.ColumnType(m.Key)
			if !ok || m.Val.Kind != schemas.String && m.Val.Kind != schemas.Array {
				continue
			}
			for _, v := range collect(m.Val, nil) {
				if v.Kind == schemas.String && strings.TrimSpace(v.Str) != "" {
					leaves, hints = append(leaves, v), append(hints, t)
				}
			}
			from = append(from, m.Key)
		}
		if v, ok := combine(formats.FieldValue, leaves, hints); ok {
			out = append(out, schemas.Member{Key: formats.FieldValue, Val: v})
			if sources != nil {
				*sources = append(*sources, formats.FieldMapping{Field: formats.FieldValue, From: from})
			}
		}
	}
	if !done[formats.FieldNotes] {
		var ports []string
		var from []string
		for _, m := range members {
			if normalize.IsPort(normalize.Key(m.Key)) && (m.Val.Kind == schemas.Number || m.Val.Kind == schemas.String) && strings.TrimSpace(m.Val.Str) != "" {
				ports = append(ports, "port "+strings.TrimSpace(m.Val.Str))
				from = append(from, m.Key)
			}
		}
		if len(ports) > 0 {
			notes := strings.Join(ports, "; ")
			found := false
			for i := range out {
				if out[i].Key == formats.FieldNotes && out[i].Val.Kind == schemas.String {
					out[i].Val = schemas.StringValue(normalize.JoinNotes(normalize.CleanText(out[i].Val.Str), notes))
					found = true
				}
			}
			if !found {
				out = append(out, schemas.Member{Key: formats.FieldNotes, Val: schemas.StringValue(notes)})
			}
			if sources != nil {
				*sources = append(*sources, formats.FieldMapping{Field: formats.FieldNotes, From: from})
			}
		}
	}
	return out
}

// scanJSONRoute is the first pass: it reads the whole document, checking
// its syntax, and returns its shape and top-level metadata: STIX, a
// TruSTAR submission, OTX pulses, MISP events, a wrapper object holding
// the items (or the route's json_fields items path), or plain items.
// Large arrays are walked element by element, never held whole.
func scanJSONRoute(r io.Reader, route formats.Options) (jsonMeta, error) {
	var meta jsonMeta
	dec := stdjson.NewDecoder(r)
	dec.UseNumber()
	w := &jsonWalk{dec: dec}
	var itemsPath []string
	if p := route.JSONFields[formats.JSONItems]; len(p) > 0 && p[0] != "" {
		itemsPath = strings.Split(p[0], ".")
	}
	tok, err := dec.Token()
	if err == io.EOF {
		return meta, errors.New("empty JSON document")
	}
	if err != nil {
		return meta, err
	}
	switch tok {
	case stdjson.Delim('['):
		meta.shape = shapeArray
		if err := scanArray(w, &meta, len(itemsPath) == 0); err != nil {
			return meta, err
		}
	case stdjson.Delim('{'):
		meta.shape = shapeItem
		if err := scanObject(w, &meta, itemsPath); err != nil {
			return meta, err
		}
		if len(itemsPath) > 0 && len(meta.items) == 0 && !meta.stix && meta.shape != shapeSubmission {
			return meta, &layoutError{fmt.Sprintf("the route's json_fields items path %q leads to no array in this document", strings.Join(itemsPath, "."))}
		}
	default:
		return meta, fmt.Errorf("a JSON document must be an array or an object, not %v", tok)
	}
	// Another value after the first: the file is JSON Lines.
	if _, err := dec.Token(); err != io.EOF {
		if err != nil {
			return meta, err
		}
		meta.shape = shapeStream
		meta.kind, meta.items, meta.contexts = kindItems, nil, nil
		if meta.stix {
			meta.stixShape = stixLines
		}
		for {
			var skip stdjson.RawMessage
			err := dec.Decode(&skip)
			if err == io.EOF {
				break
			}
			if err != nil {
				// A bad line is a row reject in JSONL, not a file error.
				break
			}
		}
	}
	return meta, nil
}

// scanArray reads a root array whose '[' was read: STIX objects, OTX
// pulses, MISP events ([{"Event": ...}]) or items, told by the first
// element.
func scanArray(w *jsonWalk, meta *jsonMeta, feeds bool) error {
	for i := 0; w.dec.More(); i++ {
		if i > 0 && meta.kind != kindItems {
			var err error
			if meta.kind == kindPulses {
				meta.contexts = append(meta.contexts, feedContext{})
				_, err = w.object(func(key string) error { return scanPulseMember(w, meta, key) })
			} else {
				_, err = w.object(func(key string) error { return scanEventHolder(w, meta, key) })
			}
			if err != nil {
				return err
			}
			continue
		}
		var skip stdjson.RawMessage
		if err := w.dec.Decode(&skip); err != nil {
			return err
		}
		if i > 0 {
			continue
		}
		if looksSTIX(skip) {
			meta.stix, meta.stixShape = true, stixArray
			continue
		}
		if !feeds {
			continue
		}
		switch v, err := decodeValue(skip); {
		case err != nil:
		case looksPulse(v):
			meta.kind = kindPulses
			meta.contexts = append(meta.contexts, pulseContext(v))
		case v.Get("Event").Kind == schemas.Object:
			meta.kind = kindMISP
			meta.contexts = append(meta.contexts, eventContext(v.Get("Event")))
		}
	}
	_, err := w.dec.Token()
	return err
}

// scanObject reads a root object whose '{' was read.
func scanObject(w *jsonWalk, meta *jsonMeta, itemsPath []string) error {
	dec := w.dec
	var typ, id string
	var rootTags schemas.Value
	var pulse feedContext
	hasEvent, itemKeys := false, false
	wrapper, wrapperPreferred := "", false
	var wrapperFirst schemas.Value
	var wrapperCtxs []feedContext
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		switch {
		case len(itemsPath) > 0 && key == itemsPath[0]:
			found, err := w.pathArray(itemsPath[1:])
			if err != nil {
				return err
			}
			if found {
				meta.items = itemsPath
			}
			continue
		case key == "content" || key == "objects":
			// Possibly huge (a 500 MB bundle is one "objects" array):
			// walk it item by item instead of holding it.
			isArray, err := skipValue(dec)
			if err != nil {
				return err
			}
			if key == "content" && isArray {
				meta.shape = shapeSubmission
			}
			continue
		case key == "Event" && len(itemsPath) == 0:
			ctx := feedContext{}
			isObj, err := w.object(func(k string) error { return scanEventMember(w, &ctx, k) })
			if err != nil {
				return err
			}
			if isObj {
				hasEvent = true
				meta.contexts = append(meta.contexts, ctx)
			}
			continue
		case key == "response" && len(itemsPath) == 0:
			if err := scanResponse(w, meta); err != nil {
				return err
			}
			continue
		case !slices.Contains(rootKeys, key):
			// Any other member: an array is walked element by element
			// (its first element decoded, and every pulse), never held.
			var ctxs []feedContext
			pulses := false
			first, isArray, err := w.firstOfArray(func(i int, v schemas.Value) bool {
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
				itemKeys = true
			case isArray && first.Kind == schemas.Object && len(itemsPath) == 0:
				if preferred := slices.Contains(wrapperKeys, key); wrapper == "" || preferred && !wrapperPreferred {
					wrapper, wrapperFirst, wrapperCtxs, wrapperPreferred = key, first, ctxs, preferred
				}
			}
			continue
		}
		var raw stdjson.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		switch key {
		case "type":
			stdjson.Unmarshal(raw, &typ)
		case "id":
			stdjson.Unmarshal(raw, &id)
		case "name":
			stdjson.Unmarshal(raw, &pulse.name)
		case "author_name":
			stdjson.Unmarshal(raw, &pulse.source)
		case "tags", "enclaveIds":
			v, err := decodeValue(raw)
			if err != nil {
				return err
			}
			if key == "tags" {
				meta.tags, rootTags = v, v
			} else {
				meta.enclaves = v
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	if meta.shape == shapeItem {
		meta.tags, meta.enclaves = schemas.Value{}, schemas.Value{}
	}
	switch {
	case typ == "bundle":
		meta.stix, meta.stixShape = true, stixBundle
	case typ != "" && strings.HasPrefix(id, typ+"--"):
		meta.stix, meta.stixShape = true, stixSingle
	}
	if meta.stix || meta.shape == shapeSubmission || len(itemsPath) > 0 {
		meta.contexts = nil
		return nil
	}
	switch {
	case hasEvent:
		meta.kind = kindMISP
	case meta.kind == kindMISP:
		// a "response" of events or attributes
	case itemKeys || wrapper == "":
		meta.contexts = nil // a single item
	case wrapper == "indicators" && !looksPulse(wrapperFirst) && (pulse.name != "" || id != ""):
		// A single OTX pulse: its indicators, with its name and tags.
		meta.kind = kindPulses
		pulse.tags = tagList(rootTags)
		meta.contexts = []feedContext{pulse}
	case looksPulse(wrapperFirst):
		meta.kind, meta.items, meta.contexts = kindPulses, []string{wrapper}, wrapperCtxs
	default:
		meta.items = []string{wrapper}
		meta.contexts = nil
	}
	return nil
}

// scanResponse reads the value of a root "response" member: MISP events
// ([{"Event": ...}]) or attributes ({"Attribute": [...]}).
func scanResponse(w *jsonWalk, meta *jsonMeta) error {
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case stdjson.Delim('['):
		for w.dec.More() {
			if _, err := w.object(func(k string) error { return scanEventHolder(w, meta, k) }); err != nil {
				return err
			}
		}
		if len(meta.contexts) > 0 {
			meta.kind = kindMISP
		}
	case stdjson.Delim('{'):
		for w.dec.More() {
			tok, err := w.dec.Token()
			if err != nil {
				return err
			}
			isArray, err := skipValue(w.dec)
			if err != nil {
				return err
			}
			if k, _ := tok.(string); k == "Attribute" && isArray {
				meta.kind, meta.mispAttributes = kindMISP, true
				meta.contexts = []feedContext{{}}
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
func scanEventHolder(w *jsonWalk, meta *jsonMeta, key string) error {
	if key != "Event" {
		_, err := skipValue(w.dec)
		return err
	}
	ctx := feedContext{}
	isObj, err := w.object(func(k string) error { return scanEventMember(w, &ctx, k) })
	if isObj {
		meta.contexts = append(meta.contexts, ctx)
	}
	return err
}

// scanEventMember reads one member of a MISP event in the first pass: its
// info, tags and creator; its attributes and objects are walked over.
func scanEventMember(w *jsonWalk, ctx *feedContext, key string) error {
	switch key {
	case "info", "Tag", "Orgc":
		var raw stdjson.RawMessage
		if err := w.dec.Decode(&raw); err != nil {
			return err
		}
		v, err := decodeValue(raw)
		if err != nil {
			return err
		}
		switch key {
		case "info":
			ctx.name = v.Str
		case "Tag":
			ctx.tags = tagList(v)
		case "Orgc":
			ctx.source = v.Get("name").Str
		}
		return nil
	}
	_, err := skipValue(w.dec)
	return err
}

// scanPulseMember reads one member of an OTX pulse in the first pass.
func scanPulseMember(w *jsonWalk, meta *jsonMeta, key string) error {
	if key == "indicators" {
		_, err := skipValue(w.dec)
		return err
	}
	var raw stdjson.RawMessage
	if err := w.dec.Decode(&raw); err != nil {
		return err
	}
	ctx := &meta.contexts[len(meta.contexts)-1]
	switch key {
	case "name":
		stdjson.Unmarshal(raw, &ctx.name)
	case "author_name":
		stdjson.Unmarshal(raw, &ctx.source)
	case "tags":
		if v, err := decodeValue(raw); err == nil {
			ctx.tags = tagList(v)
		}
	}
	return nil
}

// looksPulse reports whether an object is an OTX pulse: an "indicators"
// array and a name or id.
func looksPulse(v schemas.Value) bool {
	return v.Get("indicators").Kind == schemas.Array && (v.Get("name").Kind == schemas.String || v.Get("id").Kind != schemas.Missing)
}

func pulseContext(v schemas.Value) feedContext {
	return feedContext{name: v.Get("name").Str, source: v.Get("author_name").Str, tags: tagList(v.Get("tags"))}
}

func eventContext(v schemas.Value) feedContext {
	return feedContext{name: v.Get("info").Str, source: v.Get("Orgc").Get("name").Str, tags: tagList(v.Get("Tag"))}
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

// skipValue reads the next value from dec without holding it whole: an
// array or object member by member. It reports whether it was an array.
func skipValue(dec *stdjson.Decoder) (bool, error) {
	tok, err := dec.Token()
	if err != nil {
		return false, err
	}
	delim, ok := tok.(stdjson.Delim)
	if !ok || delim == ']' || delim == '}' {
		return false, nil
	}
	for dec.More() {
		if delim == '{' {
			if _, err := dec.Token(); err != nil {
				return false, err
			}
		}
		var raw stdjson.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return false, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return false, err
	}
	return delim == '[', nil
}

// A layoutError is a document that parses but does not have the layout
// the route says it has.
type layoutError struct{ msg string }

func (e *layoutError) Error() string { return e.msg }

// A jsonWalk walks a document token by token, descending only into what
// the reader asks for, so that no large value is ever held whole.
type jsonWalk struct {
	ctx  context.Context
	dec  *stdjson.Decoder
	lt   *lineTracker
	base int // lines before the walked text, for a walk over a part of the file
	// found, for Describe, receives the item a walk stops at.
	found *stdjson.RawMessage
}

// object reads the object that comes next, calling fn with each key; fn
// must read the member's value. A null, another scalar or an array is
// read over and reported as no object.
func (w *jsonWalk) object(fn func(key string) error) (bool, error) {
	tok, err := w.dec.Token()
	if err != nil {
		return false, err
	}
	switch tok {
	case stdjson.Delim('{'):
	case stdjson.Delim('['):
		for w.dec.More() {
			if _, err := skipValue(w.dec); err != nil {
				return false, err
			}
		}
		_, err := w.dec.Token()
		return false, err
	default:
		return false, nil
	}
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return true, err
		}
		key, _ := tok.(string)
		if err := fn(key); err != nil {
			return true, err
		}
	}
	_, err = w.dec.Token()
	return true, err
}

// elements reads the array that comes next, calling fn for each element;
// fn must read it. A null or a scalar is read and counts as no elements.
func (w *jsonWalk) elements(fn func(i int) error) error {
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case stdjson.Delim('['):
	case stdjson.Delim('{'):
		for w.dec.More() {
			if _, err := w.dec.Token(); err != nil {
				return err
			}
			if _, err := skipValue(w.dec); err != nil {
				return err
			}
		}
		_, err := w.dec.Token()
		return err
	default:
		return nil
	}
	for i := 0; w.dec.More(); i++ {
		if w.ctx != nil {
			if err := w.ctx.Err(); err != nil {
				return err
			}
		}
		if err := fn(i); err != nil {
			return err
		}
	}
	_, err = w.dec.Token()
	return err
}

// raw reads the next value whole, with the line it starts on.
func (w *jsonWalk) raw() (stdjson.RawMessage, int, error) {
	var raw stdjson.RawMessage
	if err := w.dec.Decode(&raw); err != nil {
		return nil, 0, err
	}
	line := 0
	if w.lt != nil {
		line = w.base + w.lt.lineAt(w.dec.InputOffset()-int64(len(raw)))
	}
	return raw, line, nil
}

// firstOfArray reads the value that comes next; when it is an array, it
// returns its first element decoded, and reports that it was one. Each
// element is decoded and passed to each as long as each asks for more.
func (w *jsonWalk) firstOfArray(each func(i int, v schemas.Value) bool) (schemas.Value, bool, error) {
	tok, err := w.dec.Token()
	if err != nil {
		return schemas.Value{}, false, err
	}
	switch tok {
	case stdjson.Delim('['):
	case stdjson.Delim('{'):
		for w.dec.More() {
			if _, err := w.dec.Token(); err != nil {
				return schemas.Value{}, false, err
			}
			if _, err := skipValue(w.dec); err != nil {
				return schemas.Value{}, false, err
			}
		}
		_, err := w.dec.Token()
		return schemas.Value{}, false, err
	default:
		return schemas.Value{}, false, nil
	}
	var first schemas.Value
	more := true
	for i := 0; w.dec.More(); i++ {
		var raw stdjson.RawMessage
		if err := w.dec.Decode(&raw); err != nil {
			return schemas.Value{}, true, err
		}
		if i == 0 || more {
			v, err := decodeValue(raw)
			if err != nil {
				return schemas.Value{}, true, err
			}
			if i == 0 {
				first = v
			}
			more = each(i, v)
		}
	}
	_, err = w.dec.Token()
	return first, true, err
}

// pathArray follows path (object keys) through the value that comes
// next and reads the array it ends at; it reports whether there was one.
func (w *jsonWalk) pathArray(path []string) (bool, error) {
	if len(path) == 0 {
		return skipValue(w.dec)
	}
	found := false
	_, err := w.object(func(k string) error {
		if k == path[0] {
			ok, err := w.pathArray(path[1:])
			found = found || ok
			return err
		}
		_, err := skipValue(w.dec)
		return err
	})
	return found, err
}

// at follows path (object keys) from the root and calls fn where the
// value at its end comes next; fn must read it.
func (w *jsonWalk) at(path []string, fn func() error) error {
	if len(path) == 0 {
		return fn()
	}
	_, err := w.object(func(k string) error {
		if k == path[0] {
			return w.at(path[1:], fn)
		}
		_, err := skipValue(w.dec)
		return err
	})
	return err
}

// firstLine returns the first non-blank line of b.
func firstLine(b []byte) []byte {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if t := bytes.TrimSpace(line); len(t) > 0 {
			return t
		}
	}
	return nil
}

// readJSONL emits one row per non-blank line; a line that does not parse
// is a rejected row, and the rest of the file goes on.
func readJSONL(ctx context.Context, e *emitter, br *bufio.Reader, m *jsonMapper) error {
	line := 0
	var buf []byte
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		chunk, err := br.ReadSlice('\n')
		buf = append(buf[:0], chunk...)
		long := false
		for errors.Is(err, bufio.ErrBufferFull) {
			chunk, err = br.ReadSlice('\n')
			if len(buf) < formats.MaxLine {
				buf = append(buf, chunk...)
			} else {
				long = true
			}
		}
		if len(buf) == 0 && err == io.EOF {
			return nil
		}
		line++
		o := ioc.Origin{Line: line, Index: -1}
		text := bytes.TrimSpace(buf)
		switch {
		case long:
			row := formats.RejectRow(o, ioc.Clip(string(text[:256])), fmt.Sprintf("line longer than %d bytes", formats.MaxLine))
			if err := e.emit(row); err != nil {
				return err
			}
		case len(text) > 0:
			if err := e.emit(m.itemRow(o, text)); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// lineTracker is an io.Reader that remembers where lines end, so a byte
// offset reported by the JSON decoder can be turned into a line number.
// Queries must come in increasing order; newlines below the last query
// are forgotten, so memory stays bounded by the decoder's read-ahead.
type lineTracker struct {
	r     io.Reader
	read  int64
	nl    []int64 // offsets of newlines not yet passed by a query
	lines int     // newlines before the last query
}

func (t *lineTracker) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	for i := 0; i < n; {
		j := bytes.IndexByte(p[i:n], '\n')
		if j < 0 {
			break
		}
		t.nl = append(t.nl, t.read+int64(i+j))
		i += j + 1
	}
	t.read += int64(n)
	return n, err
}

// lineAt returns the 1-based line of byte offset off.
func (t *lineTracker) lineAt(off int64) int {
	k := 0
	for k < len(t.nl) && t.nl[k] < off {
		k++
	}
	t.lines += k
	t.nl = t.nl[k:]
	if len(t.nl) == 0 {
		t.nl = nil
	}
	return t.lines + 1
}
