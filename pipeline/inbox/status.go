package inbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// statusName is the file in <inbox>/.iocpipe/ where a watching Inbox
// publishes its Status.
const statusName = "status.json"

// StatusEvery is how often a watching Inbox rewrites its status file.
const StatusEvery = 2 * time.Second

// A Status is what a watching Inbox publishes in
// <inbox>/.iocpipe/status.json, rewritten every StatusEvery (a new file
// renamed over the old one, so a reader never sees half of it), for
// `iocpipe status`: while a watch runs, it holds the ledger and the
// inbox's lock, so no one else can read what only it knows.
//
// A shared inbox (Options.Claims) has one status file per instance,
// status.<instance>.json (see ReadInstanceStatuses).
type Status struct {
	// PID is the watching process.
	PID int `json:"pid"`
	// Instance is the instance's id, in a shared inbox.
	Instance string `json:"instance,omitempty"`
	// Route and Sink name the inbox's route and its sink.
	Route string `json:"route,omitempty"`
	Sink  string `json:"sink,omitempty"`
	// Inbox is the inbox folder, absolute.
	Inbox string `json:"inbox"`
	// Started is when the watch began; Updated when this Status was
	// written.
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
	// Stopping says the watch stopped claiming files: the requests in
	// flight are finishing, and the status is not rewritten any more.
	Stopping bool `json:"stopping,omitempty"`
	// Blocked is why the inbox cannot claim files (see Health); empty
	// while it can.
	Blocked string `json:"blocked,omitempty"`
	// Retrying counts the files in work/ waiting to be tried again after a
	// failed delivery (or filing).
	Retrying int `json:"retrying"`
	// Stats are the inbox's counts since the watch began.
	Stats Stats `json:"stats"`
	// Ledger is what the watch's ledger holds; nil without a ledger.
	Ledger *LedgerStatus `json:"ledger,omitempty"`
}

// LedgerStatus is the size of a ledger, over every route it serves.
type LedgerStatus struct {
	Entries int   `json:"entries"`
	Size    int64 `json:"size"`
}

// statusPath returns the status file of the inbox folder dir.
func statusPath(dir string) string { return filepath.Join(dir, ".iocpipe", statusName) }

// status returns the inbox's Status now; started is when Watch began.
func (ib *Inbox) status(started time.Time, stopping bool) Status {
	st := Status{
		PID: os.Getpid(), Route: ib.opts.Route, Sink: ib.opts.Sink, Inbox: ib.dir,
		Started: started, Updated: time.Now().UTC(), Stopping: stopping, Stats: ib.Stats(),
	}
	if err := ib.Health(); err != nil {
		st.Blocked = err.Error()
	}
	if ib.shared() {
		st.Instance = ib.opts.Claims.ID()
		if !ib.canClaim() {
			st.Blocked = "the database is unreachable: claiming stopped until it answers"
		}
	}
	ib.mu.Lock()
	st.Retrying = len(ib.retries)
	ib.mu.Unlock()
	if l := ib.opts.Ledger; l != nil {
		st.Ledger = &LedgerStatus{Entries: l.Len(), Size: l.Size()}
	}
	return st
}

// publish writes the inbox's status file; called by the Watch goroutine
// only. A failure is logged once until a write succeeds again.
func (ib *Inbox) publish(started time.Time, stopping bool) {
	if !ib.holdsLock() {
		return // the folder was replaced: its status is not ours to write
	}
	err := writeStatus(ib.statusFile, ib.status(started, stopping))
	switch {
	case err != nil && !ib.told["status"]:
		ib.told["status"] = true
		ib.log.Warn("writing the status file for iocpipe status", "path", ib.statusFile, "error", err)
	case err == nil:
		delete(ib.told, "status")
	}
}

// writeStatus writes st to path: a new file renamed over the old one.
func writeStatus(path string, st Status) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+statusName+".*.tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// unpublish removes the inbox's status file, while the Inbox still holds
// the lock (see Close).
func (ib *Inbox) unpublish() {
	if ib.holdsLock() {
		os.Remove(ib.statusFile)
	}
}

// Watched reports whether the inbox folder dir is watched: a process (or
// an Inbox of this one) holds its lock. pid is the process id the lock
// file names (0 when unknown). The lock is probed with a shared lock for
// an instant, which a watch starting meanwhile waits out.
func Watched(dir string) (pid int, watched bool, err error) {
	path := filepath.Join(dir, ".iocpipe", lockName)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("inbox %s: the lock: %w", dir, err)
	}
	defer f.Close()
	if watched, err = probeLock(f); err != nil {
		return 0, false, fmt.Errorf("inbox %s: probing %s: %w", dir, path, err)
	}
	b, _ := os.ReadFile(path)
	pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	return pid, watched, nil
}

