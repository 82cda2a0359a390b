package misp

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/formats/json/jsonwalk"
	"github.com/iocpipe/iocpipe/pipeline/formats/misp/misptype"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/pipeline/normalize"
	"github.com/iocpipe/iocpipe/schemas"
)

// An attribute is a MISP attribute, as exported by MISP: strings mostly,
// but numbers and booleans where some versions write them.
type attribute struct {
	Type           string     `json:"type"`
	Category       string     `json:"category"`
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
func (f flexString) truth(def bool) bool { return misptype.Truth(string(f), def) }

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
	parts, notes, what, err := misptype.Split(a.Type, value)
	if err != nil {
		return row.WithReject(formats.FieldValue, value, err.Error())
	}
	if a.Deleted.truth(false) || obj != nil && obj.deleted {
		row.Skip = "deleted in MISP"
		return row
	}
	if reason, key := misptype.Skip(a.Type, a.Category, what, len(parts) > 0, a.ToIDS.truth(true), rd.opts); reason != "" {
		row.Skip, row.SkipKey = reason, key
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
