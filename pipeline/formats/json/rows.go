package json

import (
	"bufio"
	"bytes"
	stdjson "encoding/json"
	"fmt"
	"io"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/formats/json/jsonwalk"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// WriteRows implements formats.RowWriter: for JSON Lines, the rejected
// lines; for a JSON array, an array of the rejected items; for an object
// holding the items (a TruSTAR submission's content, a wrapper's data
// array), the same object with that array reduced to the rejected items;
// for a single JSON item, the item. Documents of another kind (STIX, MISP,
// OTX) have no rows to write back: formats.ErrRowsFormat.
func (f Format) WriteRows(src *formats.Source, opts formats.Options, rows ioc.Ranges, w io.Writer) error {
	body, err := src.Body()
	if err != nil {
		return err
	}
	reopen := func() *bufio.Reader { return bufio.NewReaderSize(io.NewSectionReader(body, 0, body.Size()), 64<<10) }
	switch f.name {
	case FormatJSONL:
		return rejectedJSONL(reopen(), body, rows, w)
	case FormatJSON:
		doc, err := jsonwalk.Scan(reopen(), opts)
		if err != nil {
			return fmt.Errorf("%s: %w", src.Path, err)
		}
		if doc.Shape == jsonwalk.Stream {
			return rejectedJSONL(reopen(), body, rows, w)
		}
		return rejectedJSON(src.Path, reopen(), doc, rows, w)
	}
	return fmt.Errorf("%s (%s): %w", src.Path, f.name, formats.ErrRowsFormat)
}

// rejectedJSONL numbers the lines as readJSONL does (blank lines are not
// rows) and copies the rejected ones whole from body.
func rejectedJSONL(br *bufio.Reader, body io.ReaderAt, rows ioc.Ranges, w io.Writer) error {
	row := 0
	off := int64(0)
	return eachLine(br, formats.DefaultMaxLine, func(buf []byte, n int64, long bool) error {
		at := off
		off += n
		if !long && len(bytes.TrimSpace(buf)) == 0 {
			return nil // a blank line is no row
		}
		row++
		if !rows.Contains(row - 1) {
			return nil
		}
		return copyLine(w, io.NewSectionReader(body, at, n))
	})
}

// copyLine copies r to w, ending it with a newline when it does not end
// with one.
func copyLine(w io.Writer, r io.Reader) error {
	lw := &lastByteWriter{w: w}
	if _, err := io.Copy(lw, r); err != nil {
		return err
	}
	return lw.endLine()
}

// lastByteWriter remembers the last byte written, to end a copy with a
// newline when the source did not.
type lastByteWriter struct {
	w    io.Writer
	last byte
	n    int64
}

// Write implements io.Writer.
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
func rejectedJSON(name string, r *bufio.Reader, doc jsonwalk.Doc, rows ioc.Ranges, w io.Writer) error {
	if doc.Kind != jsonwalk.Items {
		return fmt.Errorf("%s: %w", name, formats.ErrRowsFormat)
	}
	var path []string
	switch {
	case len(doc.Items) > 0:
		path = doc.Items
	case doc.Shape == jsonwalk.Submission:
		path = []string{"content"}
	case doc.Shape == jsonwalk.Item:
		if !rows.Contains(0) {
			return nil
		}
		return copyLine(w, r)
	}
	dec := stdjson.NewDecoder(r)
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
	dec  *stdjson.Decoder
	w    *bufio.Writer
	rows ioc.Ranges
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
		if tok != stdjson.Delim('[') {
			return fmt.Errorf("expected the items' array, found %v: %w", tok, formats.ErrRowsFormat)
		}
		f.w.WriteString("[")
		n := 0
		for f.dec.More() {
			var raw stdjson.RawMessage
			if err := f.dec.Decode(&raw); err != nil {
				return err
			}
			if f.rows.Contains(f.next) {
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
	if tok != stdjson.Delim('{') {
		return fmt.Errorf("expected an object holding %q, found %v: %w", path[0], tok, formats.ErrRowsFormat)
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
		enc := stdjson.NewEncoder(&k)
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
		var raw stdjson.RawMessage
		if err := f.dec.Decode(&raw); err != nil {
			return err
		}
		f.w.Write(raw)
	}
	f.w.WriteString("\n" + indent + "}")
	_, err = f.dec.Token()
	return err
}
