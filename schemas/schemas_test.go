package schemas

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func obj(kv ...any) Value {
	var members []Member
	for i := 0; i < len(kv); i += 2 {
		val, ok := kv[i+1].(Value)
		if !ok {
			val = FromAny(kv[i+1])
		}
		members = append(members, Member{Key: kv[i].(string), Val: val})
	}
	return ObjectValue(members)
}

func num(s string) Value { return Value{Kind: Number, Str: s} }

func fields(vs []Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Field)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestLoadAll(t *testing.T) {
	names := Names()
	if len(names) == 0 {
		t.Fatal("no embedded schemas")
	}
	for _, name := range names {
		if _, err := Load(name); err != nil {
			t.Errorf("Load(%q): %v", name, err)
		}
	}
}

func TestRowSchema(t *testing.T) {
	s := MustLoad("row")
	long := strings.Repeat("a", 8193)
	tests := []struct {
		name string
		row  Value
		want []string // fields with violations; nil = valid
	}{
		{"minimal", obj("value", "1.2.3.4"), nil},
		{"all strings", obj("value", "x.example", "type", "domain", "first_seen", "2020-01-01", "last_seen", "1600000000", "sightings", " 12 ", "source", "s", "notes", "n", "tags", "a;b", "enclaves", "Community"), nil},
		{"json kinds", obj("value", "x", "first_seen", num("1600000000000"), "sightings", num("3"), "tags", []any{"a", map[string]any{"name": "b", "enclaveId": "e"}}, "enclaves", []any{"A"}), nil},
		{"missing value", obj("type", "ip"), []string{"value"}},
		{"empty value", obj("value", ""), []string{"value"}},
		{"value too long", obj("value", long), []string{"value"}},
		{"value a number", obj("value", num("12")), []string{"value"}},
		{"fractional time", obj("value", "x", "first_seen", num("1.5")), []string{"first_seen"}},
		{"time as bool", obj("value", "x", "last_seen", true), []string{"last_seen"}},
		{"negative sightings", obj("value", "x", "sightings", num("-1")), []string{"sightings"}},
		{"sightings text", obj("value", "x", "sightings", "many"), []string{"sightings"}},
		{"huge sightings", obj("value", "x", "sightings", num("1e400")), []string{"sightings"}},
		{"tag object without name", obj("value", "x", "tags", []any{map[string]any{"enclaveId": "e"}}), []string{"tags.0.name"}},
		{"tag a number", obj("value", "x", "tags", []any{num("1")}), []string{"tags.0"}},
		{"too many tags", obj("value", "x", "tags", make([]any, 101)), nil}, // set below
		{"null value", obj("value", nil), []string{"value"}},
	}
	many := make([]any, 101)
	for i := range many {
		many[i] = fmt.Sprintf("t%d", i)
	}
	tests[14].row = obj("value", "x", "tags", many)
	tests[14].want = []string{"tags"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fields(s.Validate(tt.row))
			if !slices.Equal(got, tt.want) {
				t.Errorf("fast path: got %v, want %v (%v)", got, tt.want, s.Validate(tt.row))
			}
			ref, err := s.ValidateReference(tt.row)
			if err != nil {
				t.Fatal(err)
			}
			if gotRef := fields(ref); !slices.Equal(gotRef, tt.want) {
				t.Errorf("gojsonschema: got %v, want %v (%v)", gotRef, tt.want, ref)
			}
		})
	}
}

