package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/schemas"
)

// A Sink delivers batches. Send blocks until the batch is acknowledged,
// refused, or ctx is done. It returns the rows the sink refused in the
// Result; an error means the batch (or what the Result does not account
// for) was not delivered. An error wrapping ErrFatal stops the run.
type Sink interface {
	Send(ctx context.Context, b *ioc.Batch) (ioc.Result, error)
}

// Options configures a Pipeline. The zero value of each field means the
// default given in its comment.
type Options struct {
	// Route says how to read and normalize files. Required.
	Route *Route
	// Sink receives the batches. Required.
	Sink Sink
	// SinkName names the sink in rejects; empty means Route.Sink.
	SinkName string
	// Logger receives the log; nil discards it.
	Logger *slog.Logger
	// Workers is the number of validate and normalize workers each;
	// 0 means GOMAXPROCS.
	Workers int
	// InFlight is the number of batches handed to the sink at once; 0
	// means 4.
	InFlight int
	// MaxBatch is the most indicators in one batch; 0 means 10,000 (the
	// TruSTAR limit).
	MaxBatch int
	// MaxBytes is the byte budget of one batch's encoded indicators; 0
	// means 8 MiB.
	MaxBytes int
	// Linger is how long a batch that is not full waits for more rows;
	// 0 means 500ms. The end of input flushes at once.
	Linger time.Duration
	// DedupAcrossFiles finds duplicates over every file of the run, not
	// only within each file (see dedup.go): what a one-shot run wants; a
	// daemon whose files come days apart does not.
	DedupAcrossFiles bool
	// MaxRemembered bounds the indicators remembered to find duplicates;
	// 0 means DefaultMaxRemembered, a negative value remembers none.
	MaxRemembered int
	// DedupWindow, when positive, does not send again an indicator
	// delivered through DedupKey within it, by an earlier run or file
	// (see window.go): it counts as deduplicated. It needs Delivered; 0
	// (or no Delivered) is off.
	DedupWindow time.Duration
	// Delivered keeps the indicators delivered, for DedupWindow (the
	// ledger).
	Delivered DeliveredStore
	// DedupKey is the route key the delivered indicators are kept under.
	DedupKey string
	// Now is the clock of DedupWindow; nil means time.Now.
	Now func() time.Time
	// KeepRejects keeps each file's rejects in its FileResult (they are in
	// the file's reports too, as they are found: Input.Report).
	KeepRejects bool
	// Associations says the sink takes associations (STIX relationships
	// between indicators). They travel in batches of their own, after the
	// file's indicators were acknowledged. Without it they are counted as
	// not applicable.
	Associations bool
}

// A Pipeline imports files: read, validate, normalize, batch and sink,
// each stage in its own goroutines joined by bounded channels under one
// errgroup. Create it with New and call Run once.
type Pipeline struct {
	opts   Options
	route  *Route
	log    *slog.Logger
	schema *schemas.Schema

	bytesRead atomic.Int64
	// dedupRoom is how many more delivered hashes the senders may record
	// for DedupWindow (see window.go).
	dedupRoom atomic.Int64
	progress  progress
	tracker   *tracker
	nextFile  int
	stop      chan struct{}
	stopOnce  sync.Once
}

// Stop makes Run finish early but cleanly: no new file or row is read,
// rows already read go through and their batches are sent, and Run
// returns when the sink has answered them. Files left unfinished get no
// final report; the rows acknowledged so far were reported. Bound the wait by
// cancelling Run's context. Stop may be called more than once.
func (p *Pipeline) Stop() { p.stopOnce.Do(func() { close(p.stop) }) }

