package formats

import (
	"slices"
	"strings"
	"testing"
)

// fakeFormat is a Format that reads nothing; content makes it a
// ContentFormat.
type fakeFormat struct{ name string }

func (f fakeFormat) Name() string                          { return f.name }
func (f fakeFormat) Sniff(string, []byte) int              { return 0 }
func (f fakeFormat) Open(*Source, Options) (Reader, error) { return nil, nil }

type contentFormat struct{ fakeFormat }

func (contentFormat) ContentOnly() {}

func TestContentFormatHidden(t *testing.T) {
	Register(fakeFormat{"plain"})
	Register(contentFormat{fakeFormat{"inner"}})
	if got := Names(); !slices.Equal(got, []string{"plain"}) {
		t.Errorf("Names: got %v, want [plain]", got)
	}
	tests := []struct {
		name           string
		lookup, byName bool
	}{
		{"plain", true, true},
		{"inner", false, true},
		{"none", false, false},
	}
	for _, tt := range tests {
		if _, ok := Lookup(tt.name); ok != tt.lookup {
			t.Errorf("Lookup(%q): got %v, want %v", tt.name, ok, tt.lookup)
		}
		if _, ok := ByName(tt.name); ok != tt.byName {
			t.Errorf("ByName(%q): got %v, want %v", tt.name, ok, tt.byName)
		}
	}
	if _, err := Detect("x.json", nil, "inner"); err == nil || !strings.Contains(err.Error(), `unknown format "inner" (known: [plain])`) {
		t.Errorf("Detect forcing a content format: got %v, want unknown format", err)
	}
}
