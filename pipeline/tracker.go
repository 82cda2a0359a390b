package pipeline

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// Summary is the outcome of a run.
type Summary struct {
	Files       int `json:"files"`
	FilesFailed int `json:"files_failed"`
	Counts
	// Submissions counts accepted requests that carried indicators.
	Submissions int64 `json:"submissions"`
	// Batches counts batches handed to the sink.
	Batches int64 `json:"batches"`
	// Extra holds sink-specific counts (scans, associations, ...).
	Extra map[string]int64 `json:"extra,omitempty"`
	// Skips counts the skipped rows a route setting decides, by the
	// setting's key (formats.Row.SkipKey: misp_to_ids).
	Skips map[string]int64 `json:"skips,omitempty"`
	// SinkIDs are ids the sink returned (trace ids, task ids), capped.
	SinkIDs  []string      `json:"sink_ids,omitempty"`
	Duration time.Duration `json:"-"`
}

// maxSinkIDs caps the ids kept in a summary or file result.
const maxSinkIDs = 10000

// OK reports whether everything read was delivered: no reject, no failed
// indicator, no failed file. Skipped rows do not count against it.
func (s Summary) OK() bool {
	return s.FilesFailed == 0 && s.RowsRejected == 0 && s.Rejected == 0 && s.Failed == 0
}

// tracker does the accounting of rows, indicators and files as chunks and
// batches go by, and reports each file's progress (Input.Report).
//
// Reports are collected under mu, in the order the events happened, and
// delivered after it is released (see unlock): one goroutine at a time
// delivers everything queued, so that calls are serialized and in order,
// while the others go on.
type tracker struct {
	p  *Pipeline
	mu sync.Mutex
	s  Summary

	queue    []*queued // reports not delivered yet, oldest first
	draining bool      // a goroutine is delivering the queue

	// settledSent are the batches finished since the batcher last took
	// them (takeSettled), for its memory of duplicates.
	settledSent []*sentItems
}

// takeSettled returns the batches finished since its last call.
func (t *tracker) takeSettled() []*sentItems {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.settledSent
	t.settledSent = nil
	return s
}

// queued is a report waiting for delivery, with its file.
type queued struct {
	f *fileState
	r FileReport
}

func newTracker(p *Pipeline) *tracker {
	return &tracker{p: p, s: Summary{Extra: map[string]int64{}}}
}

// unlock releases t.mu, then delivers the queued reports unless another
// goroutine is at it (it delivers what is queued meanwhile too). Reports
// are never delivered under t.mu.
func (t *tracker) unlock() {
	if len(t.queue) == 0 || t.draining {
		t.mu.Unlock()
		return
	}
	t.draining = true
	for len(t.queue) > 0 {
		q := t.queue
		t.queue = nil
		t.mu.Unlock()
		for _, x := range q {
			x.f.in.Report(x.r)
		}
		t.mu.Lock()
	}
	t.draining = false
	t.mu.Unlock()
}

// report returns the report that f's next events go into, or nil when
// nobody listens: the last one queued when it is f's and not final, else
// a new one. t.mu is held.
func (t *tracker) report(f *fileState) *FileReport {
	if f.in.Report == nil {
		return nil
	}
	if n := len(t.queue); n > 0 && t.queue[n-1].f == f && !t.queue[n-1].r.Final {
		return &t.queue[n-1].r
	}
	q := &queued{f: f, r: FileReport{File: f.name}}
	t.queue = append(t.queue, q)
	return &q.r
}

func (t *tracker) summary() Summary {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.s
	s.Extra, s.Skips = maps.Clone(t.s.Extra), maps.Clone(t.s.Skips)
	return s
}

func (t *tracker) addFile(f *fileState) {
	t.mu.Lock()
	t.s.Files++
	t.mu.Unlock()
}

// reject reports r, a reject of f. t.mu is held.
func (t *tracker) reject(f *fileState, r ioc.Reject) {
	if t.p.opts.KeepRejects {
		f.res.Rejects = append(f.res.Rejects, r)
	}
	if rep := t.report(f); rep != nil {
		rep.Rejects = append(rep.Rejects, r)
	}
}

