package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostileRSS is the bound on the peak RSS of iocpipe reading any of the
// memory cases: the benchmark's.
const hostileRSS = 150 << 20

// A memoryCase is a generated input whose memory use must not follow its
// size: a head, size bytes of filler without a newline, a tail.
type memoryCase struct {
	name, file string
	head, tail string
	fill       byte
	size       int64
	exit       int // run's exit code
	// delivered is how many indicators run delivers: those before and
	// after the long row (none of a JSON document that fails).
	delivered int
}

// memoryCases are issue 11's: a valid head then no newline, one huge JSON
// string, one huge CSV field. full gives the sizes of the report (5 GB,
// 200 MB, 50 MB); else they are smaller, for make test.
func memoryCases(full bool) []memoryCase {
	nl, str, field := int64(64<<20), int64(32<<20), int64(16<<20)
	if full {
		nl, str, field = 5<<30, 200<<20, 50<<20
	}
	return []memoryCase{
		{name: "CSV head then no newline", file: "nonl.csv", head: "value,notes\n198.51.100.1,ok\n", fill: 'a', size: nl, exit: exitRejected, delivered: 1},
		{name: "JSONL head then no newline", file: "nonl.jsonl", head: `{"value":"198.51.100.1"}` + "\n" + `{"value":"`, fill: 'a', size: nl, exit: exitRejected, delivered: 1},
		{name: "JSON one long string", file: "string.json", head: `[{"value":"198.51.100.1"},{"value":"`, tail: `"},{"value":"198.51.100.2"}]`, fill: 'a', size: str, exit: exitRejected},
		{name: "STIX one long string", file: "string-stix.json", fill: 'a', size: str, exit: exitRejected,
			head: `{"type":"bundle","id":"bundle--0b4e0b4e-0b4e-4b4e-8b4e-0b4e0b4e0b4e","objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--1b4e0b4e-0b4e-4b4e-8b4e-0b4e0b4e0b4e","created":"2024-01-01T00:00:00Z","modified":"2024-01-01T00:00:00Z","pattern":"[ipv4-addr:value = '198.51.100.3']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","description":"`,
			tail: `"}]}`},
		{name: "CSV one long field", file: "field.csv", head: "value,notes\n198.51.100.1,ok\n198.51.100.2,\"", tail: "\"\n198.51.100.3,ok\n", fill: 'b', size: field, exit: exitRejected, delivered: 2},
	}
}

// write generates the case's file in dir.
func (c memoryCase) write(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, c.file)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString(c.head)
	chunk := bytes.Repeat([]byte{c.fill}, 1<<20)
	for left := c.size; left > 0; left -= int64(len(chunk)) {
		w.Write(chunk[:min(int64(len(chunk)), left)])
	}
	w.WriteString(c.tail)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// startEmulator runs `iocpipe emulate` on a free port and returns its URL.
func startEmulator(t *testing.T, bin string) string {
	t.Helper()
	cmd := exec.Command(bin, "emulate", "--addr", "127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if url, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
			go io.Copy(io.Discard, out)
			return url
		}
	}
	t.Fatal("iocpipe emulate did not say where it listens")
	return ""
}

// TestHostileMemory runs iocpipe run and inspect, as processes, on each
// memory case against the emulator, and fails when the peak RSS of one
// passes hostileRSS. With IOCPIPE_HOSTILE_FULL=1 (make hostile) the
// files have the sizes of issue 11 (a 5 GB line); without, make test's
// smaller ones. -short skips it.
func TestHostileMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and writes large files")
	}
	bin := buildBinary(t)
	url := startEmulator(t, bin)
	cfg := testConfig(t, url, "")
	dir := t.TempDir()
	for _, c := range memoryCases(os.Getenv("IOCPIPE_HOSTILE_FULL") == "1") {
		t.Run(c.name, func(t *testing.T) {
			p := c.write(t, dir)
			defer os.Remove(p)
			rejects := filepath.Join(t.TempDir(), "rejects.jsonl")
			for _, args := range [][]string{
				{"run", "--config", cfg, "--rejects", rejects, p},
				{"inspect", "--config", cfg, p},
			} {
				code, rss, elapsed, out := measureChild(t, bin, args)
				t.Logf("%s %s (%d MiB file): exit %d in %s, peak RSS %d MiB", args[0], c.file, (c.size+int64(len(c.head)))>>20, code, elapsed.Round(time.Millisecond), rss>>20)
				if want := fmt.Sprintf("delivered    %s in ", plural(int64(c.delivered), "indicator", "indicators")); args[0] == "run" && (code != c.exit || !strings.Contains(out, want)) {
					t.Errorf("run: exit %d, want %d and %q; output: %.800s", code, c.exit, want, out)
				}
				if rss > hostileRSS {
					t.Errorf("%s: peak RSS %d MiB, want at most %d MiB", args[0], rss>>20, hostileRSS>>20)
				}
			}
		})
	}
}

// measureChild runs iocpipe with args and returns its exit code, peak
// RSS in bytes (as the kernel accounted it for the child), wall time and
// the end of its output.
func measureChild(t *testing.T, bin string, args []string) (int, int64, time.Duration, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "TRUSTAR_API_KEY=demo", "TRUSTAR_API_SECRET=demo")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Skip("no resource usage for a child process here")
	}
	s := out.String()
	if len(s) > 4000 {
		s = s[len(s)-4000:]
	}
	return code, int64(ru.Maxrss) << 10, elapsed, fmt.Sprint(s)
}
