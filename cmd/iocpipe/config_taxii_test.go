package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/taxii"
	"github.com/iocpipe/iocpipe/pipeline/taxii/taxiitest"
)

// taxiiRoute is a ThreatWinds route with a taxii: section of lines.
func taxiiRoute(lines ...string) string {
	s := twSection + twRoute + "    taxii:\n"
	for _, l := range lines {
		s += "      " + l + "\n"
	}
	return s
}

// TestConfigTAXIIErrors pins the messages of the taxii: checks.
func TestConfigTAXIIErrors(t *testing.T) {
	const u, col = "url: http://127.0.0.1:1/api1/", "collection: Demo indicators"
	tests := []struct {
		name, config, wantErr string
	}{
		{"url missing", taxiiRoute(col), "routes[0] (r).taxii.url: missing (the API root, as iocpipe taxii discover lists it)"},
		{"url scheme", taxiiRoute("url: taxii.example.com", col), `routes[0] (r).taxii.url: "taxii.example.com" must start with http:// or https://`},
		{"collection missing", taxiiRoute(u), "routes[0] (r).taxii.collection: missing: the collection's id, title or alias"},
		{"poll negative", taxiiRoute(u, col, "poll: -1s"), "routes[0] (r).taxii.poll: must not be negative (0 means 15m0s)"},
		{"poll too short", taxiiRoute(u, col, "poll: 10ms"), "routes[0] (r).taxii.poll: 10ms is too short: poll every 1s at least"},
		{"limit negative", taxiiRoute(u, col, "limit: -5"), "routes[0] (r).taxii.limit: must not be negative (0 leaves the server's default)"},
		{"timeout negative", taxiiRoute(u, col, "timeout: -1s"), "routes[0] (r).taxii: timeout and retry_deadline must not be negative"},
		{"token and basic", taxiiRoute(u, col, "token_env: T", "username_env: U", "password_env: P"),
			"routes[0] (r).taxii: give either token_env or username_env and password_env, not both"},
		{"username alone", taxiiRoute(u, col, "username_env: U"), "routes[0] (r).taxii: username_env and password_env go together"},
		{"added_after", taxiiRoute(u, col, "added_after: yesterday"), `routes[0] (r).taxii.added_after: "yesterday" is not a timestamp`},
		{"format", strings.Replace(taxiiRoute(u, col), "    taxii:\n", "    format: csv\n    taxii:\n", 1),
			`routes[0] (r).taxii: a TAXII collection holds STIX: the route's format must be stix or empty, not "csv"`},
		{"unknown key", taxiiRoute(u, col, "match: indicator"), `unknown key "match"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadConfig(writeConfig(t, tt.config))
			var ce *ConfigError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %v, want a ConfigError containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestConfigTAXIIDefaults checks the defaults and the forms of
// added_after.
func TestConfigTAXIIDefaults(t *testing.T) {
	tests := []struct {
		name       string
		addedAfter string
		want       time.Time
	}{
		{"none", "", time.Time{}},
		{"RFC 3339 with microseconds", "2026-01-05T09:00:00.123456Z", time.Date(2026, 1, 5, 9, 0, 0, 123456000, time.UTC)},
		{"a date", "2024-01-31", time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC)},
		{"a zone", "2024-01-31T02:00:00+02:00", time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := []string{"url: http://127.0.0.1:1/api1", "collection: demo"}
			if tt.addedAfter != "" {
				lines = append(lines, "added_after: "+tt.addedAfter)
			}
			cfg, err := LoadConfig(writeConfig(t, taxiiRoute(lines...)))
			if err != nil {
				t.Fatal(err)
			}
			tx := cfg.Routes[0].TAXII
			if time.Duration(tx.Poll) != defaultTAXIIPoll {
				t.Errorf("poll %s, want %s", time.Duration(tx.Poll), defaultTAXIIPoll)
			}
			if got := tx.startCursor(); !got.AddedAfter.Equal(tt.want) || got.Seen != nil {
				t.Errorf("start cursor %+v, want after %s", got, tt.want)
			}
		})
	}
}

// TestConfigTAXIIClient builds the client of a taxii: section from the
// environment and polls the emulator's demo collection with it, from the
// start cursor — the pieces a route's poll is made of.
func TestConfigTAXIIClient(t *testing.T) {
	srv := taxiitest.NewServer(taxiitest.Options{PageSize: 15})
	defer srv.Close()
	log := slog.New(slog.DiscardHandler)
	for _, tt := range []struct {
		name, auth string
		env        map[string]string
		wantErr    string
	}{
		{"basic", "username_env: TX_USER\n      password_env: TX_PASS", map[string]string{"TX_USER": "demo", "TX_PASS": "demo"}, ""},
		{"password unset", "username_env: TX_USER\n      password_env: TX_UNSET", map[string]string{"TX_USER": "demo"},
			"routes[0] (r).taxii.password_env: environment variable TX_UNSET is not set"},
		{"token refused", "token_env: TX_TOKEN", map[string]string{"TX_TOKEN": "demo"}, "authentication failed (401"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := LoadConfig(writeConfig(t, taxiiRoute("url: "+srv.APIRoot(), "collection: demo", "limit: 10", tt.auth)))
			if err != nil {
				t.Fatal(err)
			}
			r := &cfg.Routes[0]
			opts, err := cfg.taxiiOptions(r, log)
			if err == nil {
				var c *taxii.Client
				if c, err = taxii.New(opts); err == nil {
					var col taxii.Collection
					if col, err = c.Resolve(context.Background(), r.TAXII.URL, r.TAXII.Collection); err == nil {
						n := 0
						for p, perr := range c.Poll(context.Background(), col, r.TAXII.startCursor()) {
							if err = perr; err != nil {
								break
							}
							if len(p.Objects) > 10 {
								t.Errorf("page of %d objects over limit 10", len(p.Objects))
							}
							n += len(p.Objects)
						}
						if err == nil && n != taxiitest.DefaultDemoObjects {
							t.Errorf("%d objects, want %d", n, taxiitest.DefaultDemoObjects)
						}
					}
				}
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("got %v, want %q", err, tt.wantErr)
			}
		})
	}
}
