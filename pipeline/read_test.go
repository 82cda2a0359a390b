package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/schemas"
)

const testEnclave = "c04caa4e-4d1b-47fc-b9e2-c9ce11396b44"

func testRoute() *Route {
	return &Route{Name: "t", Sink: "mem", Enclaves: []string{testEnclave}, Tags: []string{"route-tag"},
		EnclaveNames: map[string]string{"Community": testEnclave}}
}

type nopSink struct{}

func (nopSink) Send(context.Context, *ioc.Batch) (ioc.Result, error) {
	return ioc.Result{Requests: 1}, nil
}

// readRows reads one file with the pipeline's readers and returns its rows
// as they leave the reader (before validation), and the file error.
func readRows(t *testing.T, path string) ([]Row, *fileState, error) {
	t.Helper()
	return readRowsWith(t, path, testRoute())
}

// readRowsWith is readRows under another route.
func readRowsWith(t *testing.T, path string, route *Route) ([]Row, *fileState, error) {
	t.Helper()
	p, err := New(Options{Route: route, Sink: nopSink{}})
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan *chunk, 1024)
	f := p.newFile(Input{Path: path})
	err = p.readFile(context.Background(), f, out)
	close(out)
	var rows []Row
	var ferr error
	for c := range out {
		rows = append(rows, c.rows...)
		if c.last {
			ferr = c.err
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return rows, f, ferr
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func field(r Row, name string) string { return r.Get(name).Str }

func TestReadCSV(t *testing.T) {
	tests := []struct {
		name, file, text string
		values           []string
		lines            []int
		notes            []string
	}{
		{"header aliases", "a.csv", "Indicator,First Seen,Comment\n1.2.3.4,2024-01-01,hi\n", []string{"1.2.3.4"}, []int{2}, []string{"hi"}},
		{"semicolons and BOM", "b.csv", "\ufeffioc;notes\r\nx.example.com;a, b\r\n", []string{"x.example.com"}, []int{2}, []string{"a, b"}},
		{"tabs", "c.tsv", "value\tnotes\n1.2.3.4\tn\n", []string{"1.2.3.4"}, []int{2}, []string{"n"}},
		{"padded pipes", "d.txt", "# c\nip | notes\n1.2.3.4 | a note \n", []string{"ip\x1e1.2.3.4"}, []int{3}, []string{"a note"}},
		{"comments between rows", "e.csv", "value\n# x\n1.2.3.4\n\n# y\n5.6.7.8\n", []string{"1.2.3.4", "5.6.7.8"}, []int{3, 6}, []string{"", ""}},
		{"quoted multi-line", "f.csv", "value,notes\n1.2.3.4,\"two\nlines\"\n5.6.7.8,x\n", []string{"1.2.3.4", "5.6.7.8"}, []int{2, 4}, []string{"two\nlines", "x"}},
		{"headerless", "g.txt", "1.2.3.4\nevil.example.com\n", []string{"1.2.3.4", "evil.example.com"}, []int{1, 2}, []string{"", ""}},
		{"typed value columns", "h.csv", "url,ip\nhttp://a.example/,1.2.3.4\n", []string{"url\x1ehttp://a.example/\x1fip\x1e1.2.3.4"}, []int{2}, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, _, err := readRows(t, writeFile(t, tt.file, tt.text))
			if err != nil {
				t.Fatal(err)
			}
			var values, notes []string
			var lines []int
			for i, r := range rows {
				values = append(values, field(r, formats.FieldValue))
				notes = append(notes, field(r, formats.FieldNotes))
				lines = append(lines, r.Line)
				if r.Row != i {
					t.Errorf("row %d numbered %d", i, r.Row)
				}
			}
			if !slices.Equal(values, tt.values) || !slices.Equal(lines, tt.lines) || !slices.Equal(notes, tt.notes) {
				t.Errorf("got values %q lines %v notes %q; want %q %v %q", values, lines, notes, tt.values, tt.lines, tt.notes)
			}
		})
	}
}

func TestReadJSONShapes(t *testing.T) {
	tests := []struct {
		name, file, text string
		values           []string
		lines            []int
		format           string
		fileTags         bool
	}{
		{"array", "a.json", "[\n {\"value\":\"1.2.3.4\"},\n \"5.6.7.8\"\n]", []string{"1.2.3.4", "5.6.7.8"}, []int{2, 3}, FormatJSON, false},
		{"submission, tags after content", "b.json", "{\"content\":[{\"value\":\"1.2.3.4\"}],\n\"tags\":[{\"name\":\"t\",\"enclaveId\":\"" + testEnclave + "\"}],\"enclaveIds\":[\"Community\"]}", []string{"1.2.3.4"}, []int{1}, FormatJSON, true},
		{"single object", "c.json", "{\"indicator\":\"evil.example.com\",\"tags\":[\"x\"]}", []string{"evil.example.com"}, []int{1}, FormatJSON, false},
		{"jsonl by content", "d.json", "{\"value\":\"1.2.3.4\"}\n{\"value\":\"5.6.7.8\"}\n", []string{"1.2.3.4", "5.6.7.8"}, []int{1, 2}, FormatJSONL, false},
		{"jsonl", "e.jsonl", "{\"value\":\"1.2.3.4\"}\n\n{\"value\":\"5.6.7.8\"}\n", []string{"1.2.3.4", "5.6.7.8"}, []int{1, 3}, FormatJSONL, false},
		{"sniffed", "f.dat", " [\"1.2.3.4\"]", []string{"1.2.3.4"}, []int{1}, FormatJSON, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, f, err := readRows(t, writeFile(t, tt.file, tt.text))
			if err != nil {
				t.Fatal(err)
			}
			var values []string
			var lines []int
			for _, r := range rows {
				values = append(values, field(r, formats.FieldValue))
				lines = append(lines, r.Line)
			}
			if !slices.Equal(values, tt.values) || !slices.Equal(lines, tt.lines) {
				t.Errorf("got %q at %v, want %q at %v", values, lines, tt.values, tt.lines)
			}
			if f.format != tt.format {
				t.Errorf("format %s, want %s", f.format, tt.format)
			}
			if got := f.subs.base.TagLevel == ioc.LevelFile; got != tt.fileTags {
				t.Errorf("file-level tags: %v, want %v", got, tt.fileTags)
			}
		})
	}
}