func TestSubmissionSchema(t *testing.T) {
	s := MustLoad("trustar-submission")
	good := `{"enclaveIds":["c04caa4e-4d1b-47fc-b9e2-c9ce11396b44"],"content":[{"value":"1.2.3.4","firstSeen":1600000000000,"tags":[{"name":"a-b_c","enclaveId":"c04caa4e-4d1b-47fc-b9e2-c9ce11396b44"}]}],"tags":[{"name":"feed","enclaveId":"c04caa4e-4d1b-47fc-b9e2-c9ce11396b44"}]}`
	if v, err := s.ValidateJSON([]byte(good)); err != nil || v != nil {
		t.Fatalf("good body: %v %v", v, err)
	}
	bad := map[string]string{
		"enclave name":   `{"enclaveIds":["Community"],"content":[{"value":"x"}]}`,
		"empty content":  `{"enclaveIds":["c04caa4e-4d1b-47fc-b9e2-c9ce11396b44"],"content":[]}`,
		"string time":    `{"enclaveIds":["c04caa4e-4d1b-47fc-b9e2-c9ce11396b44"],"content":[{"value":"x","firstSeen":"1"}]}`,
		"zero sightings": `{"enclaveIds":["c04caa4e-4d1b-47fc-b9e2-c9ce11396b44"],"content":[{"value":"x","sightings":0}]}`,
		"upper tag":      `{"enclaveIds":["c04caa4e-4d1b-47fc-b9e2-c9ce11396b44"],"content":[{"value":"x","tags":[{"name":"Feed","enclaveId":"c04caa4e-4d1b-47fc-b9e2-c9ce11396b44"}]}]}`,
		"extra key":      `{"enclaveIds":["c04caa4e-4d1b-47fc-b9e2-c9ce11396b44"],"content":[{"value":"x","indicatorType":"IP"}]}`,
	}
	for name, body := range bad {
		v, err := s.ValidateJSON([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if v == nil {
			t.Errorf("%s: reference validator accepted %s", name, body)
		}
		var doc any
		dec := json.NewDecoder(strings.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			t.Fatal(err)
		}
		if s.Validate(FromAny(doc)) == nil {
			t.Errorf("%s: fast path accepted %s", name, body)
		}
	}
}

func TestCompileRefusesUnknownKeyword(t *testing.T) {
	if _, err := compile([]byte(`{"type":"string","format":"date-time"}`)); err == nil {
		t.Fatal("compile accepted a keyword the fast path does not implement")
	}
}

// FuzzRowDifferential checks that the fast path and gojsonschema agree on
// rows built from arbitrary JSON.
func FuzzRowDifferential(f *testing.F) {
	for _, seed := range []string{
		`{"value":"1.2.3.4"}`, `{"value":""}`, `{"value":"x","sightings":"12"}`,
		`{"value":"x","tags":["a",{"name":"b"}]}`, `{"value":"x","first_seen":1.0}`,
		`{"value":"x","sightings":-0}`, `{"value":"x","enclaves":[1]}`, `{"type":"x"}`,
		`[1,2]`, `"str"`, `{"value":"x","tags":{"name":"a"}}`, `{"value":"x","sightings":1e3}`,
	} {
		f.Add(seed)
	}
	s := MustLoad("row")
	f.Fuzz(func(t *testing.T, doc string) {
		var x any
		dec := json.NewDecoder(strings.NewReader(doc))
		dec.UseNumber()
		if dec.Decode(&x) != nil {
			return
		}
		v := FromAny(x)
		fast := s.Validate(v)
		if hugeNumber(v) {
			// gojsonschema expands 1e999999999 with big.Rat and would take
			// minutes; the fast path does not (see cmpDecimal).
			return
		}
		ref, err := s.ValidateReference(v)
		if err != nil {
			return
		}
		if (fast == nil) != (ref == nil) {
			t.Fatalf("verdicts differ on %s: fast %v, reference %v", doc, fast, ref)
		}
	})
}

func BenchmarkRowFast(b *testing.B) {
	s := MustLoad("row")
	row := obj("value", "x.example.com", "type", "domain", "first_seen", "2020-01-01T00:00:00Z", "last_seen", "2020-01-02T00:00:00Z", "sightings", "3", "source", "feed", "notes", "a note", "tags", "a;b")
	b.ReportAllocs()
	for b.Loop() {
		if s.Validate(row) != nil {
			b.Fatal("invalid")
		}
	}
}

func BenchmarkRowReference(b *testing.B) {
	s := MustLoad("row")
	row := obj("value", "x.example.com", "type", "domain", "first_seen", "2020-01-01T00:00:00Z", "last_seen", "2020-01-02T00:00:00Z", "sightings", "3", "source", "feed", "notes", "a note", "tags", "a;b")
	for b.Loop() {
		if v, _ := s.ValidateReference(row); v != nil {
			b.Fatal("invalid")
		}
	}
}

func hugeNumber(v Value) bool {
	switch v.Kind {
	case Number:
		d, ok := parseDecimal(v.Str)
		return !ok || d.exp > 1000 || d.exp < -1000 || len(v.Str) > 1000
	case Array:
		return slices.ContainsFunc(v.Items(), hugeNumber)
	case Object:
		return slices.ContainsFunc(v.Members(), func(m Member) bool { return hugeNumber(m.Val) })
	}
	return false
}

func TestHugeExponentIsFast(t *testing.T) {
	s := MustLoad("row")
	for _, lit := range []string{"1e999999999", "-1e-999999999", "1e99999999999999999999", "0e999999999"} {
		got := fields(s.Validate(obj("value", "x", "sightings", num(lit))))
		want := []string{"sightings"}
		if lit == "0e999999999" {
			want = nil
		}
		if !slices.Equal(got, want) {
			t.Errorf("sightings %s: got %v, want %v", lit, got, want)
		}
	}
}
