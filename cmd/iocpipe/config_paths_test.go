package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConfigRelativePaths: relative inbox and ledger paths are relative
// to the config file's folder, whatever the working folder; work_dir,
// done_dir and failed_dir stay relative to the inbox.
func TestConfigRelativePaths(t *testing.T) {
	dir := t.TempDir()
	cfgPath := writeFile(t, filepath.Join(dir, "etc", "iocpipe.yaml"), `sinks:
  trustar:
    url: http://127.0.0.1:1
routes:
  - name: feeds
    sink: trustar
    enclaves: [`+watchEnclave+`]
    inbox: inbox/feeds
    done_dir: imported
  - name: abs
    sink: trustar
    enclaves: [`+watchEnclave+`]
    inbox: `+filepath.Join(dir, "elsewhere")+`
ledger: state/ledger.db
`)
	t.Chdir(t.TempDir())
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	etc := filepath.Join(dir, "etc")
	if want := filepath.Join(etc, "state", "ledger.db"); cfg.Ledger.Path != want {
		t.Errorf("ledger %q, want %q", cfg.Ledger.Path, want)
	}
	if want := filepath.Join(etc, "inbox", "feeds"); cfg.Routes[0].Inbox != want {
		t.Errorf("inbox %q, want %q", cfg.Routes[0].Inbox, want)
	}
	if cfg.Routes[0].DoneDir != "imported" {
		t.Errorf("done_dir %q changed: it stays relative to the inbox", cfg.Routes[0].DoneDir)
	}
	if want := filepath.Join(dir, "elsewhere"); cfg.Routes[1].Inbox != want {
		t.Errorf("absolute inbox %q, want %q", cfg.Routes[1].Inbox, want)
	}
}

// TestWatchMissingInbox: a missing inbox folder stops watch at start with
// exit 2 and a message naming the folder and create_inbox, before the
// ledger or anything else is created; with create_inbox: true watch
// creates it and imports from it. watch also finds its configuration
// through $IOCPIPE_CONFIG.
func TestWatchMissingInbox(t *testing.T) {
	srv := watchEmulator(t)
	top := t.TempDir()
	box := filepath.Join(top, "typo")
	cfg := watchConfig(t, srv.URL, box, "    settle: 100ms\n")
	var log watchBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code := run(ctx, &env{stdout: io.Discard, stderr: &log}, []string{"watch", "--config", cfg})
	if code != exitUsage || !strings.Contains(log.String(), box+" does not exist") || !strings.Contains(log.String(), "create_inbox: true") {
		t.Errorf("missing inbox: exit %d, want %d naming the folder and create_inbox; log:\n%s", code, exitUsage, log.String())
	}
	if _, err := os.Stat(box); err == nil {
		t.Errorf("watch created the missing inbox %s", box)
	}

	cfg = watchConfig(t, srv.URL, box, "    settle: 100ms\n    create_inbox: true\n")
	t.Setenv("IOCPIPE_CONFIG", cfg)
	log = watchBuffer{}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, &env{stdout: io.Discard, stderr: &log}, []string{"watch", "--log-format", "json"})
	}()
	watchWaitFor(t, 10*time.Second, "watching", func() bool { return strings.Contains(log.String(), `"msg":"watching"`) })
	if !strings.Contains(log.String(), `"from":"$IOCPIPE_CONFIG"`) {
		t.Errorf("the log does not say where the config came from:\n%s", log.String())
	}
	os.WriteFile(filepath.Join(box, "a.csv"), []byte("value\n"+csvRows("mk", 0, 2)), 0o644)
	watchWaitFor(t, 10*time.Second, "a.csv filed", func() bool {
		_, err := os.Stat(filepath.Join(box, "done", "a.csv.report.json"))
		return err == nil
	})
	cancel()
	if code := <-exited; code != exitOK {
		t.Errorf("watch with create_inbox: exit %d; log:\n%s", code, log.String())
	}
}
