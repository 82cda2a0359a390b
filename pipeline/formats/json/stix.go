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
	"strconv"
	"strings"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/formats/stix/stixpattern"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/pipeline/normalize"
	"github.com/iocpipe/iocpipe/schemas"
)

// STIX input. A bundle, a bare array of STIX objects, a single object or
// JSON Lines of objects is read in two streamed passes, never whole:
//
//  1. the index pass keeps what later objects may need from earlier ones
//     and the other way round — identity names (created_by_ref),
//     sightings per indicator, and relationships;
//  2. the emit pass turns each object into a row: indicators through the
//     pattern parser, observables (SCOs) and observed-data directly, and
//     everything else into a skipped row with its reason.
//
// Relationships between objects that became indicators become
// associations, resolved after the emit pass.

// stixShape is how the objects are laid out in the file.
type stixShape int

const (
	stixBundle stixShape = iota
	stixArray
	stixSingle
	stixLines
)

// observableTypes maps SCO types to the type hint of their value.
var observableTypes = map[string]ioc.Type{
	"ipv4-addr": ioc.IP, "ipv6-addr": ioc.IPv6, "domain-name": ioc.Domain, "url": ioc.URL, "email-addr": ioc.Email,
}

// hashTypes maps STIX hash algorithm names (any case, with or without
// '-') to types.
var hashTypes = map[string]ioc.Type{"md5": ioc.MD5, "sha1": ioc.SHA1, "sha256": ioc.SHA256, "sha512": ioc.SHA512}

// patternKinds maps the pattern parser's kinds to type hints.
var patternKinds = map[stixpattern.Kind]ioc.Type{
	stixpattern.IPv4: ioc.IP, stixpattern.IPv6: ioc.IPv6, stixpattern.Domain: ioc.Domain, stixpattern.URL: ioc.URL,
	stixpattern.Email: ioc.Email, stixpattern.MD5: ioc.MD5, stixpattern.SHA1: ioc.SHA1, stixpattern.SHA256: ioc.SHA256,
	stixpattern.SHA512: ioc.SHA512,
}

// indicatorLike are the object types that can become indicators, and so
// be an end of an association.
func indicatorLike(typ string) bool {
	_, obs := observableTypes[typ]
	return obs || typ == "indicator" || typ == "file" || typ == "observed-data"
}

type sightAgg struct {
	count       int64
	first, last int64
}

type stixRel struct {
	id, src, tgt, kind string
	line, index        int
}

// stixIndex is what the first pass learns.
type stixIndex struct {
	spec       string
	identities map[string]string
	sightings  map[string]*sightAgg
	rels       []stixRel
	// ends are the objects at either end of a relationship between
	// indicator-like objects; the emit pass records what they became.
	ends map[string][]ioc.Endpoint
}

// looksSTIX reports whether a decoded JSON value is a STIX object or
// bundle: a "type" and an "id" of the form type--uuid.
func looksSTIX(raw []byte) bool {
	var head struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	if stdjson.Unmarshal(raw, &head) != nil || head.Type == "" {
		return false
	}
	return head.Type == "bundle" || strings.HasPrefix(head.ID, head.Type+"--")
}

