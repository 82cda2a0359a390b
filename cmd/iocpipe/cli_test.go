package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/sinks/faults"
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

// cliRunStdin is cliRun with stdin.
func cliRunStdin(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Setenv("TRUSTAR_API_KEY", "demo")
	t.Setenv("TRUSTAR_API_SECRET", "demo")
	var o, e bytes.Buffer
	code = run(context.Background(), &env{stdout: &o, stderr: &e, stdin: strings.NewReader(stdin)}, args)
	return code, o.String(), e.String()
}

// TestScriptingDash checks that - is stdin for the input and stdout for
// --rejects, --report and --dump, the summary text moving to stderr.
func TestScriptingDash(t *testing.T) {
	srv := newEmulator(t, trustartest.Options{})
	cfg := testConfig(t, srv.URL, "")
	feed := "value\n198.51.100.1\nnot an indicator!\n"
	code, stdout, stderr := cliRunStdin(t, feed, "run", "--config", cfg, "--rejects", "-", "-")
	if code != exitRejected || len(srv.Submissions()) != 1 {
		t.Fatalf("run - : exit %d, %d submissions; stderr %s", code, len(srv.Submissions()), stderr)
	}
	var rej map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(stdout)), &rej); err != nil || rej["file"] != stdinName || rej["line"] != 3.0 {
		t.Errorf("--rejects - : stdout %q (%v)", stdout, err)
	}
	if !strings.Contains(stderr, "delivered    1 indicator in 1 submission") {
		t.Errorf("the summary text is not on stderr: %q", stderr)
	}
	code, stdout, _ = cliRunStdin(t, feed, "run", "--config", cfg, "--report", "-", "-")
	var rep report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code != exitRejected || rep.Summary.Delivered != 1 {
		t.Errorf("--report - : exit %d, stdout %q (%v)", code, stdout, err)
	}
	code, stdout, _ = cliRunStdin(t, feed, "validate", "--config", cfg, "--dump", "-", "-")
	if code != exitRejected || !strings.Contains(stdout, `"198.51.100.1"`) || strings.Contains(stdout, "would send") {
		t.Errorf("--dump - : exit %d, stdout %q", code, stdout)
	}
	if _, err := os.Stat("-"); err == nil {
		t.Error("a file named - was written")
	}
	for _, args := range [][]string{
		{"run", "--config", cfg, "--rejects", "-", "--report", "-", "-"},
		{"run", "--config", cfg, "--json", "--rejects", "-", "-"},
		{"run", "--config", cfg, "-", "-"},
	} {
		if code, _, stderr := cliRunStdin(t, feed, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want 2; stderr %s", args, code, stderr)
		}
	}
}

// TestJSONSummary checks that --json prints one JSON object on stdout,
// and nothing else there, with the outcomes of rows and indicators.
func TestJSONSummary(t *testing.T) {
	srv := newEmulator(t, trustartest.Options{})
	cfg := testConfig(t, srv.URL, "")
	dir := t.TempDir()
	in := writeFile(t, filepath.Join(dir, "in.csv"), "value\n198.51.100.1\n198.51.100.1\nnot an indicator!\nexample.org\n")
	for _, cmd := range []string{"run", "validate"} {
		code, stdout, stderr := cliRun(t, cmd, "--config", cfg, "--json", in)
		if code != exitRejected {
			t.Errorf("%s: exit %d; stderr %s", cmd, code, stderr)
		}
		var whole map[string]any
		if err := json.Unmarshal([]byte(stdout), &whole); err != nil {
			t.Fatalf("%s: stdout is not one JSON object: %v: %q", cmd, err, stdout)
		}
		rows, _ := whole["rows"].(map[string]any)
		inds, _ := whole["indicators"].(map[string]any)
		js := map[string]map[string]any{"rows": rows, "indicators": inds}
		for _, k := range []string{"rows", "indicators"} {
			for _, f := range []string{"read", "delivered", "merged", "rejected", "skipped", "failed", "resumed"} {
				if _, ok := js[k][f]; !ok {
					t.Errorf("%s: %s.%s missing: %s", cmd, k, f, stdout)
				}
			}
		}
		if js["rows"]["read"] != 4.0 || js["rows"]["rejected"] != 1.0 || js["indicators"]["delivered"] != 2.0 || js["indicators"]["merged"] != 1.0 {
			t.Errorf("%s: counts %v", cmd, js)
		}
		if js["rows"]["delivered"] != 2.0 || js["rows"]["merged"] != 1.0 {
			t.Errorf("%s: rows delivered %v and merged %v, want 2 and 1", cmd, js["rows"]["delivered"], js["rows"]["merged"])
		}
		if whole["exit"] != 3.0 {
			t.Errorf("%s: exit in JSON %v", cmd, whole["exit"])
		}
	}
}

