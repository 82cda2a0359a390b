package main

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// TestSecretInvalidInHeader: a secret holding a byte an HTTP header cannot
// carry (a newline, another control character) is a config error at start
// (exit 2) naming the variable, never printing the value.
func TestSecretInvalidInHeader(t *testing.T) {
	for _, v := range []string{"line1\nline2", "tab-ok\there\x01nul", "del\x7fete"} {
		t.Setenv("TEST_TS_ID", "key")
		t.Setenv("TEST_TS_SECRET", v)
		path := writeConfig(t, tsSection+"    client_id_env: TEST_TS_ID\n    client_secret_env: TEST_TS_SECRET\n"+tsRoute)
		cfg, err := LoadConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = newSink(cfg, &cfg.Routes[0], slog.New(slog.DiscardHandler))
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "TEST_TS_SECRET") {
			t.Errorf("secret %q: got %v, want a config error naming TEST_TS_SECRET", v, err)
			continue
		}
		if strings.Contains(err.Error(), "line1") || strings.Contains(err.Error(), "nul") || strings.Contains(err.Error(), "ete") {
			t.Errorf("error %q shows the secret's value", err)
		}
	}
}
