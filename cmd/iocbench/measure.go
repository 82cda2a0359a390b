package main

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// A result is one measured run of a child process.
type result struct {
	Name   string
	Rows   int
	Wall   time.Duration
	CPU    time.Duration // user + system
	MaxRSS int64         // peak resident set size, bytes
}

// RowsPerSec is the throughput over wall time.
func (r result) RowsPerSec() float64 {
	if r.Wall <= 0 {
		return 0
	}
	return float64(r.Rows) / r.Wall.Seconds()
}

// measure runs cmd to completion and returns its wall time, CPU time and
// peak RSS as the kernel accounted them for the child. The child's stdout
// and stderr are kept (their last 64 KiB) and quoted in the error when it
// does not exit 0.
func measure(name string, rows int, cmd *exec.Cmd) (result, error) {
	out := &tailBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	res := result{Name: name, Rows: rows, Wall: wall}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return res, fmt.Errorf("%s: %w; output:\n%s", name, err, strings.TrimSpace(out.String()))
		}
		return res, fmt.Errorf("%s: %w", name, err)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return res, fmt.Errorf("%s: no resource usage for the child process on %s", name, runtime.GOOS)
	}
	res.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	res.MaxRSS = maxRSSBytes(ru)
	return res, nil
}

// maxRSSBytes returns Rusage.Maxrss in bytes: the kernel reports KiB on
// Linux and the BSDs, bytes on macOS.
func maxRSSBytes(ru *syscall.Rusage) int64 {
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return int64(ru.Maxrss)
	}
	return int64(ru.Maxrss) << 10
}

// tailBuffer is an io.Writer that keeps the last max bytes written to it.
// It is not safe for concurrent use; exec.Cmd writes to it from one
// goroutine when it is both Stdout and Stderr.
type tailBuffer struct {
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.max { // trim now and then, not on every write
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	return string(t.buf[max(0, len(t.buf)-t.max):])
}
