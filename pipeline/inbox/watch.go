package inbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/iocpipe/iocpipe/pipeline"
)

// A cand is a file in the inbox that is not known to be complete yet: it
// is, once its size, mtime and identity stayed the same for the settle
// period, as seen by this process's clock (not the file system's, which
// may be a server's).
type cand struct {
	size  int64
	mtime time.Time
	id    fileID
	since time.Time
}

// partInfo is what identifies a *.part or *.tmp file's content: when a
// file with the same identity, size and mtime appears under another name,
// it was renamed in, which is the writer's way of saying it is complete.
type partInfo struct {
	id    fileID
	size  int64
	mtime time.Time
}

// renamedWindow is how long a part that went away is remembered. A file
// appearing with its identity (device, inode, size and mtime to the
// nanosecond) was renamed (or linked) in from it.
const renamedWindow = 10 * time.Second

// Watch watches the inbox until ctx is done: it resumes the files left in
// work/ by an earlier run, then picks up the files of the inbox as they
// become complete, those present at start-up first, claims each into work/
// and sends it on feed, one at a time, as the pipeline takes them. It
// never closes feed. Files filed away afterwards (done/, failed/) are
// filed on the pipeline's final reports, also after Watch returned; files
// claimed but not finished stay in work/ for the next run. It returns a
// non-nil error only when the inbox cannot be watched at all.
func (ib *Inbox) Watch(ctx context.Context, feed chan<- pipeline.Input) error {
	w, err := fsnotify.NewBufferedWatcher(4096)
	if err != nil {
		return fmt.Errorf("inbox %s: %w", ib.dir, err)
	}
	defer w.Close()
	if err := w.Add(ib.dir); err != nil {
		return fmt.Errorf("inbox %s: watching: %w", ib.dir, err)
	}
	started := time.Now().UTC()
	ib.publish(started, false)
	defer ib.publish(started, true)
	ib.sweep()
	ib.resume()
	ib.scan(time.Now())
	tick := time.NewTicker(min(max(ib.opts.Settle/4, 20*time.Millisecond), time.Second))
	defer tick.Stop()
	rescan := time.NewTicker(ib.opts.Rescan)
	defer rescan.Stop()
	status := time.NewTicker(StatusEvery)
	defer status.Stop()
	ib.log.Info("watching", "work", ib.work, "done", ib.done, "failed", ib.failed, "settle", ib.opts.Settle)
	for {
		ib.claimNext()
		ib.queued.Store(int64(len(ib.ready) + len(ib.queue) + len(ib.parked)))
		var out chan<- pipeline.Input
		var next pipeline.Input
		if len(ib.queue) > 0 && ib.canClaim() {
			out, next = feed, ib.input(ib.queue[0])
		}
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return fmt.Errorf("inbox %s: the watcher stopped", ib.dir)
			}
			if filepath.Dir(ev.Name) == ib.dir {
				ib.observe(filepath.Base(ev.Name), time.Now())
			}
		case err, ok := <-w.Errors:
			if !ok {
				return fmt.Errorf("inbox %s: the watcher stopped", ib.dir)
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				ib.log.Warn("file system events were lost: rescanning", "error", err)
			} else {
				ib.log.Error("watching", "error", err)
			}
			ib.scan(time.Now())
		case now := <-tick.C:
			if ib.Health() != nil {
				ib.heal(w, false)
			}
			ib.check(now)
			ib.dueRetries(now)
			ib.abandon(now)
		case now := <-rescan.C:
			ib.heal(w, true)
			ib.scan(now)
			if ib.shared() {
				ib.takeOver(now)
			}
		case <-status.C:
			ib.publish(started, false)
		case <-ib.wake:
			ib.unpark()
		case out <- next:
			ib.mu.Lock()
			ib.queue[0].fed = true
			ib.mu.Unlock()
			ib.queue = ib.queue[1:]
			ib.inProgress.Add(1)
		}
	}
}

// claimNext claims ready files while nothing waits for the pipeline: a
// file stays in the inbox, where its writer can still take it back, until
// the pipeline is about to read it.
func (ib *Inbox) claimNext() {
	if ib.Health() != nil || !ib.canClaim() {
		return
	}
	if len(ib.ready) > 0 && !ib.holdsLock() {
		// The folder was replaced since the last heal (deleted and
		// re-created, or another watch's put in its place): claim nothing
		// before the next tick heals it or finds it owned.
		ib.block(errLockLost)
		return
	}
	for i := 0; len(ib.queue) == 0 && i < len(ib.ready) && ib.Health() == nil; {
		name := ib.ready[i]
		c := ib.cands[name]
		if c != nil && !ib.claim(name, c) {
			i++ // its name is busy in work/: try the next one
			continue
		}
		ib.ready = slices.Delete(ib.ready, i, i+1)
		delete(ib.cands, name)
	}
}

