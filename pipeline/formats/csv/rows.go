package csv

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"strings"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// WriteRows reads the file with the pipeline's own CSV machinery (the
// same layout, header and records, so the same row numbers) and copies
// the lines of the header and of each rejected record from body.
//
// WriteRows implements formats.RowWriter.
func (Format) WriteRows(s *formats.Source, opts formats.Options, rows ioc.Ranges, w io.Writer) error {
	body, err := s.Body()
	if err != nil {
		return err
	}
	br, err := s.Rewind()
	if err != nil {
		return err
	}
	src, lay, err := openCSV(s.Name, br, opts)
	if err != nil || src == nil {
		return nil // a file-level failure, or no records: no rows
	}
	skipped := func(line []byte) bool { // a line no record starts with
		if lay.text {
			s := string(line)
			return strings.TrimSpace(s) == "" || commentLine(s) != 0
		}
		return len(bytes.TrimRight(line, "\r\n")) == 0 || line[0] == '#'
	}
	sp := &spans{lc: &lineCopier{br: bufio.NewReaderSize(body, 64<<10), skipped: skipped}, w: w}
	if src.headerLine > 0 {
		if err := sp.next(src.headerLine, true); err != nil {
			return err
		}
		if src.headerComment {
			// A comment line above the data: that line only.
			if err := sp.next(src.headerLine+1, false); err != nil {
				return err
			}
		}
	} else {
		// No header: name the first column, so the rows read the same.
		n := max(len(src.header), 1)
		if _, err := io.WriteString(w, "value"+strings.Repeat(string(lay.delim), n-1)+"\n"); err != nil {
			return err
		}
	}
	row := 0
	if src.first != nil {
		if err := sp.next(src.firstLine, rows.Contains(row)); err != nil {
			return err
		}
		row++
	}
	for {
		_, err := src.r.Read()
		if err == io.EOF {
			break
		}
		line := src.r.Line()
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			line = pe.StartLine
		} else if err != nil {
			return err
		}
		if err := sp.next(line, rows.Contains(row)); err != nil {
			return err
		}
		row++
	}
	return sp.next(-1, false)
}

// spans copies a file's spans of lines — the header's, then each
// record's, from its first line to the next one's — keeping the ones
// asked for.
type spans struct {
	lc      *lineCopier
	w       io.Writer
	pending bool
	line    int
	keep    bool
}

// next ends the pending span at line (-1: the end of the file), copying
// it when it is kept, and starts the next one there.
func (sp *spans) next(line int, keep bool) error {
	if sp.pending {
		var out io.Writer
		if sp.keep {
			out = sp.w
		}
		if err := sp.lc.copy(out, sp.line, line); err != nil {
			return err
		}
	}
	sp.pending, sp.line, sp.keep = true, line, keep
	return nil
}

// lineCopier copies ranges of lines of a text, in increasing order.
type lineCopier struct {
	br      *bufio.Reader
	line    int // lines read so far
	skipped func(line []byte) bool
	eof     bool
}

// copy copies lines [from, to) to w (to -1: to the end), dropping the
// skipped lines (blank, comments) that trail the last other line; a nil w
// discards them. The copy ends with a newline.
func (c *lineCopier) copy(w io.Writer, from, to int) error {
	var trail [][]byte
	wrote := false
	for !c.eof && (to < 0 || c.line+1 < to) {
		b, err := c.br.ReadBytes('\n')
		if err == io.EOF {
			c.eof = true
		} else if err != nil {
			return err
		}
		if len(b) == 0 {
			break
		}
		c.line++
		if c.line < from || w == nil {
			continue
		}
		if wrote && c.skipped(b) {
			trail = append(trail, b)
			continue
		}
		for _, t := range append(trail, b) {
			if _, err := w.Write(t); err != nil {
				return err
			}
			wrote = true
		}
		trail = trail[:0]
		if b[len(b)-1] != '\n' {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return err
			}
		}
	}
	return nil
}
