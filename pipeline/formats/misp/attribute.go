package misp

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/formats/json/jsonwalk"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/pipeline/normalize"
	"github.com/iocpipe/iocpipe/schemas"
)

// An attribute is a MISP attribute, as exported by MISP: strings mostly,
// but numbers and booleans where some versions write them.
type attribute struct {
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

// UnmarshalJSON implements json.Unmarshaler.
func (f *flexString) UnmarshalJSON(b []byte) error {
	v, err := jsonwalk.DecodeValue(b)
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
func (rd *reader) attributeRow(o ioc.Origin, raw []byte, c jsonwalk.Context, obj *objectContext) formats.Row {
	row := formats.Row{Origin: o, Fields: schemas.ObjectValue(nil)}
	var a attribute
	if err := json.Unmarshal(raw, &a); err != nil {
		return row.WithReject("", ioc.Clip(string(raw)), "invalid MISP attribute: "+err.Error())
	}
	row.Origin.Ref = a.UUID
	value := string(a.Value)
	row.Fields = schemas.ObjectValue([]schemas.Member{{Key: formats.FieldValue, Val: schemas.StringValue(value)}})
	parts, notes, what, err := a.split()
	if err != nil {
		return row.WithReject(formats.FieldValue, value, err.Error())
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
	members = a.times(members)
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
	return formats.Row{Origin: row.Origin, Fields: schemas.ObjectValue(rd.feed.Inherit(members, c))}
}

// split splits the attribute's value by its (composite) type: the
// indicator parts, each with its type hint; the other parts, as notes;
// and what the first part that is no indicator is.
func (a *attribute) split() (parts, notes []string, what string, err error) {
	value := string(a.Value)
	types := strings.Split(a.Type, "|")
	if a.Type == "malware-sample" {
		types = []string{"filename", "md5"}
	}
	values := []string{value}
	if len(types) > 1 {
		values = strings.SplitN(value, "|", len(types))
		if len(values) != len(types) {
			return nil, nil, "", fmt.Errorf("MISP composite type %q needs %d values separated by '|'", a.Type, len(types))
		}
	}
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
	return parts, notes, what, nil
}

// times adds the attribute's first and last seen and its sightings: a
// sighting of type 0 counts, and the latest one stands in for a last seen
// the attribute lacks.
func (a *attribute) times(members []schemas.Member) []schemas.Member {
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
	return members
}