// countSkip counts a row (or value) of f skipped under key in the file's
// and the summary's Skips, when it has one. t.mu is held.
func (t *tracker) countSkip(f *fileState, key string) {
	if key == "" {
		return
	}
	if t.s.Skips == nil {
		t.s.Skips = map[string]int64{}
	}
	if f.res.Skips == nil {
		f.res.Skips = map[string]int64{}
	}
	t.s.Skips[key]++
	f.res.Skips[key]++
}

// rejectedRow notes that row of f has a reject (or, with skipped, is not
// an indicator): it is settled, but never acknowledged. A row counted as
// failed before counts as rejected from then on. t.mu is held.
func (t *tracker) rejectedRow(f *fileState, row int, skipped bool) {
	if row < 0 || f.rejected.Contains(row) {
		return
	}
	f.rejected.Add(row)
	if rep := t.report(f); rep != nil {
		rep.Rejected.Add(row)
	}
	if skipped {
		return
	}
	count(&f.res.RowsRejected, &t.s.RowsRejected, 1)
	if f.failed.Contains(row) {
		count(&f.res.RowsFailed, &t.s.RowsFailed, -1)
	}
}

// count adds n to a count of a file and to the same count of the
// summary. t.mu is held.
func count(file, sum *int64, n int64) {
	*file += n
	*sum += n
}

// row accounts for one row leaving normalization.
func (t *tracker) row(f *fileState, r *Row) {
	t.mu.Lock()
	defer t.unlock()
	c := &f.res.Counts
	c.Rows++
	t.s.Rows++
	switch {
	case r.skip != "":
		c.RowsSkipped++
		t.s.RowsSkipped++
		t.countSkip(f, r.skipKey)
		field, value := "", formats.Display(r.Get(formats.FieldValue))
		if value != "" {
			field = formats.FieldValue
		}
		rej := ioc.NewReject(r.Origin, field, value, r.skip)
		rej.Skipped = true
		t.reject(f, rej)
		t.rejectedRow(f, r.Row, true)
		return
	case len(r.inds) == 0:
		if len(r.rejects) == 0 {
			r.rejects = []ioc.Reject{ioc.NewReject(r.Origin, formats.FieldValue, "", "no indicator value")}
		}
	default:
		c.RowsYielding++
		t.s.RowsYielding++
		if n := len(r.inds); n > 1 {
			if f.multi == nil {
				f.multi = map[int]int{}
			}
			f.multi[r.Row] += n
		}
	}
	valueRejects := 0
	if !r.rowRejected {
		valueRejects = len(r.rejects)
	}
	for _, rej := range r.rejects {
		t.reject(f, rej)
		t.rejectedRow(f, rej.Row, false)
	}
	if len(r.inds) == 0 {
		t.rejectedRow(f, r.Row, false)
	}
	for _, rej := range r.warned {
		t.reject(f, rej)
		t.countSkip(f, SkipWarninglists)
	}
	count(&c.Indicators, &t.s.Indicators, int64(len(r.inds)+valueRejects+len(r.warned)))
	count(&c.Rejected, &t.s.Rejected, int64(valueRejects))
	count(&c.Skipped, &t.s.Skipped, int64(len(r.warned)))
}

func (t *tracker) merged(f *fileState) {
	t.mu.Lock()
	f.res.Merged++
	t.s.Merged++
	t.mu.Unlock()
}

// ride settles in, a duplicate read from f of item idx of the batch
// whose sentItems is s (nil: of an indicator delivered before): at once
// when that item was delivered, with the item when its batch is not
// finished. It reports whether in was taken care of (not when the item
// failed or was refused: in is sent itself), and whether the item was
// delivered.
func (t *tracker) ride(s *sentItems, idx int32, f *fileState, in *ioc.Indicator) (handled, delivered bool) {
	t.mu.Lock()
	defer t.unlock()
	switch {
	case s == nil || s.finished && s.delivered[idx]:
		t.ack(f, in, ackMerged)
		delivered = true
	case s.finished:
		return false, false
	default:
		if s.riders == nil {
			s.riders = map[int32][]rider{}
		}
		s.riders[idx] = append(s.riders[idx], rider{f: f, in: in})
		f.pending++
	}
	count(&f.res.Merged, &t.s.Merged, 1)
	return true, delivered
}

