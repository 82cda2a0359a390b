package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iocpipe/iocpipe/pipeline/taxii/taxiitest"
	"github.com/iocpipe/iocpipe/sinks/threatwinds/threatwindstest"
	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

// runCheck runs iocpipe check with the given configuration.
func runCheck(t *testing.T, cfg string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(context.Background(), &env{stdout: &o, stderr: &e}, []string{"check", "--config", cfg, "--timeout", "5s"})
	return code, o.String(), e.String()
}

// checkLines returns check's lines by what they check (the part before
// ": ok" or ": FAILED").
func checkLines(t *testing.T, stdout string) map[string]string {
	t.Helper()
	lines := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		i := strings.LastIndex(l, ": ok")
		if j := strings.Index(l, ": FAILED: "); j >= 0 {
			i = j
		}
		if i < 0 {
			t.Fatalf("line %q says neither ok nor FAILED", l)
		}
		lines[l[:i]] = l[i+2:]
	}
	return lines
}

// TestCheckExampleAgainstEmulate checks the example configuration against
// what iocpipe emulate serves: every line ok with the demo credentials;
// with a wrong TruSTAR secret the TruSTAR lines fail, saying why, the
// others stay ok, and check exits 1.
func TestCheckExampleAgainstEmulate(t *testing.T) {
	ts := trustartest.New(trustartest.Options{})
	tw := threatwindstest.New(threatwindstest.Options{})
	t.Cleanup(tw.Close)
	srv := httptest.NewServer(emulatorMux(ts, tw, taxiitest.New(taxiitest.Options{})))
	t.Cleanup(srv.Close)
	example, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "iocpipe.yaml")
	os.WriteFile(cfg, []byte(strings.ReplaceAll(string(example), "http://127.0.0.1:8080", srv.URL)), 0o600)
	os.MkdirAll(filepath.Join(dir, "inbox", "feeds"), 0o700)
	os.MkdirAll(filepath.Join(dir, "inbox", "threatwinds"), 0o700)
	t.Setenv("TRUSTAR_API_KEY", "demo")
	t.Setenv("TRUSTAR_API_SECRET", "demo")
	t.Setenv("THREATWINDS_API_KEY", "reporter")
	t.Setenv("THREATWINDS_API_SECRET", "reporter")
	t.Setenv("SCAN_WEBHOOK_TOKEN", "webhook-token")

	code, stdout, stderr := runCheck(t, cfg)
	if code != 0 || strings.Contains(stdout, "FAILED") {
		t.Fatalf("check: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	lines := checkLines(t, stdout)
	for _, want := range []string{
		"config " + cfg,
		"route feeds: enclaves",
		"route feeds: trustar " + srv.URL + ": credentials",
		"route feeds: trustar: enclaves",
		"route threatwinds: threatwinds " + srv.URL + ": credentials",
		"route scans: threatwinds " + srv.URL + ": credentials",
		"route vendor-api: trustar: enclaves",
	} {
		if _, ok := lines[want]; !ok {
			t.Errorf("no line %q in\n%s", want, stdout)
		}
	}
	if got := lines["route feeds: enclaves"]; !strings.Contains(got, "Community = c04caa4e-4d1b-47fc-b9e2-c9ce11396b44") {
		t.Errorf("enclaves line %q does not say what Community resolved to", got)
	}

	t.Setenv("TRUSTAR_API_SECRET", "wrong")
	code, stdout, _ = runCheck(t, cfg)
	if code != 1 {
		t.Fatalf("check with a wrong secret: exit %d, want 1\n%s", code, stdout)
	}
	lines = checkLines(t, stdout)
	for _, route := range []string{"feeds", "phishtank", "vendor-api"} {
		got := lines["route "+route+": trustar "+srv.URL+": credentials"]
		if !strings.HasPrefix(got, "FAILED: ") || !strings.Contains(got, "refused the API key and secret") || !strings.Contains(got, "401") {
			t.Errorf("route %s with a wrong secret: %q, want FAILED saying the key and secret were refused", route, got)
		}
		if strings.Contains(got, "wrong") {
			t.Errorf("route %s: the line shows the secret: %q", route, got)
		}
	}
	if got := lines["route threatwinds: threatwinds "+srv.URL+": credentials"]; !strings.HasPrefix(got, "ok") {
		t.Errorf("threatwinds with its own credentials right: %q, want ok", got)
	}
}

// TestCheckEnclavesAndRoles checks what check finds with an account that
// lists its enclaves and a ThreatWinds user without the trusted role: an
// enclave not listed fails, a well-known route fails for want of the
// role, an entities route passes; with the trusted user, both pass.
func TestCheckEnclavesAndRoles(t *testing.T) {
	ts := trustartest.NewServer(trustartest.Options{Key: watchKey, Secret: watchSecret, Enclaves: []string{watchEnclave}})
	t.Cleanup(ts.Close)
	tw := threatwindstest.NewServer(threatwindstest.Options{})
	t.Cleanup(tw.Close)
	t.Setenv("TRUSTAR_API_KEY", watchKey)
	t.Setenv("TRUSTAR_API_SECRET", watchSecret)
	t.Setenv("TW_KEY", "reporter")
	t.Setenv("TW_SECRET", "reporter")
	cfg := writeFile(t, filepath.Join(t.TempDir(), "c.yaml"), `sinks:
  trustar:
    url: `+ts.URL+`
  threatwinds:
    url: `+tw.URL+`
    api_key_env: TW_KEY
    api_secret_env: TW_SECRET
enclaves:
  mine: `+watchEnclave+`
routes:
  - name: listed
    sink: trustar
    enclaves: [mine]
  - name: unlisted
    sink: trustar
    enclaves: [11111111-2222-4333-8444-555555555555]
  - name: entities
    sink: threatwinds
  - name: known
    sink: threatwinds
    kind: well-known
`)
	code, stdout, stderr := runCheck(t, cfg)
	if code != 1 {
		t.Fatalf("check: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	lines := checkLines(t, stdout)
	tests := []struct{ line, want string }{
		{"route listed: trustar: enclaves", "ok (1 of 1 listed, with the create permission)"},
		{"route unlisted: trustar: enclaves", "FAILED: 11111111-2222-4333-8444-555555555555 is not among the 1 enclaves these credentials can see"},
		{"route entities: threatwinds " + tw.URL + ": credentials", "ok (credentials accepted, without the role trusted"},
		{"route known: threatwinds " + tw.URL + ": credentials", "FAILED: ThreatWinds refused GET /api/ingest/v1/definitions: 403"},
	}
	for _, tt := range tests {
		if got := lines[tt.line]; !strings.HasPrefix(got, tt.want) {
			t.Errorf("%s: got %q, want %q...", tt.line, got, tt.want)
		}
	}
	if got := lines["route known: threatwinds "+tw.URL+": credentials"]; !strings.Contains(got, "needs the trusted role") {
		t.Errorf("well-known route: %q does not name the role it needs", got)
	}

	t.Setenv("TW_KEY", "trusted")
	t.Setenv("TW_SECRET", "trusted")
	_, stdout, _ = runCheck(t, cfg)
	lines = checkLines(t, stdout)
	if got := lines["route known: threatwinds "+tw.URL+": credentials"]; got != "ok (credentials accepted, role trusted granted)" {
		t.Errorf("well-known route with the trusted user: %q", got)
	}
}
