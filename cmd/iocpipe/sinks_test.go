package main

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestSinkKinds checks every row of sinkKinds: every field set, a section
// that SinksConfig holds under the kind's name, and complete delivery
// defaults that fill leaves in place.
func TestSinkKinds(t *testing.T) {
	st := reflect.TypeFor[SinksConfig]()
	if st.NumField() != len(sinkKinds) {
		t.Errorf("SinksConfig has %d sections, sinkKinds %d rows", st.NumField(), len(sinkKinds))
	}
	for _, k := range sinkKinds {
		t.Run(k.name, func(t *testing.T) {
			if k.name == "" || k.title == "" || k.section == nil || k.route == nil || k.build == nil || k.encoder == nil || k.associations == nil {
				t.Fatalf("a field of the row is not set: %+v", k)
			}
			if got := lookupSink(k.name); got == nil || got.title != k.title {
				t.Errorf("lookupSink(%q): got %v, want the row", k.name, got)
			}

			var field reflect.StructField
			for i := range st.NumField() {
				if st.Field(i).Tag.Get("yaml") == k.name {
					field = st.Field(i)
				}
			}
			if field.Type == nil {
				t.Fatalf("SinksConfig has no field with the yaml key %q", k.name)
			}
			var sc SinksConfig
			if s := k.section(&sc); s != nil {
				t.Errorf("section of an empty SinksConfig: got %T, want nil", s)
			}
			reflect.ValueOf(&sc).Elem().FieldByIndex(field.Index).Set(reflect.New(field.Type.Elem()))
			if s := k.section(&sc); s == nil || reflect.TypeOf(s) != field.Type {
				t.Errorf("section: got %T, want %v", s, field.Type)
			}

			def := reflect.ValueOf(k.defaults)
			for i := range def.NumField() {
				if name := def.Type().Field(i).Name; name != "InsecureSkipVerify" && def.Field(i).IsZero() {
					t.Errorf("defaults.%s is not set", name)
				}
			}
			if k.defaults.InsecureSkipVerify {
				t.Errorf("defaults.InsecureSkipVerify: got true, want false")
			}
			if k.maxBatch != 0 && k.defaults.BatchSize > k.maxBatch {
				t.Errorf("defaults.BatchSize: got %d, over the limit %d", k.defaults.BatchSize, k.maxBatch)
			}
			var got DeliveryConfig
			if err := got.fill(&Config{}, "sinks."+k.name, k.defaults); err != nil {
				t.Fatal(err)
			}
			if got.RateLimit == k.defaults.RateLimit {
				t.Errorf("fill shares the row's RateLimit pointer")
			}
			if !reflect.DeepEqual(got, k.defaults) {
				t.Errorf("fill: got %+v, want %+v", got, k.defaults)
			}
		})
	}
}

// TestSinkKindsREADME checks the README's configuration reference against
// the delivery defaults of every kind: a default cell is one value for
// all kinds ("500ms") or one per kind ("60 (TruSTAR), 0 (ThreatWinds)").
func TestSinkKindsREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	perKind := regexp.MustCompile(`^(\S+) \((\w+)\)$`)
	dt := reflect.TypeFor[DeliveryConfig]()
	for i := range dt.NumField() {
		f := dt.Field(i)
		key := f.Tag.Get("yaml")
		row := regexp.MustCompile("(?m)^\\| `sinks\\.<sink>\\." + key + "` \\|[^|]*\\| ([^|]*) \\|").FindSubmatch(readme)
		if row == nil {
			t.Errorf("README has no row for sinks.<sink>.%s", key)
			continue
		}
		cell := strings.TrimSpace(string(row[1]))
		values := map[string]string{}
		for _, part := range strings.Split(cell, ", ") {
			if m := perKind.FindStringSubmatch(part); m != nil && lookupTitle(m[2]) {
				values[m[2]] = m[1]
			}
		}
		for _, k := range sinkKinds {
			v, ok := values[k.title]
			if !ok {
				v = strings.Fields(cell)[0]
			}
			parsed := reflect.New(f.Type)
			if err := yaml.Unmarshal([]byte(v), parsed.Interface()); err != nil {
				t.Errorf("README: sinks.<sink>.%s: default %q: %v", key, cell, err)
				continue
			}
			if want := reflect.ValueOf(k.defaults).Field(i).Interface(); !reflect.DeepEqual(parsed.Elem().Interface(), want) {
				t.Errorf("README: sinks.<sink>.%s for %s: got %q, want %v", key, k.name, v, reflect.Indirect(reflect.ValueOf(want)))
			}
		}
	}
}

func lookupTitle(title string) bool {
	for _, k := range sinkKinds {
		if k.title == title {
			return true
		}
	}
	return false
}

// TestSinkNames checks the lists of kinds in messages.
func TestSinkNames(t *testing.T) {
	if got, want := sinkNames(", "), "trustar, threatwinds"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := sinkNames(" or "), "trustar or threatwinds"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	tests := []struct {
		names []string
		last  string
		want  string
	}{
		{nil, " or ", ""},
		{[]string{"a"}, " or ", "a"},
		{[]string{"a", "b", "c"}, " or ", "a, b or c"},
		{[]string{"a", "b", "c"}, ", ", "a, b, c"},
	}
	for _, tt := range tests {
		if got := joinNames(tt.names, tt.last); got != tt.want {
			t.Errorf("joinNames(%q, %q): got %q, want %q", tt.names, tt.last, got, tt.want)
		}
	}
}
