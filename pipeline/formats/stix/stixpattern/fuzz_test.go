package stixpattern

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks, for any input, that Parse does not panic, that it fails
// only with one of its two error types (a syntax error pointing inside the
// input), and that what it returns is well formed and stable: rebuilding the
// pattern from the observables and parsing it again yields the same result.
func FuzzParse(f *testing.F) {
	for _, tc := range allTests() {
		if len(tc.pattern) <= 4096 {
			f.Add(tc.pattern)
		}
	}
	kinds := map[Kind]bool{IPv4: true, IPv6: true, Domain: true, URL: true, Email: true, MD5: true, SHA1: true, SHA256: true, SHA512: true}
	f.Fuzz(func(t *testing.T, pattern string) {
		got, err := Parse(pattern)
		if err != nil {
			var se *SyntaxError
			var ne *NotExpressibleError
			switch {
			case errors.As(err, &se):
				if se.Offset < 0 || se.Offset > len(pattern) || se.Msg == "" {
					t.Fatalf("Parse(%q): bad syntax error %#v", pattern, se)
				}
			case errors.As(err, &ne):
				if ne.Reason == "" {
					t.Fatalf("Parse(%q): empty reason", pattern)
				}
			default:
				t.Fatalf("Parse(%q): unexpected error type %T: %v", pattern, err, err)
			}
			if got != nil {
				t.Fatalf("Parse(%q) returned %q with error %v", pattern, got, err)
			}
			return
		}
		if len(got) == 0 {
			t.Fatalf("Parse(%q) returned no observables and no error", pattern)
		}
		for _, o := range got {
			if o.Value == "" || !kinds[o.Kind] || o.Path == "" {
				t.Fatalf("Parse(%q): bad observable %q", pattern, o)
			}
		}
		for i := range got {
			got[i].Notes = "" // the rebuilt pattern leaves a composite's other comparisons out
		}
		rebuilt := rebuild(got)
		again, err := Parse(rebuilt)
		if err != nil || !equalObservables(got, again) {
			t.Fatalf("Parse(%q) = %q\nrebuilt %q\nParse(rebuilt) = %q, %v", pattern, got, rebuilt, again, err)
		}
	})
}

// rebuild writes observables back as [path = 'value'] OR ... .
func rebuild(obs []Observable) string {
	esc := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	parts := make([]string, len(obs))
	for i, o := range obs {
		parts[i] = "[" + o.Path + " = '" + esc.Replace(o.Value) + "']"
	}
	return strings.Join(parts, " OR ")
}
