package text

import (
	"bufio"
	"bytes"
	"io"

	"github.com/iocpipe/iocpipe/pipeline/formats"
)

// lines reads a file line by line, a line ending with LF, CRLF or a CR
// alone (classic Mac files), keeping at most max+1 bytes of a line.
type lines struct {
	br  *bufio.Reader
	max int
	buf []byte
	// n is the line number of the last line read, from 1.
	n int
}

func newLines(br *bufio.Reader, max int) *lines { return &lines{br: br, max: max} }

// next returns the next line without its ending; long says it was longer
// than max. It returns io.EOF after the last line.
func (l *lines) next() (line []byte, long bool, err error) {
	l.buf = l.buf[:0]
	read := false
	for {
		if _, err := l.br.Peek(1); err != nil {
			if read {
				l.n++
				return l.buf, len(l.buf) > l.max, nil
			}
			if err == io.EOF {
				return nil, false, io.EOF
			}
			return nil, false, err
		}
		read = true
		b, _ := l.br.Peek(l.br.Buffered())
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			l.buf = formats.AppendCapped(l.buf, b, l.max+1)
			l.br.Discard(len(b))
			continue
		}
		l.buf = formats.AppendCapped(l.buf, b[:i], l.max+1)
		l.br.Discard(i + 1)
		if b[i] == '\r' {
			if nb, err := l.br.Peek(1); err == nil && nb[0] == '\n' {
				l.br.Discard(1)
			}
		}
		l.n++
		return l.buf, len(l.buf) > l.max, nil
	}
}
