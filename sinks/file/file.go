// Package file is the sink of dry runs and offline use: it writes the
// exact request bodies a real sink would send, as NDJSON, and counts what
// would be sent per submission key. It sends nothing and needs no secrets.
package file

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// An Encoder turns a batch into the request bodies a sink would send.
type Encoder func(*ioc.Batch) [][]byte

// KeyCount is what would be sent for one submission key.
type KeyCount struct {
	Enclaves    []string
	Tags        []string
	Indicators  int
	Submissions int
}

// Sink writes request bodies to W (when set) and counts them. It is safe
// for concurrent use; Flush must be called once at the end.
type Sink struct {
	enc Encoder

	mu     sync.Mutex
	w      *bufio.Writer
	err    error
	counts map[string]*KeyCount
	order  []string
}

// New returns a Sink that encodes with enc and writes to w (nil: count
// only).
func New(enc Encoder, w io.Writer) *Sink {
	s := &Sink{enc: enc, counts: map[string]*KeyCount{}}
	if w != nil {
		s.w = bufio.NewWriterSize(w, 1<<20)
	}
	return s
}

// Send implements pipeline.Sink.
func (s *Sink) Send(ctx context.Context, b *ioc.Batch) (ioc.Result, error) {
	bodies := s.enc(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	kc, ok := s.counts[b.Sub.Key]
	if !ok {
		kc = &KeyCount{Enclaves: b.Sub.Enclaves}
		for _, t := range b.Sub.Tags {
			kc.Tags = append(kc.Tags, t.Name)
		}
		s.counts[b.Sub.Key] = kc
		s.order = append(s.order, b.Sub.Key)
	}
	kc.Indicators += len(b.Items)
	kc.Submissions += len(bodies)
	if s.w != nil && s.err == nil {
		for _, body := range bodies {
			if _, err := s.w.Write(body); err != nil {
				s.err = err
				break
			}
			s.w.WriteByte('\n')
		}
	}
	if s.err != nil {
		return ioc.Result{}, fmt.Errorf("%w: writing request bodies: %v", ioc.ErrFatal, s.err)
	}
	return ioc.Result{Requests: len(bodies)}, nil
}

// Flush writes out buffered bodies.
func (s *Sink) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil || s.err != nil {
		return s.err
	}
	return s.w.Flush()
}

// Counts returns what would be sent, per submission key, in the order the
// keys first appeared.
func (s *Sink) Counts() []KeyCount {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]KeyCount, 0, len(s.order))
	for _, k := range s.order {
		kc := *s.counts[k]
		kc.Enclaves = slices.Clone(kc.Enclaves)
		out = append(out, kc)
	}
	return out
}

// String renders a KeyCount for a terminal.
func (k KeyCount) String() string {
	tags := "(none)"
	if len(k.Tags) > 0 {
		tags = strings.Join(k.Tags, ", ")
	}
	if len(k.Enclaves) == 0 {
		return fmt.Sprintf("submission tags %s: %d indicators in %d requests", tags, k.Indicators, k.Submissions)
	}
	return fmt.Sprintf("enclaves %s, submission tags %s: %d indicators in %d submissions",
		strings.Join(k.Enclaves, ", "), tags, k.Indicators, k.Submissions)
}
