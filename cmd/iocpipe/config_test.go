package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	tsSection   = "sinks:\n  trustar:\n    url: http://127.0.0.1:1\n"
	twSection   = "sinks:\n  threatwinds:\n    url: http://127.0.0.1:1\n"
	bothSection = "sinks:\n  trustar:\n    url: http://127.0.0.1:1\n  threatwinds:\n    url: http://127.0.0.1:1\n"
	tsRoute     = "routes:\n  - name: r\n    sink: trustar\n    enclaves: [" + testEnclave + "]\n"
	twRoute     = "routes:\n  - name: r\n    sink: threatwinds\n"
)

// writeConfig writes text as a config file and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConfigErrors pins the messages of every sink and route check: the
// text after "config FILE: ".
func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, config, wantErr string
	}{
		// Sink sections.
		{"trustar url missing", "sinks:\n  trustar:\n    client_id_env: X\n" + tsRoute,
			"sinks.trustar.url: missing"},
		{"trustar url scheme", "sinks:\n  trustar:\n    url: ftp://x\n" + tsRoute,
			`sinks.trustar.url: "ftp://x" must start with http:// or https://`},
		{"trustar batch over limit", tsSection + "    batch_size: 10001\n" + tsRoute,
			"sinks.trustar.batch_size: 10001 is over TruSTAR's limit of 10000 indicators per submission"},
		{"trustar negative rate", tsSection + "    rate_limit: -1\n" + tsRoute,
			"sinks.trustar.rate_limit: must not be negative (0 turns it off)"},
		{"trustar negative in_flight", tsSection + "    in_flight: -1\n" + tsRoute,
			"sinks.trustar: burst, in_flight, batch_size, byte_budget and max_conns must not be negative"},
		{"trustar negative linger", tsSection + "    linger: -1s\n" + tsRoute,
			"sinks.trustar: linger, timeout and retry_deadline must not be negative"},
		{"trustar negative burst before batch limit", tsSection + "    burst: -1\n    batch_size: 20000\n" + tsRoute,
			"sinks.trustar: burst, in_flight, batch_size, byte_budget and max_conns must not be negative"},
		{"trustar unknown key", tsSection + "    kind: scan\n" + tsRoute,
			`line 4: unknown key "kind"`},
		{"threatwinds url missing", "sinks:\n  threatwinds:\n    token_env: T\n" + twRoute,
			"sinks.threatwinds.url: missing"},
		{"threatwinds url scheme", "sinks:\n  threatwinds:\n    url: x\n" + twRoute,
			`sinks.threatwinds.url: "x" must start with http:// or https://`},
		{"threatwinds token and key", twSection + "    token_env: T\n    api_key_env: K\n" + twRoute,
			"sinks.threatwinds: give either token_env or api_key_env and api_secret_env, not both"},
		{"threatwinds key without secret", twSection + "    api_key_env: K\n" + twRoute,
			"sinks.threatwinds: api_key_env and api_secret_env go together"},
		{"threatwinds secret without key", twSection + "    api_secret_env: S\n" + twRoute,
			"sinks.threatwinds: api_key_env and api_secret_env go together"},
		{"threatwinds negative batch", twSection + "    batch_size: -5\n" + twRoute,
			"sinks.threatwinds: burst, in_flight, batch_size, byte_budget and max_conns must not be negative"},
		{"threatwinds negative rate", twSection + "    rate_limit: -0.5\n" + twRoute,
			"sinks.threatwinds.rate_limit: must not be negative (0 turns it off)"},
		{"threatwinds negative retry", twSection + "    retry_deadline: -1m\n" + twRoute,
			"sinks.threatwinds: linger, timeout and retry_deadline must not be negative"},
		{"threatwinds negative unhealthy_after", twSection + "    unhealthy_after: -1s\n" + twRoute,
			"sinks.threatwinds.unhealthy_after: must not be negative"},
		{"duplicate key", twSection + "    batch_size: 20000\n    url: ftp://y\n" + twRoute,
			`line 5: mapping key "url" already defined at line 3`},
		{"unknown section", "sinks:\n  misp:\n    url: http://x\n" + tsRoute,
			`line 2: unknown key "misp"`},
		{"trustar section checked before threatwinds", "sinks:\n  threatwinds:\n    url: x\n  trustar:\n    url: y\n" + tsRoute,
			`sinks.trustar.url: "y" must start with http:// or https://`},

		// Routes.
		{"no routes", tsSection, "routes: no route is configured"},
		{"sink missing", tsSection + "routes:\n  - name: r\n",
			"routes[0] (r).sink: missing: name the sink (trustar or threatwinds)"},
		{"sink unknown", tsSection + "routes:\n  - name: r\n    sink: misp\n",
			`routes[0] (r).sink: unknown sink "misp" (known: trustar, threatwinds)`},
		{"sink case matters", tsSection + "routes:\n  - name: r\n    sink: TruSTAR\n",
			`routes[0] (r).sink: unknown sink "TruSTAR" (known: trustar, threatwinds)`},
		{"trustar not configured", twSection + tsRoute,
			"routes[0] (r).sink: sink trustar is not configured under sinks:"},
		{"threatwinds not configured", tsSection + twRoute,
			"routes[0] (r).sink: sink threatwinds is not configured under sinks:"},
		{"trustar no enclaves", tsSection + "routes:\n  - name: r\n    sink: trustar\n",
			"routes[0] (r).enclaves: a TruSTAR route needs at least one enclave"},
		{"trustar with kind", tsSection + tsRoute + "    kind: scan\n",
			"routes[0] (r): kind, reputation, comments and webhook are ThreatWinds keys; this route goes to trustar"},
		{"trustar with reputation", tsSection + tsRoute + "    reputation: 1\n",
			"routes[0] (r): kind, reputation, comments and webhook are ThreatWinds keys; this route goes to trustar"},
		{"trustar with comments", tsSection + tsRoute + "    comments: false\n",
			"routes[0] (r): kind, reputation, comments and webhook are ThreatWinds keys; this route goes to trustar"},
		{"trustar with webhook", tsSection + tsRoute + "    webhook:\n      url: http://x\n",
			"routes[0] (r): kind, reputation, comments and webhook are ThreatWinds keys; this route goes to trustar"},
		{"trustar bad enclave", tsSection + "routes:\n  - name: r\n    sink: trustar\n    enclaves: [nope]\n",
			`routes[0] (r).enclaves[0]: unknown enclave "nope": no enclave names are configured (give a UUID, or name it under enclaves:)`},
		{"threatwinds unknown kind", twSection + twRoute + "    kind: report\n",
			`routes[0] (r).kind: unknown kind "report" (entities, well-known or scan)`},
		{"threatwinds reputation high", twSection + twRoute + "    reputation: 4\n",
			"routes[0] (r).reputation: 4 is out of range: ThreatWinds reputations go from -3 to 3"},
		{"threatwinds reputation low", twSection + twRoute + "    reputation: -4\n",
			"routes[0] (r).reputation: -4 is out of range: ThreatWinds reputations go from -3 to 3"},
		{"threatwinds webhook not scan", twSection + twRoute + "    webhook:\n      url: http://x\n",
			"routes[0] (r).webhook: only scan routes send a webhook"},
		{"threatwinds webhook well-known", twSection + twRoute + "    kind: well-known\n    webhook:\n      url: http://x\n",
			"routes[0] (r).webhook: only scan routes send a webhook"},
		{"threatwinds webhook url", twSection + twRoute + "    kind: scan\n    webhook:\n      url: x\n",
			`routes[0] (r).webhook.url: "x" must start with http:// or https://`},
		{"threatwinds webhook url missing", twSection + twRoute + "    kind: scan\n    webhook:\n      headers: {A: b}\n",
			"routes[0] (r).webhook.url: missing"},
		{"threatwinds bad enclave", twSection + twRoute + "    enclaves: [nope]\n",
			`routes[0] (r).enclaves[0]: unknown enclave "nope": no enclave names are configured (give a UUID, or name it under enclaves:)`},
		{"route name missing", tsSection + "routes:\n  - sink: trustar\n",
			"routes[0].name: every route needs a name"},
		{"second route", bothSection + tsRoute + "  - name: s\n    sink: threatwinds\n    kind: x\n",
			`routes[1] (s).kind: unknown kind "x" (entities, well-known or scan)`},
		{"route twice", bothSection + tsRoute + "  - name: r\n    sink: threatwinds\n",
			`routes[1].name: route "r" is defined twice`},
		{"inbox keys without inbox", twSection + twRoute + "    done_dir: d\n",
			"routes[0] (r): work_dir, done_dir, failed_dir, delete_done and create_inbox need an inbox"},
		{"work_dir is done_dir", twSection + twRoute + "    inbox: /srv/inbox\n    work_dir: done\n",
			"routes[0] (r): work_dir and done_dir are the same folder /srv/inbox/done: each needs its own"},
		{"failed_dir inside work_dir", twSection + twRoute + "    inbox: /srv/inbox\n    work_dir: /srv/work\n    failed_dir: /srv/work/failed\n",
			"routes[0] (r): failed_dir /srv/work/failed is inside work_dir /srv/work: none may be inside another"},
		{"done_dir holds the inbox", twSection + twRoute + "    inbox: /srv/inbox\n    done_dir: /srv\n",
			"routes[0] (r): done_dir /srv holds the inbox /srv/inbox: give it a folder of its own"},
		{"dedup_window negative", twSection + twRoute + "    dedup_window: -1h\n",
			"routes[0] (r).dedup_window: must not be negative (0 is off)"},
		{"give_up_after negative", twSection + twRoute + "    inbox: /srv/inbox\n    give_up_after: -1h\n",
			"routes[0] (r): settle, rescan and give_up_after must not be negative"},
		{"sink checked before format", tsSection + "routes:\n  - name: r\n    sink: nope\n    format: xml\n",
			`routes[0] (r).sink: unknown sink "nope" (known: trustar, threatwinds)`},
		{"format after sink", tsSection + tsRoute + "    format: xml\n",
			`routes[0] (r).format: unknown format "xml" (csv, json, jsonl, misp-csv, stix, text; empty detects)`},
		{"max_line_bytes small", tsSection + tsRoute + "    max_line_bytes: 100\n",
			"routes[0] (r).max_line_bytes: 100 is out of range: give 1024 to 1073741824 bytes (0 means 1048576)"},
		{"max_line_bytes negative", tsSection + tsRoute + "    max_line_bytes: -1\n",
			"routes[0] (r).max_line_bytes: -1 is out of range: give 1024 to 1073741824 bytes (0 means 1048576)"},
		{"misp_to_ids unknown", tsSection + tsRoute + "    misp_to_ids: sometimes\n",
			`line 8: misp_to_ids: "sometimes" is not required or any (required, the default, skips MISP attributes whose to_ids is false; any imports them)`},
		{"misp_to_ids not a scalar", tsSection + tsRoute + "    misp_to_ids: [any]\n",
			`line 8: misp_to_ids: a list or map is not required or any (required, the default, skips MISP attributes whose to_ids is false; any imports them)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.config)
			_, err := LoadConfig(path)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a ConfigError", err)
			}
			if got, want := err.Error(), "config "+path+": "+tt.wantErr; got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

// TestConfigDefaults pins the delivery defaults each sink's section gets,
// and what a route of each kind is completed with.
func TestConfigDefaults(t *testing.T) {
	full := func(rate float64, inFlight, batch, maxConns int) DeliveryConfig {
		return DeliveryConfig{
			RateLimit: &rate, Burst: 1, InFlight: inFlight, BatchSize: batch, ByteBudget: 8 << 20,
			Linger: Duration(500 * time.Millisecond), Timeout: Duration(time.Minute),
			RetryDeadline: Duration(5 * time.Minute), UnhealthyAfter: Duration(30 * time.Second), MaxConns: maxConns,
		}
	}
	given := func(d DeliveryConfig, f func(*DeliveryConfig)) DeliveryConfig { f(&d); return d }
	tests := []struct {
		name, config string
		want         DeliveryConfig
		kind         string
		associations bool
	}{
		{"trustar", tsSection + tsRoute, full(60, 4, 10000, 16), "", false},
		{"threatwinds", twSection + twRoute, full(0, 16, 500, 16), "entities", true},
		{"threatwinds well-known", twSection + twRoute + "    kind: well-known\n", full(0, 16, 500, 16), "well-known", false},
		{"threatwinds scan", twSection + twRoute + "    kind: scan\n", full(0, 16, 500, 16), "scan", false},
		{"trustar rate off", tsSection + "    rate_limit: 0\n" + tsRoute, full(0, 4, 10000, 16), "", false},
		{"trustar in_flight raises max_conns", tsSection + "    in_flight: 40\n" + tsRoute, full(60, 40, 10000, 40), "", false},
		{"threatwinds max_conns below in_flight", twSection + "    in_flight: 40\n    max_conns: 2\n" + twRoute, full(0, 40, 500, 2), "entities", true},
		{"trustar everything given", tsSection + "    rate_limit: 7\n    burst: 3\n    in_flight: 2\n    batch_size: 9\n    byte_budget: 1KiB\n" +
			"    linger: 1s\n    timeout: 2s\n    retry_deadline: 3s\n    unhealthy_after: 4s\n    max_conns: 5\n    insecure_skip_verify: true\n" + tsRoute,
			DeliveryConfig{RateLimit: new(7.0), Burst: 3, InFlight: 2, BatchSize: 9, ByteBudget: 1024, Linger: Duration(time.Second),
				Timeout: Duration(2 * time.Second), RetryDeadline: Duration(3 * time.Second), UnhealthyAfter: Duration(4 * time.Second), MaxConns: 5, InsecureSkipVerify: true}, "", false},
		{"threatwinds batch given", twSection + "    batch_size: 20000\n" + twRoute, given(full(0, 16, 500, 16), func(d *DeliveryConfig) { d.BatchSize = 20000 }), "entities", true},
		{"trustar batch at limit", tsSection + "    batch_size: 10000\n" + tsRoute, full(60, 4, 10000, 16), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := LoadConfig(writeConfig(t, tt.config))
			if err != nil {
				t.Fatal(err)
			}
			rc := &cfg.Routes[0]
			got := cfg.Delivery(rc)
			if got.RateLimit == nil || *got.RateLimit != *tt.want.RateLimit {
				t.Errorf("rate_limit: got %v, want %v", got.RateLimit, *tt.want.RateLimit)
			}
			got.RateLimit, tt.want.RateLimit = nil, nil
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if rc.Kind != tt.kind {
				t.Errorf("kind: got %q, want %q", rc.Kind, tt.kind)
			}
			if got := takesAssociations(rc); got != tt.associations {
				t.Errorf("associations: got %v, want %v", got, tt.associations)
			}
			if rc.Settle != Duration(2*time.Second) || rc.Rescan != Duration(10*time.Second) {
				t.Errorf("settle, rescan: got %v, %v, want 2s, 10s", rc.Settle, rc.Rescan)
			}
		})
	}
}

// TestConfigCredentials pins the environment variables each section
// names by default, and the errors when they are not set.
func TestConfigCredentials(t *testing.T) {
	_, err := LoadConfig(writeConfig(t, bothSection))
	if err == nil || !strings.Contains(err.Error(), "no route") {
		t.Fatalf("got %v, want no route", err)
	}
	cfg, err := LoadConfig(writeConfig(t, bothSection+tsRoute))
	if err != nil {
		t.Fatal(err)
	}
	if ts := cfg.Sinks.TruSTAR; ts.ClientIDEnv != "TRUSTAR_API_KEY" || ts.ClientSecretEnv != "TRUSTAR_API_SECRET" {
		t.Errorf("trustar: got %q, %q", ts.ClientIDEnv, ts.ClientSecretEnv)
	}
	if tw := cfg.Sinks.ThreatWinds; tw.APIKeyEnv != "THREATWINDS_API_KEY" || tw.APISecretEnv != "THREATWINDS_API_SECRET" || tw.TokenEnv != "" {
		t.Errorf("threatwinds: got %q, %q, %q", tw.APIKeyEnv, tw.APISecretEnv, tw.TokenEnv)
	}

	tests := []struct {
		name, config string
		env          map[string]string
		wantErr      string
	}{
		{"trustar key", tsSection + "    client_id_env: TEST_TS_ID\n    client_secret_env: TEST_TS_SECRET\n" + tsRoute,
			map[string]string{"TEST_TS_SECRET": "s"},
			"sinks.trustar.client_id_env: environment variable TEST_TS_ID is not set (secrets come from the environment only)"},
		{"trustar secret", tsSection + "    client_id_env: TEST_TS_ID\n    client_secret_env: TEST_TS_SECRET\n" + tsRoute,
			map[string]string{"TEST_TS_ID": "k", "TEST_TS_SECRET": ""},
			"sinks.trustar.client_secret_env: environment variable TEST_TS_SECRET is not set (secrets come from the environment only)"},
		{"threatwinds token", twSection + "    token_env: TEST_TW_TOKEN\n" + twRoute, nil,
			"sinks.threatwinds.token_env: environment variable TEST_TW_TOKEN is not set (secrets come from the environment only)"},
		{"threatwinds key", twSection + "    api_key_env: TEST_TW_KEY\n    api_secret_env: TEST_TW_SECRET\n" + twRoute, nil,
			"sinks.threatwinds.api_key_env: environment variable TEST_TW_KEY is not set (secrets come from the environment only)"},
		{"threatwinds secret", twSection + "    api_key_env: TEST_TW_KEY\n    api_secret_env: TEST_TW_SECRET\n" + twRoute,
			map[string]string{"TEST_TW_KEY": "k"},
			"sinks.threatwinds.api_secret_env: environment variable TEST_TW_SECRET is not set (secrets come from the environment only)"},
		{"webhook header", twSection + "    token_env: TEST_TW_TOKEN\n" + twRoute + "    kind: scan\n    webhook:\n      url: http://x\n      headers: {X-Key: '${TEST_TW_HOOK}'}\n",
			map[string]string{"TEST_TW_TOKEN": "t"},
			"routes (r).webhook.headers.X-Key: environment variable TEST_TW_HOOK is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, name := range []string{"TEST_TS_ID", "TEST_TS_SECRET", "TEST_TW_TOKEN", "TEST_TW_KEY", "TEST_TW_SECRET", "TEST_TW_HOOK"} {
				t.Setenv(name, "")
				os.Unsetenv(name)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			path := writeConfig(t, tt.config)
			cfg, err := LoadConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = newSink(cfg, &cfg.Routes[0], slog.New(slog.DiscardHandler))
			if err == nil {
				t.Fatal("got no error")
			}
			if got, want := err.Error(), "config "+path+": "+tt.wantErr; got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

// TestDumpBodies pins what validate --dump writes for each kind of route:
// the bodies the route's sink would send.
func TestDumpBodies(t *testing.T) {
	t.Setenv("HOOK_SECRET", "not-in-a-dry-run")
	path := writeConfig(t, bothSection+`routes:
  - name: ts
    sink: trustar
    enclaves: [`+testEnclave+`]
    tags: [feed]
  - name: tw
    sink: threatwinds
    reputation: 2
  - name: quiet
    sink: threatwinds
    comments: false
  - name: known
    sink: threatwinds
    kind: well-known
  - name: scan
    sink: threatwinds
    kind: scan
    webhook:
      url: http://127.0.0.1:9/hook
      headers: {Authorization: 'Bearer ${HOOK_SECRET}'}
`)
	input := filepath.Join(t.TempDir(), "in.csv")
	if err := os.WriteFile(input, []byte("value,notes,first_seen\n8.8.8.8,public,2024-01-02T03:04:05Z\nscan.example.com,,\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"ts": `{"enclaveIds":["c04caa4e-4d1b-47fc-b9e2-c9ce11396b44"],"content":[{"value":"8.8.8.8","firstSeen":1704164645000,"notes":"public"},{"value":"scan.example.com"}],"tags":[{"name":"feed","enclaveId":"c04caa4e-4d1b-47fc-b9e2-c9ce11396b44"}]}
`,
		"tw": `{"type":"ip","attributes":{"ip":"8.8.8.8"},"reputation":2,"tags":[]}
{"entityID":"ip-ba7fa36bff8d58ee45b973615e83d9aaeb921f1cc477d9c156e8a9cae8cca16e","comment":"public"}
{"type":"domain","attributes":{"domain":"scan.example.com"},"reputation":2,"tags":[]}
`,
		"quiet": `{"type":"ip","attributes":{"ip":"8.8.8.8"},"reputation":-1,"tags":[]}
{"type":"domain","attributes":{"domain":"scan.example.com"},"reputation":-1,"tags":[]}
`,
		"known": `{"type":"ip","attributes":{"ip":"8.8.8.8"}}
{"type":"domain","attributes":{"domain":"scan.example.com"}}
`,
		"scan": `{"target":"8.8.8.8","webhook":{"url":"http://127.0.0.1:9/hook","headers":[{"key":"Authorization","value":"Bearer ${HOOK_SECRET}"}]}}
{"target":"scan.example.com","webhook":{"url":"http://127.0.0.1:9/hook","headers":[{"key":"Authorization","value":"Bearer ${HOOK_SECRET}"}]}}
`,
	}
	for _, route := range []string{"ts", "tw", "quiet", "known", "scan"} {
		t.Run(route, func(t *testing.T) {
			dump := filepath.Join(t.TempDir(), "dump.ndjson")
			var stdout, stderr strings.Builder
			code := run(context.Background(), &env{stdout: &stdout, stderr: &stderr},
				[]string{"validate", "--config", path, "--route", route, "--dump", dump, input})
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			b, err := os.ReadFile(dump)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(b); got != want[route] {
				t.Errorf("got\n%s\nwant\n%s", got, want[route])
			}
		})
	}
}

// TestInsecureWarning checks that every kind of sink warns when TLS
// verification is off.
func TestInsecureWarning(t *testing.T) {
	t.Setenv("TRUSTAR_API_KEY", "k")
	t.Setenv("TRUSTAR_API_SECRET", "s")
	t.Setenv("THREATWINDS_API_KEY", "k")
	t.Setenv("THREATWINDS_API_SECRET", "s")
	for _, sink := range []string{"trustar", "threatwinds"} {
		t.Run(sink, func(t *testing.T) {
			cfg, err := LoadConfig(writeConfig(t, "sinks:\n  "+sink+":\n    url: https://127.0.0.1:1\n    insecure_skip_verify: true\n"+
				"routes:\n  - name: r\n    sink: "+sink+"\n    enclaves: ["+testEnclave+"]\n"))
			if err != nil {
				t.Fatal(err)
			}
			var log strings.Builder
			if _, err := newSink(cfg, &cfg.Routes[0], slog.New(slog.NewTextHandler(&log, nil))); err != nil {
				t.Fatal(err)
			}
			want := `level=WARN msg="TLS verification is OFF (insecure_skip_verify: true): anyone on the path can read and change what is sent" sink=` + sink + "\n"
			if got := log.String(); !strings.HasSuffix(got, want) || strings.Count(got, "\n") != 1 {
				t.Errorf("got %q, want one line ending %q", got, want)
			}
		})
	}
}
