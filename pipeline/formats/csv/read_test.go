package csv

import (
	"slices"
	"testing"

	"github.com/iocpipe/iocpipe/pipeline/formats"
)

func TestMapColumnsErrors(t *testing.T) {
	tests := []struct {
		name    string
		header  []string
		columns map[string][]string
		want    string
	}{
		{"unknown name", []string{"a", "b"}, map[string][]string{formats.FieldValue: {"c"}}, `columns: value: no column "c" in the header (a, b)`},
		{"position beyond", []string{"a", "b"}, map[string][]string{formats.FieldNotes: {"3"}}, "columns: notes: column 3 is beyond the 2 columns of the header"},
	}
	for _, tt := range tests {
		_, err := mapColumns(tt.header, tt.columns)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: got %v, want %s", tt.name, err, tt.want)
		}
	}
	if _, err := mapColumns([]string{"Indicator Value", "x"}, map[string][]string{formats.FieldValue: {"indicator_value"}}); err != nil {
		t.Errorf("names match without regard to case and punctuation: %v", err)
	}
}

func TestLayoutCSV(t *testing.T) {
	tests := []struct {
		name, head string
		delim      rune
		pad        int
		text       bool
		candidates []int
	}{
		{"plain", "value,notes\n1.2.3.4,x\n", ',', 0, false, nil},
		{"commented header", "# banner\n# a,b,c\n1,2,3\n", ',', 0, false, []int{2}},
		{"padded pipes", "# a  |  b\nx  |  y\nx | z  |  y\n", '|', 2, true, []int{1}},
		{"single-space pipes", "a | b\nc | d\n", '|', 1, true, nil},
		{"bare pipes", "a|b\nc | d\n", '|', 0, false, nil},
		{"semicolon comments", "; c\n1.2.3.4 ; x\n", ';', 1, true, nil},
		{"tabs are never padded", "a \t b\n", '\t', 0, false, nil},
		{"a header comment must have as many fields", "# x,y\n# a,b,c\n1,2,3\n", ',', 0, false, []int{2}},
	}
	for _, tt := range tests {
		lay := layoutCSV([]byte(tt.head), formats.Options{})
		var lines []int
		for _, c := range lay.candidates {
			lines = append(lines, c.line)
		}
		if lay.delim != tt.delim || lay.pad != tt.pad || lay.text != tt.text || !slices.Equal(lines, tt.candidates) {
			t.Errorf("%s: got delim %q pad %d text %v candidates %v; want %q %d %v %v", tt.name, lay.delim, lay.pad, lay.text, lines, tt.delim, tt.pad, tt.text, tt.candidates)
		}
	}
}
