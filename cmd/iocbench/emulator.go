package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// emulator is a running `iocpipe emulate` process.
type emulator struct {
	cmd    *exec.Cmd
	url    string // http://HOST:PORT
	done   chan struct{}
	client *http.Client
}

// trustarStats are the TruSTAR counters of GET /_emulator/stats.
type trustarStats struct {
	Submissions int64 `json:"submissions"`
	Indicators  int64 `json:"indicators"`
	Rejected    int64 `json:"rejected"`
	AuthErrors  int64 `json:"auth_errors"`
}

// startEmulator starts `bin emulate` on a free port of 127.0.0.1 without
// recording bodies, and waits for the address it prints.
func startEmulator(bin string) (*emulator, error) {
	cmd := exec.Command(bin, "emulate", "--addr", "127.0.0.1:0", "--record=false")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the emulator: %w", err)
	}
	e := &emulator{cmd: cmd, done: make(chan struct{}), client: &http.Client{Timeout: 30 * time.Second}}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				urls <- strings.TrimSpace(u)
				break
			}
		}
		io.Copy(io.Discard, stdout) // keep draining so the emulator never blocks
		cmd.Wait()
		close(e.done)
	}()
	select {
	case e.url = <-urls:
		return e, nil
	case <-e.done:
		return nil, errors.New("the emulator exited before printing its address")
	case <-time.After(10 * time.Second):
		e.stop()
		return nil, errors.New("the emulator printed no address within 10s")
	}
}

// stop ends the emulator: SIGTERM, then SIGKILL after 5 s.
func (e *emulator) stop() {
	if err := e.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		e.cmd.Process.Kill()
	}
	select {
	case <-e.done:
	case <-time.After(5 * time.Second):
		e.cmd.Process.Kill()
		<-e.done
	}
}

// reset clears the emulator's counters (POST /_emulator/reset).
func (e *emulator) reset(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url+"/_emulator/reset", nil)
	if err != nil {
		return err
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return fmt.Errorf("resetting the emulator: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("resetting the emulator: %s", resp.Status)
	}
	return nil
}

// stats returns the emulator's TruSTAR counters (GET /_emulator/stats).
func (e *emulator) stats(ctx context.Context) (trustarStats, error) {
	var doc struct {
		TruSTAR trustarStats `json:"trustar"`
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.url+"/_emulator/stats", nil)
	if err != nil {
		return doc.TruSTAR, err
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return doc.TruSTAR, fmt.Errorf("reading the emulator's stats: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return doc.TruSTAR, fmt.Errorf("reading the emulator's stats: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return doc.TruSTAR, fmt.Errorf("decoding the emulator's stats: %w", err)
	}
	return doc.TruSTAR, nil
}

// checkDelivered checks that the emulator accepted exactly rows
// indicators, and refused nothing, since its last reset.
func (e *emulator) checkDelivered(ctx context.Context, name string, rows int) error {
	s, err := e.stats(ctx)
	if err != nil {
		return err
	}
	if s.Indicators != int64(rows) || s.Rejected != 0 {
		return fmt.Errorf("%s: the emulator accepted %d indicators in %d submissions (%d rejected, %d auth errors); want %d",
			name, s.Indicators, s.Submissions, s.Rejected, s.AuthErrors, rows)
	}
	return nil
}
