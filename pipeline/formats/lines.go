package formats

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
)

// DefaultMaxLine is the longest line, delimited record or JSON value read
// when a route sets no max_line_bytes: 1 MiB.
const DefaultMaxLine = 1 << 20

// MaxLine returns the longest line, record or JSON value o lets a reader
// hold: o.MaxLineBytes, or DefaultMaxLine when it is 0 or less.
func (o Options) MaxLine() int {
	if o.MaxLineBytes <= 0 {
		return DefaultMaxLine
	}
	return o.MaxLineBytes
}

// TooLong returns the reason a record (what: "line", "record", "JSON
// value") longer than max bytes is rejected.
func TooLong(what string, max int) string {
	return fmt.Sprintf("%s longer than %d bytes (the route's max_line_bytes)", what, max)
}

// ReadLine reads one line of any length, keeping at most max+1 bytes of
// it and discarding the rest of a longer one; long says the line,
// without its line ending, was longer than max.
func ReadLine(br *bufio.Reader, max int) (line []byte, long bool, err error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		buf = AppendCapped(buf, chunk, max+1)
		if !errors.Is(err, bufio.ErrBufferFull) {
			return buf, Longer(buf, max), err
		}
	}
}

// AppendCapped appends to buf what of b fits in capacity bytes.
func AppendCapped(buf, b []byte, capacity int) []byte {
	if room := capacity - len(buf); room > 0 {
		buf = append(buf, b[:min(len(b), room)]...)
	}
	return buf
}

// Longer reports whether line, the first max+1 bytes of a line or less,
// is longer than max without its line ending.
func Longer(line []byte, max int) bool {
	return len(bytes.TrimRight(line, "\r\n")) > max
}