// joined registers that a batch, still open, carries rows of f: f is not
// settled before that batch is finished.
func (t *tracker) joined(f *fileState) {
	t.mu.Lock()
	f.pending++
	t.mu.Unlock()
}

// closed registers a batch leaving the batcher with the files it carries.
func (t *tracker) closed(b *job) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.s.Batches++
	for _, f := range b.files {
		if len(b.Items) > 0 {
			f.itemBatches++
		}
	}
}

// waitItems returns a channel that closes when every batch of f's
// indicators closed so far is finished.
func (t *tracker) waitItems(f *fileState) <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	f.itemsDone = make(chan struct{})
	if f.itemBatches == 0 {
		close(f.itemsDone)
	}
	return f.itemsDone
}

// collectEnds makes the tracker remember which of f's indicators the sink
// took, for its associations.
func (t *tracker) collectEnds(f *fileState) {
	t.mu.Lock()
	f.ends = map[ioc.Endpoint]bool{}
	t.mu.Unlock()
}

// deliverable splits a batch of associations: those whose two ends were
// both delivered, and the others, which are rejected here with the reason.
func (t *tracker) deliverable(b *job) {
	t.mu.Lock()
	defer t.unlock()
	keep := b.Associations[:0:0]
	f := b.files[0]
	for _, a := range b.Associations {
		if f.ends == nil || f.ends[a.From] && f.ends[a.To] {
			keep = append(keep, a)
			continue
		}
		missing := a.From
		if f.ends[a.From] {
			missing = a.To
		}
		rej := ioc.NewReject(a.Origin, "relationship", a.Describe(),
			fmt.Sprintf("not sent: %s %s was not delivered, so the association has nothing to link", missing.Type, missing.Value))
		rej.Skipped = true
		t.reject(f, rej)
		t.s.Extra["associations_skipped"]++
	}
	b.Associations = keep
}

func (t *tracker) extra(key string, n int64) {
	t.mu.Lock()
	t.s.Extra[key] += n
	t.mu.Unlock()
}

// sinkOutcome is how the sink answered one batch: the items it refused and
// those it could not deliver, by index, and the reason of a batch that
// was not delivered at all (err set).
type sinkOutcome struct {
	refused, failed map[int]ioc.ItemReject
	err             error
	reason          string
}

func newSinkOutcome(res ioc.Result, err error) sinkOutcome {
	o := sinkOutcome{
		refused: make(map[int]ioc.ItemReject, len(res.Rejects)),
		failed:  make(map[int]ioc.ItemReject, len(res.Failed)),
		err:     err,
	}
	for _, r := range res.Rejects {
		o.refused[r.Index] = r
	}
	for _, r := range res.Failed {
		o.failed[r.Index] = r
	}
	if err != nil {
		o.reason = notDelivered(err.Error())
		if errors.Is(err, context.Canceled) {
			o.reason = "not delivered: the run stopped first"
		}
	}
	return o
}

// notDelivered is the reason of a row whose delivery failed for reason: it
// says "not delivered", unless the sink says the outcome is unknown (a
// request that timed out may have been processed: "may have been
// delivered: …").
func notDelivered(reason string) string {
	if strings.HasPrefix(reason, "may have been delivered") {
		return reason
	}
	return "not delivered: " + reason
}

// finish accounts for a batch the sink handled (or that could not be
// sent, when err is set).
func (t *tracker) finish(b *job, res ioc.Result, err error) {
	t.mu.Lock()
	defer t.unlock()
	o := newSinkOutcome(res, err)
	t.p.progress.finished(b)
	t.s.Submissions += int64(res.Requests)
	for k, v := range res.Extra {
		t.s.Extra[k] += v
	}
	t.s.SinkIDs = appendCapped(t.s.SinkIDs, res.IDs)
	t.finishAssociations(b, o)
	t.finishItems(b, o)
	for _, f := range b.files {
		if len(b.Items) > 0 {
			f.itemBatches--
			if f.itemBatches == 0 && f.itemsDone != nil {
				close(f.itemsDone)
			}
		}
		if res.Requests > 0 {
			f.res.Submissions++
		}
		f.res.SinkIDs = appendCapped(f.res.SinkIDs, res.IDs)
		f.pending--
		t.settle(f)
	}
}