// scan lists the inbox and observes every entry, and every name it knew
// that is gone.
func (ib *Inbox) scan(now time.Time) {
	entries, err := os.ReadDir(ib.dir)
	if err != nil {
		ib.log.Error("listing the inbox", "error", err)
		return
	}
	seen := make(map[string]bool, len(entries))
	for _, d := range entries {
		seen[d.Name()] = true
		ib.observe(d.Name(), now)
	}
	for name := range ib.cands {
		if !seen[name] {
			ib.observe(name, now)
		}
	}
	for name := range ib.parts {
		if !seen[name] {
			ib.observe(name, now)
		}
	}
}

// observe looks at one name of the inbox, after an event or in a scan.
func (ib *Inbox) observe(name string, now time.Time) {
	if ignored(name) {
		return
	}
	path := filepath.Join(ib.dir, name)
	if ownFile(name) {
		if !ib.told["own:"+name] {
			ib.told["own:"+name] = true
			ib.log.Info("a report or rejects file of iocpipe's is never imported: left in the inbox (to import corrected rejected rows, drop them in under another name)", "file", name)
		}
		return
	}
	fi, err := os.Lstat(path)
	if isPart(name) {
		old, known := ib.parts[name]
		switch {
		case err != nil && known:
			// Gone: renamed to its final name (a candidate with the same
			// identity, now or soon), or deleted.
			delete(ib.parts, name)
			ib.renamed[old] = now
			for cname, c := range ib.cands {
				if c.id == old.id && c.size == old.size && c.mtime.Equal(old.mtime) && !slices.Contains(ib.ready, cname) {
					delete(ib.renamed, old)
					ib.log.Debug("renamed in from a .part or .tmp name: complete", "file", cname)
					ib.ready = append(ib.ready, cname)
				}
			}
		case err == nil && fi.Mode().IsRegular():
			if id, ok := idOf(fi); ok {
				ib.parts[name] = partInfo{id: id, size: fi.Size(), mtime: fi.ModTime()}
			}
		}
		return
	}
	if err != nil {
		ib.unready(name)
		delete(ib.cands, name)
		return
	}
	if !fi.Mode().IsRegular() {
		ib.unready(name)
		delete(ib.cands, name)
		if fi.IsDir() && (path == ib.done || path == ib.failed || path == ib.work) {
			return
		}
		ib.refuse(path, name, fi)
		return
	}
	id, _ := idOf(fi)
	c := ib.cands[name]
	if c != nil && c.size == fi.Size() && c.mtime.Equal(fi.ModTime()) && c.id == id {
		return
	}
	ib.unready(name)
	c = &cand{size: fi.Size(), mtime: fi.ModTime(), id: id, since: now}
	ib.cands[name] = c
	if p := (partInfo{id: id, size: c.size, mtime: c.mtime}); id != (fileID{}) {
		if _, ok := ib.renamed[p]; ok {
			delete(ib.renamed, p)
			ib.log.Debug("renamed in from a .part or .tmp name: complete", "file", name)
			ib.ready = append(ib.ready, name)
		}
	}
}

// unready takes name off the ready list (it changed, or went away).
func (ib *Inbox) unready(name string) {
	if i := slices.Index(ib.ready, name); i >= 0 {
		ib.ready = slices.Delete(ib.ready, i, i+1)
	}
}

// check moves to the ready list the candidates that stayed the same for the
// settle period, in name order.
func (ib *Inbox) check(now time.Time) {
	for p, t := range ib.renamed {
		if now.Sub(t) > renamedWindow {
			delete(ib.renamed, p)
		}
	}
	var due []string
	for name, c := range ib.cands {
		if now.Sub(c.since) >= ib.opts.Settle && !slices.Contains(ib.ready, name) {
			due = append(due, name)
		}
	}
	slices.Sort(due)
	for _, name := range due {
		c := ib.cands[name]
		fi, err := os.Lstat(filepath.Join(ib.dir, name))
		if err != nil || !fi.Mode().IsRegular() {
			ib.observe(name, now)
			continue
		}
		id, _ := idOf(fi)
		if fi.Size() != c.size || !fi.ModTime().Equal(c.mtime) || id != c.id {
			c.size, c.mtime, c.id, c.since = fi.Size(), fi.ModTime(), id, now
			continue
		}
		ib.ready = append(ib.ready, name)
	}
}