// ReadStatus reads the Status the watch of the inbox folder dir
// published (see Status).
func ReadStatus(dir string) (Status, error) {
	var st Status
	b, err := os.ReadFile(statusPath(dir))
	if err != nil {
		return st, fmt.Errorf("inbox %s: the watch's status: %w", dir, err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("inbox %s: the watch's status %s: %w", dir, statusPath(dir), err)
	}
	return st, nil
}

// ReadInstanceStatuses reads the Status each instance watching the shared
// inbox folder dir published, by instance id; a file that cannot be read
// (being replaced, say) is left out.
func ReadInstanceStatuses(dir string) (map[string]Status, error) {
	paths, err := filepath.Glob(filepath.Join(dir, ".iocpipe", "status.*.json"))
	if err != nil {
		return nil, fmt.Errorf("inbox %s: %w", dir, err)
	}
	out := map[string]Status{}
	for _, p := range paths {
		var st Status
		b, err := os.ReadFile(p)
		if err != nil || json.Unmarshal(b, &st) != nil || st.Instance == "" {
			continue
		}
		out[st.Instance] = st
	}
	return out, nil
}

// A Listing is what an inbox's folders hold, as List finds them.
type Listing struct {
	// Waiting counts the files in the inbox a watch picks up; Writing the
	// *.part and *.tmp files still being written there.
	Waiting int `json:"waiting"`
	Writing int `json:"writing"`
	// InWork counts the files claimed into work/ and not filed yet.
	InWork int `json:"in_work"`
	// Failed counts the files in failed/ (see Requeue).
	Failed int `json:"failed"`
	// DoneToday counts the files filed in done/ since local midnight, by
	// their reports (a file deleted with delete_done counts too).
	DoneToday int `json:"done_today"`
	// Last is the file filed last, in done/ or failed/; nil when none was.
	Last *Filed `json:"last,omitempty"`
}

// A Filed is a file filed in done/ or failed/, as its report tells.
type Filed struct {
	Report
	// Folder is "done" or "failed".
	Folder string `json:"folder"`
	// At is when its report was written.
	At time.Time `json:"at"`
}

// List lists the folders of the inbox o describes (Dir, WorkDir, DoneDir,
// FailedDir) without taking it: safe while a watch runs. A folder that
// does not exist yet counts as empty, except the inbox itself.
func List(o Options, now time.Time) (Listing, error) {
	var ls Listing
	dir, work, done, failed, err := o.dirs()
	if err != nil {
		return ls, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ls, fmt.Errorf("inbox: %w", err)
	}
	for _, d := range entries {
		switch name := d.Name(); {
		case ignored(name), ownFile(name), !d.Type().IsRegular():
		case isPart(name):
			ls.Writing++
		default:
			ls.Waiting++
		}
	}
	if ls.InWork, err = countFiles(work); err != nil {
		return ls, err
	}
	if ls.Failed, err = countFiles(failed); err != nil {
		return ls, err
	}
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
	var last *reportFile
	for _, f := range []struct{ folder, path string }{{"done", done}, {"failed", failed}} {
		reps, err := reports(f.path, f.folder)
		if err != nil {
			return ls, err
		}
		for i, r := range reps {
			if f.folder == "done" && !r.at.Before(midnight) {
				ls.DoneToday++
			}
			if last == nil || r.at.After(last.at) {
				last = &reps[i]
			}
		}
	}
	if last != nil {
		ls.Last = last.read()
	}
	return ls, nil
}

// readFolder lists dir; a folder that does not exist (yet) is empty.
func readFolder(dir string) ([]fs.DirEntry, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("inbox: %w", err)
	}
	return entries, nil
}

// countFiles counts the files filed in dir: not dotfiles (snapshots,
// files being written), not the reports and rejects beside them.
func countFiles(dir string) (int, error) {
	entries, err := readFolder(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range entries {
		if !ignored(d.Name()) && !ownFile(d.Name()) && !d.IsDir() {
			n++
		}
	}
	return n, nil
}

// A reportFile is a report found in done/ or failed/.
type reportFile struct {
	path, folder string
	at           time.Time
}

// reports returns the reports in dir (done/ or failed/, named by folder),
// with their modification times.
func reports(dir, folder string) ([]reportFile, error) {
	entries, err := readFolder(dir)
	if err != nil {
		return nil, err
	}
	var out []reportFile
	for _, d := range entries {
		if ignored(d.Name()) || !strings.HasSuffix(d.Name(), reportSuffix) {
			continue
		}
		fi, err := d.Info()
		if err != nil {
			continue // filed away meanwhile
		}
		out = append(out, reportFile{path: filepath.Join(dir, d.Name()), folder: folder, at: fi.ModTime()})
	}
	return out, nil
}

// read reads the report; one that cannot be read is named by its file.
func (r reportFile) read() *Filed {
	f := &Filed{Folder: r.folder, At: r.at}
	b, err := os.ReadFile(r.path)
	if err == nil {
		err = json.Unmarshal(b, &f.Report)
	}
	if err != nil {
		f.Report = Report{Status: "unknown"}
		f.File = strings.TrimSuffix(filepath.Base(r.path), reportSuffix)
		f.Err = fmt.Sprintf("its report %s cannot be read: %v", r.path, err)
	}
	return f
}
