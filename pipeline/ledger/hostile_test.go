package ledger

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writtenLedger returns the path of a closed ledger holding one entry.
func writtenLedger(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := openTestBolt(t, path)
	if _, err := l.Begin(context.Background(), "r/s", Content{Sum: "abc", Name: "a.csv", Size: 1}, false); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBoltHostileFiles is issue 11 item 8: a ledger path that is not a
// regular file, or a corrupt ledger, is a clear error naming the file —
// never a hang, a SIGBUS or a panic.
func TestBoltHostileFiles(t *testing.T) {
	tests := []struct {
		name    string
		make    func(t *testing.T) string
		want    error
		wantMsg string
	}{
		{"FIFO", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "fifo")
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Skip(err)
			}
			return p
		}, ErrNotRegular, "a named pipe"},
		{"device", func(*testing.T) string { return "/dev/zero" }, ErrNotRegular, "a device"},
		{"folder", func(t *testing.T) string { return t.TempDir() }, ErrNotRegular, "a folder"},
		{"symlink", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "link")
			if err := os.Symlink("/dev/zero", p); err != nil {
				t.Fatal(err)
			}
			return p
		}, ErrNotRegular, "a symlink"},
		{"truncated", func(t *testing.T) string {
			p := writtenLedger(t)
			fi, _ := os.Stat(p)
			if err := os.Truncate(p, fi.Size()/2+100); err != nil {
				t.Fatal(err)
			}
			return p
		}, ErrCorrupt, "move it away"},
		{"truncated to whole pages", func(t *testing.T) string {
			p := writtenLedger(t)
			if err := os.Truncate(p, 2*4096); err != nil {
				t.Fatal(err)
			}
			return p
		}, ErrCorrupt, "beyond the end of the file"},
		{"bad magic", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "ledger.db")
			os.WriteFile(p, []byte(strings.Repeat("not a ledger\n", 2000)), 0o600)
			return p
		}, ErrCorrupt, "not a bbolt database"},
		{"garbage pages", func(t *testing.T) string {
			p := writtenLedger(t)
			b, _ := os.ReadFile(p)
			rand.Read(b[2*4096:])
			os.WriteFile(p, b, 0o600)
			return p
		}, ErrCorrupt, "move it away"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.make(t)
			done := make(chan error, 1)
			go func() {
				l, err := OpenBolt(path, BoltOptions{Timeout: 100 * time.Millisecond})
				if err == nil {
					_, _, err = l.Get(context.Background(), "r/s", "abc")
					l.Close()
				}
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("OpenBolt still blocked after 5s")
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("got %v, want %v naming %s and saying %q", err, tt.want, path, tt.wantMsg)
			}
		})
	}
}

// TestBoltOpenHonoursContext: waiting for another holder's lock ends when
// the context does (a signal), not only at the lock timeout.
func TestBoltOpenHonoursContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	openTestBolt(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := OpenBoltContext(ctx, path, BoltOptions{Timeout: 10 * time.Second})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), path) {
		t.Errorf("got %v, want the context's error naming %s", err, path)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("returned after %s, want about 100ms", d)
	}
}
