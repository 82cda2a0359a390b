package inbox

import (
	"slices"
	"strings"
	"time"

	"github.com/iocpipe/iocpipe/pipeline"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// A file is finished when the pipeline calls its Done. Done must come only
// once every indicator of the file was delivered, rejected or failed; the
// Counts then balance. Should it come early (while a batch still carries
// rows of the file), the file must not be filed away yet: filing it would
// mark its content imported in the ledger while rows are in flight, and a
// crash would lose them. So an early Done is held, and the file is
// finished when its rows are all accounted for: acknowledged (Ack), or
// failed (a reject saying "not delivered"). The late rejects are added to
// the held result.

// balanced reports whether every indicator of r is accounted for.
func balanced(r pipeline.FileResult) bool {
	return r.Err != "" || r.Delivered+r.Merged+r.Rejected+r.Failed >= r.Indicators
}

// noteDone takes the pipeline's Done: it returns the result to file j
// with, or nil while the file is held.
func (ib *Inbox) noteDone(j *job, r pipeline.FileResult) *pipeline.FileResult {
	if balanced(r) {
		return &r
	}
	ib.mu.Lock()
	defer ib.mu.Unlock()
	r.Rejects = slices.Clone(r.Rejects)
	for _, rej := range r.Rejects {
		if failedReject(rej) && rej.Row >= 0 {
			j.failedRows = append(j.failedRows, rej.Row)
		}
	}
	j.early = &r
	ib.log.Debug("file read, indicators still in flight", "file", j.name, "indicators", r.Indicators,
		"settled", r.Delivered+r.Merged+r.Rejected+r.Failed)
	return ib.settledLocked(j)
}

// noteAck records the rows acknowledged in j's run; it returns the
// result to file j with when that settles a held file.
func (ib *Inbox) noteAck(j *job, acked [][2]int) *pipeline.FileResult {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	j.acked = ioc.NormalizeRanges(acked)
	return ib.settledLocked(j)
}

// lateReject notes a reject of a held file; it returns the result to file
// j with when that settles it. ib.mu is held.
func (ib *Inbox) lateReject(j *job, r ioc.Reject) *pipeline.FileResult {
	if j.early == nil {
		return nil
	}
	j.late = append(j.late, r)
	if failedReject(r) && r.Row >= 0 {
		j.failedRows = append(j.failedRows, r.Row)
	}
	return ib.settledLocked(j)
}

func failedReject(r ioc.Reject) bool {
	return r.Sink != "" && strings.HasPrefix(r.Reason, "not delivered")
}

// settledLocked returns the completed result of a held file whose rows are
// all accounted for, and nil otherwise.
func (ib *Inbox) settledLocked(j *job) *pipeline.FileResult {
	if j.early == nil || j.finished {
		return nil
	}
	n := int(j.early.Rows + j.early.RowsResumed)
	all := j.acked
	if j.tr != nil {
		all = all.Union(j.tr.Resumed())
	}
	if len(j.failedRows) > 0 {
		fr := make(ioc.Ranges, 0, len(j.failedRows))
		for _, row := range j.failedRows {
			fr = append(fr, [2]int{row, row + 1})
		}
		all = all.Union(fr)
	}
	if n > 0 && (len(all) == 0 || all[0][0] > 0 || all[0][1] < n) {
		return nil
	}
	r := *j.early
	for _, rej := range j.late {
		r.Rejects = append(r.Rejects, rej)
		if failedReject(rej) {
			r.Failed++
		} else {
			r.Rejected++
		}
	}
	r.Delivered = max(r.Indicators-r.Merged-r.Rejected-r.Failed, 0)
	r.Finished = time.Now()
	j.early = nil
	return &r
}
