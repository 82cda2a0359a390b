package jsonwalk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/iocpipe/iocpipe/schemas"
)

// A Walker walks a JSON document token by token, descending only into
// what its caller asks for, so that no large value is ever held whole.
// Numbers are kept as written. Each method reads exactly the value that
// comes next.
type Walker struct {
	dec *json.Decoder
	lt  *lineTracker // nil: lines are not numbered
	ctx context.Context
	// Base is the number of lines before the walked text, for a walk over
	// a part of a file (a value read whole and walked again).
	Base int
	// found, for First, receives the value Stop reads.
	found *json.RawMessage
	max   int // the longest value read (0: any)
}

// NewWalker returns a Walker over r that numbers lines. A walk over the
// elements of an array stops with ctx's error once ctx is done. A value
// longer than max bytes (0: any) ends the walk with a *TooLongError.
func NewWalker(ctx context.Context, r io.Reader, max int) *Walker {
	lt := newLineTracker(r)
	return &Walker{dec: guarded(lt, max), lt: lt, ctx: ctx, max: max}
}

// newBareWalker returns a Walker over r that numbers no lines and is
// never stopped: the first pass, a look at a document's head. A value
// longer than max bytes (0: any) ends the walk with a *TooLongError.
func newBareWalker(r io.Reader, max int) *Walker { return &Walker{dec: guarded(r, max), max: max} }

func decoder(r io.Reader) *json.Decoder {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	return dec
}

// DecodeValue decodes raw JSON into a Value, numbers kept as written.
func DecodeValue(raw []byte) (schemas.Value, error) {
	var x any
	if err := decoder(bytes.NewReader(raw)).Decode(&x); err != nil {
		return schemas.Value{}, err
	}
	return schemas.FromAny(x), nil
}

// stopped returns ctx's error, if the walk has one and it is done.
func (w *Walker) stopped() error {
	if w.ctx == nil {
		return nil
	}
	return w.ctx.Err()
}

// Object reads the object that comes next, calling fn with each key; fn
// must read the member's value. A null, another scalar or an array is
// read over and reported as no object.
func (w *Walker) Object(fn func(key string) error) (bool, error) {
	tok, err := w.dec.Token()
	if err != nil {
		return false, err
	}
	switch tok {
	case json.Delim('{'):
	case json.Delim('['):
		return false, w.rest(']')
	default:
		return false, nil
	}
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return true, err
		}
		key, _ := tok.(string)
		if err := fn(key); err != nil {
			return true, err
		}
	}
	_, err = w.dec.Token()
	return true, err
}

// rest reads over the rest of the array (end ']') or object (end '}')
// whose opening delimiter was read, member by member.
func (w *Walker) rest(end json.Delim) error {
	for w.dec.More() {
		if end == '}' {
			if _, err := w.dec.Token(); err != nil {
				return err
			}
		}
		if _, err := w.Skip(); err != nil {
			return err
		}
	}
	_, err := w.dec.Token()
	return err
}

// Elements reads the array that comes next, calling fn for each element;
// fn must read it. A null or a scalar is read and counts as no elements;
// an object is read over.
func (w *Walker) Elements(fn func(i int) error) error {
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('['):
	case json.Delim('{'):
		return w.rest('}')
	default:
		return nil
	}
	for i := 0; w.dec.More(); i++ {
		if err := w.stopped(); err != nil {
			return err
		}
		if err := fn(i); err != nil {
			return err
		}
	}
	_, err = w.dec.Token()
	return err
}

// Raw reads the next value whole, with the line it starts on (0 when the
// Walker numbers no lines).
func (w *Walker) Raw() (json.RawMessage, int, error) {
	var raw json.RawMessage
	if err := w.dec.Decode(&raw); err != nil {
		return nil, 0, err
	}
	if err := tooLong(w.dec, raw, w.max); err != nil {
		return nil, 0, err
	}
	line := 0
	if w.lt != nil {
		line = w.Base + w.lt.lineAt(w.dec.InputOffset()-int64(len(raw)))
	}
	return raw, line, nil
}

// Skip reads the next value without holding it whole: an array or an
// object member by member. It reports whether it was an array.
func (w *Walker) Skip() (bool, error) { return skipValue(w.dec, w.max) }

