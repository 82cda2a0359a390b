package inbox

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// List counts what each folder holds, whether or not a watch runs, and
// finds the file filed last by its report.
func TestList(t *testing.T) {
	dir := t.TempDir()
	put := func(rel, content string, mtime time.Time) {
		t.Helper()
		p := filepath.Join(dir, rel)
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if !mtime.IsZero() {
			os.Chtimes(p, mtime, mtime)
		}
	}
	now := time.Now()
	yesterday := now.AddDate(0, 0, -1)
	put("a.csv", "x", time.Time{})
	put("b.json", "x", time.Time{})
	put("c.csv.part", "x", time.Time{})
	put(".hidden.csv", "x", time.Time{})
	put("a.csv.report.json", "{}", time.Time{}) // iocpipe's own: never picked up
	put(".iocpipe/work/w.csv", "x", time.Time{})
	put(".iocpipe/work/.snapshot-123", "x", time.Time{})
	put("failed/f.csv", "x", time.Time{})
	put("failed/f.csv.report.json", `{"file":"f.csv","status":"failed","error":"broken"}`, now.Add(-time.Minute))
	put("done/old.csv", "x", time.Time{})
	put("done/old.csv.report.json", `{"file":"old.csv","status":"imported"}`, yesterday)
	put("done/new.csv", "x", time.Time{})
	put("done/new.csv.report.json", `{"file":"new.csv","status":"imported","delivered":7}`, now)
	put("done/new.csv.rejects.jsonl", "{}", time.Time{})
	put("done/gone.csv.report.json", `{"file":"gone.csv","status":"imported","deleted":true}`, now.Add(-2*time.Minute))

	ls, err := List(Options{Dir: dir}, now)
	if err != nil {
		t.Fatal(err)
	}
	want := Listing{Waiting: 2, Writing: 1, InWork: 1, Failed: 1}
	if midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location()); now.Add(-2 * time.Minute).Before(midnight) {
		want.DoneToday = 1 // just after midnight: gone.csv was yesterday's
	} else {
		want.DoneToday = 2
	}
	got := ls
	got.Last = nil
	if got != want {
		t.Errorf("List = %+v, want %+v", got, want)
	}
	if l := ls.Last; l == nil || l.File != "new.csv" || l.Folder != "done" || l.Status != StatusImported || l.Delivered != 7 {
		t.Errorf("Last = %+v, want new.csv imported, 7 delivered", ls.Last)
	}

	if _, err := List(Options{Dir: filepath.Join(dir, "missing")}, now); err == nil {
		t.Errorf("List of a missing inbox: no error")
	}
}

// A watching Inbox holds the lock and publishes its status; once closed,
// the inbox is not watched and the status file is gone.
func TestWatchPublishesStatus(t *testing.T) {
	sink := &recSink{}
	h := startInbox(t, Options{}, sink)
	h.write("s.csv", rowsCSV("s", 2))
	waitFor(t, 10*time.Second, "s.csv filed", func() bool { return exists(h.path("done", "s.csv.report.json")) })
	var st Status
	waitFor(t, 10*time.Second, "a status counting s.csv", func() bool {
		var err error
		st, err = ReadStatus(h.dir)
		return err == nil && st.Stats.Done == 1
	})
	if st.PID != os.Getpid() || st.Route != "feeds" || st.Ledger == nil || st.Ledger.Entries != 1 || st.Updated.Before(st.Started) || st.Stopping {
		t.Errorf("status = %+v", st)
	}
	pid, watched, err := Watched(h.dir)
	if err != nil || !watched || pid != os.Getpid() {
		t.Errorf("Watched = %d, %v, %v; want this process, true", pid, watched, err)
	}
	h.stop()
	if _, watched, err := Watched(h.dir); err != nil || watched {
		t.Errorf("Watched after Close = %v, %v; want false", watched, err)
	}
	if exists(statusPath(h.dir)) {
		t.Errorf("%s left after Close", statusPath(h.dir))
	}
	// A new watch takes the inbox at once: the probes left no lock behind.
	ib, err := New(Options{Dir: h.dir})
	if err != nil {
		t.Fatal(err)
	}
	ib.Close()
}
