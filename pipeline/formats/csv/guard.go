package csv

import (
	"bytes"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/iocpipe/iocpipe/pipeline/formats"
)

// The states of a recordGuard: where in a record the next byte is, as
// encoding/csv (Comment '#', TrimLeadingSpace) reads it.
const (
	gRecord  = iota // at a record's start
	gField          // at a field's start (after a delimiter), leading space
	gBare           // in an unquoted field
	gQuoted         // in a quoted field
	gQuote          // just after a '"' in a quoted field: its end, or "" escaped
	gBadLine        // after a quoting error: the record ends with the line
	gComment        // in a comment line
)

// A recordGuard sits between a file and encoding/csv and keeps a record
// from growing beyond max bytes: csv.Reader holds a whole record before
// it returns it, and a quoted field may run over many lines, or to the
// end of the file. The guard follows the quoting as csv.Reader does; once
// a record passes max bytes it ends the read with an *overlongError,
// skips the rest of the record and goes on with the next. Comment lines
// longer than max are cut, silently.
type recordGuard struct {
	r     io.Reader
	max   int
	delim byte // the delimiter's last byte
	state int
	n     int  // bytes of the current record (or comment line) passed
	skip  bool // skipping the rest of an over-long record
	// lines is the newlines passed or skipped; start, the line where the
	// current record starts.
	lines, start int
	pending      error
	// shifts are, for each over-long record in order, how many lines
	// fewer than the file encoding/csv counts after it.
	shifts []int
	nl     int // newlines skipped in the current skip
	// buf[lo:hi] is what was read and not yet filtered; err, the error
	// that came with it.
	buf    []byte
	lo, hi int
	err    error
}

// newRecordGuard returns a recordGuard over r for records delimited by
// delim, at most max bytes long.
func newRecordGuard(r io.Reader, delim rune, max int) *recordGuard {
	var b [utf8.UTFMax]byte
	n := utf8.EncodeRune(b[:], delim)
	return &recordGuard{r: r, max: max, delim: b[n-1]}
}

// An overlongError is a record longer than the route's max_line_bytes.
type overlongError struct {
	line, max int
}

// Error implements error.
func (e *overlongError) Error() string {
	return fmt.Sprintf("line %d: %s", e.line, formats.TooLong("record", e.max))
}

// Read implements io.Reader.
func (g *recordGuard) Read(p []byte) (int, error) {
	if g.pending != nil {
		err := g.pending
		g.pending = nil
		return 0, err
	}
	for {
		if g.lo == g.hi {
			if g.err != nil {
				return 0, g.err
			}
			if g.buf == nil {
				g.buf = make([]byte, 32<<10)
			}
			g.lo = 0
			g.hi, g.err = g.r.Read(g.buf)
		}
		used, out := g.filter(p, g.buf[g.lo:g.hi])
		g.lo += used
		if out > 0 {
			return out, nil
		}
		if g.pending != nil {
			err := g.pending
			g.pending = nil
			return 0, err
		}
	}
}

// filter runs the bytes of src through the state machine, copies those
// to pass to dst and returns how many of src it used and how many it
// copied. It stops where a record grows too long, with g.pending set.
func (g *recordGuard) filter(dst, src []byte) (used, out int) {
	i := 0
	for i < len(src) && out < len(dst) {
		if g.skip {
			i += g.skipTo(src[i:])
			continue
		}
		if g.state == gQuoted {
			if j := g.quoted(src[i:min(len(src), i+len(dst)-out)]); j > 0 {
				out += copy(dst[out:], src[i:i+j])
				i += j
				continue
			}
		}
		if g.state <= gBare || g.state == gBadLine {
			if j := g.fast(src[i:min(len(src), i+len(dst)-out)]); j > 0 {
				out += copy(dst[out:], src[i:i+j])
				i += j
				continue
			}
		}
		c := src[i]
		if g.state == gComment && g.n >= g.max && c != '\n' {
			i++
			continue // the rest of a long comment line
		}
		if g.state != gComment && g.n >= g.max && !(c == '\n' && g.ends(c)) {
			g.skip, g.nl = true, 0
			g.pending = &overlongError{line: g.start, max: g.max}
			return i, out
		}
		i++
		dst[out] = c
		out++
		g.step(c)
	}
	return i, out
}

// ends reports whether newline c ends the current record.
func (g *recordGuard) ends(c byte) bool {
	return g.state != gQuoted
}