// stixObjects streams the objects of a STIX file, calling fn with each raw
// object, the line it starts on and its index.
func stixObjects(ctx context.Context, r io.Reader, shape stixShape, fn func(raw stdjson.RawMessage, line, index int) error) error {
	if shape == stixLines {
		br := bufio.NewReaderSize(r, 64<<10)
		line, index := 0, 0
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			text, err := formats.ReadLine(br)
			if len(text) == 0 && err == io.EOF {
				return nil
			}
			line++
			if t := bytes.TrimSpace(text); len(t) > 0 {
				if err := fn(t, line, index); err != nil {
					return err
				}
				index++
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
	lt := &lineTracker{r: r}
	dec := stdjson.NewDecoder(lt)
	dec.UseNumber()
	switch shape {
	case stixArray:
		return eachItem(ctx, dec, lt, true, fn)
	case stixSingle:
		return eachItem(ctx, dec, lt, false, fn)
	}
	return eachMemberItem(ctx, dec, lt, "objects", fn)
}

// indexSTIX is the first pass.
func indexSTIX(ctx context.Context, r io.Reader, shape stixShape) (*stixIndex, error) {
	ix := &stixIndex{identities: map[string]string{}, sightings: map[string]*sightAgg{}, ends: map[string][]ioc.Endpoint{}}
	err := stixObjects(ctx, r, shape, func(raw stdjson.RawMessage, line, index int) error {
		var o struct {
			Type          string         `json:"type"`
			ID            string         `json:"id"`
			Name          string         `json:"name"`
			SpecVersion   string         `json:"spec_version"`
			SightingOfRef string         `json:"sighting_of_ref"`
			Count         stdjson.Number `json:"count"`
			FirstSeen     string         `json:"first_seen"`
			LastSeen      string         `json:"last_seen"`
			SourceRef     string         `json:"source_ref"`
			TargetRef     string         `json:"target_ref"`
			Kind          string         `json:"relationship_type"`
		}
		if stdjson.Unmarshal(raw, &o) != nil {
			return nil // the emit pass reports it
		}
		switch o.Type {
		case "identity":
			ix.identities[o.ID] = o.Name
		case "sighting":
			if o.SightingOfRef == "" {
				return nil
			}
			a := ix.sightings[o.SightingOfRef]
			if a == nil {
				a = &sightAgg{}
				ix.sightings[o.SightingOfRef] = a
			}
			n, err := strconv.ParseInt(o.Count.String(), 10, 64)
			if err != nil || o.Count == "" {
				n = 1 // a sighting without a count is one sighting
			}
			a.count += max(n, 0)
			if t, err := normalize.ParseTime(o.FirstSeen); err == nil && t > 0 && (a.first == 0 || t < a.first) {
				a.first = t
			}
			if t, err := normalize.ParseTime(o.LastSeen); err == nil && t > a.last {
				a.last = t
			}
		case "relationship":
			ix.rels = append(ix.rels, stixRel{id: o.ID, src: o.SourceRef, tgt: o.TargetRef, kind: o.Kind, line: line, index: index})
			if indicatorLike(refType(o.SourceRef)) && indicatorLike(refType(o.TargetRef)) {
				ix.ends[o.SourceRef], ix.ends[o.TargetRef] = nil, nil
			}
		case "bundle":
			ix.spec = o.SpecVersion
		}
		return nil
	})
	return ix, err
}

// refType is the object type named by a STIX id.
func refType(id string) string {
	t, _, _ := strings.Cut(id, "--")
	return t
}

// readSTIX reads a STIX file whose first pass (syntax) already succeeded.
func (rd *reader) readSTIX(ctx context.Context, e *emitter, shape stixShape) error {
	rd.level(FormatSTIX, nil, false, nil)
	r, err := rd.src.Rewind()
	if err != nil {
		return err
	}
	ix, err := indexSTIX(ctx, r, shape)
	if err != nil {
		return err
	}
	if r, err = rd.src.Rewind(); err != nil {
		return err
	}
	schema, err := schemas.Load("stix")
	if err != nil {
		return err
	}
	rd.links = len(ix.ends) > 0
	sr := &stixReader{name: rd.src.Name, ix: ix, schema: schema}
	err = stixObjects(ctx, r, shape, func(raw stdjson.RawMessage, line, index int) error {
		o := ioc.Origin{Line: line, Index: -1}
		if shape != stixLines && shape != stixSingle {
			o.Index = index
		}
		return e.emit(sr.row(o, raw))
	})
	if err != nil {
		return err
	}
	rd.assocs = sr.associations()
	return nil
}

// stixReader turns STIX objects into rows in the emit pass.
type stixReader struct {
	name   string
	ix     *stixIndex
	schema *schemas.Schema
}

func (s *stixReader) row(o ioc.Origin, raw stdjson.RawMessage) formats.Row {
	row := formats.Row{Origin: o, Fields: schemas.ObjectValue(nil)}
	var x any
	dec := stdjson.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&x); err != nil {
		return rejectRow(row, "", "", "invalid JSON: "+err.Error())
	}
	obj := schemas.FromAny(x)
	if obj.Kind != schemas.Object {
		return rejectRow(row, "", ioc.Clip(string(raw)), fmt.Sprintf("a JSON %s is not a STIX object", obj.Kind))
	}
	id, typ := obj.Get("id").Str, obj.Get("type").Str
	row.Origin.Ref = id
	if v := s.schema.Validate(obj); v != nil {
		field, value, first, rest := formats.DescribeViolations(obj, v)
		return rejectRow(row, field, value, "invalid STIX "+typ+": "+first+rest)
	}
	if obj.Get("revoked").Str == "true" {
		row.Skip = fmt.Sprintf("STIX %s is revoked", typ)
		return row
	}
	switch {
	case typ == "indicator":
		return s.indicator(row, obj)
	case typ == "file":
		return s.observable(row, obj, s.hashValues(obj.Get("hashes")), "file object without MD5, SHA-1, SHA-256 or SHA-512 hashes")
	case observableTypes[typ] != "":
		v := obj.Get("value").Str
		return s.observable(row, obj, []hinted{{observableTypes[typ], v}}, "")
	case typ == "observed-data":
		return s.observedData(row, obj)
	case typ == "sighting":
		ref := obj.Get("sighting_of_ref").Str
		row.Skip = fmt.Sprintf("sighting: its count and times are added to %s", ref)
		if !strings.HasPrefix(ref, "indicator--") {
			row.Skip = fmt.Sprintf("sighting of %s, which is not an indicator", ref)
		}
		return row
	case typ == "relationship":
		row.Skip, row.Link = s.relationshipReason(obj)
		return row
	}
	row.Skip = fmt.Sprintf("STIX %s object is not an indicator", typ)
	return row
}

func rejectRow(row formats.Row, field, value, reason string) formats.Row {
	r := ioc.NewReject(row.Origin, field, value, reason)
	row.Reject = &r
	return row
}

// hinted is a value with the type its STIX object says it has.
type hinted struct {
	typ   ioc.Type
	value string
}

func (s *stixReader) hashValues(h schemas.Value) []hinted {
	var out []hinted
	for _, m := range h.Members() {
		if t, ok := hashTypes[normalize.Key(m.Key)]; ok && m.Val.Kind == schemas.String {
			out = append(out, hinted{t, m.Val.Str})
		}
	}
	return out
}

// indicator parses the pattern and fills the row from the indicator's
// properties.
func (s *stixReader) indicator(row formats.Row, obj schemas.Value) formats.Row {
	if pt := obj.Get("pattern_type").Str; pt != "" && pt != "stix" {
		row.Skip = fmt.Sprintf("pattern_type %q: only STIX patterns become indicators", pt)
		return row
	}
	pattern := obj.Get("pattern").Str
	obs, err := stixpattern.Parse(pattern)
	if err != nil {
		return rejectRow(row, "pattern", pattern, err.Error())
	}
	values := make([]hinted, 0, len(obs))
	for _, o := range obs {
		values = append(values, hinted{patternKinds[o.Kind], o.Value})
	}
	first := obj.Get("valid_from").Str
	last := obj.Get("valid_until").Str
	if last == "" {
		last = obj.Get("modified").Str
	}
	tags := obj.Get("indicator_types")
	if len(tags.Items()) == 0 {
		tags = obj.Get("labels")
	}
	return s.fill(row, obj, values, first, last, tags, 0)
}

// observable fills a row from an SCO.
func (s *stixReader) observable(row formats.Row, obj schemas.Value, values []hinted, none string) formats.Row {
	if len(values) == 0 {
		row.Skip = none
		return row
	}
	return s.fill(row, obj, values, "", "", obj.Get("labels"), 0)
}

// observedData reads STIX 2.0 embedded objects; 2.1 object_refs point at
// SCOs that are imported on their own.
func (s *stixReader) observedData(row formats.Row, obj schemas.Value) formats.Row {
	var values []hinted
	for _, m := range obj.Get("objects").Members() {
		typ := m.Val.Get("type").Str
		switch {
		case typ == "file":
			values = append(values, s.hashValues(m.Val.Get("hashes"))...)
		case observableTypes[typ] != "":
			if v := m.Val.Get("value").Str; v != "" {
				values = append(values, hinted{observableTypes[typ], v})
			}
		}
	}
	if len(values) == 0 {
		if len(obj.Get("object_refs").Items()) > 0 {
			row.Skip = "observed-data refers to observables (object_refs) that are imported on their own"
		} else {
			row.Skip = "observed-data holds no indicator (ip, domain, url, email or file hash)"
		}
		return row
	}
	var count int64
	if n, err := strconv.ParseInt(obj.Get("number_observed").Str, 10, 64); err == nil {
		count = n
	}
	return s.fill(row, obj, values, obj.Get("first_observed").Str, obj.Get("last_observed").Str, obj.Get("labels"), count)
}

// fill builds the row's canonical fields: values joined with their type
// hints, times widened by the object's sightings, notes, own tags and the
// creator as source.
func (s *stixReader) fill(row formats.Row, obj schemas.Value, values []hinted, first, last string, tags schemas.Value, count int64) formats.Row {
	id := row.Origin.Ref
	var b strings.Builder
	for i, v := range values {
		if i > 0 {
			b.WriteString(formats.MultiSep)
		}
		b.WriteString(string(v.typ) + formats.TypeHintSep + v.value)
	}
	members := []schemas.Member{{Key: formats.FieldValue, Val: schemas.StringValue(b.String())}}
	firstMS, err1 := normalize.ParseTime(first)
	lastMS, err2 := normalize.ParseTime(last)
	if err := errors.Join(err1, err2); err != nil {
		field := "valid_from"
		if err1 == nil {
			field = "valid_until"
		}
		return rejectRow(row, field, first+" "+last, err.Error())
	}
	if a := s.ix.sightings[id]; a != nil {
		count += a.count
		if a.first > 0 && (firstMS == 0 || a.first < firstMS) {
			firstMS = a.first
		}
		if a.last > lastMS {
			lastMS = a.last
		}
	}
	if firstMS > 0 && lastMS > 0 && lastMS < firstMS {
		// valid_until (or modified) before valid_from: keep the start.
		lastMS = 0
	}
	num := func(n int64) schemas.Value { return schemas.Value{Kind: schemas.Number, Str: strconv.FormatInt(n, 10)} }
	if firstMS > 0 {
		members = append(members, schemas.Member{Key: formats.FieldFirstSeen, Val: num(firstMS)})
	}
	if lastMS > 0 {
		members = append(members, schemas.Member{Key: formats.FieldLastSeen, Val: num(lastMS)})
	}
	if count > 0 {
		members = append(members, schemas.Member{Key: formats.FieldSightings, Val: num(count)})
	}
	notes := obj.Get("name").Str
	if d := obj.Get("description").Str; d != "" {
		if notes != "" {
			notes += ": "
		}
		notes += d
	}
	if notes = normalize.CleanText(notes); notes != "" {
		if len(notes) > 4000 {
			notes = ioc.Clip(notes[:4000])
		}
		members = append(members, schemas.Member{Key: formats.FieldNotes, Val: schemas.StringValue(notes)})
	}
	if len(tags.Items()) > 0 {
		members = append(members, schemas.Member{Key: formats.FieldTags, Val: tags})
	}
	if name := s.ix.identities[obj.Get("created_by_ref").Str]; name != "" {
		members = append(members, schemas.Member{Key: formats.FieldSource, Val: schemas.StringValue(name)})
	}
	row.Fields = schemas.ObjectValue(members)
	if _, ok := s.ix.ends[id]; ok {
		var ends []ioc.Endpoint
		for _, v := range values {
			if t, canon, _, err := normalize.Value(v.typ, normalize.Refang(normalize.CleanText(v.value))); err == nil {
				ends = append(ends, ioc.Endpoint{Type: t, Value: canon})
			}
		}
		s.ix.ends[id] = ends
	}
	return row
}

// relationshipReason says why a relationship is no indicator, and its
// kind when it links two indicators (an association).
func (s *stixReader) relationshipReason(obj schemas.Value) (reason, link string) {
	src, tgt := obj.Get("source_ref").Str, obj.Get("target_ref").Str
	kind := obj.Get("relationship_type").Str
	if !indicatorLike(refType(src)) || !indicatorLike(refType(tgt)) {
		return fmt.Sprintf("relationship %s → %s %s: not between two indicators", refType(src), kind, refType(tgt)), ""
	}
	return fmt.Sprintf("relationship %s: sent as an association", kind), kind
}

// associations resolves the relationships whose ends both became
// indicators. A pair of multi-valued ends links every value of one to
// every value of the other, up to 64 links per relationship.
func (s *stixReader) associations() []*ioc.Association {
	var out []*ioc.Association
	for _, r := range s.ix.rels {
		from, to := s.ix.ends[r.src], s.ix.ends[r.tgt]
		if len(from) == 0 || len(to) == 0 {
			continue
		}
		n := 0
		for _, a := range from {
			for _, b := range to {
				if n == 64 || a == b {
					continue
				}
				n++
				out = append(out, &ioc.Association{
					From: a, To: b, Kind: r.kind,
					Origin: ioc.Origin{File: s.name, Line: r.line, Index: r.index, Ref: r.id, Row: -1},
				})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b *ioc.Association) int { return a.Origin.Index - b.Origin.Index })
	return out
}
