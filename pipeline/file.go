package pipeline

import (
	"time"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// An Input is one file to import.
type Input struct {
	// Path is where to open the file.
	Path string
	// Name is how reports and rejects name it; empty means Path.
	Name string
	// Skip, when set, reports data rows already acknowledged by an earlier
	// run (the ledger): they are read, counted as resumed, and not sent.
	Skip func(row int) bool
	// Report, when set, receives the file's reports (see FileReport) as
	// its rows settle, the last one with Final set. Calls are serialized
	// over all the files of a Pipeline, come in the order the rows settled,
	// are made outside the engine's locks, and are all made before Run
	// returns. A slow Report holds up one of the pipeline's goroutines, so
	// it should hand slow work (a ledger write, filing the file away) to
	// another goroutine.
	Report func(FileReport)
}

// FileResult is the outcome of one file.
type FileResult struct {
	File   string `json:"file"`
	Format string `json:"format,omitempty"`
	// Err is set when the file as a whole could not be read.
	Err string `json:"error,omitempty"`
	Counts
	// Skips counts the rows and values skipped by a route setting, by the
	// setting's key (as Summary.Skips).
	Skips map[string]int64 `json:"skips,omitempty"`
	// Acked lists the acknowledged data rows (see FileReport.Acked).
	Acked ioc.Ranges `json:"-"`
	// Rejects are the file's rejects, kept only when Options.KeepRejects.
	Rejects []ioc.Reject `json:"-"`
	// SinkIDs are ids the sink returned (trace ids, task ids).
	SinkIDs []string `json:"sink_ids,omitempty"`
	// Submissions counts the requests that carried rows of this file.
	Submissions int64     `json:"submissions"`
	Started     time.Time `json:"started"`
	Finished    time.Time `json:"finished"`
}

// A FileReport is the pipeline's word on one file: the rows that settled
// and the rejects that were found since the file's previous report. Every
// data row read (not resumed) is in Acked, Rejected or Failed of one of the
// file's reports by the final one. Acked never shares a row with Rejected or
// Failed; a row may be in both Rejected and Failed (one of its values was
// refused, another could not be delivered).
type FileReport struct {
	// File is the file's name (Input.Name, else Input.Path).
	File string
	// Acked are the data rows newly acknowledged: every indicator they
	// yielded was delivered, or merged into another row's indicator that
	// settled, and they have no reject. A ledger records them: they are
	// never sent again.
	Acked ioc.Ranges
	// Rejected are the data rows newly found to have a reject: the row
	// was invalid, skipped (not an indicator), or one of its values was
	// invalid or refused by the sink. They are settled for good, but not
	// acknowledged, so that an import resumed after a crash reads them
	// again and reports their rejects again.
	Rejected ioc.Ranges
	// Failed are the data rows newly found not delivered: one of their
	// indicators could not be delivered (a transient failure that outlasted
	// the retries, or the run stopped first). A later run sends them again.
	Failed ioc.Ranges
	// Rejects are the rejects and skipped rows found since the previous
	// report, in order; one with Row -1 is about the file as a whole.
	Rejects []ioc.Reject
	// Final marks the file's last report: every row of the file is
	// accounted for, and Result is set. A file left unfinished by Stop or
	// a cancelled run gets no final report.
	Final bool
	// Result is the file's outcome, on the final report.
	Result FileResult
}

// Counts are the accounting of rows and indicators. Every row read is
// either yielding indicators, rejected or skipped; every indicator yielded
// is delivered, merged into a duplicate, rejected, or failed (could not
// be delivered).
//
// Each data row read ends in exactly one outcome, so that Rows =
// RowsDelivered + RowsMerged + RowsRejected + RowsSkipped + RowsFailed +
// RowsResumed + RowsDeduplicated once every row settled: delivered (acknowledged), merged
// (its one indicator was a duplicate of another row's, which settled),
// rejected (the row, or one of its values, was invalid or refused by the
// sink), skipped (not an indicator), failed (not delivered), resumed
// (acknowledged by an earlier run), deduplicated (every indicator of it
// delivered within the DedupWindow before). RowsYielding counts the rows that
// yielded an indicator, whatever became of it. Likewise Indicators =
// Delivered + Merged + Rejected + Failed + Skipped + Deduplicated: a value found but
// invalid is a rejected indicator (of a rejected row).
type Counts struct {
	Rows          int64 `json:"rows"`
	RowsYielding  int64 `json:"rows_yielding"`
	RowsDelivered int64 `json:"rows_delivered"`
	RowsMerged    int64 `json:"rows_merged"`
	RowsRejected  int64 `json:"rows_rejected"`
	RowsSkipped   int64 `json:"rows_skipped"`
	RowsFailed    int64 `json:"rows_failed"`
	RowsResumed   int64 `json:"rows_resumed,omitempty"`
	// RowsDeduplicated counts the rows whose indicators were all
	// delivered within the DedupWindow before (not sent again).
	RowsDeduplicated int64 `json:"rows_deduplicated,omitempty"`
	Indicators       int64 `json:"indicators"`
	Delivered        int64 `json:"delivered"`
	Merged           int64 `json:"merged"`
	Rejected         int64 `json:"rejected"`
	Failed           int64 `json:"failed"`
	// Skipped counts the indicators of rows that yielded others, skipped
	// for being on a warninglist.
	Skipped int64 `json:"skipped,omitempty"`
	// Deduplicated counts the indicators delivered through the route
	// key within the DedupWindow before: not sent again.
	Deduplicated int64 `json:"deduplicated,omitempty"`
}

// fileState is a file on its way through the pipeline. Readers set the
// format, file-level tags and enclaves; the tracker owns the accounting.
type fileState struct {
	id    int
	in    Input
	name  string
	route *Route

	format string
	subs   *fileSubs

	// Accounting, guarded by the tracker's mutex.
	res      FileResult
	pending  int  // batches carrying rows of this file, not yet finished
	readDone bool // the reader's last chunk went through the batcher
	finished bool
	acked    ioc.Ranges  // rows acknowledged (see FileReport.Acked)
	rejected ioc.Ranges  // rows with a reject (see FileReport.Rejected)
	failed   ioc.Ranges  // rows with an indicator not delivered
	multi    map[int]int // rows with several indicators: how many are unacknowledged
	// multiSent are the rows of multi with an indicator that was not
	// deduplicated (with a DedupWindow only).
	multiSent map[int]bool
	// itemBatches counts the file's batches of indicators not yet
	// finished; itemsDone closes when it reaches zero after the file's
	// associations were batched (they wait for it).
	itemBatches int
	itemsDone   chan struct{}
	// ends, when the file has associations, collects the indicators the
	// sink took, so that an association is only sent between two of them.
	ends map[ioc.Endpoint]bool
}

// fileSubs holds a file's base submission (its own tags and enclaves, else
// the route's) and builds the others its rows ask for.
type fileSubs struct {
	*submissions
	base    *ioc.Submission
	baseErr error
}

// setFileLevel sets the file's own tags and enclaves (a TruSTAR-shaped
// JSON file, a MISP event); nil keeps the route's. It must be called
// before the file's first row is emitted.
func (f *fileState) setFileLevel(tags []formats.Tag, tagsSet bool, enclaves []string) {
	s := &submissions{route: f.route, tags: rawFromNames(f.route.Tags), tagLevel: ioc.LevelRoute}
	if tagsSet {
		s.tags, s.tagLevel = tags, ioc.LevelFile
	}
	ids := f.route.Enclaves
	var err error
	if len(enclaves) > 0 {
		ids = nil
		for _, e := range enclaves {
			id, rerr := f.route.ResolveEnclave(e)
			if rerr != nil {
				err = &ioc.FieldError{Field: formats.FieldEnclaves, Value: e, Err: rerr}
				break
			}
			if !contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	fs := &fileSubs{submissions: s}
	if err == nil {
		fs.base, err = s.get(ids)
		if err != nil {
			err = &ioc.FieldError{Field: formats.FieldTags, Err: err}
		}
	}
	fs.baseErr = err
	f.subs = fs
}

func rawFromNames(names []string) []formats.Tag {
	out := make([]formats.Tag, len(names))
	for i, n := range names {
		out[i] = formats.Tag{Name: n}
	}
	return out
}

// A chunk carries consecutive rows of one file between stages, so that
// channel operations are paid per chunk, not per row.
type chunk struct {
	file *fileState
	rows []Row
	// last marks the file's final chunk (it may hold no rows).
	last bool
	// err is set on the final chunk when the file failed as a whole.
	err error
	// bytes is how much of the file was read when the chunk was cut.
	bytes int64
	// resumed counts, on the final chunk, the rows skipped because the
	// ledger had them acknowledged.
	resumed int64
	// assocs, on the final chunk, are the file's associations.
	assocs []*ioc.Association
}
