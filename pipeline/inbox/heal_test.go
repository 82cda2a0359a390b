package inbox

import (
	"errors"
	"os"
	"slices"
	"testing"
	"time"
)

// The inbox deleted and re-created while watched: its folders and lock are
// re-created and the files dropped into the new one are imported.
func TestWatchHeals(t *testing.T) {
	sink := &recSink{}
	h := startInbox(t, Options{Rescan: 300 * time.Millisecond}, sink)
	h.write("a.csv", rowsCSV("a", 2))
	waitFor(t, 10*time.Second, "a.csv filed", func() bool { return h.ib.Stats().Done == 1 })
	waitFor(t, 5*time.Second, "the inbox deleted", func() bool { return os.RemoveAll(h.dir) == nil })
	if err := os.Mkdir(h.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	h.write("b.csv", rowsCSV("b", 2))
	waitFor(t, 10*time.Second, "b.csv filed", func() bool { return exists(h.path("done", "b.csv.report.json")) })
	want := append(values("a", 0, 2), values("b", 0, 2)...)
	if got := sink.got(); !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
	if !exists(h.path(".iocpipe", "lock")) || h.ib.Health() != nil {
		t.Errorf("lock re-taken? %v; health %v", exists(h.path(".iocpipe", "lock")), h.ib.Health())
	}
}

// A claim that fails (work/ gone and not re-creatable) is logged, counted
// and makes the inbox unhealthy; re-created by someone else's watch, the
// inbox is that watch's: this one stops claiming until it is free again.
func TestWatchHealOwnedByAnother(t *testing.T) {
	sink := &recSink{}
	h := startInbox(t, Options{Rescan: 300 * time.Millisecond}, sink)
	// Another watch's inbox takes the folder's place. It is made beside
	// it and renamed in, so that this inbox cannot re-create the folder
	// first (it heals on its next rescan).
	fresh := h.dir + ".other"
	other, err := New(Options{Dir: fresh})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(h.dir, h.dir+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(fresh, h.dir); err != nil {
		t.Fatal(err)
	}
	h.write("c.csv", rowsCSV("c", 2))
	waitFor(t, 5*time.Second, "unhealthy", func() bool { return errors.Is(h.ib.Health(), ErrOwned) })
	time.Sleep(600 * time.Millisecond)
	if exists(h.path("done", "c.csv.report.json")) || !exists(h.path("c.csv")) {
		t.Errorf("c.csv was claimed by an inbox that does not own the folder (%s) report %v c.csv %v", time.Now().Format("05.000"), exists(h.path("done", "c.csv.report.json")), exists(h.path("c.csv")))
	}
	other.Close()
	waitFor(t, 10*time.Second, "c.csv filed once the inbox is free", func() bool { return exists(h.path("done", "c.csv.report.json")) })
	if h.ib.Health() != nil {
		t.Errorf("health %v, want nil", h.ib.Health())
	}
}

// A claim that fails for another reason than the file going away is
// counted, and the inbox is unhealthy until it can claim again.
func TestWatchClaimErrorCounted(t *testing.T) {
	sink := &recSink{}
	h := startInbox(t, Options{Rescan: time.Hour}, sink)
	_, work, _, _ := h.ib.Dirs()
	if err := os.RemoveAll(work); err != nil {
		t.Fatal(err)
	}
	h.write("d.csv", rowsCSV("d", 1))
	waitFor(t, 10*time.Second, "d.csv filed", func() bool { return exists(h.path("done", "d.csv.report.json")) })
	if st := h.ib.Stats(); st.ClaimErrors != 1 {
		t.Errorf("claim errors %d, want 1", st.ClaimErrors)
	}
}
