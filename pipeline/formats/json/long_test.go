package json

import (
	"slices"
	"strings"
	"testing"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/formats/formatstest"
)

// TestLongValues: a JSON Lines line longer than max_line_bytes is a
// rejected row and the lines around it are read; a JSON document with a
// value longer than that fails as a whole, with the reason, before
// anything is read.
func TestLongValues(t *testing.T) {
	long := strings.Repeat("a", 300)
	tests := []struct {
		name, file, text string
		want             []string
		wantErr          string
	}{
		{"jsonl", "in.jsonl", `{"value":"198.51.100.1"}` + "\n" + `{"value":"` + long + `"}` + "\n" + `{"value":"198.51.100.2"}` + "\n",
			[]string{"1:198.51.100.1", "2:reject:" + formats.TooLong("line", 100), "3:198.51.100.2"}, ""},
		{"json array", "in.json", `[{"value":"198.51.100.1"},` + "\n" + `{"value":"` + long + `"}]`,
			nil, "in.json:2: nothing of the file was sent: " + formats.TooLong("a JSON value", 100)},
	}
	for _, tt := range tests {
		got, err := readAll(t, tt.file, tt.text, 100)
		if tt.wantErr != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("%s: got %q, %v; want the error %q", tt.name, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func readAll(t *testing.T, name, text string, max int) ([]string, error) {
	t.Helper()
	return formatstest.Lines(t, name, text, formats.Options{MaxLineBytes: max})
}
