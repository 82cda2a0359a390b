package formats

import (
	"context"
	"errors"
	"io"
	"iter"
)

// A Walk reads a whole file, push-style: it hands each row to yield, in
// file order, and returns when the file ends (nil), when it cannot go on
// (the file error), or as soon as yield returns false (ErrStopped). It is
// how the JSON formats stream nested documents without holding them.
type Walk func(ctx context.Context, yield func(Row) bool) error

// ErrStopped is what a Walk returns when yield asked it to stop.
var ErrStopped = errors.New("formats: reading stopped")

// Emit hands r to a Walk's yield; it returns ErrStopped when yield asks
// the walk to stop.
func Emit(yield func(Row) bool, r Row) error {
	if !yield(r) {
		return ErrStopped
	}
	return nil
}

// A Pulled is a Reader over a Walk: each Next resumes the walk until it
// yields its next row (iter.Pull: a coroutine switch, no goroutine of the
// caller's). Close it to end a walk early.
type Pulled struct {
	walk Walk
	next func() (Row, bool)
	stop func()
	err  error
	// Level is the file level the walk found; the walk sets it before it
	// yields the first row.
	Level File
}

// Pull returns a Reader that pulls the rows of walk. The walk starts at
// the first Next, with that call's context.
func Pull(walk Walk) *Pulled { return &Pulled{walk: walk} }

// Next implements Reader.
func (p *Pulled) Next(ctx context.Context) (Row, error) {
	if p.next == nil {
		p.next, p.stop = iter.Pull(func(yield func(Row) bool) {
			if err := p.walk(ctx, yield); err != nil && !errors.Is(err, ErrStopped) {
				p.err = err
			}
		})
	}
	r, ok := p.next()
	if !ok {
		if p.err != nil {
			return Row{}, p.err
		}
		return Row{}, io.EOF
	}
	return r, nil
}

// File implements Reader.
func (p *Pulled) File() File { return p.Level }

// Close ends the walk if it is not done.
func (p *Pulled) Close() error {
	if p.stop != nil {
		p.stop()
	}
	return nil
}
