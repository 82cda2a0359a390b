//go:build linux || darwin

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/iocpipe/iocpipe/sinks/faults"
	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

// barText matches what only the progress line writes.
var barText = regexp.MustCompile(`importing  |rows [\d,]+  delivered [\d,]+/[\d,]+`)

// messageLine matches each line a run writes on stderr besides the
// progress line: a log line, a reject, the count of rejects not shown,
// the exit's line.
var messageLine = regexp.MustCompile(`^(time=\S+ level=[A-Z]+ msg=.*|\S+\.csv:\d+: .*|… and \d+ more rejects .*|iocpipe: .*)$`)

// ptyImport sets up an import that takes a while and writes on stderr as
// it goes: three files of slowly delivered rows, some refused by the
// emulator (their rejects are printed as the sink answers), some
// rejected when read, a sink that fails some requests (retried, logged
// at debug level). It returns the command line's arguments.
func ptyImport(t *testing.T) []string {
	t.Helper()
	srv := newEmulator(t, trustartest.Options{Faults: faults.Options{
		Latency: 5 * time.Millisecond, FailRate: 0.1, RejectPattern: regexp.MustCompile(`refused\d+\.example\.com`),
	}})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `sinks:
  trustar:
    url: %s
    rate_limit: 0
    batch_size: 40
    in_flight: 1
    linger: 50ms
    retry_deadline: 30s
enclaves:
  Community: %s
routes:
  - name: feeds
    sink: trustar
    enclaves: [Community]
`, srv.URL, testEnclave), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"run", "--config", cfg, "--log-level", "debug"}
	for f := range 3 {
		var b strings.Builder
		b.WriteString("value\n")
		for i := range 400 {
			switch {
			case i%97 == 5:
				b.WriteString("not an indicator\n")
			case i%61 == 7:
				fmt.Fprintf(&b, "refused%d.example.com\n", i)
			default:
				fmt.Fprintf(&b, "host%d-%d.example.com\n", f, i)
			}
		}
		p := filepath.Join(dir, fmt.Sprintf("feed%d.csv", f))
		if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	t.Setenv("TRUSTAR_API_KEY", "demo")
	t.Setenv("TRUSTAR_API_SECRET", "demo")
	return args
}

// runOnPty runs iocpipe in-process with a pty as stderr and returns the
// exit code and everything written to the pty.
func runOnPty(t *testing.T, args []string) (int, string) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 50, Cols: 160}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var out bytes.Buffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		buf := make([]byte, 32<<10)
		for {
			n, err := ptmx.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return // EIO once the other end is closed and drained
			}
		}
	}()
	var stdout bytes.Buffer
	code := run(context.Background(), &env{stdout: &stdout, stderr: tty, isTerminal: isTerminal(tty)}, args)
	tty.Close()
	<-read
	mu.Lock()
	defer mu.Unlock()
	return code, strings.ReplaceAll(out.String(), "\r\n", "\n")
}

// TestProgressOnATerminal runs an import on a pty while rejects and log
// lines are written, and checks that the progress line was drawn, cleared
// before each of them and drawn again after, never shares a line of the
// screen with one, and is gone at the end.
func TestProgressOnATerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("an import of 1,200 rows delivered slowly")
	}
	code, out := runOnPty(t, ptyImport(t))
	if code != exitRejected {
		t.Fatalf("exit %d, want %d\n%s", code, exitRejected, out)
	}
	first := barText.FindStringIndex(out)
	if first == nil {
		t.Fatalf("no progress line drawn:\n%q", out)
	}
	// Messages written while the line showed, with the line drawn again
	// after them.
	between := 0
	for _, m := range regexp.MustCompile(`refused\d+\.example\.com"?: [^\n]*\n`).FindAllStringIndex(out, -1) {
		if m[0] > first[0] && barText.MatchString(out[m[1]:]) {
			between++
		}
	}
	if between == 0 {
		t.Fatalf("no reject written while the progress line showed:\n%q", out)
	}
	lines := screenLines(out)
	for i, l := range lines {
		if barText.MatchString(l) || !messageLine.MatchString(l) {
			t.Errorf("screen line %d is not one message: %q", i+1, l)
		}
	}
	if t.Failed() {
		t.Logf("raw output:\n%q", out)
	}
}

// TestNoProgress checks that nothing of the progress line is written
// with --no-progress or -q on a terminal, nor when stderr is not a
// terminal.
func TestNoProgress(t *testing.T) {
	if testing.Short() {
		t.Skip("imports of 1,200 rows delivered slowly")
	}
	args := ptyImport(t)
	for _, flag := range []string{"--no-progress", "-q"} {
		t.Run(flag, func(t *testing.T) {
			_, out := runOnPty(t, append([]string{flag}, args...))
			if barText.MatchString(out) || strings.Contains(out, clearLine) {
				t.Errorf("progress written with %s:\n%q", flag, out)
			}
		})
	}
	t.Run("not a terminal", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		run(context.Background(), &env{stdout: &stdout, stderr: &stderr, isTerminal: false}, args)
		if out := stderr.String(); barText.MatchString(out) || strings.Contains(out, clearLine) {
			t.Errorf("progress written on a pipe:\n%q", out)
		}
	})
}