// step moves the state machine over byte c, passed.
func (g *recordGuard) step(c byte) {
	g.n++
	if c == '\n' {
		g.lines++
	}
	switch g.state {
	case gRecord:
		switch c {
		case '\n':
			g.n, g.start = 0, g.lines+1
			return
		case '#':
			g.state = gComment
			return
		}
		g.state = gField
		g.step0(c)
	case gField:
		g.step0(c)
	case gBare:
		switch c {
		case g.delim:
			g.state = gField
		case '"':
			g.state = gBadLine
		case '\n':
			g.endRecord()
		}
	case gQuoted:
		if c == '"' {
			g.state = gQuote
		}
	case gQuote:
		switch c {
		case '"':
			g.state = gQuoted
		case g.delim:
			g.state = gField
		case '\n':
			g.endRecord()
		case '\r':
		default:
			g.state = gBadLine
		}
	case gBadLine, gComment:
		if c == '\n' {
			g.endRecord()
		}
	}
}

// step0 is step at a field's start.
func (g *recordGuard) step0(c byte) {
	switch c {
	case ' ', '\t', '\r', '\v', '\f':
	case '"':
		g.state = gQuoted
	case g.delim:
	case '\n':
		g.endRecord()
	default:
		g.state = gBare
	}
}

// endRecord starts the next record, after a newline.
func (g *recordGuard) endRecord() {
	g.state, g.n, g.start = gRecord, 0, g.lines+1
}

// fast returns how many bytes at the start of b hold no quote and no
// comment and keep every record below max, stepping over them: lines of
// plain fields, the common case, without the byte-by-byte machine. It
// returns 0 when b must go byte by byte.
func (g *recordGuard) fast(b []byte) int {
	if i := bytes.IndexByte(b, '"'); i >= 0 {
		b = b[:i]
	}
	if i := bytes.IndexByte(b, '#'); i >= 0 {
		b = b[:i]
	}
	done := 0
	for done < len(b) {
		j := bytes.IndexByte(b[done:], '\n')
		if j < 0 {
			break
		}
		if g.n+j >= g.max {
			return done
		}
		done += j + 1
		g.lines++
		g.endRecord()
	}
	rest := b[done:]
	if g.n+len(rest) >= g.max {
		return done
	}
	g.n += len(rest)
	if len(rest) > 0 && g.state != gBadLine {
		g.state = g.tailState(rest)
	}
	return len(b)
}

// tailState is the state after rest, the start of a line or the rest of
// a field, that holds no quote and no newline.
func (g *recordGuard) tailState(rest []byte) int {
	for k := len(rest) - 1; k >= 0; k-- {
		switch c := rest[k]; {
		case c == g.delim:
			return gField
		case c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f':
		default:
			return gBare
		}
	}
	if g.state == gRecord {
		return gField
	}
	return g.state
}

// quoted returns how many bytes at the start of b, in a quoted field,
// come before its next quote and keep the record within max, stepping
// over them; 0 when b must go byte by byte.
func (g *recordGuard) quoted(b []byte) int {
	if i := bytes.IndexByte(b, '"'); i >= 0 {
		b = b[:i]
	}
	if j := g.max - g.n; len(b) > j {
		b = b[:max(j, 0)]
	}
	g.n += len(b)
	g.lines += bytes.Count(b, []byte{'\n'})
	return len(b)
}

// skipTo discards the rest of an over-long record from the start of b
// and returns how many bytes it took; the skip ends after the newline
// that ends the record.
func (g *recordGuard) skipTo(b []byte) int {
	for i := 0; i < len(b); i++ {
		if j := g.skipFast(b[i:]); j > 0 {
			i += j - 1
			continue
		}
		c := b[i]
		if c == '\n' {
			g.lines++
			g.nl++
			if g.ends(c) {
				g.skip = false
				g.shifts = append(g.shifts, g.nl-1)
				g.endRecord()
				return i + 1
			}
			continue
		}
		g.step(c)
		g.n-- // not passed
	}
	return len(b)
}

// skipFast returns how many bytes at the start of b a skip can pass over
// without looking at them one by one: up to the next newline in a line
// without quotes, up to the next quote in a quoted field.
func (g *recordGuard) skipFast(b []byte) int {
	var j int
	switch {
	case g.state == gQuoted:
		j = bytes.IndexByte(b, '"')
	case g.state == gBadLine, g.state <= gBare && bytes.IndexByte(b, '"') < 0:
		j = bytes.IndexByte(b, '\n')
	default:
		return 0
	}
	if j < 0 {
		j = len(b)
	}
	if g.state == gQuoted {
		nl := bytes.Count(b[:j], []byte{'\n'})
		g.lines += nl
		g.nl += nl
	}
	if g.state == gField && j > 0 {
		g.state = g.tailState(b[:j])
	} else if g.state == gRecord && j > 0 {
		g.state = gBare
	}
	return j
}
