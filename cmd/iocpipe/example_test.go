package main

import (
	"bytes"
	"context"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// examplePath is the commented example configuration shipped beside the
// command (README "Install").
const examplePath = "iocpipe.example.yaml"

// TestExampleConfigLoads checks that the example configuration loads from a
// fresh clone and that validate runs every one of its routes on a sample
// input with exit 0 or 3: no inbox folder needs to exist and no secret to be
// set.
func TestExampleConfigLoads(t *testing.T) {
	cfg, err := LoadConfig(examplePath)
	if err != nil {
		t.Fatalf("the example config does not load: %v", err)
	}
	inputs := map[string]string{
		"feeds":       "../../testdata/inputs/indicators.csv",
		"threatwinds": "../../testdata/inputs/stix21-bundle.json",
		"scans":       "../../testdata/inputs/lines.jsonl",
		"phishtank":   "../../testdata/realworld-like/phishtank_online_valid.csv",
		"vendor-api":  "../../testdata/realworld-like/vendor_api_page.json",
	}
	for _, r := range cfg.Routes {
		t.Run(r.Name, func(t *testing.T) {
			in, ok := inputs[r.Name]
			if !ok {
				t.Fatalf("route %q of the example has no sample input in this test", r.Name)
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), &env{stdout: &stdout, stderr: &stderr},
				[]string{"validate", "--config", examplePath, "--route", r.Name, "--log-level", "warn", in})
			if code != 0 && code != 3 {
				t.Fatalf("validate --route %s %s: exit %d, want 0 or 3\nstdout:\n%s\nstderr:\n%s", r.Name, in, code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String()+stderr.String(), "would send") {
				t.Errorf("validate --route %s printed no summary:\n%s%s", r.Name, stdout.String(), stderr.String())
			}
		})
	}
	sinks := map[string]bool{}
	for _, r := range cfg.Routes {
		sinks[r.Sink] = true
	}
	if !sinks["trustar"] || !sinks["threatwinds"] {
		t.Errorf("the example routes go to %v; want a TruSTAR and a ThreatWinds route", sinks)
	}
}

// TestExampleConfigCoversEveryKey checks that every key the config accepts
// (every yaml tag of Config, recursively) is in the example, set or
// commented out: the example is the reference one copies from.
func TestExampleConfigCoversEveryKey(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, key := range yamlKeys(reflect.TypeFor[Config](), map[reflect.Type]bool{}) {
		if !regexp.MustCompile(`(?m)^[ \t]*(#[ \t]*)?(- )?` + regexp.QuoteMeta(key) + `:`).MatchString(text) {
			t.Errorf("key %q is not in %s: add it, commented", key, examplePath)
		}
	}
}

// yamlKeys returns the yaml keys of struct type t and of the structs it
// holds (through pointers, slices and maps), each once.
func yamlKeys(t reflect.Type, seen map[reflect.Type]bool) []string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return nil
	}
	seen[t] = true
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if tag == "" || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if opts == "inline" {
			keys = append(keys, yamlKeys(f.Type, seen)...)
			continue
		}
		keys = append(keys, name)
		keys = append(keys, yamlKeys(f.Type, seen)...)
	}
	return keys
}
