package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/iocpipe/iocpipe/pipeline/taxii"
	"github.com/iocpipe/iocpipe/pipeline/taxii/taxiitest"
	"github.com/iocpipe/iocpipe/sinks/threatwinds/threatwindstest"
	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

// TestTAXIIDiscover runs iocpipe taxii discover against the TAXII
// emulator: the demo collections in text and in JSON, from discovery or
// from the API root, and the exit codes of refusals and usage errors.
func TestTAXIIDiscover(t *testing.T) {
	const password = "taxii-pw-7d1e55"
	srv := taxiitest.NewServer(taxiitest.Options{Password: password})
	defer srv.Close()
	t.Setenv("TAXII_PASSWORD", password)
	t.Setenv("TAXII_TOKEN", "")

	code, stdout, stderr := cliRun(t, "taxii", "discover", "--username", "demo", srv.URL)
	if code != exitOK {
		t.Fatalf("exit %d; stderr %s", code, stderr)
	}
	for _, want := range []string{srv.APIRoot() + " (default)", taxiitest.DemoTitle, taxiitest.DemoCollectionID, taxiitest.ScratchTitle,
		taxiitest.ScratchCollectionID, taxiitest.LockedTitle, "CAN_READ", "application/stix+json;version=2.1"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout does not list %q:\n%s", want, stdout)
		}
	}
	for _, line := range strings.Split(stdout, "\n") {
		if strings.Contains(line, taxiitest.LockedCollectionID) && !strings.Contains(line, " no ") {
			t.Errorf("the locked collection's line does not say it cannot be read: %q", line)
		}
	}

	code, stdout, stderr = cliRun(t, "taxii", "discover", "--username", "demo", "--json", srv.APIRoot())
	if code != exitOK {
		t.Fatalf("--json on the API root: exit %d; stderr %s", code, stderr)
	}
	var l struct {
		Discovery *json.RawMessage `json:"discovery"`
		APIRoots  []struct {
			URL         string             `json:"url"`
			Versions    []string           `json:"versions"`
			Collections []taxii.Collection `json:"collections"`
		} `json:"api_roots"`
	}
	if err := json.Unmarshal([]byte(stdout), &l); err != nil {
		t.Fatalf("--json: %v\n%s", err, stdout)
	}
	if l.Discovery != nil || len(l.APIRoots) != 1 || len(l.APIRoots[0].Collections) != 3 || l.APIRoots[0].URL != srv.APIRoot() {
		t.Errorf("--json listing: %s", stdout)
	}
	titles := map[string]bool{}
	for _, c := range l.APIRoots[0].Collections {
		titles[c.Title] = c.CanRead
	}
	if !titles[taxiitest.DemoTitle] || !titles[taxiitest.ScratchTitle] || titles[taxiitest.LockedTitle] {
		t.Errorf("can_read by title: %v", titles)
	}
	if strings.Contains(stdout+stderr, password) {
		t.Error("the password appears in the output")
	}

	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}`))
	}))
	defer plain.Close()
	t.Run("refusals", func(t *testing.T) {
		tests := []struct {
			name string
			env  map[string]string
			args []string
			want int
			says string
		}{
			{"wrong password", map[string]string{"TAXII_PASSWORD": "wrong"}, []string{"--username", "demo", srv.URL}, exitFailed, "401"},
			{"no credentials", map[string]string{"TAXII_PASSWORD": ""}, []string{srv.URL}, exitFailed, "authentication failed"},
			{"token and Basic", map[string]string{"TAXII_TOKEN": "tok"}, []string{"--username", "demo", srv.URL}, exitUsage, "give one"},
			{"password variable unset", map[string]string{"TAXII_PASSWORD": ""}, []string{"--username", "demo", srv.URL}, exitUsage, "TAXII_PASSWORD is not set"},
			{"no URL", nil, nil, exitUsage, "one URL"},
			{"not a URL", nil, []string{"example.com"}, exitUsage, "http://"},
			{"no such path", nil, []string{"--username", "demo", srv.URL + "/nothing/"}, exitFailed, "not found (404)"},
			{"not TAXII", nil, []string{"--username", "demo", plain.URL}, exitFailed, "not a TAXII 2.1 answer"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				for k, v := range tt.env {
					t.Setenv(k, v)
				}
				code, _, stderr := cliRun(t, append([]string{"taxii", "discover"}, tt.args...)...)
				if code != tt.want || !strings.Contains(stderr, tt.says) {
					t.Errorf("exit %d, stderr %q; want %d saying %q", code, stderr, tt.want, tt.says)
				}
				if strings.Contains(stderr, password) {
					t.Error("the password appears on stderr")
				}
			})
		}
	})
}

// TestEmulateServesTAXII checks that iocpipe emulate's handler serves the
// TAXII emulator under /taxii2/ beside the others: the client polls the
// demo collection, objects added through /_emulator/taxii/ show up in
// scratch, /_emulator/stats counts them and /_emulator/reset empties
// scratch.
func TestEmulateServesTAXII(t *testing.T) {
	tw := threatwindstest.New(threatwindstest.Options{})
	t.Cleanup(tw.Close)
	srv := httptest.NewServer(emulatorMux(trustartest.New(trustartest.Options{}), tw, taxiitest.New(taxiitest.Options{})))
	t.Cleanup(srv.Close)
	c, err := taxii.New(taxii.Options{Username: "demo", Password: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	root := srv.URL + taxiitest.APIRootPath
	count := func(name string) int {
		t.Helper()
		col, err := c.Resolve(ctx, root, name)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for p, err := range c.Poll(ctx, col, taxii.Cursor{}) {
			if err != nil {
				t.Fatal(err)
			}
			n += len(p.Objects)
		}
		return n
	}
	if n := count(taxiitest.DemoTitle); n != taxiitest.DefaultDemoObjects {
		t.Errorf("demo: %d objects, want %d", n, taxiitest.DefaultDemoObjects)
	}
	body := `{"type":"bundle","id":"bundle--0e4c6f1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b","objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--3c2b1a09-8f7e-4d6c-9b5a-4f3e2d1c0b9a","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","pattern":"[domain-name:value = 'x.example.com']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}]}`
	resp, err := http.Post(srv.URL+"/_emulator/taxii/collections/"+taxiitest.ScratchCollectionID+"/objects", "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("add: %v %v", resp.Status, err)
	}
	resp.Body.Close()
	if n := count(taxiitest.ScratchTitle); n != 1 {
		t.Errorf("scratch: %d objects after adding one", n)
	}
	resp, err = http.Get(srv.URL + "/_emulator/stats")
	if err != nil {
		t.Fatal(err)
	}
	var stats map[string]json.RawMessage
	json.NewDecoder(resp.Body).Decode(&stats)
	resp.Body.Close()
	if !strings.Contains(string(stats["taxii"]), `"added":1`) {
		t.Errorf("stats: %s", stats["taxii"])
	}
	resp, err = http.Post(srv.URL+"/_emulator/reset", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := count(taxiitest.ScratchTitle); n != 0 {
		t.Errorf("scratch: %d objects after /_emulator/reset", n)
	}
}

// TestEmulateTAXIIFlags checks that bad --taxii-* values are usage errors.
func TestEmulateTAXIIFlags(t *testing.T) {
	for _, args := range [][]string{{"--taxii-page-size", "0"}, {"--taxii-fail-rate", "2"}, {"--taxii-same-date-added", "0"}} {
		code, _, stderr := cliRun(t, append([]string{"emulate", "--addr", "127.0.0.1:0"}, args...)...)
		if code != exitUsage || !strings.Contains(stderr, "--taxii-") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}
