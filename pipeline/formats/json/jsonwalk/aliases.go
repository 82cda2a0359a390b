package jsonwalk

import (
	"strings"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/pipeline/normalize"
	"github.com/iocpipe/iocpipe/schemas"
)

// defaultFields maps the members of obj onto the fields not yet done:
// keys through the aliases (one level of nesting too: {"ioc": {"value",
// "type"}}), then, without a value key, keys named after a type ("url",
// "ip_address", "sha256_hash"), and ports into the notes.
func defaultFields(obj schemas.Value, done map[string]bool, out []schemas.Member, sources *[]formats.FieldMapping) []schemas.Member {
	members := obj.Members()
	best := aliasCandidates(members, done)
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
		out = typedValues(members, out, sources)
	}
	if !done[formats.FieldNotes] {
		out = portNotes(members, out, sources)
	}
	return out
}

// A candidate is the member that feeds a field, so far: its path, its
// value and its rank (lower wins).
type candidate struct {
	key  string
	val  schemas.Value
	rank int
}

// aliasCandidates returns, for each field not done, the best-ranked
// member (or member of a member) whose key is an alias of it.
func aliasCandidates(members []schemas.Member, done map[string]bool) map[string]candidate {
	best := map[string]candidate{}
	consider := func(key, path string, v schemas.Value, rank int) {
		field := formats.FieldOfKey(key)
		if field == "" || done[field] || v.Kind == schemas.Null {
			return
		}
		if b, ok := best[field]; ok && rank >= b.rank {
			return
		}
		best[field] = candidate{path, v, rank}
	}
	for _, m := range members {
		key := normalize.Key(m.Key)
		if m.Val.Kind != schemas.Object {
			consider(key, m.Key, m.Val, formats.Rank(key))
			continue
		}
		// {"source": {"name": ...}}: the nested keys come first; the
		// object itself only when none of them says more.
		consider(key, m.Key, m.Val, formats.Rank(key)+30)
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
	return best
}

// typedValues adds the value of an object without a value key: the
// members named after a type ("url", "sha256_hash"), each value with its
// type hint.
func typedValues(members []schemas.Member, out []schemas.Member, sources *[]formats.FieldMapping) []schemas.Member {
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
	return out
}

// portNotes adds the members that are ports to the notes.
func portNotes(members []schemas.Member, out []schemas.Member, sources *[]formats.FieldMapping) []schemas.Member {
	var ports []string
	var from []string
	for _, m := range members {
		if normalize.IsPort(normalize.Key(m.Key)) && (m.Val.Kind == schemas.Number || m.Val.Kind == schemas.String) && strings.TrimSpace(m.Val.Str) != "" {
			ports = append(ports, "port "+strings.TrimSpace(m.Val.Str))
			from = append(from, m.Key)
		}
	}
	if len(ports) == 0 {
		return out
	}
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
	return out
}
