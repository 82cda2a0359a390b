package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

type tag struct {
	Name      string `json:"name"`
	EnclaveID string `json:"enclaveId"`
}

type content struct {
	Value     string `json:"value"`
	FirstSeen *int64 `json:"firstSeen"`
	LastSeen  *int64 `json:"lastSeen"`
	Sightings *int64 `json:"sightings"`
	Tags      []tag  `json:"tags"`
}

type body struct {
	EnclaveIDs []string  `json:"enclaveIds"`
	Content    []content `json:"content"`
	Tags       []tag     `json:"tags"`
}

func decodeBodies(t *testing.T, raw []json.RawMessage) []body {
	t.Helper()
	out := make([]body, len(raw))
	for i, r := range raw {
		if err := json.Unmarshal(r, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func names(tags []tag) []string {
	var out []string
	for _, t := range tags {
		out = append(out, t.Name)
	}
	return out
}

// TestTagPrecedenceAtScale is the acceptance run: a 25,000-row CSV
// whose rows carry their own tags (some) or none (others), with a
// TruSTAR-shaped JSON file carrying file tags, delivers every valid row
// once, in submissions of at most 10,000, with exactly the tags that
// precedence gives and timestamps in ms; bad rows are in --rejects.
func TestTagPrecedenceAtScale(t *testing.T) {
	srv := newEmulator(t, trustartest.Options{})
	cfg := testConfig(t, srv.URL, "")
	dir := t.TempDir()
	var csv strings.Builder
	csv.WriteString("value,first_seen,last_seen,sightings,tags\n")
	wantTags := map[string][]string{}
	bad := 0
	for i := range 25000 {
		v := fmt.Sprintf("host-%d.example.com", i)
		switch {
		case i%1000 == 999:
			fmt.Fprintf(&csv, "%s,not-a-date,,,\n", v)
			bad++
			continue
		case i%2 == 0:
			fmt.Fprintf(&csv, "%s,2024-01-02T03:04:05Z,%d,%d,Own-%d;shared\n", v, 1704200000+i, i%5+1, i%3)
			wantTags[v] = []string{fmt.Sprintf("own-%d", i%3), "shared"}
		default:
			fmt.Fprintf(&csv, "%s,2024-01-02T03:04:05Z,,,\n", v)
			wantTags[v] = nil
		}
	}
	big := filepath.Join(dir, "big.csv")
	if err := os.WriteFile(big, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	o := runImport(t, srv, "run", "--config", cfg, big, "../../testdata/inputs/submission.json")
	if o.exit != exitRejected {
		t.Fatalf("exit %d, want 3 (some rows rejected): %s", o.exit, o.stderr)
	}
	checkBodies(t, o.bodies)
	seen := map[string]int{}
	for _, b := range decodeBodies(t, o.bodies) {
		if len(b.Content) > 10000 {
			t.Errorf("a submission holds %d indicators", len(b.Content))
		}
		top := names(b.Tags)
		for _, c := range b.Content {
			seen[c.Value]++
			if want, ok := wantTags[c.Value]; ok {
				if !slices.Equal(top, []string{"feed"}) {
					t.Fatalf("%s: submission tags %v, want the route's [feed]", c.Value, top)
				}
				if !slices.Equal(names(c.Tags), want) {
					t.Fatalf("%s: own tags %v, want %v", c.Value, names(c.Tags), want)
				}
				if c.FirstSeen == nil || *c.FirstSeen != 1704164645000 {
					t.Fatalf("%s: firstSeen %v, want 1704164645000 (ms)", c.Value, c.FirstSeen)
				}
				continue
			}
			// submission.json: its file tags replace the route's.
			if !slices.Equal(top, []string{"api-tag"}) {
				t.Errorf("%s: submission tags %v, want the file's [api-tag]", c.Value, top)
			}
			if c.Value == "55.66.77.88" && !slices.Equal(names(c.Tags), []string{"indicator-tag-1", "indicator-tag-2"}) {
				t.Errorf("55.66.77.88: own tags %v", names(c.Tags))
			}
			if c.Value == "55.66.77.84" && c.Tags != nil {
				t.Errorf("55.66.77.84 has no own tags, got %v", c.Tags)
			}
		}
	}
	for v := range wantTags {
		if seen[v] != 1 {
			t.Errorf("%s delivered %d times, want once", v, seen[v])
		}
	}
	for _, v := range []string{"55.66.77.88", "55.66.77.84", "evil.example.net", "55.66.77.99"} {
		if seen[v] != 1 {
			t.Errorf("%s delivered %d times, want once", v, seen[v])
		}
	}
	if len(o.rejects) != bad {
		t.Errorf("rejects: got %d, want %d", len(o.rejects), bad)
	}
	for _, r := range o.rejects {
		if r["field"] != "first_seen" || r["line"] == nil || !strings.HasSuffix(r["file"].(string), "big.csv") {
			t.Errorf("reject %v", r)
		}
	}
	if n := len(o.bodies); n != 4 { // 24,975 CSV rows in 3, the JSON file in its own
		t.Errorf("submissions: got %d, want 4", n)
	}
}

// TestBatchesSpanFiles imports 1,000 small files: they travel together in
// as few submissions as their total allows.
func TestBatchesSpanFiles(t *testing.T) {
	srv := newEmulator(t, trustartest.Options{})
	cfg := testConfig(t, srv.URL, "")
	dir := t.TempDir()
	for f := range 1000 {
		var b strings.Builder
		b.WriteString("value\n")
		for r := range 12 {
			fmt.Fprintf(&b, "f%d-r%d.example.org\n", f, r)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("part-%04d.csv", f)), []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	o := runImport(t, srv, "run", "--config", cfg, dir)
	if o.exit != exitOK {
		t.Fatalf("exit %d: %s", o.exit, o.stderr)
	}
	total := 0
	for _, b := range decodeBodies(t, o.bodies) {
		total += len(b.Content)
	}
	if total != 12000 || len(o.bodies) != 2 {
		t.Errorf("got %d indicators in %d submissions, want 12000 in 2", total, len(o.bodies))
	}
	if o.summary["files"].(float64) != 1000 {
		t.Errorf("files: %v", o.summary["files"])
	}
}

// TestExitCodes checks the command line's contract for errors.
func TestExitCodes(t *testing.T) {
	srv := newEmulator(t, trustartest.Options{})
	good := testConfig(t, srv.URL, "")
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	input := write("in.csv", "value\n198.51.100.1\n")
	twoRoutes := testConfig(t, srv.URL, "  - name: other\n    sink: trustar\n    enclaves: [Partners]\n")
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    int
		wantErr string
	}{
		{"clean run", []string{"run", "--config", good, input}, nil, exitOK, ""},
		{"no paths", []string{"run", "--config", good}, nil, exitUsage, "requires at least 1 arg"},
		{"no config flag", []string{"run", input}, nil, exitUsage, "config"},
		{"missing config", []string{"run", "--config", filepath.Join(dir, "nope.yaml"), input}, nil, exitUsage, "nope.yaml"},
		{"unknown key", []string{"run", "--config", write("k.yaml", "sinks:\n  trustar:\n    url: http://x\n    colour: red\nroutes: []\n"), input}, nil, exitUsage, `unknown key "colour"`},
		{"unknown enclave", []string{"run", "--config", write("e.yaml", "sinks:\n  trustar:\n    url: http://x\nroutes:\n  - name: r\n    sink: trustar\n    enclaves: [Nowhere]\n"), input}, nil, exitUsage, `unknown enclave "Nowhere"`},
		{"route needed", []string{"run", "--config", twoRoutes, input}, nil, exitUsage, "--route"},
		{"no such route", []string{"run", "--config", good, "--route", "x", input}, nil, exitUsage, `no route "x"`},
		{"missing secret", []string{"run", "--config", good, input}, map[string]string{"TRUSTAR_API_SECRET": ""}, exitUsage, "TRUSTAR_API_SECRET"},
		{"bad credentials", []string{"run", "--config", good, input}, map[string]string{"TRUSTAR_API_SECRET": "wrong"}, exitFailed, "Bad client credentials"},
		{"missing input", []string{"run", "--config", good, filepath.Join(dir, "gone.csv")}, nil, exitUsage, "gone.csv"},
		{"unknown flag", []string{"run", "--config", good, "--colour", input}, nil, exitUsage, "unknown flag"},
		{"validate needs no secret", []string{"validate", "--config", good, input}, map[string]string{"TRUSTAR_API_KEY": "", "TRUSTAR_API_SECRET": ""}, exitOK, ""},
		{"version", []string{"version"}, nil, exitOK, ""},
	}
	// No configuration found elsewhere: --config is what they name.
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("IOCPIPE_CONFIG", "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("TRUSTAR_API_KEY", "demo")
			t.Setenv("TRUSTAR_API_SECRET", "demo")
			for k, v := range tt.env {
				if v == "" {
					os.Unsetenv(k)
				} else {
					t.Setenv(k, v)
				}
			}
			var stdout, stderr bytes.Buffer
			got := run(context.Background(), &env{stdout: &stdout, stderr: &stderr}, tt.args)
			if got != tt.want {
				t.Errorf("exit %d, want %d; stderr: %s", got, tt.want, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr %q does not mention %q", stderr.String(), tt.wantErr)
			}
		})
	}
}

// TestHelpEverywhere checks that every command answers --help.
func TestHelpEverywhere(t *testing.T) {
	for _, cmd := range [][]string{{"--help"}, {"run", "--help"}, {"validate", "--help"}, {"emulate", "--help"}, {"version", "--help"}} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), &env{stdout: &stdout, stderr: &stderr}, cmd); code != 0 || !strings.Contains(stdout.String(), "Usage:") {
			t.Errorf("%v: exit %d, output %q", cmd, code, stdout.String())
		}
	}
}