// New checks opts and prepares a Pipeline.
func New(opts Options) (*Pipeline, error) {
	if opts.Route == nil {
		return nil, errors.New("pipeline: no route")
	}
	if opts.Sink == nil {
		return nil, errors.New("pipeline: no sink")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.InFlight <= 0 {
		opts.InFlight = 4
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 10000
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 8 << 20
	}
	if opts.Linger <= 0 {
		opts.Linger = 500 * time.Millisecond
	}
	if opts.SinkName == "" {
		opts.SinkName = opts.Route.Sink
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	schema, err := schemas.Load("row")
	if err != nil {
		return nil, err
	}
	p := &Pipeline{opts: opts, route: opts.Route, log: opts.Logger, schema: schema, stop: make(chan struct{})}
	p.tracker = newTracker(p)
	return p, nil
}

// Summary returns the counts so far; safe to call while Run runs.
func (p *Pipeline) Summary() Summary { return p.tracker.summary() }

// Run imports every input received until inputs is closed, then waits for
// the last batch. It returns the run's summary, and an error when the run
// stopped early (a fatal sink error, or ctx).
func (p *Pipeline) Run(ctx context.Context, inputs <-chan Input) (Summary, error) {
	start := time.Now()
	g, ctx := errgroup.WithContext(ctx)
	w := p.opts.Workers

	read := make(chan *chunk, 2*w)
	g.Go(func() error {
		defer close(read)
		for {
			select {
			case <-p.stop:
				return nil
			default:
			}
			select {
			case in, ok := <-inputs:
				if !ok {
					return nil
				}
				err := p.readFile(ctx, p.newFile(in), read)
				if errors.Is(err, errStopped) {
					return nil
				}
				if err != nil {
					return err
				}
			case <-p.stop:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	})
	validated := ordered(ctx, g, read, w, func() func(*chunk) {
		return p.validate
	})
	normalized := ordered(ctx, g, validated, w, func() func(*chunk) {
		n := newNormalizer(p.route)
		return func(c *chunk) {
			for i := range c.rows {
				n.row(c.file, &c.rows[i])
			}
		}
	})
	// Unbuffered: a closed batch waits in the batcher until a sender is
	// free, so memory holds at most InFlight batches in flight and the
	// open ones.
	batches := make(chan *job)
	g.Go(func() error {
		defer close(batches)
		return p.batch(ctx, normalized, batches)
	})
	for range p.opts.InFlight {
		g.Go(func() error {
			for b := range batches {
				if err := p.send(ctx, b); err != nil {
					return err
				}
			}
			return nil
		})
	}
	err := g.Wait()
	s := p.tracker.summary()
	s.Duration = time.Since(start)
	return s, err
}

func (p *Pipeline) newFile(in Input) *fileState {
	p.nextFile++
	name := in.Name
	if name == "" {
		name = in.Path
	}
	f := &fileState{id: p.nextFile, in: in, name: name, route: p.route}
	f.res.File = name
	f.res.Started = time.Now()
	p.tracker.addFile(f)
	return f
}

// validate checks every row of c against the row schema (fast path).
func (p *Pipeline) validate(c *chunk) {
	for i := range c.rows {
		r := &c.rows[i]
		if r.skip != "" || len(r.rejects) > 0 {
			continue
		}
		if v := p.schema.Validate(r.Fields); v != nil {
			r.rejects = append(r.rejects, violationReject(r.Origin, r.Fields, v))
			r.rowRejected = true
		}
	}
}

func violationReject(o ioc.Origin, row schemas.Value, v []schemas.Violation) ioc.Reject {
	field, value, first, rest := formats.DescribeViolations(row, v)
	if v[0].Keyword == "required" && field == formats.FieldValue {
		first = "is empty: the row has no indicator value"
	}
	return ioc.NewReject(o, field, value, first+rest)
}

// send hands one batch to the sink and accounts for the outcome. A batch
// of associations first waits for its file's indicators: every batch
// before it was already taken by a sender (the channel is unbuffered), so
// the wait cannot starve.
func (p *Pipeline) send(ctx context.Context, b *job) error {
	if b.wait != nil {
		select {
		case <-b.wait:
		case <-ctx.Done():
			p.tracker.finish(b, ioc.Result{}, ctx.Err())
			return nil
		}
		p.tracker.deliverable(b)
		if len(b.Associations) == 0 {
			p.tracker.finish(b, ioc.Result{}, nil)
			return nil
		}
	}
	res, err := p.opts.Sink.Send(ctx, b.Batch)
	p.tracker.finish(b, res, err)
	p.recordDelivered(ctx, b)
	if err != nil && errors.Is(err, ioc.ErrFatal) {
		return fmt.Errorf("%s: %w", p.opts.SinkName, err)
	}
	return nil
}

// ordered runs f over the chunks of in with n workers and delivers them in
// their original order: chunk i goes to worker i mod n, and the collector
// takes from the workers in the same rotation. Order is what makes
// batches, ledger ranges and golden outputs deterministic.
func ordered(ctx context.Context, g *errgroup.Group, in <-chan *chunk, n int, newWorker func() func(*chunk)) <-chan *chunk {
	ins := make([]chan *chunk, n)
	outs := make([]chan *chunk, n)
	for i := range n {
		ins[i] = make(chan *chunk, 1)
		outs[i] = make(chan *chunk, 1)
	}
	g.Go(func() error {
		defer func() {
			for _, c := range ins {
				close(c)
			}
		}()
		i := 0
		for c := range in {
			select {
			case ins[i%n] <- c:
			case <-ctx.Done():
				return ctx.Err()
			}
			i++
		}
		return nil
	})
	for i := range n {
		work := newWorker()
		g.Go(func() error {
			defer close(outs[i])
			for c := range ins[i] {
				work(c)
				select {
				case outs[i] <- c:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		})
	}
	out := make(chan *chunk, n)
	g.Go(func() error {
		defer close(out)
		for i := 0; ; i++ {
			c, ok := <-outs[i%n]
			if !ok {
				return nil
			}
			select {
			case out <- c:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	})
	return out
}
