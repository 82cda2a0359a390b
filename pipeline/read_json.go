package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/iocpipe/iocpipe/schemas"
)

// maxLine caps one JSONL line; a longer line is rejected, not buffered.
const maxLine = 4 << 20

// jsonShape is what a JSON document holds.
type jsonShape int

const (
	shapeArray      jsonShape = iota // [ item, ... ]
	shapeSubmission                  // {"enclaveIds", "content": [...], "tags"}
	shapeItem                        // a single indicator object
	shapeStream                      // several top-level values: JSONL
)

// jsonMeta is what the first pass learns about a document.
type jsonMeta struct {
	shape    jsonShape
	tags     schemas.Value // a submission's top-level tags
	enclaves schemas.Value // a submission's enclaveIds
	// stix is set when the document holds STIX objects, with their layout.
	stix      bool
	stixShape stixShape
}

// readJSON reads a JSON document in two streamed passes: the first checks
// that the whole document parses (nothing of a broken file is sent) and
// collects the file-level tags and enclaves, wherever they stand; the
// second emits the items. JSONL goes line by line instead.
func (p *Pipeline) readJSON(ctx context.Context, f *fileState, e *emitter, file *os.File, br *bufio.Reader) error {
	if f.format == FormatJSONL {
		if first, _ := br.Peek(4096); looksSTIX(firstLine(first)) {
			return p.readSTIX(ctx, f, e, file, stixLines)
		}
		f.setFileLevel(nil, false, nil)
		return p.readJSONL(ctx, f, e, br)
	}
	lt := &lineTracker{r: br}
	meta, err := scanJSON(lt)
	if err != nil {
		var se *json.SyntaxError
		line := 0
		if errors.As(err, &se) {
			line = lt.lineAt(se.Offset)
		}
		return &FileError{File: f.name, Line: line, Err: fmt.Errorf("invalid JSON, so nothing of the file was sent: %w", err)}
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return err
	}
	second := bufio.NewReaderSize(file, 64<<10)
	if head, _ := second.Peek(3); bytes.HasPrefix(head, utf8BOM) {
		second.Discard(3)
	}
	if meta.stix || f.format == FormatSTIX {
		return p.readSTIX(ctx, f, e, file, meta.stixShape)
	}
	if meta.shape == shapeStream {
		f.format = FormatJSONL
		f.setFileLevel(nil, false, nil)
		return p.readJSONL(ctx, f, e, second)
	}
	var tags []rawTag
	if meta.tags.Kind != schemas.Missing {
		tags = rawTags(meta.tags)
	}
	f.setFileLevel(tags, meta.tags.Kind != schemas.Missing, listOf(meta.enclaves))
	lt = &lineTracker{r: second}
	dec := json.NewDecoder(lt)
	dec.UseNumber()
	switch meta.shape {
	case shapeItem:
		return emitItems(ctx, dec, lt, e, false)
	case shapeArray:
		return emitItems(ctx, dec, lt, e, true)
	}
	// A submission: walk to "content" and emit its items.
	if _, err := dec.Token(); err != nil {
		return err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if key, _ := tok.(string); key == "content" {
			if err := emitItems(ctx, dec, lt, e, true); err != nil {
				return err
			}
			continue
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	return nil
}

// emitItems emits an array's items (or one item) from dec.
func emitItems(ctx context.Context, dec *json.Decoder, lt *lineTracker, e *emitter, array bool) error {
	if array {
		if tok, err := dec.Token(); err != nil {
			return err
		} else if tok != json.Delim('[') {
			return fmt.Errorf("expected an array, found %v", tok)
		}
	}
	for i := 0; !array && i == 0 || array && dec.More(); i++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		start := dec.InputOffset() - int64(len(raw))
		o := Origin{Line: lt.lineAt(start), Index: -1}
		if array {
			o.Index = i
		}
		if err := e.emit(itemRow(o, raw)); err != nil {
			return err
		}
	}
	if array {
		if _, err := dec.Token(); err != nil {
			return err
		}
	}
	return nil
}

// itemRow maps one JSON item onto a row: an object's keys through the
// header aliases, or a bare string as the value.
func itemRow(o Origin, raw []byte) Row {
	row := Row{Origin: o, Fields: schemas.ObjectValue(nil)}
	var x any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&x); err != nil {
		row.rejects = []Reject{newReject(o, "", clip(string(raw)), "invalid JSON: "+err.Error())}
		row.rowRejected = true
		return row
	}
	switch t := x.(type) {
	case string:
		row.Fields = schemas.ObjectValue([]schemas.Member{{Key: FieldValue, Val: schemas.StringValue(t)}})
	case map[string]any:
		row.Fields = objectFields(schemas.FromAny(t))
	default:
		row.rejects = []Reject{newReject(o, "", clip(string(raw)), fmt.Sprintf("a JSON %s is not an indicator: items must be objects or strings", schemas.FromAny(x).Kind))}
		row.rowRejected = true
	}
	return row
}

// objectFields maps an object's members onto canonical fields; of several
// keys for one field, the best-ranked wins. Numbers and booleans of scalar
// fields keep their kind, so the schema sees what the file said.
func objectFields(obj schemas.Value) schemas.Value {
	var out []schemas.Member
	rank := map[string]int{}
	for _, m := range obj.Members() {
		key := typeKey(m.Key)
		field := headerNames[key]
		if field == "" {
			continue
		}
		r := headerRank[key]
		if old, ok := rank[field]; ok {
			if r >= old {
				continue
			}
			for i := range out {
				if out[i].Key == field {
					out[i].Val = m.Val
				}
			}
			rank[field] = r
			continue
		}
		rank[field] = r
		out = append(out, schemas.Member{Key: field, Val: m.Val})
	}
	return schemas.ObjectValue(out)
}

