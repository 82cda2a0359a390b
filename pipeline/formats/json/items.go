package json

import (
	"bufio"
	"bytes"
	"context"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/formats/json/jsonwalk"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// readItems emits the items of a document of plain items, where the
// first pass found them: the array at a wrapper's path, one item, a root
// array, or a submission's "content".
func readItems(w *jsonwalk.Walker, yield func(formats.Row) bool, doc *jsonwalk.Doc, m *jsonwalk.Mapper) error {
	emit := func(array bool) func(raw stdjson.RawMessage, line, index int) error {
		return func(raw stdjson.RawMessage, line, index int) error {
			o := ioc.Origin{Line: line, Index: -1}
			if array {
				o.Index = index
			}
			return formats.Emit(yield, m.ItemRow(o, raw))
		}
	}
	switch {
	case len(doc.Items) > 0:
		return w.At(doc.Items, func() error { return w.Items(true, emit(true)) })
	case doc.Shape == jsonwalk.Item:
		return w.Items(false, emit(false))
	case doc.Shape == jsonwalk.Array:
		return w.Items(true, emit(true))
	}
	return w.MemberItems("content", emit(true))
}

// readJSONL emits one row per non-blank line; a line that does not parse
// is a rejected row, and the rest of the file goes on.
func readJSONL(ctx context.Context, yield func(formats.Row) bool, br *bufio.Reader, m *jsonwalk.Mapper) error {
	var buf []byte
	for line := 1; ; line++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var n int64
		var long bool
		var err error
		buf, n, long, err = readLine(br, buf)
		if n == 0 && err == io.EOF {
			return nil
		}
		o := ioc.Origin{Line: line, Index: -1}
		text := bytes.TrimSpace(buf)
		switch {
		case long:
			row := formats.RejectRow(o, ioc.Clip(string(text[:256])), fmt.Sprintf("line longer than %d bytes", formats.MaxLine))
			if err := formats.Emit(yield, row); err != nil {
				return err
			}
		case len(text) > 0:
			if err := formats.Emit(yield, m.ItemRow(o, text)); err != nil {
				return err
			}
		}
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// readLine reads one line of any length into buf: at most about
// formats.MaxLine bytes of it (long says it was longer), and n, the bytes
// it takes in the file.
func readLine(br *bufio.Reader, buf []byte) (line []byte, n int64, long bool, err error) {
	chunk, err := br.ReadSlice('\n')
	n = int64(len(chunk))
	buf = append(buf[:0], chunk...)
	for errors.Is(err, bufio.ErrBufferFull) {
		chunk, err = br.ReadSlice('\n')
		n += int64(len(chunk))
		if len(buf) < formats.MaxLine {
			buf = append(buf, chunk...)
		} else {
			long = true
		}
	}
	return buf, n, long, err
}
