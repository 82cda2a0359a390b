package pipeline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// ErrRowsFormat is returned by WriteRejectedRows for a format whose rows it
// cannot write back (STIX, OTX pulses, MISP events): the reject report
// (file, line, reason) is all there is for those.
var ErrRowsFormat = errors.New("rejected rows cannot be written in this format")

// WriteRejectedRows writes to w the rows of the file at path that rejects
// name (by Reject.Row), in the file's own format, so that a corrected copy
// can be imported again: for CSV and other delimited text, the header and
// the rejected records, byte for byte as the file has them (a file
// without a header gets one naming its first column value, so that its
// first rejected row is not taken for a header); for JSONL, the rejected
// lines; for a JSON array, an array of the rejected items; for an object
// holding the items (a TruSTAR submission's content, a wrapper's data
// array), the same object with that array reduced to the rejected items;
// for a single JSON item, the item. Skipped rows (Reject.Skipped) and
// file-level rejects (Row -1) are left out; with none left, nothing is
// written.
//
// format is the file's format (FileResult.Format) and route the route it
// was read with (nil means the defaults): the file is read again the way
// the pipeline read it, so that row numbers match. It is streamed, never
// loaded whole.
func WriteRejectedRows(path, format string, route *Route, rejects []ioc.Reject, w io.Writer) error {
	rows := map[int]bool{}
	for _, r := range rejects {
		if r.Row >= 0 && !r.Skipped {
			rows[r.Row] = true
		}
	}
	if len(rows) == 0 {
		return nil
	}
	if route == nil {
		route = &Route{}
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file (%s)", path, fi.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	bom := int64(0)
	if head, _ := br.Peek(len(utf8BOM)); bytes.Equal(head, utf8BOM) {
		br.Discard(len(utf8BOM))
		bom = int64(len(utf8BOM))
	}
	body := io.NewSectionReader(f, bom, fi.Size()-bom) // the file after its BOM
	switch format {
	case FormatCSV:
		return writeRows(path, format, route, rows, w)
	case FormatJSONL:
		return rejectedJSONL(br, body, rows, w)
	case FormatJSON:
		meta, err := scanJSONRoute(br, route)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if meta.shape == shapeStream {
			return rejectedJSONL(bufio.NewReaderSize(io.NewSectionReader(body, 0, body.Size()), 64<<10), body, rows, w)
		}
		return rejectedJSON(f.Name(), bufio.NewReaderSize(io.NewSectionReader(body, 0, body.Size()), 64<<10), meta, rows, w)
	}
	return fmt.Errorf("%s (%s): %w", path, format, ErrRowsFormat)
}

// rejectedJSONL numbers the lines as readJSONL does (blank lines are not
// rows) and copies the rejected ones whole from body.
func rejectedJSONL(br *bufio.Reader, body io.ReaderAt, rows map[int]bool, w io.Writer) error {
	row := 0
	off := int64(0)
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		n := int64(len(chunk))
		buf = append(buf[:0], chunk...)
		long := false
		for errors.Is(err, bufio.ErrBufferFull) {
			chunk, err = br.ReadSlice('\n')
			n += int64(len(chunk))
			if len(buf) < maxLine {
				buf = append(buf, chunk...)
			} else {
				long = true
			}
		}
		if n == 0 && err == io.EOF {
			return nil
		}
		if long || len(bytes.TrimSpace(buf)) > 0 {
			if rows[row] {
				lw := &lastByteWriter{w: w}
				if _, werr := io.Copy(lw, io.NewSectionReader(body, off, n)); werr != nil {
					return werr
				}
				if werr := lw.endLine(); werr != nil {
					return werr
				}
			}
			row++
		}
		off += n
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// lastByteWriter remembers the last byte written, to end a copy with a
// newline when the source did not.
type lastByteWriter struct {
	w    io.Writer
	last byte
	n    int64
}

func (l *lastByteWriter) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	if n > 0 {
		l.last = p[n-1]
		l.n += int64(n)
	}
	return n, err
}

func (l *lastByteWriter) endLine() error {
	if l.n == 0 || l.last == '\n' {
		return nil
	}
	_, err := l.Write([]byte("\n"))
	return err
}

// rejectedJSON writes a JSON document with its items (where readJSON finds
// them) reduced to the rejected ones.
func rejectedJSON(name string, r *bufio.Reader, meta jsonMeta, rows map[int]bool, w io.Writer) error {
	if meta.stix || meta.kind != kindItems {
		return fmt.Errorf("%s: %w", name, ErrRowsFormat)
	}
	var path []string
	switch {
	case len(meta.items) > 0:
		path = meta.items
	case meta.shape == shapeSubmission:
		path = []string{"content"}
	case meta.shape == shapeItem:
		if !rows[0] {
			return nil
		}
		lw := &lastByteWriter{w: w}
		if _, err := io.Copy(lw, r); err != nil {
			return err
		}
		return lw.endLine()
	}
	dec := json.NewDecoder(r)
	bw := bufio.NewWriter(w)
	f := &jsonFilter{dec: dec, w: bw, rows: rows}
	if err := f.value(path, ""); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	bw.WriteString("\n")
	return bw.Flush()
}

// jsonFilter copies a JSON value, reducing the array at a path of object
// keys to the items whose running index is in rows.
type jsonFilter struct {
	dec  *json.Decoder
	w    *bufio.Writer
	rows map[int]bool
	next int // the index of the next item
}

// value copies the next value of dec, the array at path reduced; indent
// is the indentation of the value's own line.
func (f *jsonFilter) value(path []string, indent string) error {
	tok, err := f.dec.Token()
	if err != nil {
		return err
	}
	if len(path) == 0 {
		if tok != json.Delim('[') {
			return fmt.Errorf("expected the items' array, found %v: %w", tok, ErrRowsFormat)
		}
		f.w.WriteString("[")
		n := 0
		for f.dec.More() {
			var raw json.RawMessage
			if err := f.dec.Decode(&raw); err != nil {
				return err
			}
			if f.rows[f.next] {
				if n > 0 {
					f.w.WriteString(",")
				}
				f.w.WriteString("\n" + indent + "  ")
				f.w.Write(raw)
				n++
			}
			f.next++
		}
		if n > 0 {
			f.w.WriteString("\n" + indent)
		}
		f.w.WriteString("]")
		_, err := f.dec.Token()
		return err
	}
	if tok != json.Delim('{') {
		return fmt.Errorf("expected an object holding %q, found %v: %w", path[0], tok, ErrRowsFormat)
	}
	f.w.WriteString("{")
	for i := 0; f.dec.More(); i++ {
		tok, err := f.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		if i > 0 {
			f.w.WriteString(",")
		}
		f.w.WriteString("\n" + indent + "  ")
		var k bytes.Buffer
		enc := json.NewEncoder(&k)
		enc.SetEscapeHTML(false)
		enc.Encode(key)
		f.w.Write(bytes.TrimSpace(k.Bytes()))
		f.w.WriteString(": ")
		if key == path[0] {
			if err := f.value(path[1:], indent+"  "); err != nil {
				return err
			}
			continue
		}
		var raw json.RawMessage
		if err := f.dec.Decode(&raw); err != nil {
			return err
		}
		f.w.Write(raw)
	}
	f.w.WriteString("\n" + indent + "}")
	_, err = f.dec.Token()
	return err
}

// writeRows writes the rows through the format's own RowWriter.
func writeRows(path, format string, route *Route, rows map[int]bool, w io.Writer) error {
	opts := route.ReadOptions()
	opts.Format = format
	o, err := formats.Open(path, path, opts, nil)
	if err != nil {
		return nil // a file-level failure: no rows
	}
	defer o.Close()
	rw, ok := o.Format.(formats.RowWriter)
	if !ok {
		return fmt.Errorf("%s (%s): %w", path, format, ErrRowsFormat)
	}
	var set ioc.Ranges
	for r := range rows {
		set.Add(r)
	}
	return rw.WriteRows(o.Source, opts, set, w)
}
