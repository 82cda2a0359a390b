package stixpattern

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// realworldDir holds public STIX bundles shared by the iocpipe workspace. It
// lives outside the module, so the test is skipped where it is absent.
const realworldDir = "/work/shared/realworld"

// TestRealworldCoverage checks that every indicator pattern of the shared
// real-world STIX bundles is a case of realworldTests, so that the table
// (which TestParse runs) keeps covering all of them.
func TestRealworldCoverage(t *testing.T) {
	var files []string
	for _, dir := range []string{"cti-stix2-json-schemas", "cti-documentation"} {
		m, _ := filepath.Glob(filepath.Join(realworldDir, dir, "*.json"))
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Skipf("no STIX bundles under %s", realworldDir)
	}
	inTable := map[string]bool{}
	for _, tc := range realworldTests {
		inTable[tc.pattern] = true
	}
	total := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var bundle struct {
			Objects []struct {
				ID      string  `json:"id"`
				Pattern *string `json:"pattern"`
			} `json:"objects"`
		}
		if err := json.Unmarshal(data, &bundle); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, o := range bundle.Objects {
			if o.Pattern == nil {
				continue
			}
			total++
			if !inTable[*o.Pattern] {
				t.Errorf("%s %s: pattern %q is not in realworldTests", filepath.Base(f), o.ID, *o.Pattern)
			}
		}
	}
	if total != len(realworldTests) {
		t.Errorf("found %d patterns in %d files, realworldTests has %d", total, len(files), len(realworldTests))
	}
	for _, tc := range realworldTests {
		if !strings.HasPrefix(tc.name, "realworld/") {
			t.Errorf("case %q is misnamed", tc.name)
		}
	}
}
