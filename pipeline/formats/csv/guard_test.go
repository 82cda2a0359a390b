package csv

import (
	stdcsv "encoding/csv"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/formats/formatstest"
)

func readLines(t *testing.T, name, text string, max int) ([]string, error) {
	t.Helper()
	return formatstest.Lines(t, name, text, formats.Options{MaxLineBytes: max})
}

// TestOverlongRecords: a record longer than the limit is rejected and
// the records after it are read, on their own lines, however the record
// is long (one line, a quoted field over many lines, a quote never
// closed).
func TestOverlongRecords(t *testing.T) {
	long := strings.Repeat("a", 300)
	tooLong := "reject:" + formats.TooLong("record", 100)
	tests := []struct {
		name, text string
		want       []string
	}{
		{"one long line", "value,notes\n198.51.100.1,ok\n" + long + ",x\n198.51.100.2,ok\n",
			[]string{"2:198.51.100.1", "3:" + tooLong, "4:198.51.100.2"}},
		{"long quoted field", "value,notes\n198.51.100.1,ok\n198.51.100.2,\"" + long + "\"\n198.51.100.3,ok\n",
			[]string{"2:198.51.100.1", "3:" + tooLong, "4:198.51.100.3"}},
		{"quoted field over lines", "value,notes\n198.51.100.1,\"" + strings.Repeat("x\n", 80) + "\"\n198.51.100.3,ok\n",
			[]string{"2:" + tooLong, "83:198.51.100.3"}},
		{"quotes inside", "value,notes\n198.51.100.1,\"" + strings.Repeat("\"\"\n", 40) + "\"\n198.51.100.3,\"a,\"\"b\"\n",
			[]string{"2:" + tooLong, "43:198.51.100.3"}},
		{"unclosed quote", "value,notes\n198.51.100.1,ok\n198.51.100.2,\"" + strings.Repeat("198.51.100.9,ok\n", 20),
			[]string{"2:198.51.100.1", "3:" + tooLong}},
		{"long last line", "value,notes\n198.51.100.1,ok\n" + long,
			[]string{"2:198.51.100.1", "3:" + tooLong}},
		{"long comment", "# " + long + "\nvalue,notes\n198.51.100.1,ok\n",
			[]string{"3:198.51.100.1"}},
		{"exactly the limit", "value\n" + strings.Repeat("b", 96) + ".com\n198.51.100.1\n",
			[]string{"2:" + strings.Repeat("b", 96) + ".com", "3:198.51.100.1"}},
		{"tabs", "value\tnotes\n198.51.100.1\t\"" + long + "\"\n198.51.100.2\tok\n",
			[]string{"2:" + tooLong, "3:198.51.100.2"}},
	}
	for _, tt := range tests {
		got, err := readLines(t, "in.csv", tt.text, 100)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

// TestOverlongPadded: the line reader of padded text rejects a long
// line too.
func TestOverlongPadded(t *testing.T) {
	text := "value | notes\n198.51.100.1 | ok\n" + strings.Repeat("c", 300) + " | x\n198.51.100.2 | ok\n"
	got, err := readLines(t, "in.txt", text, 100)
	want := []string{"2:198.51.100.1", "3:reject:" + formats.TooLong("record", 100), "4:198.51.100.2"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
}

// FuzzRecordGuard: below its limit the guard passes every byte, so that
// encoding/csv reads the same records and errors through it as without
// it; with a small limit it never panics and never passes a record
// longer than the limit.
func FuzzRecordGuard(f *testing.F) {
	f.Add("a,b\n\"x\ny\",z\n#c\n  \"q\"\"\",1\n", 8)
	f.Add("a\t\"b\"x\nc\n", 3)
	f.Fuzz(func(t *testing.T, text string, max int) {
		read := func(r io.Reader) []string {
			cr := stdcsvReader(r)
			var out []string
			for {
				rec, err := cr.Read()
				if err == io.EOF {
					return out
				}
				line := -1
				if err == nil && len(rec) > 0 {
					line, _ = cr.FieldPos(0)
				}
				out = append(out, fmt.Sprintf("%d %q %v", line, rec, err))
				if len(out) > 1000 {
					return out
				}
			}
		}
		want := read(strings.NewReader(text))
		got := read(newRecordGuard(strings.NewReader(text), ',', 1<<30))
		if !slices.Equal(got, want) {
			t.Fatalf("through the guard %q, want %q", got, want)
		}
		if max < 1 || max > 64 {
			return
		}
		g := newRecordGuard(strings.NewReader(text), ',', max)
		cr := stdcsvReader(g)
		for range 1000 {
			rec, err := cr.Read()
			if err == io.EOF {
				return
			}
			if err == nil && len(strings.Join(rec, "")) > max {
				t.Fatalf("record %q is longer than %d", rec, max)
			}
		}
	})
}

// stdcsvReader is encoding/csv as newRecords sets it up.
func stdcsvReader(r io.Reader) *stdcsv.Reader {
	cr := stdcsv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	return cr
}
