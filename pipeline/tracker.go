package pipeline

import (
	"context"
	"errors"
	"fmt"
	"maps"
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
// batches go by, and tells each file's Done when its last row settled.
type tracker struct {
	p  *Pipeline
	mu sync.Mutex
	s  Summary
}

func newTracker(p *Pipeline) *tracker {
	return &tracker{p: p, s: Summary{Extra: map[string]int64{}}}
}

func (t *tracker) summary() Summary {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.s
	s.Extra = maps.Clone(t.s.Extra)
	return s
}

func (t *tracker) addFile(f *fileState) {
	t.mu.Lock()
	t.s.Files++
	t.mu.Unlock()
}

func (t *tracker) reject(f *fileState, r ioc.Reject) {
	if f != nil && t.p.opts.KeepRejects {
		f.res.Rejects = append(f.res.Rejects, r)
	}
	if t.p.opts.OnReject != nil {
		t.p.opts.OnReject(r)
	}
}

// row accounts for one row leaving normalization.
func (t *tracker) row(f *fileState, r *Row) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := &f.res.Counts
	c.Rows++
	t.s.Rows++
	switch {
	case r.skip != "":
		c.RowsSkipped++
		t.s.RowsSkipped++
		field, value := "", formats.Display(r.Get(formats.FieldValue))
		if value != "" {
			field = formats.FieldValue
		}
		rej := ioc.NewReject(r.Origin, field, value, r.skip)
		rej.Skipped = true
		t.reject(f, rej)
		f.acked.Add(r.Row)
		return
	case len(r.inds) == 0:
		if len(r.rejects) == 0 {
			r.rejects = []ioc.Reject{ioc.NewReject(r.Origin, formats.FieldValue, "", "no indicator value")}
		}
		c.RowsRejected++
		t.s.RowsRejected++
		f.acked.Add(r.Row)
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
	}
	n := int64(len(r.inds) + valueRejects)
	c.Indicators += n
	t.s.Indicators += n
	c.Rejected += int64(valueRejects)
	t.s.Rejected += int64(valueRejects)
}

func (t *tracker) merged(f *fileState) {
	t.mu.Lock()
	f.res.Merged++
	t.s.Merged++
	t.mu.Unlock()
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
	defer t.mu.Unlock()
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

// finish accounts for a batch the sink handled (or that could not be
// sent, when err is set).
func (t *tracker) finish(b *job, res ioc.Result, err error) {
	var done []*fileState
	t.mu.Lock()
	refused := make(map[int]ioc.ItemReject, len(res.Rejects))
	for _, r := range res.Rejects {
		refused[r.Index] = r
	}
	failed := make(map[int]ioc.ItemReject, len(res.Failed))
	for _, r := range res.Failed {
		failed[r.Index] = r
	}
	t.s.Submissions += int64(res.Requests)
	for k, v := range res.Extra {
		t.s.Extra[k] += v
	}
	t.s.SinkIDs = appendCapped(t.s.SinkIDs, res.IDs)
	reason := ""
	if err != nil {
		reason = "not delivered: " + err.Error()
		if errors.Is(err, context.Canceled) {
			reason = "not delivered: the run stopped first"
		}
	}
	for i, a := range b.Associations {
		rej := ioc.Reject{}
		switch ir, ok := refused[i]; {
		case ok:
			rej = ioc.NewReject(a.Origin, "relationship", a.Describe(), ir.Reason)
			rej.Sink, rej.Status, rej.ErrorID, rej.TraceID = t.p.opts.SinkName, ir.Status, ir.ErrorID, ir.TraceID
			t.s.Extra["associations_rejected"]++
		case err != nil:
			rej = ioc.NewReject(a.Origin, "relationship", a.Describe(), reason)
			rej.Sink = t.p.opts.SinkName
			t.s.Extra["associations_failed"]++
		default:
			continue
		}
		t.reject(b.files[0], rej)
	}
	for i, in := range b.Items {
		f := b.fileAt(i)
		c := &f.res.Counts
		if ir, ok := refused[i]; ok {
			c.Rejected++
			t.s.Rejected++
			rej := ioc.NewReject(in.Origin, formats.FieldValue, in.Value, ir.Reason)
			rej.Sink, rej.Status, rej.ErrorID, rej.TraceID = t.p.opts.SinkName, ir.Status, ir.ErrorID, ir.TraceID
			t.reject(f, rej)
			t.ack(f, in)
			continue
		}
		if fr, ok := failed[i]; ok || err != nil {
			c.Failed++
			t.s.Failed++
			why := reason
			if ok {
				why = "not delivered: " + fr.Reason
			}
			rej := ioc.NewReject(in.Origin, formats.FieldValue, in.Value, why)
			rej.Sink, rej.Status, rej.ErrorID, rej.TraceID = t.p.opts.SinkName, fr.Status, fr.ErrorID, fr.TraceID
			t.reject(f, rej)
			continue
		}
		c.Delivered++
		t.s.Delivered++
		t.ack(f, in)
		if f.ends != nil {
			f.ends[ioc.Endpoint{Type: in.Type, Value: in.Value}] = true
		}
	}
	for _, f := range b.files {
		if len(b.Items) > 0 {
			f.itemBatches--
			if f.itemBatches == 0 && f.itemsDone != nil {
				close(f.itemsDone)
			}
		}
		if f.in.Ack != nil && err == nil {
			if aerr := f.in.Ack(f.acked.Clone()); aerr != nil {
				t.p.log.Error("recording acknowledged rows", "file", f.name, "error", aerr)
			}
		}
		if res.Requests > 0 {
			f.res.Submissions++
		}
		f.res.SinkIDs = appendCapped(f.res.SinkIDs, res.IDs)
		f.pending--
		if t.settled(f) {
			done = append(done, f)
		}
	}
	t.mu.Unlock()
	t.notify(done)
}

// ack marks rows acknowledged; a row that yielded several indicators is
// acknowledged with its last one.
func (t *tracker) ack(f *fileState, in *ioc.Indicator) {
	in.EachRow(func(r int) {
		if n, ok := f.multi[r]; ok {
			if n > 1 {
				f.multi[r] = n - 1
				return
			}
			delete(f.multi, r)
		}
		f.acked.Add(r)
	})
}

// fileRead accounts for a file's last chunk leaving the batcher.
func (t *tracker) fileRead(c *chunk) {
	t.mu.Lock()
	f := c.file
	f.readDone = true
	f.res.Format = f.format
	f.res.RowsResumed += c.resumed
	t.s.RowsResumed += c.resumed
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
	var done []*fileState
	if t.settled(f) {
		done = append(done, f)
		if f.in.Ack != nil && c.err == nil {
			if aerr := f.in.Ack(f.acked.Clone()); aerr != nil {
				t.p.log.Error("recording acknowledged rows", "file", f.name, "error", aerr)
			}
		}
	}
	t.mu.Unlock()
	t.notify(done)
}

// settled reports, once, that every row of f is accounted for.
func (t *tracker) settled(f *fileState) bool {
	if !f.readDone || f.pending > 0 || f.finished {
		return false
	}
	f.finished = true
	f.res.Finished = time.Now()
	f.res.Acked = f.acked.Clone()
	return true
}

func (t *tracker) notify(done []*fileState) {
	for _, f := range done {
		if f.in.Done != nil {
			f.in.Done(f.res)
		}
	}
}

func appendCapped(dst, src []string) []string {
	if room := maxSinkIDs - len(dst); room < len(src) {
		src = src[:max(room, 0)]
	}
	return append(dst, src...)
}
