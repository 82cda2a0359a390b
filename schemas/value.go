package schemas

import (
	"encoding/json"
	"slices"
	"strconv"
)

// Kind is the JSON kind of a Value. The zero Kind is Missing: the property
// is absent.
type Kind uint8

// The kinds of Value.
const (
	Missing Kind = iota
	Null
	Bool
	Number
	String
	Array
	Object
)

var kindNames = [...]string{"missing", "null", "boolean", "number", "string", "array", "object"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[int(k)]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// A Value is a small JSON document model that the fast validator walks
// without reflection: readers build it directly (a CSV field is a String)
// or convert decoded JSON with FromAny. The zero Value is Missing.
//
// A Value is small (32 bytes) because the pipeline holds one per field of
// every row in flight: arrays and objects keep their contents behind one
// pointer.
type Value struct {
	Kind Kind
	// Str holds a String's text, a Number's literal, or "true"/"false".
	Str string
	c   *Compound
}

// A Compound holds the contents of an Array or an Object.
type Compound struct {
	// Items holds an Array's elements.
	Items []Value
	// Members holds an Object's members in document order.
	Members []Member
}

// ArrayValue returns an Array Value of items.
func ArrayValue(items []Value) Value { return Value{Kind: Array, c: &Compound{Items: items}} }

// ObjectValue returns an Object Value of members.
func ObjectValue(members []Member) Value {
	return Value{Kind: Object, c: &Compound{Members: members}}
}

// ObjectIn returns an Object Value whose contents live in c: a caller that
// builds many objects can allocate their Compounds together.
func ObjectIn(c *Compound) Value { return Value{Kind: Object, c: c} }

// Items returns an Array's elements (nil for other kinds).
func (v Value) Items() []Value {
	if v.c == nil || v.Kind != Array {
		return nil
	}
	return v.c.Items
}

// Members returns an Object's members (nil for other kinds).
func (v Value) Members() []Member {
	if v.c == nil || v.Kind != Object {
		return nil
	}
	return v.c.Members
}

// A Member is one key and value of an Object.
type Member struct {
	Key string
	Val Value
}

// StringValue returns a String Value holding s.
func StringValue(s string) Value { return Value{Kind: String, Str: s} }

// Get returns the member of an Object named key, or a Missing Value.
func (v Value) Get(key string) Value {
	if v.c == nil {
		return Value{}
	}
	m := v.c.Members
	for i := range m {
		if m[i].Key == key {
			return m[i].Val
		}
	}
	return Value{}
}

// FromAny converts a value decoded by encoding/json (with UseNumber, or
// float64 numbers) into a Value. Keys of a map come out sorted, so the
// result is deterministic.
func FromAny(x any) Value {
	switch t := x.(type) {
	case nil:
		return Value{Kind: Null}
	case bool:
		if t {
			return Value{Kind: Bool, Str: "true"}
		}
		return Value{Kind: Bool, Str: "false"}
	case json.Number:
		return Value{Kind: Number, Str: t.String()}
	case float64:
		return Value{Kind: Number, Str: strconv.FormatFloat(t, 'g', -1, 64)}
	case int:
		return Value{Kind: Number, Str: strconv.Itoa(t)}
	case int64:
		return Value{Kind: Number, Str: strconv.FormatInt(t, 10)}
	case string:
		return Value{Kind: String, Str: t}
	case []any:
		items := make([]Value, len(t))
		for i, e := range t {
			items[i] = FromAny(e)
		}
		return ArrayValue(items)
	case []string:
		items := make([]Value, len(t))
		for i, e := range t {
			items[i] = StringValue(e)
		}
		return ArrayValue(items)
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		members := make([]Member, len(keys))
		for i, k := range keys {
			members[i] = Member{Key: k, Val: FromAny(t[k])}
		}
		return ObjectValue(members)
	}
	return Value{Kind: Null}
}

// Any converts v back to the generic form encoding/json produces with
// UseNumber (a Missing Value becomes nil). The reference validator takes
// this form.
func (v Value) Any() any {
	switch v.Kind {
	case Bool:
		return v.Str == "true"
	case Number:
		return json.Number(v.Str)
	case String:
		return v.Str
	case Array:
		out := make([]any, len(v.Items()))
		for i, e := range v.Items() {
			out[i] = e.Any()
		}
		return out
	case Object:
		out := make(map[string]any, len(v.Members()))
		for _, m := range v.Members() {
			if m.Val.Kind != Missing {
				out[m.Key] = m.Val.Any()
			}
		}
		return out
	}
	return nil
}
