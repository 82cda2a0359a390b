package jsonwalk

import (
	"bytes"
	"io"
)

// A lineTracker is an io.Reader that remembers where lines end, so that
// a byte offset reported by the JSON decoder can be turned into a line
// number. Queries must come in increasing order; newlines below the last
// query are forgotten, so memory stays bounded by the decoder's
// read-ahead.
type lineTracker struct {
	r     io.Reader
	read  int64
	nl    []int64 // offsets of newlines not yet passed by a query
	lines int     // newlines before the last query
}

// newLineTracker returns a lineTracker reading from r.
func newLineTracker(r io.Reader) *lineTracker { return &lineTracker{r: r} }

// Read implements io.Reader.
func (t *lineTracker) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	for i := 0; i < n; {
		j := bytes.IndexByte(p[i:n], '\n')
		if j < 0 {
			break
		}
		t.nl = append(t.nl, t.read+int64(i+j))
		i += j + 1
	}
	t.read += int64(n)
	return n, err
}

// lineAt returns the 1-based line of byte offset off.
func (t *lineTracker) lineAt(off int64) int {
	k := 0
	for k < len(t.nl) && t.nl[k] < off {
		k++
	}
	t.lines += k
	t.nl = t.nl[k:]
	if len(t.nl) == 0 {
		t.nl = nil
	}
	return t.lines + 1
}

// FirstLine returns the first non-blank line of b, trimmed.
func FirstLine(b []byte) []byte {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if t := bytes.TrimSpace(line); len(t) > 0 {
			return t
		}
	}
	return nil
}