// TestQuietVerboseLogFormat checks -q, -v and --log-format.
func TestQuietVerboseLogFormat(t *testing.T) {
	srv := newEmulator(t, trustartest.Options{})
	cfg := testConfig(t, srv.URL, "")
	dir := t.TempDir()
	in := writeFile(t, filepath.Join(dir, "in.csv"), "value\n198.51.100.1\n")
	code, stdout, stderr := cliRun(t, "-q", "run", "--config", cfg, in)
	if code != exitOK || stdout != "" || stderr != "" {
		t.Errorf("-q: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	_, _, stderr = cliRun(t, "run", "-v", "--log-format", "json", "--no-progress", "--config", cfg, in)
	if !strings.Contains(stderr, `"level":"DEBUG"`) {
		t.Errorf("-v --log-format json: no JSON debug line in %q", stderr)
	}
	_, _, stderr = cliRun(t, "run", "-v", "--log-format", "text", "--config", cfg, in)
	if !strings.Contains(stderr, "level=DEBUG") {
		t.Errorf("--log-format text: no text debug line in %q", stderr)
	}
	for _, args := range [][]string{{"run", "-q", "-v", "--config", cfg, in}, {"run", "--log-format", "xml", "--config", cfg, in}} {
		if code, _, _ := cliRun(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// TestVersion checks --version and version, and the VCS fallback.
func TestVersion(t *testing.T) {
	_, a, _ := cliRun(t, "--version")
	_, b, _ := cliRun(t, "version")
	if a != b || !strings.HasPrefix(a, "iocpipe ") || strings.Count(a, "\n") != 1 {
		t.Errorf("--version %q, version %q", a, b)
	}
	got := vcsVersion([]debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}})
	if got != "0123456789ab+dirty" {
		t.Errorf("vcsVersion = %q", got)
	}
	if got := vcsVersion(nil); got != "dev" {
		t.Errorf("vcsVersion(nil) = %q", got)
	}
}

// TestSummaryCounts checks the summary text: files the ledger skipped are
// counted and said, and one of a thing is singular.
func TestSummaryCounts(t *testing.T) {
	srv := newEmulator(t, trustartest.Options{})
	dir := t.TempDir()
	cfg := testConfig(t, srv.URL, "ledger: "+filepath.Join(dir, "ledger.db")+"\n")
	in := writeFile(t, filepath.Join(dir, "in.csv"), "value\n198.51.100.1\n198.51.100.1\n")
	code, stdout, stderr := cliRun(t, "run", "--config", cfg, in)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"1 merged duplicate,", "delivered    1 indicator in 1 submission\n", "files        1 read (0 failed)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, stderr = cliRun(t, "run", "--config", cfg, in)
	if code != exitOK || !strings.Contains(stdout, "1 skipped as already imported") {
		t.Errorf("second run: exit %d, summary:\n%s\nstderr %s", code, stdout, stderr)
	}
	if strings.Contains(stderr, "nothing to import") {
		t.Errorf("a run whose files were all imported already says nothing to import: %s", stderr)
	}
	_, stdout, _ = cliRun(t, "run", "--config", cfg, "--json", in)
	var js struct {
		Files fileCounts `json:"files"`
	}
	if err := json.Unmarshal([]byte(stdout), &js); err != nil || js.Files.Imported != 1 {
		t.Errorf("--json files: %+v (%v)", js.Files, err)
	}
}

// TestInterruptRun checks that a run stopped by a signal says so in one
// line naming the config key ledger, exits 130, and lists the rows it did
// not deliver in --rejects only, never on the terminal.
func TestInterruptRun(t *testing.T) {
	srv := trustartest.NewServer(trustartest.Options{Enclaves: []string{testEnclave, otherEnclave}, Faults: faults.Options{Latency: 300 * time.Millisecond}})
	t.Cleanup(srv.Close)
	cfg := rewriteConfig(t, testConfig(t, srv.URL, ""), "    rate_limit: 0\n", "    rate_limit: 0\n    batch_size: 100\n    in_flight: 1\n")
	in := writeRows(t, 2000, func(i int) string { return fmt.Sprintf("row%06d.example.com", i) })
	rejects := filepath.Join(t.TempDir(), "rejects.jsonl")
	for _, withFile := range []bool{false, true} {
		srv.Reset()
		t.Setenv("TRUSTAR_API_KEY", "demo")
		t.Setenv("TRUSTAR_API_SECRET", "demo")
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			for len(srv.Submissions()) == 0 {
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
		}()
		args := []string{"run", "--config", cfg, in}
		if withFile {
			args = []string{"run", "--config", cfg, "--rejects", rejects, in}
		}
		var stdout, stderr bytes.Buffer
		code := run(ctx, &env{stdout: &stdout, stderr: &stderr}, args)
		cancel()
		if code != exitInterrupted {
			t.Errorf("exit %d, want 130; stderr %s", code, stderr.String())
		}
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		last := lines[len(lines)-1]
		if !regexp.MustCompile(`^iocpipe: interrupted: [0-9,]+ of [0-9,]+ rows delivered; run again with a ledger to resume \(config key ledger: `).MatchString(last) {
			t.Errorf("last line %q", last)
		}
		if strings.Contains(stderr.String(), "not delivered") || strings.Contains(stderr.String(), "more reject") {
			t.Errorf("failed rows shown on the terminal:\n%s", stderr.String())
		}
		if stdout.Len() != 0 {
			t.Errorf("stdout %q, want nothing", stdout.String())
		}
		if withFile {
			b, _ := os.ReadFile(rejects)
			if !strings.Contains(string(b), "the run stopped first") {
				t.Errorf("--rejects lacks the rows not delivered: %.300s", b)
			}
		}
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 50011: "50,011", 100000: "100,000", 1234567: "1,234,567", -1000: "-1,000"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestConfigDiscovery checks where run and validate find their
// configuration without --config, and that the one chosen is logged.
func TestConfigDiscovery(t *testing.T) {
	srv := newEmulator(t, trustartest.Options{})
	text, err := os.ReadFile(testConfig(t, srv.URL, ""))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in := writeFile(t, filepath.Join(dir, "in.csv"), "value\n198.51.100.1\n")
	xdg, work := filepath.Join(dir, "xdg"), filepath.Join(dir, "work")
	os.MkdirAll(work, 0o700)
	t.Chdir(work)
	t.Setenv("XDG_CONFIG_HOME", xdg)
	t.Setenv("IOCPIPE_CONFIG", "")
	os.Unsetenv("IOCPIPE_CONFIG")
	if code, _, stderr := cliRun(t, "validate", in); code != exitUsage || !strings.Contains(stderr, "IOCPIPE_CONFIG") {
		t.Errorf("no config anywhere: exit %d, stderr %s", code, stderr)
	}
	xdgFile := writeFile(t, filepath.Join(xdg, "iocpipe", "config.yaml"), string(text))
	wantFile := func(name, want string) {
		t.Helper()
		code, _, stderr := cliRun(t, "validate", "--log-format", "json", in)
		if code != exitOK || !strings.Contains(stderr, `"msg":"configuration","file":`+strconv.Quote(want)) {
			t.Errorf("%s: exit %d, want 0 and the log naming %s; stderr %s", name, code, want, stderr)
		}
	}
	wantFile("XDG", xdgFile)
	writeFile(t, filepath.Join(work, "iocpipe.yaml"), string(text))
	wantFile("./iocpipe.yaml", "iocpipe.yaml")
	envFile := writeFile(t, filepath.Join(dir, "env.yaml"), string(text))
	t.Setenv("IOCPIPE_CONFIG", envFile)
	wantFile("$IOCPIPE_CONFIG", envFile)
	t.Setenv("IOCPIPE_CONFIG", filepath.Join(dir, "typo.yaml"))
	if code, _, stderr := cliRun(t, "validate", in); code != exitUsage || !strings.Contains(stderr, "typo.yaml") {
		t.Errorf("$IOCPIPE_CONFIG naming no file: exit %d, stderr %s", code, stderr)
	}
	flagFile := writeFile(t, filepath.Join(dir, "flag.yaml"), string(text))
	code, _, stderr := cliRun(t, "validate", "--log-format", "json", "--config", flagFile, in)
	if code != exitOK || !strings.Contains(stderr, strconv.Quote(flagFile)) {
		t.Errorf("--config: exit %d, stderr %s", code, stderr)
	}
}
