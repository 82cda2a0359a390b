package json

import (
	"bufio"
	"bytes"
	"context"
	stdjson "encoding/json"
	"errors"
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

// readJSONL emits one row per non-blank line; a line that does not parse,
// or is longer than max bytes, is a rejected row, and the rest of the
// file goes on.
func readJSONL(ctx context.Context, yield func(formats.Row) bool, br *bufio.Reader, m *jsonwalk.Mapper, max int) error {
	line := 0
	return eachLine(br, max, func(buf []byte, _ int64, long bool) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		line++
		o := ioc.Origin{Line: line, Index: -1}
		text := bytes.TrimSpace(buf)
		switch {
		case long:
			return formats.Emit(yield, formats.RejectRow(o, ioc.Clip(string(text[:min(len(text), 256)])), formats.TooLong("line", max)))
		case len(text) > 0:
			return formats.Emit(yield, m.ItemRow(o, text))
		}
		return nil
	})
}

// eachLine calls fn with each line of br, of any length: at most about
// max bytes of it (long says it was longer), and n, the bytes it takes in
// the file. It returns at the end of br, or fn's error.
func eachLine(br *bufio.Reader, max int, fn func(line []byte, n int64, long bool) error) error {
	var buf []byte
	for {
		buf = buf[:0]
		n := int64(0)
		var err error
		for {
			var chunk []byte
			chunk, err = br.ReadSlice('\n')
			n += int64(len(chunk))
			buf = formats.AppendCapped(buf, chunk, max+1)
			if !errors.Is(err, bufio.ErrBufferFull) {
				break
			}
		}
		if n == 0 && err == io.EOF {
			return nil
		}
		if ferr := fn(buf, n, formats.Longer(buf, max)); ferr != nil {
			return ferr
		}
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}
