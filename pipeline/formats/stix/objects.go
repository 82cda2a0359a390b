package stix

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/formats/json/jsonwalk"
	"github.com/iocpipe/iocpipe/pipeline/formats/stix/stixpattern"
	"github.com/iocpipe/iocpipe/pipeline/formats/text"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/pipeline/normalize"
	"github.com/iocpipe/iocpipe/schemas"
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

// An objectReader turns STIX objects into rows in the emit pass.
type objectReader struct {
	name   string
	ix     *index
	schema *schemas.Schema
	opts   formats.Options
}

// row turns one object into a row.
func (s *objectReader) row(o ioc.Origin, raw json.RawMessage) formats.Row {
	row := formats.Row{Origin: o, Fields: schemas.ObjectValue(nil)}
	obj, err := jsonwalk.DecodeValue(raw)
	if err != nil {
		return row.WithReject("", "", "invalid JSON: "+err.Error())
	}
	if obj.Kind != schemas.Object {
		return row.WithReject("", ioc.Clip(string(raw)), fmt.Sprintf("a JSON %s is not a STIX object", obj.Kind))
	}
	id, typ := obj.Get("id").Str, obj.Get("type").Str
	row.Origin.Ref = id
	if v := s.schema.Validate(obj); v != nil {
		field, value, first, rest := formats.DescribeViolations(obj, v)
		return row.WithReject(field, value, "invalid STIX "+typ+": "+first+rest)
	}
	if obj.Get("revoked").Str == "true" {
		row.Skip = fmt.Sprintf("STIX %s is revoked", typ)
		return row
	}
	if indicatorLike(typ) {
		var ml mispLabels
		if ml, obj = splitLabels(obj); ml.skip(&row, s.opts) {
			if p := obj.Get("pattern").Str; p != "" {
				row.Fields = schemas.ObjectValue([]schemas.Member{{Key: formats.FieldValue, Val: schemas.StringValue(p)}})
			}
			return row
		}
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
	return s.described(row, obj, typ)
}

// described reads a STIX object that is no indicator (malware, report,
// campaign, ...): the addresses and file hashes its name and description
// write become its row's indicators, with the object named in the notes
// (vendors list sample hashes and C2 addresses there); an object that
// writes none is skipped.
func (s *objectReader) described(row formats.Row, obj schemas.Value, typ string) formats.Row {
	name, desc := obj.Get("name").Str, obj.Get("description").Str
	var values []hinted
	for _, f := range text.Find(name+"\n"+desc, proseTypes) {
		values = append(values, hinted{f.Type, f.Value})
	}
	if len(values) == 0 {
		row.Skip = fmt.Sprintf("STIX %s object is not an indicator", typ)
		return row
	}
	row = s.fill(row, obj, values, "", "", obj.Get("labels"), 0)
	if row.Reject == nil {
		row.Fields = addNotes(row.Fields, strings.TrimSpace(fmt.Sprintf("written in the description of STIX %s %s", typ, name)))
	}
	return row
}

// proseTypes are the indicator types taken from descriptions: addresses
// and file hashes, which prose cannot be mistaken for.
func proseTypes(t ioc.Type) bool {
	switch t {
	case ioc.IP, ioc.IPv6, ioc.MD5, ioc.SHA1, ioc.SHA256, ioc.SHA512:
		return true
	}
	return false
}

// hinted is a value with the type its STIX object says it has.
type hinted struct {
	typ   ioc.Type
	value string
}

// hashValues returns the hashes of a file object that are indicators.
func (s *objectReader) hashValues(h schemas.Value) []hinted {
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
func (s *objectReader) indicator(row formats.Row, obj schemas.Value) formats.Row {
	if pt := obj.Get("pattern_type").Str; pt != "" && pt != "stix" {
		row.Skip = fmt.Sprintf("pattern_type %q: only STIX patterns become indicators", pt)
		return row
	}
	pattern := obj.Get("pattern").Str
	obs, err := stixpattern.Parse(pattern)
	if err != nil {
		return row.WithReject("pattern", pattern, err.Error())
	}
	values := make([]hinted, 0, len(obs))
	var notes []string
	for _, o := range obs {
		values = append(values, hinted{patternKinds[o.Kind], o.Value})
		if o.Notes != "" && !slices.Contains(notes, o.Notes) {
			notes = append(notes, o.Notes)
		}
	}
	tags := obj.Get("indicator_types")
	if len(tags.Items()) == 0 {
		tags = obj.Get("labels")
	}
	row = s.fill(row, obj, values, obj.Get("valid_from").Str, obj.Get("valid_until").Str, tags, 0)
	if len(notes) > 0 && row.Reject == nil {
		row.Fields = addNotes(row.Fields, strings.Join(notes, "; "))
	}
	return row
}

// observable fills a row from an SCO.
func (s *objectReader) observable(row formats.Row, obj schemas.Value, values []hinted, none string) formats.Row {
	if len(values) == 0 {
		row.Skip = none
		return row
	}
	return s.fill(row, obj, values, "", "", obj.Get("labels"), 0)
}

// observedData reads STIX 2.0 embedded objects; 2.1 object_refs point at
// SCOs that are imported on their own.
func (s *objectReader) observedData(row formats.Row, obj schemas.Value) formats.Row {
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
func (s *objectReader) fill(row formats.Row, obj schemas.Value, values []hinted, first, last string, tags schemas.Value, count int64) formats.Row {
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
		return row.WithReject(field, first+" "+last, err.Error())
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
		// valid_until before valid_from: keep the start.
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
	if notes := notesOf(obj); notes != "" {
		members = append(members, schemas.Member{Key: formats.FieldNotes, Val: schemas.StringValue(notes)})
	}
	if len(tags.Items()) > 0 {
		members = append(members, schemas.Member{Key: formats.FieldTags, Val: tags})
	}
	if name := s.ix.identities[obj.Get("created_by_ref").Str]; name != "" {
		members = append(members, schemas.Member{Key: formats.FieldSource, Val: schemas.StringValue(name)})
	}
	row.Fields = schemas.ObjectValue(members)
	s.became(id, values)
	return row
}

// notesOf returns an object's notes: its name and description, cleaned
// and clipped.
func notesOf(obj schemas.Value) string {
	notes := obj.Get("name").Str
	if d := obj.Get("description").Str; d != "" {
		if notes != "" {
			notes += ": "
		}
		notes += d
	}
	notes = normalize.CleanText(notes)
	if len(notes) > 4000 {
		notes = ioc.Clip(notes[:4000])
	}
	return notes
}

// became records what the object id became, when it is an end of a
// relationship: the indicators of its values.
func (s *objectReader) became(id string, values []hinted) {
	if _, ok := s.ix.ends[id]; !ok {
		return
	}
	var ends []ioc.Endpoint
	for _, v := range values {
		if t, canon, _, err := normalize.Value(v.typ, normalize.Refang(normalize.CleanText(v.value))); err == nil {
			ends = append(ends, ioc.Endpoint{Type: t, Value: canon})
		}
	}
	s.ix.ends[id] = ends
}

// relationshipReason says why a relationship is no indicator, and its
// kind when it links two indicators (an association).
func (s *objectReader) relationshipReason(obj schemas.Value) (reason, link string) {
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
func (s *objectReader) associations() []*ioc.Association {
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
