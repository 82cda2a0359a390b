package stix

import (
	"bytes"
	"context"
	stdjson "encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iocpipe/iocpipe/pipeline/formats/json/jsonwalk"
	"github.com/iocpipe/iocpipe/schemas"
)

// TestSTIXSchemaFastPathAgrees runs the STIX schema's fast path and
// gojsonschema on every STIX object of testdata and of the real-world
// corpus (when ../shared/realworld is present), and fails on any
// difference in verdict.
func TestSTIXSchemaFastPathAgrees(t *testing.T) {
	s := schemas.MustLoad("stix")
	var files []string
	for _, pattern := range []string{"../../../testdata/inputs/stix*.json", "../../../testdata/bad/stix*/input*", "../../../../shared/realworld/cti-*/*.json"} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	checked, invalid := 0, 0
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		err = eachObject(context.Background(), f, jsonwalk.STIXBundle, 0, func(raw stdjson.RawMessage, line, index int) error {
			var x any
			dec := stdjson.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			if dec.Decode(&x) != nil {
				return nil
			}
			v := schemas.FromAny(x)
			fast := s.Validate(v)
			ref, err := s.ValidateReference(v)
			if err != nil {
				t.Fatal(err)
			}
			if (fast == nil) != (ref == nil) {
				t.Errorf("%s:%d: verdicts differ: fast %v, gojsonschema %v", path, line, fast, ref)
			}
			if fast != nil {
				invalid++
			}
			checked++
			return nil
		})
		f.Close()
		if err != nil && !strings.Contains(path, "/bad/") {
			t.Errorf("%s: %v", path, err)
		}
	}
	if checked < 20 {
		t.Fatalf("only %d STIX objects checked", checked)
	}
	t.Logf("%d STIX objects (%d invalid) from %d files: fast path and gojsonschema agree", checked, invalid, len(files))
}
