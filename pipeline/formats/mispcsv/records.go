package mispcsv

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"io"

	"github.com/iocpipe/iocpipe/pipeline/formats"
)

// A records reads the file's records as raw bytes: lines, joined while a
// quoted field is open (a record ends at the end of the line where its
// quotes balance), each record at most max bytes (a longer one comes
// back long, without its bytes). Blank lines are left out.
type records struct {
	br   *bufio.Reader
	max  int
	line int  // the lines read so far
	eof  bool // the file's end was reached
}

// next returns the next record, the line it starts on, and whether it was
// longer than max; io.EOF at the end.
func (rs *records) next() (raw []byte, line int, long bool, err error) {
	var buf []byte
	open := false // a quoted field is open at the end of buf
	for !rs.eof {
		text, quotes, tooLong, err := rs.readLine()
		switch {
		case errors.Is(err, io.EOF):
			rs.eof = true
		case err != nil:
			return nil, 0, false, err
		}
		if len(text) == 0 {
			continue
		}
		rs.line++
		if line == 0 {
			if len(bytes.TrimSpace(text)) == 0 {
				continue
			}
			line = rs.line
		}
		if quotes%2 == 1 {
			open = !open
		}
		long = long || tooLong || len(buf)+len(text) > rs.max+2
		if long {
			buf = nil
		} else {
			buf = append(buf, text...)
		}
		if !open {
			return buf, line, long, nil
		}
	}
	if line == 0 {
		return nil, 0, false, io.EOF
	}
	return buf, line, long, nil // a quote left open at the end
}

// readLine reads one line of any length, keeping at most max+1 bytes of
// it (formats.ReadLine), and counts its quotes, the part not kept too.
func (rs *records) readLine() (line []byte, quotes int, long bool, err error) {
	for {
		chunk, err := rs.br.ReadSlice('\n')
		quotes += bytes.Count(chunk, []byte{'"'})
		line = formats.AppendCapped(line, chunk, rs.max+1)
		if !errors.Is(err, bufio.ErrBufferFull) {
			return line, quotes, formats.Longer(line, rs.max), err
		}
	}
}

// split splits a raw record into its fields.
func split(raw []byte) ([]string, error) {
	r := csv.NewReader(bytes.NewReader(raw))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	fields, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("an empty record")
	}
	return fields, err
}
