package pipeline

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/schemas"
)

func TestSTIXShapes(t *testing.T) {
	ind := `{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","pattern":"[domain-name:value = 'x.example.com']","valid_from":"2020-01-01T00:00:00Z"}`
	sco := `{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd","value":"198.51.100.1"}`
	tests := []struct{ name, file, text string }{
		{"bundle", "a.json", `{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[` + ind + "," + sco + `]}`},
		{"array", "b.json", "[" + ind + "," + sco + "]"},
		{"jsonl", "c.jsonl", ind + "\n" + sco + "\n"},
		{"jsonl in .json", "d.json", ind + "\n" + sco + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, f, err := readRows(t, writeFile(t, tt.file, tt.text))
			if err != nil {
				t.Fatal(err)
			}
			if f.format != FormatSTIX || len(rows) != 2 {
				t.Fatalf("format %s, %d rows; want stix, 2", f.format, len(rows))
			}
			if rows[0].Ref != "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f" || rows[1].Get(formats.FieldValue).Str != "ip\x1e198.51.100.1" {
				t.Errorf("rows: %+v", rows)
			}
		})
	}
	// A single object.
	rows, _, err := readRows(t, writeFile(t, "e.json", ind))
	if err != nil || len(rows) != 1 || rows[0].Get(formats.FieldValue).Str != "domain\x1ex.example.com" {
		t.Errorf("single object: %v %+v", err, rows)
	}
}

// FuzzReadSTIX feeds arbitrary documents to the STIX reader: no panic,
// and every row it emits is either a row with fields, a rejected row or a
// skipped one.
func FuzzReadSTIX(f *testing.F) {
	for _, pattern := range []string{"../testdata/inputs/stix*.json", "../testdata/bad/stix*/input*"} {
		m, _ := filepath.Glob(pattern)
		for _, path := range m {
			if b, err := os.ReadFile(path); err == nil && len(b) < 64<<10 {
				f.Add(b)
			}
		}
	}
	f.Add([]byte(`{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[{"type":"sighting","id":"sighting--5d0092c5-5f74-4287-9642-33f4c354e56d","sighting_of_ref":"indicator--5d0092c5-5f74-4287-9642-33f4c354e56d","count":-5}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		path := filepath.Join(t.TempDir(), "fuzz.json")
		if err := os.WriteFile(path, doc, 0o600); err != nil {
			t.Fatal(err)
		}
		rows, _, _ := readRows(t, path)
		for _, r := range rows {
			if r.skip == "" && len(r.rejects) == 0 && r.Get(formats.FieldValue).Kind == schemas.Missing && r.Fields.Kind != schemas.Object {
				t.Fatalf("row %+v is neither data, rejected nor skipped", r)
			}
		}
	})
}