// skipValue is Skip on a decoder, for values of at most max bytes (0:
// any).
func skipValue(dec *json.Decoder, max int) (bool, error) {
	tok, err := dec.Token()
	if err != nil {
		return false, err
	}
	delim, ok := tok.(json.Delim)
	if !ok || delim == ']' || delim == '}' {
		return false, nil
	}
	for dec.More() {
		if delim == '{' {
			if _, err := dec.Token(); err != nil {
				return false, err
			}
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return false, err
		}
		if err := tooLong(dec, raw, max); err != nil {
			return false, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return false, err
	}
	return delim == '[', nil
}

// At follows path (object keys) from the value that comes next and calls
// fn where the value at its end comes next; fn must read it. Members off
// the path are read over.
func (w *Walker) At(path []string, fn func() error) error {
	if len(path) == 0 {
		return fn()
	}
	_, err := w.Object(func(k string) error {
		if k == path[0] {
			return w.At(path[1:], fn)
		}
		_, err := w.Skip()
		return err
	})
	return err
}

// pathArray follows path (object keys) through the value that comes
// next and reads the array it ends at; it reports whether there was one.
func (w *Walker) pathArray(path []string) (bool, error) {
	if len(path) == 0 {
		return w.Skip()
	}
	found := false
	_, err := w.Object(func(k string) error {
		if k == path[0] {
			ok, err := w.pathArray(path[1:])
			found = found || ok
			return err
		}
		_, err := w.Skip()
		return err
	})
	return found, err
}

// firstOfArray reads the value that comes next; when it is an array, it
// returns its first element decoded, and reports that it was one. Each
// element is decoded and passed to each as long as each asks for more.
func (w *Walker) firstOfArray(each func(i int, v schemas.Value) bool) (schemas.Value, bool, error) {
	tok, err := w.dec.Token()
	if err != nil {
		return schemas.Value{}, false, err
	}
	switch tok {
	case json.Delim('['):
	case json.Delim('{'):
		return schemas.Value{}, false, w.rest('}')
	default:
		return schemas.Value{}, false, nil
	}
	var first schemas.Value
	more := true
	for i := 0; w.dec.More(); i++ {
		var raw json.RawMessage
		if err := w.dec.Decode(&raw); err != nil {
			return schemas.Value{}, true, err
		}
		if i == 0 || more {
			v, err := DecodeValue(raw)
			if err != nil {
				return schemas.Value{}, true, err
			}
			if i == 0 {
				first = v
			}
			more = each(i, v)
		}
	}
	_, err = w.dec.Token()
	return first, true, err
}

// Items streams the items of the array that comes next (or, with array
// false, the one value), calling fn with each raw item, the line it
// starts on and its index. Only one item is held at a time. A value that
// is no array is an error.
func (w *Walker) Items(array bool, fn func(raw json.RawMessage, line, index int) error) error {
	if array {
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		if tok != json.Delim('[') {
			return errNotArray{tok}
		}
	}
	for i := 0; !array && i == 0 || array && w.dec.More(); i++ {
		if err := w.stopped(); err != nil {
			return err
		}
		raw, line, err := w.Raw()
		if err != nil {
			return err
		}
		if err := fn(raw, line, i); err != nil {
			return err
		}
	}
	if array {
		_, err := w.dec.Token()
		return err
	}
	return nil
}

// errNotArray says Items found something else than an array.
type errNotArray struct{ tok json.Token }

// Error implements error.
func (e errNotArray) Error() string {
	return fmt.Sprintf("expected an array of items, found %v", e.tok)
}

// MemberItems walks the object that comes next and streams, with Items,
// the items of the array under key; other members are read over.
func (w *Walker) MemberItems(key string, fn func(raw json.RawMessage, line, index int) error) error {
	if _, err := w.dec.Token(); err != nil {
		return err
	}
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		if k, _ := tok.(string); k == key {
			if err := w.Items(true, fn); err != nil {
				var na errNotArray
				if errors.As(err, &na) {
					return fmt.Errorf("%q must be an array, found %v", key, na.tok)
				}
				return err
			}
			continue
		}
		if _, err := w.Skip(); err != nil {
			return err
		}
	}
	return nil
}

// errFound stops a walk once it found what it looked for.
var errFound = errors.New("found")

// First walks head, the beginning of a document, with find, which stops
// at the value it looks for with Stop, and returns that value (nil when
// find did not stop).
func First(head []byte, find func(w *Walker) error) []byte {
	w := newBareWalker(bytes.NewReader(head), 0)
	var found json.RawMessage
	w.found = &found
	find(w)
	return found
}

// Stop reads the value that comes next as the one a First walk looks
// for, and stops the walk.
func (w *Walker) Stop() error {
	raw, _, err := w.Raw()
	if err != nil {
		return err
	}
	if w.found != nil {
		*w.found = raw
	}
	return errFound
}
