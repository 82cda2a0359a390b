package inbox

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/iocpipe/iocpipe/pipeline"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// The status of a file in its report.
const (
	// StatusImported: every row was delivered or rejected.
	StatusImported = "imported"
	// StatusDuplicate: the same content was imported before; nothing was
	// sent.
	StatusDuplicate = "duplicate"
	// StatusFailed: the file could not be read as a whole.
	StatusFailed = "failed"
	// StatusRefused: not a regular file (a symlink, a device, ...), or
	// not data by its name (formats.IsNotData).
	StatusRefused = "refused"
)

// Report is the <name>.report.json written beside a file in done/ or
// failed/. The embedded FileResult gives the rows and indicators of the
// last run over the file; rows acknowledged by earlier runs (before a
// restart) are counted in rows_resumed.
type Report struct {
	pipeline.FileResult
	Status string `json:"status"`
	Route  string `json:"route,omitempty"`
	Sink   string `json:"sink,omitempty"`
	// Instance is the instance that filed the file, in a shared inbox.
	Instance string `json:"instance,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	Size     int64  `json:"size"`
	// MovedTo is the file's name in done/ or failed/; empty when it was
	// deleted (delete_done).
	MovedTo string `json:"moved_to,omitempty"`
	Deleted bool   `json:"deleted,omitempty"`
	// Rejects and RejectedRows name the reject files written beside it.
	Rejects      string `json:"rejects,omitempty"`
	RejectedRows string `json:"rejected_rows,omitempty"`
	// DuplicateOf and ImportedBefore say, for a duplicate, which file had
	// the content and when it was imported.
	DuplicateOf    string     `json:"duplicate_of,omitempty"`
	ImportedBefore *time.Time `json:"imported_before,omitempty"`
	// Reasons are, for a file given up after failed deliveries, every
	// distinct reason its indicators were not delivered.
	Reasons []string `json:"reasons,omitempty"`
}

// Suffixes of the files written beside a file in done/ and failed/.
const (
	reportSuffix  = ".report.json"
	rejectsSuffix = ".rejects.jsonl"
)

// rowsSuffix returns the suffix of the rejected rows file: .rejects and
// the file's own extension (else the format's), so that a corrected copy
// dropped into the inbox is read the same way; .rejected-rows.jsonl for a
// .jsonl file, whose .rejects.jsonl holds the reasons.
func rowsSuffix(name, format string) string {
	_, ext := splitExt(name)
	if ext == "" || strings.ContainsAny(ext, " ") {
		ext = "." + format
		if format == "" {
			ext = ".csv"
		}
	}
	if ".rejects"+ext == rejectsSuffix {
		// A JSONL file's rows would take the reasons' name.
		return ".rejected-rows" + ext
	}
	return ".rejects" + ext
}

// atomicFile is a new file written under a temporary dotfile name beside
// its final name, and put in place when complete (never replacing
// anything), so that no reader sees it half written. Its mode is 0600:
// reports and rejects quote the data.
type atomicFile struct {
	*os.File
	final string
}

func createAtomic(path string) (*atomicFile, error) {
	dir, base := filepath.Split(path)
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return nil, err
	}
	return &atomicFile{File: f, final: path}, nil
}

// commit syncs the file and puts it in place.
func (a *atomicFile) commit() error {
	err := a.Sync()
	if cerr := a.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = renameNoReplace(a.Name(), a.final)
	}
	if err != nil {
		os.Remove(a.Name())
	}
	return err
}

// abort removes the file.
func (a *atomicFile) abort() {
	a.Close()
	os.Remove(a.Name())
}

// writeJSONFile writes v, indented, to a new file at path.
func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	f, err := createAtomic(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.abort()
		return err
	}
	return f.commit()
}

// writeRejectedRows writes the given rows of the file at src in its own
// format to a new file. It reports whether there were any.
func writeRejectedRows(path, src, format string, route *pipeline.Route, rows ioc.Ranges) (bool, error) {
	if len(rows) == 0 {
		return false, nil
	}
	f, err := createAtomic(path)
	if err != nil {
		return false, err
	}
	w := bufio.NewWriterSize(f, 64<<10)
	err = pipeline.WriteRows(src, format, route, rows, w)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		f.abort()
		return false, err
	}
	return true, f.commit()
}

// newReport starts the report of a file filed by ib with status.
func (ib *Inbox) newReport(r pipeline.FileResult, status string) Report {
	rep := Report{FileResult: r, Status: status, Route: ib.opts.Route, Sink: ib.opts.Sink}
	if ib.shared() {
		rep.Instance = ib.opts.Claims.ID()
	}
	return rep
}
