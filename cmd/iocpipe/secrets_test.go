package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/sinks/faults"
	"github.com/iocpipe/iocpipe/sinks/threatwinds/threatwindstest"
	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

// TestSecretsStayOut runs imports with distinctive secrets — through
// retries, refusals, bad credentials, a webhook header and debug logging
// — and checks that no secret appears in stdout, stderr, the report, the
// rejects, the dump or --help.
func TestSecretsStayOut(t *testing.T) {
	const (
		tsKey, tsSecret = "tskey-93f1c2", "tssecret-5be77a"
		twKey, twSecret = "twkey-1d8e40", "twsecret-c0ffee"
		hookSecret      = "hooksecret-a11ce"
	)
	secrets := []string{tsKey, tsSecret, twKey, twSecret, hookSecret}
	ts := newEmulator(t, trustartest.Options{Key: tsKey, Secret: tsSecret, Faults: faults.Options{FailRate: 0.5, Seed: 9}})
	tw := threatwindstest.NewServer(threatwindstest.Options{
		Users:    []threatwindstest.User{{Key: twKey, Secret: twSecret, Roles: []string{"reporter"}}},
		ScanStep: 10 * time.Millisecond,
		Faults:   faults.Options{FailRate: 0.3, Seed: 9},
	})
	t.Cleanup(tw.Close)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`sinks:
  trustar:
    url: %s
    rate_limit: 0
    retry_deadline: 20s
  threatwinds:
    url: %s
    api_key_env: TW_KEY
    api_secret_env: TW_SECRET
    retry_deadline: 20s
enclaves:
  Community: %s
routes:
  - name: ts
    sink: trustar
    enclaves: [Community]
  - name: tw
    sink: threatwinds
  - name: scan
    sink: threatwinds
    kind: scan
    webhook:
      url: http://127.0.0.1:9/hook
      headers:
        Authorization: Bearer ${HOOK_SECRET}
`, ts.URL, tw.URL, testEnclave)), 0o600)
	input := filepath.Join(dir, "in.csv")
	os.WriteFile(input, []byte("value,notes\n8.8.8.8,public\n10.0.0.1,private\nscan.example.com,x\n"), 0o600)
	t.Setenv("TRUSTAR_API_KEY", tsKey)
	t.Setenv("TRUSTAR_API_SECRET", tsSecret)
	t.Setenv("TW_KEY", twKey)
	t.Setenv("TW_SECRET", twSecret)
	t.Setenv("HOOK_SECRET", hookSecret)

	var all bytes.Buffer
	runCmd := func(args ...string) {
		var stdout, stderr bytes.Buffer
		run(context.Background(), &env{stdout: &stdout, stderr: &stderr}, args)
		all.Write(stdout.Bytes())
		all.Write(stderr.Bytes())
	}
	for i, route := range []string{"ts", "tw", "scan"} {
		rej, rep, dump := filepath.Join(dir, fmt.Sprint("rej", i)), filepath.Join(dir, fmt.Sprint("rep", i)), filepath.Join(dir, fmt.Sprint("dump", i))
		runCmd("run", "--config", cfg, "--route", route, "--log-level", "debug", "--rejects", rej, "--report", rep, input)
		runCmd("validate", "--config", cfg, "--route", route, "--log-level", "debug", "--dump", dump, input)
		for _, f := range []string{rej, rep, dump} {
			b, _ := os.ReadFile(f)
			all.Write(b)
		}
	}
	t.Setenv("TRUSTAR_API_SECRET", tsSecret+"-wrong")
	runCmd("run", "--config", cfg, "--route", "ts", "--log-level", "debug", input)
	t.Setenv("TW_SECRET", twSecret+"-wrong")
	runCmd("run", "--config", cfg, "--route", "tw", "--log-level", "debug", input)
	runCmd("run", "--help")
	runCmd("emulate", "--help")
	if all.Len() < 1000 {
		t.Fatalf("too little output to be a meaningful check (%d bytes)", all.Len())
	}
	for _, s := range secrets {
		if i := strings.Index(all.String(), s); i >= 0 {
			t.Errorf("secret %q appears in the output: …%s…", s, all.String()[max(0, i-200):min(all.Len(), i+100)])
		}
	}
}
