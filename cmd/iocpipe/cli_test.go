package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

// cliRun runs iocpipe in-process with demo credentials.
func cliRun(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Setenv("TRUSTAR_API_KEY", "demo")
	t.Setenv("TRUSTAR_API_SECRET", "demo")
	var o, e bytes.Buffer
	code = run(context.Background(), &env{stdout: &o, stderr: &e}, args)
	return code, o.String(), e.String()
}

func writeFile(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestMissingPathIsUsage checks that a mistyped path exits 2 with nothing
// sent, even beside a good file.
func TestMissingPathIsUsage(t *testing.T) {
	srv := newEmulator(t, trustartest.Options{})
	cfg := testConfig(t, srv.URL, "")
	dir := t.TempDir()
	good := writeFile(t, filepath.Join(dir, "in.csv"), "value\n198.51.100.1\n")
	for _, cmd := range []string{"run", "validate"} {
		srv.Reset()
		code, _, stderr := cliRun(t, cmd, "--config", cfg, good, filepath.Join(dir, "typo.csv"))
		if code != exitUsage || !strings.Contains(stderr, "typo.csv") {
			t.Errorf("%s: exit %d, stderr %q; want 2 naming typo.csv", cmd, code, stderr)
		}
		if n := len(srv.Submissions()); n != 0 {
			t.Errorf("%s: %d submissions sent before the usage error", cmd, n)
		}
	}
}

// TestEmptyInputs checks that an empty file or folder, or one with no
// indicators, is said on stderr and exits 0, or 3 with rejected rows.
func TestEmptyInputs(t *testing.T) {
	srv := newEmulator(t, trustartest.Options{})
	cfg := testConfig(t, srv.URL, "")
	dir := t.TempDir()
	emptyDir := filepath.Join(dir, "empty")
	os.Mkdir(emptyDir, 0o700)
	tests := []struct {
		name string
		path string
		want int
	}{
		{"empty file", writeFile(t, filepath.Join(dir, "empty.csv"), ""), exitOK},
		{"header only", writeFile(t, filepath.Join(dir, "header.csv"), "value,first_seen\n"), exitOK},
		{"empty folder", emptyDir, exitOK},
		{"docs only", filepath.Dir(writeFile(t, filepath.Join(dir, "docs", "README.md"), "# feeds\n")), exitOK},
		{"only rejected rows", writeFile(t, filepath.Join(dir, "bad.csv"), "value\nnot an indicator at all!\n"), exitRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := cliRun(t, "run", "--config", cfg, tt.path)
			if code != tt.want {
				t.Errorf("exit %d, want %d; stderr %q", code, tt.want, stderr)
			}
			if !strings.Contains(stderr, "nothing to import") {
				t.Errorf("stderr %q does not say there was nothing to import", stderr)
			}
		})
	}
}

// TestFolderLeavesOutNonData checks that a folder run leaves out
// documentation, code and dotfiles, counts them, and that --include and
// --exclude choose.
func TestFolderLeavesOutNonData(t *testing.T) {
	srv := newEmulator(t, trustartest.Options{})
	cfg := testConfig(t, srv.URL, "")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "feed.csv"), "value\n198.51.100.1\n")
	writeFile(t, filepath.Join(dir, "sub", "more.csv"), "value\n198.51.100.2\n")
	for _, n := range []string{"README", "README.txt", "LICENSE", "notes.md", "feeds.yaml", "x.yml", "fetch.py", "main.go", "get.sh", ".hidden"} {
		writeFile(t, filepath.Join(dir, n), "whatever, not indicators\n")
	}
	code, _, stderr := cliRun(t, "run", "--config", cfg, "--log-level", "debug", dir)
	if code != exitOK {
		t.Fatalf("exit %d; stderr %s", code, stderr)
	}
	if !strings.Contains(stderr, "left out 10 files") {
		t.Errorf("stderr does not count 10 files left out: %s", stderr)
	}
	if !strings.Contains(stderr, "LICENSE") {
		t.Errorf("debug log does not list LICENSE: %s", stderr)
	}
	code, _, stderr = cliRun(t, "run", "--config", cfg, "--exclude", "sub/*", "--include", "*.csv", dir)
	if code != exitOK || !strings.Contains(stderr, "left out 11 files") {
		t.Errorf("--include/--exclude: exit %d; stderr %s", code, stderr)
	}
	code, _, stderr = cliRun(t, "run", "--config", cfg, "--include", "[", dir)
	if code != exitUsage {
		t.Errorf("a bad glob: exit %d, want 2; stderr %s", code, stderr)
	}
}
