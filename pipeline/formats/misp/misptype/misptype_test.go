package misptype

import (
	"slices"
	"testing"

	"github.com/iocpipe/iocpipe/pipeline/formats"
)

func TestSplit(t *testing.T) {
	h := func(typ, v string) string { return typ + formats.TypeHintSep + v }
	tests := []struct {
		typ, value  string
		parts, note []string
		what        string
		wantErr     bool
	}{
		{"ip-dst", "198.51.100.1", []string{h("ip", "198.51.100.1")}, nil, "", false},
		{"ip-dst|port", "198.51.100.1|8443", []string{h("ip", "198.51.100.1")}, []string{"port 8443"}, "", false},
		{"domain|ip", "a.example|198.51.100.1", []string{h("domain", "a.example"), h("ip", "198.51.100.1")}, nil, "", false},
		{"filename|sha256", `%PUBLIC%\a.exe|` + "ab", []string{h("sha256", "ab")}, []string{`filename %PUBLIC%\a.exe`}, "a file name", false},
		{"malware-sample", "a.exe|cd", []string{h("md5", "cd")}, []string{"filename a.exe"}, "a file name", false},
		{"link", "https://example.org/", nil, []string{"link https://example.org/"}, "a reference link", false},
		{"threat-actor", "Sofacy", nil, []string{"threat-actor Sofacy"}, "a threat actor's name", false},
		{"ip-dst|port", "198.51.100.1", nil, nil, "", true},
	}
	for _, tt := range tests {
		parts, notes, what, err := Split(tt.typ, tt.value)
		if !slices.Equal(parts, tt.parts) || !slices.Equal(notes, tt.note) || what != tt.what || (err != nil) != tt.wantErr {
			t.Errorf("Split(%q, %q) = %q, %q, %q, %v; want %q, %q, %q, error %v", tt.typ, tt.value, parts, notes, what, err, tt.parts, tt.note, tt.what, tt.wantErr)
		}
	}
}

func TestSkips(t *testing.T) {
	tests := []struct {
		category, typ string
		ref           bool
	}{
		{"External analysis", "url", true},
		{"external analysis", "link", true},
		{"External analysis", "sha256", false},
		{"Network activity", "url", false},
	}
	for _, tt := range tests {
		if got := Reference(tt.category, tt.typ) != ""; got != tt.ref {
			t.Errorf("Reference(%q, %q) = %v, want %v", tt.category, tt.typ, got, tt.ref)
		}
	}
	anyOpts := formats.Options{MISPToIDs: formats.MISPToIDsAny}
	for _, o := range []formats.Options{{}, {MISPToIDs: formats.MISPToIDsRequired}} {
		if ToIDsSkip(false, o) != ToIDsReason || ToIDsSkip(true, o) != "" {
			t.Errorf("ToIDsSkip under %+v: a false to_ids must be skipped, a true one read", o)
		}
	}
	if ToIDsSkip(false, anyOpts) != "" {
		t.Errorf("ToIDsSkip under misp_to_ids any skipped a false to_ids")
	}
	for in, want := range map[string]bool{"": true, "1": true, "True": true, "true": true, "0": false, "False": false, "false": false} {
		if got := Truth(in, true); got != want {
			t.Errorf("Truth(%q) = %v, want %v", in, got, want)
		}
	}
}