// finishAssociations accounts for the associations of a finished batch:
// refused, or not delivered. t.mu is held.
func (t *tracker) finishAssociations(b *job, o sinkOutcome) {
	for i, a := range b.Associations {
		rej := ioc.Reject{}
		switch ir, ok := o.refused[i]; {
		case ok:
			rej = ioc.NewReject(a.Origin, "relationship", a.Describe(), ir.Reason)
			rej.Sink, rej.Status, rej.ErrorID, rej.TraceID = t.p.opts.SinkName, ir.Status, ir.ErrorID, ir.TraceID
			t.s.Extra["associations_rejected"]++
		case o.err != nil:
			rej = ioc.NewReject(a.Origin, "relationship", a.Describe(), o.reason)
			rej.Sink, rej.Failed = t.p.opts.SinkName, true
			t.s.Extra["associations_failed"]++
		default:
			continue
		}
		t.reject(b.files[0], rej)
	}
}

// finishItems accounts for the indicators of a finished batch, and for
// the duplicates riding on them: refused, not delivered, or delivered.
// t.mu is held.
func (t *tracker) finishItems(b *job, o sinkOutcome) {
	if b.sent == nil {
		return
	}
	b.sent.delivered = make([]bool, len(b.Items))
	var riders []*fileState
	for i, in := range b.Items {
		b.sent.delivered[i] = t.settleItem(b.fileAt(i), in, o, i, false)
		for _, r := range b.sent.riders[int32(i)] {
			t.settleItem(r.f, r.in, o, i, true)
			r.f.pending--
			riders = append(riders, r.f)
		}
	}
	b.sent.finished, b.sent.riders = true, nil
	t.settledSent = append(t.settledSent, b.sent)
	for _, f := range riders {
		t.settle(f)
	}
}

// settleItem accounts for in, read from f, with the sink's outcome for
// item i; a rider (a duplicate of item i, counted as merged) settles its
// rows only. It reports whether in was delivered. t.mu is held.
func (t *tracker) settleItem(f *fileState, in *ioc.Indicator, o sinkOutcome, i int, rider bool) bool {
	c := &f.res.Counts
	if ir, ok := o.refused[i]; ok {
		if !rider {
			count(&c.Rejected, &t.s.Rejected, 1)
		}
		rej := ioc.NewReject(in.Origin, formats.FieldValue, in.Value, ir.Reason)
		rej.Sink, rej.Status, rej.ErrorID, rej.TraceID = t.p.opts.SinkName, ir.Status, ir.ErrorID, ir.TraceID
		t.reject(f, rej)
		t.rejectedRow(f, rej.Row, false)
		t.ack(f, in, ackOf(rider))
		return false
	}
	if fr, ok := o.failed[i]; ok || o.err != nil {
		if !rider {
			count(&c.Failed, &t.s.Failed, 1)
		}
		why := o.reason
		if ok {
			why = notDelivered(fr.Reason)
		}
		rej := ioc.NewReject(in.Origin, formats.FieldValue, in.Value, why)
		rej.Sink, rej.Status, rej.ErrorID, rej.TraceID = t.p.opts.SinkName, fr.Status, fr.ErrorID, fr.TraceID
		rej.Failed = true
		t.reject(f, rej)
		t.failedRows(f, in)
		return false
	}
	if !rider {
		count(&c.Delivered, &t.s.Delivered, 1)
	}
	t.ack(f, in, ackOf(rider))
	if f.ends != nil {
		f.ends[ioc.Endpoint{Type: in.Type, Value: in.Value}] = true
	}
	return true
}

// How an indicator's rows are acknowledged (see ack).
type ackKind int

const (
	ackDelivered    ackKind = iota
	ackMerged               // the indicator rides on, or merged into, another
	ackDeduplicated         // delivered within the DedupWindow before
)

func ackOf(merged bool) ackKind {
	if merged {
		return ackMerged
	}
	return ackDelivered
}

