package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

// buildBinary builds iocpipe once for tests that need a process of its
// own (to measure its memory, or to kill it).
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "iocpipe")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestHostileInputs feeds the inputs too big to commit — generated here —
// to the real binary and checks that each gives a clear reject or file
// error, quickly, with memory in proportion (peak RSS of the process; on
// Linux it starts at the size of the test process that forked it, about
// 50 MiB, so the bounds are loose).
func TestHostileInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and writes large files")
	}
	bin := buildBinary(t)
	srv := newEmulator(t, trustartest.Options{})
	cfg := testConfig(t, srv.URL, "")
	dir := t.TempDir()
	write := func(name string, fill func(f *os.File) error) string {
		t.Helper()
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := fill(f); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	text := func(s string) func(*os.File) error {
		return func(f *os.File) error { _, err := f.WriteString(s); return err }
	}
	long := strings.Repeat("a", 10<<20)
	tests := []struct {
		name    string
		path    string
		exit    int
		reason  string // a reject's reason must contain this
		maxRSS  int64  // KiB
		maxTime time.Duration
	}{
		{
			name: "10 MB single-line CSV", exit: exitRejected, reason: "record longer than 1048576 bytes",
			path:   write("long.csv", text("value,notes\n198.51.100.1,ok\n"+long+",x\n198.51.100.2,ok\n")),
			maxRSS: 150 << 10, maxTime: 20 * time.Second,
		},
		{
			name: "10 MB single-line JSONL", exit: exitRejected, reason: "line longer than 1048576 bytes",
			path:   write("long.jsonl", text(`{"value":"198.51.100.3"}`+"\n"+`{"value":"`+long+`"}`+"\n"+`{"value":"198.51.100.4"}`+"\n")),
			maxRSS: 150 << 10, maxTime: 20 * time.Second,
		},
		{
			// One JSON document cannot be read on past it: the file fails.
			name: "10 MB value in a JSON array", exit: exitRejected, reason: "a JSON value longer than 1048576 bytes",
			path:   write("long.json", text(`[{"value":"198.51.100.5"},{"value":"`+long+`"}]`)),
			maxRSS: 200 << 10, maxTime: 20 * time.Second,
		},
		{
			name: "100,000-character value", exit: exitRejected, reason: "100012 characters long",
			path:   write("100k.csv", text("value\n"+strings.Repeat("b", 100000)+".example.com\n")),
			maxRSS: 100 << 10, maxTime: 10 * time.Second,
		},
		{
			name: "2 GB sparse file of zeros", exit: exitRejected, reason: "looks binary",
			path: write("zeros.csv", func(f *os.File) error { return f.Truncate(2 << 30) }),
			// Refused from its first bytes: nothing near its size is read.
			maxRSS: 100 << 10, maxTime: 5 * time.Second,
		},
		{
			name: "JSON nested a million deep", exit: exitRejected, reason: "exceeded max depth",
			path:   write("deep.json", text(strings.Repeat("[", 1<<20)+strings.Repeat("]", 1<<20))),
			maxRSS: 100 << 10, maxTime: 10 * time.Second,
		},
		{
			name: "a quarter of a million tags in one field", exit: exitRejected, reason: "tags",
			path:   write("tags.csv", text("value,tags\n198.51.100.6,"+strings.Repeat("t;", 1<<18)+"\n")),
			maxRSS: 150 << 10, maxTime: 10 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rejects := filepath.Join(t.TempDir(), "rejects.jsonl")
			cmd := exec.Command(bin, "run", "--config", cfg, "--rejects", rejects, tt.path)
			cmd.Env = append(os.Environ(), "TRUSTAR_API_KEY=demo", "TRUSTAR_API_SECRET=demo")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			start := time.Now()
			err := cmd.Run()
			elapsed := time.Since(start)
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
			if code != tt.exit {
				t.Errorf("exit %d, want %d; stderr: %.500s", code, tt.exit, stderr.String())
			}
			b, _ := os.ReadFile(rejects)
			found := false
			for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
				var r map[string]any
				if json.Unmarshal(line, &r) == nil && strings.Contains(fmt.Sprint(r["reason"], r["field"]), tt.reason) {
					found = true
				}
			}
			if !found {
				t.Errorf("no reject says %q: %.1000s", tt.reason, b)
			}
			if rss > tt.maxRSS || elapsed > tt.maxTime {
				t.Errorf("took %s and %d MiB, want at most %s and %d MiB", elapsed.Round(time.Millisecond), rss>>10, tt.maxTime, tt.maxRSS>>10)
			}
			t.Logf("exit %d in %s, peak RSS %d MiB", code, elapsed.Round(time.Millisecond), rss>>10)
		})
	}
}
