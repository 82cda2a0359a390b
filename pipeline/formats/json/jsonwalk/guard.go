package jsonwalk

import (
	"encoding/json"
	"io"

	"github.com/iocpipe/iocpipe/pipeline/formats"
)

// A valueGuard sits under a json.Decoder and fails its next read once the
// decoder holds more than max bytes it has not consumed: a value that
// comes next (a string, an item) longer than the route's max_line_bytes.
// The decoder holds a value whole while it reads it; without the guard,
// one long string would be held whole, however long.
type valueGuard struct {
	r    io.Reader
	dec  *json.Decoder
	read int64
	max  int64
}

// Read implements io.Reader.
func (g *valueGuard) Read(p []byte) (int, error) {
	if at := g.dec.InputOffset(); g.read-at > g.max {
		return 0, &TooLongError{Offset: at, Max: int(g.max)}
	}
	n, err := g.r.Read(p)
	g.read += int64(n)
	return n, err
}

// A TooLongError is a JSON value longer than the route's max_line_bytes:
// the document cannot be read on past it.
type TooLongError struct {
	// Offset is where the value starts in the walked text.
	Offset int64
	Max    int
}

// Error implements error.
func (e *TooLongError) Error() string {
	return formats.TooLong("a JSON value", e.Max) + ": the document cannot be read on past it; raise max_line_bytes to read it"
}

// tooLong returns a *TooLongError when raw, the value dec just read, is
// longer than max bytes (0: any): the guard bounds what the decoder
// holds, this says the same of every value, however the file was read.
func tooLong(dec *json.Decoder, raw []byte, max int) error {
	if max > 0 && len(raw) > max {
		return &TooLongError{Offset: dec.InputOffset() - int64(len(raw)), Max: max}
	}
	return nil
}

// guarded returns a decoder over r that holds no value longer than max
// bytes; max 0 holds any.
func guarded(r io.Reader, max int) *json.Decoder {
	if max <= 0 {
		return decoder(r)
	}
	g := &valueGuard{r: r, max: int64(max)}
	g.dec = decoder(g)
	return g.dec
}

// decode reads the next value whole into raw: a *TooLongError when it is
// longer than the walker's limit.
func (w *Walker) decode(raw *json.RawMessage) error {
	if err := w.dec.Decode(raw); err != nil {
		return err
	}
	return tooLong(w.dec, *raw, w.max)
}