func TestReadFileErrors(t *testing.T) {
	tests := []struct{ name, file, text string }{
		{"broken json", "a.json", "[{\"value\":\"1.2.3.4\"},"},
		{"scalar json", "b.json", "42"},
		{"utf16", "c.csv", "\xff\xfev\x00"},
		{"binary", "d.csv", "value\n\x00\x01"},
		{"no value column", "e.csv", "a,b\nc,d\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, _, err := readRows(t, writeFile(t, tt.file, tt.text))
			if err == nil || len(rows) != 0 {
				t.Errorf("got %d rows, error %v; want a file error and no row", len(rows), err)
			}
		})
	}
	if _, _, err := readRows(t, filepath.Join(t.TempDir(), "missing.csv")); err == nil {
		t.Error("a missing file read without error")
	}
}

// TestFastPathAgreesOnTestdata is the differential check of the schema
// fast path: every row of every testdata file (and of the real-world
// corpus, when ../../shared/realworld is present) gets the same verdict
// from the fast path as from gojsonschema.
func TestFastPathAgreesOnTestdata(t *testing.T) {
	s := schemas.MustLoad("row")
	var files []string
	for _, pattern := range []string{"../testdata/inputs/*", "../testdata/bad/*/input*", "../../shared/realworld/*/*"} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	checked := 0
	for _, path := range files {
		if filepath.Base(path) == "README.md" {
			continue
		}
		rows, _, _ := readRows(t, path)
		for _, r := range rows {
			if r.rowRejected {
				continue // a parse error: there is nothing to validate
			}
			fast := s.Validate(r.Fields)
			ref, err := s.ValidateReference(r.Fields)
			if err != nil {
				t.Fatal(err)
			}
			if (fast == nil) != (ref == nil) {
				t.Errorf("%s: verdicts differ: fast %v, gojsonschema %v", r.Where(), fast, ref)
			}
			checked++
		}
	}
	if checked < 10000 {
		t.Errorf("only %d rows checked: testdata missing?", checked)
	}
	t.Logf("%d rows from %d files: fast path and gojsonschema agree", checked, len(files))
}
