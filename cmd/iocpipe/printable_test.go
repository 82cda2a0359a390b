package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

func TestPrintable(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "198.51.100.1", "198.51.100.1"},
		{"unicode kept", "bücher.example — 例え", "bücher.example — 例え"},
		{"backslash kept", `C:\Windows\evil.exe`, `C:\Windows\evil.exe`},
		{"ESC", "a\x1b[2Jb", `a\x1b[2Jb`},
		{"OSC title", "\x1b]0;pwned\x07", `\x1b]0;pwned\a`},
		{"CR LF TAB", "a\rb\nc\td", `a\rb\nc\td`},
		{"DEL and C1", "a\x7fb\u009bc", `a\x7fb\u009bc`},
		{"bidi override", "abc\u202etxt.exe", `abc\u202etxt.exe`},
		{"invalid UTF-8", "a\xffb", `a\xffb`},
		{"no-break space kept", "a\u00a0b", "a\u00a0b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := printable(tt.in); got != tt.want {
				t.Errorf("printable(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestTerminalInjection is issue 11 item 9: control characters in a
// feed's file names, values, notes and reasons reach the terminal escaped,
// in inspect's text output and run's reject lines; --json, the rejects
// file and the values sent keep them as they are.
func TestTerminalInjection(t *testing.T) {
	const esc = "\x1b]0;pwned\x07\x1b[2J"
	dir := filepath.Join(t.TempDir(), "feed"+esc)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "in"+esc+".csv")
	text := "value,notes\n198.51.100.1,note" + esc + "\nbad" + esc + ",x\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	noESC := func(t *testing.T, what, s string) {
		t.Helper()
		if strings.ContainsAny(s, "\x1b\x07") {
			t.Errorf("%s holds a raw control character:\n%q", what, s)
		}
		if !strings.Contains(s, `\x1b]0;pwned\a\x1b[2J`) {
			t.Errorf("%s lacks the escaped sequence:\n%s", what, s)
		}
	}
	t.Run("inspect", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		run(context.Background(), &env{stdout: &stdout, stderr: &stderr}, []string{"inspect", path})
		noESC(t, "inspect", stdout.String())
		for _, w := range []string{`note\x1b]0;pwned`, `e.g. line 3: bad\x1b]0;pwned`, `in\x1b]0;pwned`} {
			if !strings.Contains(stdout.String(), w) {
				t.Errorf("inspect lacks %q:\n%s", w, stdout.String())
			}
		}
	})
	t.Run("inspect --json", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		run(context.Background(), &env{stdout: &stdout, stderr: &stderr}, []string{"inspect", "--json", path})
		var got inspection
		if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if got.File != path || len(got.Indicators) != 1 || got.Indicators[0].Notes != "note"+esc {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("run", func(t *testing.T) {
		srv := newEmulator(t, trustartest.Options{})
		cfg := testConfig(t, srv.URL, "")
		t.Setenv("TRUSTAR_API_KEY", "demo")
		t.Setenv("TRUSTAR_API_SECRET", "demo")
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), &env{stdout: &stdout, stderr: &stderr}, []string{"run", "--config", cfg, path})
		if code != exitRejected {
			t.Errorf("exit %d, want %d: %s", code, exitRejected, stderr.String())
		}
		noESC(t, "run's stderr", stderr.String())
		if strings.ContainsAny(stdout.String(), "\x1b\x07") {
			t.Errorf("run's summary holds a raw control character:\n%q", stdout.String())
		}
		bodies := decodeBodies(t, srv.Submissions())
		if len(bodies) != 1 || !bytes.Contains(srv.Submissions()[0], []byte(`note\u001b]0;pwned\u0007`)) {
			t.Errorf("the notes sent changed: %s", srv.Submissions())
		}
	})
}
