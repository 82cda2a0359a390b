package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// chunkRows is how many rows travel together between stages.
const chunkRows = 256

// An emitter cuts a file's rows into chunks and sends them on.
type emitter struct {
	ctx     context.Context
	out     chan<- *chunk
	f       *fileState
	cur     *chunk
	next    int // the next data row's sequence number
	resumed int64
	read    *countingReader
	// assocs are the file's associations, sent with its last chunk.
	assocs []*ioc.Association
	stop   <-chan struct{}
	count  *progress
}

// errStopped ends reading when the pipeline was told to stop.
var errStopped = errors.New("stopped")

// emit sends one row on. It numbers the row, and drops it when the
// ledger says it was acknowledged before.
func (e *emitter) emit(r Row) error {
	select {
	case <-e.stop:
		return errStopped
	default:
	}
	r.Row = e.next
	r.File = e.f.name
	for i := range r.rejects {
		r.rejects[i].Row, r.rejects[i].File = r.Row, r.File
	}
	e.next++
	e.count.rows.Add(1)
	if e.f.in.Skip != nil && e.f.in.Skip(r.Row) {
		e.resumed++
		e.count.resumed.Add(1)
		return nil
	}
	if e.cur == nil {
		e.cur = &chunk{file: e.f, rows: make([]Row, 0, chunkRows)}
	}
	e.cur.rows = append(e.cur.rows, r)
	if len(e.cur.rows) == chunkRows {
		return e.send(false, nil)
	}
	return nil
}

func (e *emitter) send(last bool, err error) error {
	c := e.cur
	if c == nil {
		c = &chunk{file: e.f}
	}
	e.cur = nil
	c.last, c.err = last, err
	if e.read != nil {
		c.bytes = e.read.n.Load()
	}
	if last {
		c.resumed = e.resumed
		c.assocs = e.assocs
	}
	select {
	case e.out <- c:
		return nil
	case <-e.ctx.Done():
		return e.ctx.Err()
	}
}

// countingReader counts the bytes read, for the progress bar.
type countingReader struct {
	r     io.Reader
	n     atomic.Int64
	total *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	if c.total != nil {
		c.total.Add(int64(n))
	}
	return n, err
}

// A FileError is a file that cannot be read as a whole.
type FileError = formats.FileError

// readFile opens and reads one file to the end, emitting its rows. A
// returned error is a file error (the context's error aside).
func (p *Pipeline) readFile(ctx context.Context, f *fileState, out chan<- *chunk) error {
	e := &emitter{ctx: ctx, out: out, f: f, stop: p.stop, count: &p.progress}
	err := p.readInto(ctx, f, e)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, errStopped) {
		// Send what was read, but not the file's end: it is unfinished.
		if e.cur != nil {
			if err := e.send(false, nil); err != nil {
				return err
			}
		}
		return errStopped
	}
	var fe *FileError
	if err != nil && !errors.As(err, &fe) {
		err = &FileError{File: f.name, Err: err}
	}
	return e.send(true, err)
}

func (p *Pipeline) readInto(ctx context.Context, f *fileState, e *emitter) error {
	counted := false
	o, err := formats.Open(f.in.Path, f.name, p.route.ReadOptions(), func(r io.Reader) io.Reader {
		if counted {
			return r // a second pass: progress counts the file once
		}
		counted = true
		e.read = &countingReader{r: r, total: &p.bytesRead}
		return e.read
	})
	if err != nil {
		var fe *FileError
		if errors.As(err, &fe) {
			f.format = fe.Format
		}
		return err
	}
	defer o.Close()
	f.format = o.Format.Name()
	return p.pull(ctx, f, e, o.Reader)
}

// pull reads every row of r and emits it. The file level (tags,
// enclaves, format) and whether the file has associations are known once
// r's first Next returned.
func (p *Pipeline) pull(ctx context.Context, f *fileState, e *emitter, r formats.Reader) error {
	for first := true; ; first = false {
		fr, err := r.Next(ctx)
		if first {
			fl := r.File()
			f.format = fl.Format
			f.setFileLevel(fl.Tags, fl.TagsSet, fl.Enclaves)
			if l, ok := r.(formats.Linker); ok && l.Links() && p.opts.Associations {
				p.tracker.collectEnds(f)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		row := Row{Origin: fr.Origin, Fields: fr.Fields, skip: fr.Skip, skipKey: fr.SkipKey}
		if fr.Link != "" && !p.opts.Associations {
			row.skip = fmt.Sprintf("relationship %s: %s takes no associations (not applicable)", fr.Link, p.opts.SinkName)
		}
		if fr.Reject != nil {
			row.rejects, row.rowRejected = []ioc.Reject{*fr.Reject}, true
		}
		if err := e.emit(row); err != nil {
			return err
		}
	}
	if l, ok := r.(formats.Linker); ok {
		e.assocs = l.Associations()
	}
	return nil
}
