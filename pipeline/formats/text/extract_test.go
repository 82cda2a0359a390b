package text

import (
	"strings"
	"testing"
)

// FuzzExtract runs the extraction of one line on any input: no panic,
// and every indicator found has a type and a value that the line holds
// refanged, with at most one of bad, skip and title set when none is.
func FuzzExtract(f *testing.F) {
	for _, s := range []string{
		"1b3856e5d8c6a4cec1c09a68e0f87a5319c1bd4c8726586fd3ea1b3434e22dfa \u2013 GoTokenTheft",
		`mshta "hxxps[://]x[.]b-cdn[.]net/p"`, "bombay.com[.ar chromiumengine[.space example[,]com",
		"user [at] evil [dot] com", "2a02:cf40:1::5:40669 [", "((((]]]]", "Serial number: 05c1f7dd747b1af79ac427a15a8b64ae",
		strings.Repeat("a dot ", 50), "C2: 198.51.100.77 and evil-h[.]zip", "Malvertising entry points:",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		x := extract(line, "")
		for _, fd := range x.found {
			if fd.typ == "" || fd.value == "" || fd.canon == "" {
				t.Fatalf("%q: found %+v", line, fd)
			}
		}
		if len(x.found) == 0 && x.bad != "" && x.skip != "" {
			t.Fatalf("%q: both bad (%s) and skip (%s)", line, x.bad, x.skip)
		}
		if x.empty && (len(x.found) > 0 || x.title != "") {
			t.Fatalf("%q: empty, yet %+v", line, x)
		}
	})
}

// BenchmarkExtract measures the extraction of a report line.
func BenchmarkExtract(b *testing.B) {
	line := `5.62.58[.]11 port 8989 - evil.ddns[.]net, see mshta "hxxps[://]papad[.]b-cdn[.]net/popad" and 1b3856e5d8c6a4cec1c09a68e0f87a5319c1bd4c8726586fd3ea1b3434e22dfa`
	for b.Loop() {
		extract(line, "")
	}
}
