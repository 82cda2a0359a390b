package pipeline

import "sync/atomic"

// Progress is how far a run got, for a progress display. Each count
// only grows while Run runs; the zero Progress is a run that read
// nothing yet.
type Progress struct {
	// Bytes counts the input bytes read.
	Bytes int64
	// Rows counts the rows read, Resumed those of them the ledger
	// skipped as delivered before, and Batched those that went through
	// validation and normalization to the batcher (Indicators holds
	// what they yielded).
	Rows, Resumed, Batched int64
	// Indicators counts the indicators put into batches for the sink
	// (duplicates merged into another indicator left out): what the run
	// knows it has to deliver so far.
	Indicators int64
	// Answered counts the batched indicators whose batch is finished:
	// delivered, refused by the sink, or not delivered.
	Answered int64
	// Delivered counts the indicators the sink acknowledged, as
	// Summary.Delivered does.
	Delivered int64
}

// progress holds the live counts behind Progress that the tracker does
// not keep. Each counter is written by one stage, on a cache line of its
// own, so that the stages do not slow each other down.
type progress struct {
	rows     paddedInt64 // the reader
	resumed  paddedInt64 // the reader
	batched  paddedInt64 // the batcher
	answered paddedInt64 // the senders
}

// paddedInt64 is an atomic counter alone on its cache line.
type paddedInt64 struct {
	atomic.Int64
	_ [56]byte
}

// finished counts the indicators of a batch the sink handled (or that
// could not be sent).
func (pr *progress) finished(b *job) { pr.answered.Add(int64(len(b.Items))) }

// Progress returns the run's progress so far; safe to call while Run
// runs.
func (p *Pipeline) Progress() Progress {
	p.tracker.mu.Lock()
	// The summary's rows include the resumed ones, counted at each
	// file's end; those batched are the others.
	batched, delivered := p.tracker.s.Rows-p.tracker.s.RowsResumed, p.tracker.s.Delivered
	p.tracker.mu.Unlock()
	return Progress{
		Bytes:      p.bytesRead.Load(),
		Rows:       p.progress.rows.Load(),
		Resumed:    p.progress.resumed.Load(),
		Batched:    batched,
		Indicators: p.progress.batched.Load(),
		Answered:   p.progress.answered.Load(),
		Delivered:  delivered,
	}
}