// deduplicated settles in, read from f, delivered within the DedupWindow
// before: it is not sent, its rows are acknowledged.
func (t *tracker) deduplicated(f *fileState, in *ioc.Indicator) {
	t.mu.Lock()
	defer t.unlock()
	count(&f.res.Deduplicated, &t.s.Deduplicated, 1)
	t.ack(f, in, ackDeduplicated)
}

// ack marks the rows of an indicator that settled (delivered, refused
// for good, or deduplicated); a row that yielded several indicators
// settles with its last one, and is acknowledged then unless it has a
// reject. An acknowledged row counts as merged when its one indicator was
// merged into in, as deduplicated when all its indicators were, else as
// delivered (all of them, with merged: in rides on another). t.mu is
// held.
func (t *tracker) ack(f *fileState, in *ioc.Indicator, kind ackKind) {
	in.EachRow(func(r int) {
		multi, sent := false, false
		if n, ok := f.multi[r]; ok {
			if t.p.opts.DedupWindow > 0 && kind != ackDeduplicated {
				t.multiSent(f, r)
			}
			if n > 1 {
				f.multi[r] = n - 1
				return
			}
			delete(f.multi, r)
			multi, sent = true, f.multiSent[r]
			delete(f.multiSent, r)
		}
		if f.rejected.Contains(r) || f.failed.Contains(r) {
			return
		}
		f.acked.Add(r)
		if rep := t.report(f); rep != nil {
			rep.Acked.Add(r)
		}
		switch {
		case kind == ackDeduplicated && !sent:
			count(&f.res.RowsDeduplicated, &t.s.RowsDeduplicated, 1)
		case (kind == ackMerged || r != in.Origin.Row) && !multi:
			count(&f.res.RowsMerged, &t.s.RowsMerged, 1)
		default:
			count(&f.res.RowsDelivered, &t.s.RowsDelivered, 1)
		}
	})
}

// multiSent notes that row r of f, which yielded several indicators, had
// one that was not deduplicated. t.mu is held.
func (t *tracker) multiSent(f *fileState, r int) {
	if f.multiSent == nil {
		f.multiSent = map[int]bool{}
	}
	f.multiSent[r] = true
}

// failedRows notes the rows of an indicator that could not be delivered:
// failed, unless they have a reject. t.mu is held.
func (t *tracker) failedRows(f *fileState, in *ioc.Indicator) {
	rep := t.report(f)
	in.EachRow(func(r int) {
		if r < 0 || f.failed.Contains(r) {
			return
		}
		f.failed.Add(r)
		if rep != nil {
			rep.Failed.Add(r)
		}
		if !f.rejected.Contains(r) {
			count(&f.res.RowsFailed, &t.s.RowsFailed, 1)
		}
	})
}

// fileRead accounts for a file's last chunk leaving the batcher.
func (t *tracker) fileRead(c *chunk) {
	t.mu.Lock()
	defer t.unlock()
	f := c.file
	f.readDone = true
	f.res.Format = f.format
	count(&f.res.RowsResumed, &t.s.RowsResumed, c.resumed)
	count(&f.res.Rows, &t.s.Rows, c.resumed)
	if c.err != nil {
		t.s.FilesFailed++
		f.res.Err = c.err.Error()
		rej := ioc.Reject{File: f.name, Reason: c.err.Error(), Row: -1}
		var fe *FileError
		if errors.As(c.err, &fe) {
			rej.Line = fe.Line
			rej.Reason = fe.Err.Error()
		}
		t.reject(f, rej)
	}
	t.settle(f)
}

// settle queues f's final report, once, when every row of f is accounted
// for. t.mu is held.
func (t *tracker) settle(f *fileState) {
	if !f.readDone || f.pending > 0 || f.finished {
		return
	}
	f.finished = true
	f.res.Finished = time.Now()
	f.res.Acked = f.acked.Clone()
	if rep := t.report(f); rep != nil {
		rep.Final, rep.Result = true, f.res
	}
}

func appendCapped(dst, src []string) []string {
	if room := maxSinkIDs - len(dst); room < len(src) {
		src = src[:max(room, 0)]
	}
	return append(dst, src...)
}
