package main

import (
	"strings"
	"testing"

	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

// zebrocy is an excerpt of ESET's 2018-11-20_Zebrocy.json, whose every
// attribute has to_ids false.
const zebrocy = "../../pipeline/formats/misp/testdata/zebrocy/input.json"

// TestMISPToIDs runs an ESET-style MISP event through both values of
// misp_to_ids: required (the default) skips the to_ids false attributes
// and the summary says how many and names the key; any delivers them.
func TestMISPToIDs(t *testing.T) {
	srv := newEmulator(t, trustartest.Options{})
	tests := []struct {
		name, extra     string
		wantExit        int
		wantDelivered   int
		wantSummary     string
		wantSkipsInJSON bool
	}{
		{"default", "", exitOK, 0,
			"skipped      6 MISP attributes with to_ids false (misp_to_ids: required; set misp_to_ids: any on the route to import them)\n", true},
		{"required", "    misp_to_ids: required\n", exitOK, 0, "6 MISP attributes with to_ids false", true},
		{"any", "    misp_to_ids: any\n", exitOK, 6, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, srv.URL, tt.extra)
			o := runImport(t, srv, "run", "--config", cfg, zebrocy)
			if o.exit != tt.wantExit {
				t.Fatalf("exit %d, want %d; stderr: %s", o.exit, tt.wantExit, o.stderr)
			}
			got := 0
			for _, b := range decodeBodies(t, o.bodies) {
				got += len(b.Content)
			}
			if got != tt.wantDelivered {
				t.Errorf("delivered %d indicators, want %d", got, tt.wantDelivered)
			}
			// runImport prints --json: the text summary comes from a run
			// of its own.
			_, text, _ := cliRun(t, "run", "--config", cfg, zebrocy)
			if tt.wantSummary != "" && !strings.Contains(text, tt.wantSummary) {
				t.Errorf("summary does not say %q:\n%s", tt.wantSummary, text)
			}
			if tt.wantDelivered == 0 && !strings.Contains(o.stderr, "no valid indicators; skipped: 6 MISP attributes with to_ids false") {
				t.Errorf("stderr does not say why nothing was imported: %s", o.stderr)
			}
			if tt.wantSummary == "" && strings.Contains(text, "to_ids") {
				t.Errorf("summary mentions to_ids with nothing skipped for it:\n%s", text)
			}
			skips, _ := o.summary["skips"].(map[string]any)
			if n, _ := skips["misp_to_ids"].(float64); (n == 6) != tt.wantSkipsInJSON {
				t.Errorf("report summary skips = %v", o.summary["skips"])
			}
		})
	}
}
