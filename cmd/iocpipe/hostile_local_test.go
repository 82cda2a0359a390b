package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

// runWithin runs iocpipe in-process and fails the test if it has not
// returned within d.
func runWithin(t *testing.T, d time.Duration, args ...string) (int, string) {
	t.Helper()
	t.Setenv("TRUSTAR_API_KEY", "demo")
	t.Setenv("TRUSTAR_API_SECRET", "demo")
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(context.Background(), &env{stdout: &stdout, stderr: &stderr}, args) }()
	select {
	case code := <-done:
		return code, stderr.String()
	case <-time.After(d):
		t.Fatalf("iocpipe %s still running after %s", strings.Join(args, " "), d)
		return 0, ""
	}
}

// TestHostileLedger is issue 11 item 8: a ledger path that is a named
// pipe or a device, or a truncated or overwritten ledger, ends run at
// once with exit 1 and a message naming the file — not a hang, a spin, a
// SIGBUS or a panic (exit 2).
func TestHostileLedger(t *testing.T) {
	srv := newEmulator(t, trustartest.Options{})
	dir := t.TempDir()
	input := filepath.Join(dir, "in.csv")
	os.WriteFile(input, []byte("value\n198.51.100.1\n"), 0o600)
	written := func(t *testing.T) string {
		p := filepath.Join(t.TempDir(), "ledger.db")
		cfg := testConfig(t, srv.URL, "ledger: "+p+"\n")
		if code, stderr := runWithin(t, 30*time.Second, "run", "--config", cfg, input); code != exitOK {
			t.Fatalf("first run: exit %d: %s", code, stderr)
		}
		return p
	}
	tests := []struct {
		name, want string
		path       func(t *testing.T) string
	}{
		{"named pipe", "a named pipe", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "fifo")
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Skip(err)
			}
			return p
		}},
		{"/dev/zero", "a device", func(*testing.T) string { return "/dev/zero" }},
		{"truncated", "move it away", func(t *testing.T) string {
			p := written(t)
			fi, _ := os.Stat(p)
			os.Truncate(p, fi.Size()/2+100)
			return p
		}},
		{"garbage pages", "move it away", func(t *testing.T) string {
			p := written(t)
			b, _ := os.ReadFile(p)
			rand.Read(b[2*4096:])
			os.WriteFile(p, b, 0o600)
			return p
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.path(t)
			cfg := testConfig(t, srv.URL, "ledger: "+p+"\n")
			code, stderr := runWithin(t, 20*time.Second, "run", "--config", cfg, input)
			if code != exitFailed || !strings.Contains(stderr, p) || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, want %d naming %s and saying %q; stderr: %s", code, exitFailed, p, tt.want, stderr)
			}
		})
	}
}

// TestOutputsNotRegular is issue 11 item 8: --rejects, --report and
// --dump naming an existing named pipe or device write to it without
// changing its mode (they used to chmod it 0600).
func TestOutputsNotRegular(t *testing.T) {
	srv := newEmulator(t, trustartest.Options{})
	cfg := testConfig(t, srv.URL, "")
	dir := t.TempDir()
	input := filepath.Join(dir, "in.csv")
	os.WriteFile(input, []byte("value\n198.51.100.1\nnot-an-indicator\n"), 0o600)
	fifo := func(t *testing.T) (string, <-chan []byte) {
		p := filepath.Join(t.TempDir(), "fifo")
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Skip(err)
		}
		os.Chmod(p, 0o644)
		got := make(chan []byte, 1)
		go func() { // a reader, as a shell's process substitution is
			f, err := os.Open(p)
			if err != nil {
				got <- nil
				return
			}
			b, _ := io.ReadAll(f)
			f.Close()
			got <- b
		}()
		return p, got
	}
	device := filepath.Join(dir, "null")
	if err := syscall.Mknod(device, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
		device = "" // not allowed here: the named pipes still test it
	}
	os.Chmod(device, 0o666)
	for _, flag := range []string{"--rejects", "--report", "--dump"} {
		t.Run(flag, func(t *testing.T) {
			cmd := "run"
			if flag == "--dump" {
				cmd = "validate"
			}
			p, got := fifo(t)
			code, stderr := runWithin(t, 20*time.Second, cmd, "--config", cfg, flag, p, input)
			if code != exitRejected {
				t.Errorf("exit %d, want %d: %s", code, exitRejected, stderr)
			}
			if b := <-got; len(b) == 0 {
				t.Errorf("nothing written to the named pipe")
			}
			if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o644 {
				t.Errorf("named pipe's mode: %v %v, want 0644", fi.Mode(), err)
			}
			if device == "" {
				return
			}
			code, stderr = runWithin(t, 20*time.Second, cmd, "--config", cfg, flag, device, input)
			if code != exitRejected {
				t.Errorf("device: exit %d, want %d: %s", code, exitRejected, stderr)
			}
			if fi, err := os.Stat(device); err != nil || fi.Mode().Perm() != 0o666 {
				t.Errorf("device's mode: %v %v, want 0666", fi.Mode(), err)
			}
		})
	}
}
