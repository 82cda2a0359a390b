package inbox

import (
	"bufio"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// rejectsPrefix starts the names of the rejects streamed to work/ during a
// run: dotfiles, never taken for claimed files.
const rejectsPrefix = ".rejects-"

// A rejectStream is one run's rejects of a file, written to a file in work/
// as the pipeline reports them, so that a file of a million invalid rows
// does not hold a million rejects in memory. What stays in memory is
// small: the rejected rows as ranges (to write them back in the file's
// format), and the distinct reasons indicators were not delivered (see
// giveUp). At filing the file is moved into done/ (see place). The zero
// rejectStream is not usable: see newRejectStream.
type rejectStream struct {
	path string

	mu      sync.Mutex
	f       *os.File
	w       *bufio.Writer
	enc     *json.Encoder
	n       int
	err     error      // the first write error: the filing fails with it
	rows    ioc.Ranges // data rows rejected (not merely skipped)
	reasons []string   // distinct "not delivered" reasons, at most maxReasons
	placed  string     // where place put it, until unplace
}

// newRejectStream returns the stream of a run over the file whose snapshot
// is snap: its file, created on the first reject, is beside the snapshot.
func newRejectStream(snap string) *rejectStream {
	base := strings.TrimPrefix(filepath.Base(snap), snapshotPrefix)
	return &rejectStream{path: filepath.Join(filepath.Dir(snap), rejectsPrefix+base+".jsonl")}
}

// add writes rejects to the stream; safe for concurrent use.
func (s *rejectStream) add(rejects []ioc.Reject) {
	if len(rejects) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rejects {
		if r.Row >= 0 && !r.Skipped {
			s.rows.Add(r.Row)
		}
		why := strings.TrimPrefix(r.Reason, "not delivered: ")
		if r.Failed && len(s.reasons) < maxReasons && !slices.Contains(s.reasons, why) {
			s.reasons = append(s.reasons, why)
		}
	}
	if s.err != nil {
		return
	}
	if s.f == nil {
		f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			s.err = err
			return
		}
		s.f, s.w = f, bufio.NewWriterSize(f, 64<<10)
		s.enc = json.NewEncoder(s.w)
		s.enc.SetEscapeHTML(false)
	}
	for _, r := range rejects {
		if s.err = s.enc.Encode(r); s.err != nil {
			return
		}
		s.n++
	}
}

// len returns the number of rejects streamed.
func (s *rejectStream) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// rejectedRows returns the data rows rejected, and the distinct reasons
// indicators were not delivered.
func (s *rejectStream) rejectedRows() (ioc.Ranges, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rows, s.reasons
}

// close writes what is buffered and closes the file (durably: it is about
// to be filed); it returns the first error the stream met.
func (s *rejectStream) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return s.err
	}
	if err := s.w.Flush(); s.err == nil {
		s.err = err
	}
	if err := s.f.Sync(); s.err == nil {
		s.err = err
	}
	if err := s.f.Close(); s.err == nil {
		s.err = err
	}
	s.f = nil
	return s.err
}

// place closes the stream and moves its file to path (never replacing
// anything); unplace moves it back, for a filing that failed after it.
func (s *rejectStream) place(path string) error {
	if err := s.close(); err != nil {
		return err
	}
	if err := renameNoReplace(s.path, path); err != nil {
		return err
	}
	s.placed = path
	return nil
}

func (s *rejectStream) unplace() error {
	if s.placed == "" {
		return nil
	}
	if err := renameNoReplace(s.placed, s.path); err != nil {
		return err
	}
	s.placed = ""
	return nil
}

// drop closes the stream and removes its file: the run is not filed with it.
func (s *rejectStream) drop() {
	s.close()
	if err := os.Remove(s.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return
	}
}