// scanJSON is the first pass: it reads the whole document, checking its
// syntax, and returns its shape and top-level metadata.
func scanJSON(r io.Reader) (jsonMeta, error) {
	var meta jsonMeta
	dec := json.NewDecoder(r)
	dec.UseNumber()
	tok, err := dec.Token()
	if err == io.EOF {
		return meta, errors.New("empty JSON document")
	}
	if err != nil {
		return meta, err
	}
	switch tok {
	case json.Delim('['):
		meta.shape = shapeArray
		for i := 0; dec.More(); i++ {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return meta, err
			}
			if i == 0 && looksSTIX(skip) {
				meta.stix, meta.stixShape = true, stixArray
			}
		}
		if _, err := dec.Token(); err != nil {
			return meta, err
		}
	case json.Delim('{'):
		meta.shape = shapeItem
		var typ, id string
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return meta, err
			}
			key, _ := tok.(string)
			if key == "content" || key == "objects" {
				// Possibly huge (a 500 MB bundle is one "objects" array):
				// walk it item by item instead of holding it.
				isArray, err := skipValue(dec)
				if err != nil {
					return meta, err
				}
				if key == "content" && isArray {
					meta.shape = shapeSubmission
				}
				continue
			}
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return meta, err
			}
			switch key {
			case "type":
				json.Unmarshal(raw, &typ)
			case "id":
				json.Unmarshal(raw, &id)
			case "tags", "enclaveIds":
				var x any
				d := json.NewDecoder(bytes.NewReader(raw))
				d.UseNumber()
				if err := d.Decode(&x); err != nil {
					return meta, err
				}
				if key == "tags" {
					meta.tags = schemas.FromAny(x)
				} else {
					meta.enclaves = schemas.FromAny(x)
				}
			}
		}
		if _, err := dec.Token(); err != nil {
			return meta, err
		}
		if meta.shape == shapeItem {
			meta.tags, meta.enclaves = schemas.Value{}, schemas.Value{}
		}
		switch {
		case typ == "bundle":
			meta.stix, meta.stixShape = true, stixBundle
		case typ != "" && strings.HasPrefix(id, typ+"--"):
			meta.stix, meta.stixShape = true, stixSingle
		}
	default:
		return meta, fmt.Errorf("a JSON document must be an array or an object, not %v", tok)
	}
	// Another value after the first: the file is JSON Lines.
	if _, err := dec.Token(); err != io.EOF {
		if err != nil {
			return meta, err
		}
		meta.shape = shapeStream
		if meta.stix {
			meta.stixShape = stixLines
		}
		for {
			var skip json.RawMessage
			err := dec.Decode(&skip)
			if err == io.EOF {
				break
			}
			if err != nil {
				// A bad line is a row reject in JSONL, not a file error.
				break
			}
		}
	}
	return meta, nil
}

// skipValue reads the next value from dec without holding it whole: an
// array or object member by member. It reports whether it was an array.
func skipValue(dec *json.Decoder) (bool, error) {
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
	}
	if _, err := dec.Token(); err != nil {
		return false, err
	}
	return delim == '[', nil
}

// firstLine returns the first non-blank line of b.
func firstLine(b []byte) []byte {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if t := bytes.TrimSpace(line); len(t) > 0 {
			return t
		}
	}
	return nil
}

// readJSONL emits one row per non-blank line; a line that does not parse
// is a rejected row, and the rest of the file goes on.
func (p *Pipeline) readJSONL(ctx context.Context, f *fileState, e *emitter, br *bufio.Reader) error {
	line := 0
	var buf []byte
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		chunk, err := br.ReadSlice('\n')
		buf = append(buf[:0], chunk...)
		long := false
		for errors.Is(err, bufio.ErrBufferFull) {
			chunk, err = br.ReadSlice('\n')
			if len(buf) < maxLine {
				buf = append(buf, chunk...)
			} else {
				long = true
			}
		}
		if len(buf) == 0 && err == io.EOF {
			return nil
		}
		line++
		o := Origin{Line: line, Index: -1}
		text := bytes.TrimSpace(buf)
		switch {
		case long:
			row := Row{Origin: o, Fields: schemas.ObjectValue(nil), rowRejected: true}
			row.rejects = []Reject{newReject(o, "", clip(string(text[:256])), fmt.Sprintf("line longer than %d bytes", maxLine))}
			if err := e.emit(row); err != nil {
				return err
			}
		case len(text) > 0:
			if err := e.emit(itemRow(o, text)); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// lineTracker is an io.Reader that remembers where lines end, so a byte
// offset reported by the JSON decoder can be turned into a line number.
// Queries must come in increasing order; newlines below the last query
// are forgotten, so memory stays bounded by the decoder's read-ahead.
type lineTracker struct {
	r     io.Reader
	read  int64
	nl    []int64 // offsets of newlines not yet passed by a query
	lines int     // newlines before the last query
}

func (t *lineTracker) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	for i := 0; i < n; {
		j := bytes.IndexByte(p[i:n], '\n')
		if j < 0 {
			break
		}
		t.nl = append(t.nl, t.read+int64(i+j))
		i += j + 1
	}
	t.read += int64(n)
	return n, err
}

// lineAt returns the 1-based line of byte offset off.
func (t *lineTracker) lineAt(off int64) int {
	k := 0
	for k < len(t.nl) && t.nl[k] < off {
		k++
	}
	t.lines += k
	t.nl = t.nl[k:]
	if len(t.nl) == 0 {
		t.nl = nil
	}
	return t.lines + 1
}
