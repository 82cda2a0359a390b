// Package formatstest runs the golden cases of a format package, as
// gofmt's and Telegraf's testcases do: one folder per case under
// testdata/, read through formats.Open and formats.Describe the way the
// engine and inspect read files, so that a format is tested as the
// plugin it is, without the engine.
//
// A case folder holds:
//
//   - input.<ext>: the file, detected by its name and content like any
//     input (input.json, input.jsonl, input.csv);
//   - options.json (optional): the route's read options, a
//     formats.Options ({"Format": "stix", "JSONFields": {...}});
//   - want.jsonl: what was read, one JSON object a line — the
//     description inspect shows ({"describe": ...}), the file level
//     ({"file": ...}), each row, each association, and the error that
//     ended the file, if any.
//
// Run the tests with -update to rewrite every want.jsonl from what the
// format reads now; review the diff.
package formatstest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/iocpipe/iocpipe/pipeline/formats"
)

// Run runs every case folder under dir (a format package's "testdata").
// With update, it writes each case's want.jsonl instead of comparing.
func Run(t *testing.T, dir string, update bool) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n++
		t.Run(e.Name(), func(t *testing.T) { runCase(t, filepath.Join(dir, e.Name()), update) })
	}
	if n == 0 {
		t.Fatalf("%s: no case folders", dir)
	}
}

// runCase reads one case and compares what was read with want.jsonl.
func runCase(t *testing.T, dir string, update bool) {
	inputs, _ := filepath.Glob(filepath.Join(dir, "input.*"))
	if len(inputs) != 1 {
		t.Fatalf("%s: want one input.* file, found %v", dir, inputs)
	}
	var opts formats.Options
	if b, err := os.ReadFile(filepath.Join(dir, "options.json")); err == nil {
		if err := json.Unmarshal(b, &opts); err != nil {
			t.Fatalf("options.json: %v", err)
		}
	}
	got, err := Read(inputs[0], opts)
	if err != nil {
		t.Fatal(err)
	}
	wantPath := filepath.Join(dir, "want.jsonl")
	if update {
		if err := os.WriteFile(wantPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(wantPath)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: got\n%s\nwant\n%s", dir, got, want)
	}
}

// Read reads the file at path with opts as the engine and inspect would,
// and returns what was read, one JSON object a line (see the package
// doc). Reports name the file by its base name. An error is the test's
// own (the output could not be written), not the file's: those are part
// of what was read.
func Read(path string, opts formats.Options) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	d, err := formats.Describe(path, opts)
	described := struct {
		Describe *formats.Description `json:"describe"`
		Error    string               `json:"describe_error,omitempty"`
	}{d, errText(err)}
	if err := enc.Encode(described); err != nil {
		return nil, err
	}
	o, err := formats.Open(path, filepath.Base(path), opts, nil)
	if err != nil {
		return buf.Bytes(), enc.Encode(map[string]string{"error": err.Error()})
	}
	defer o.Close()
	if err := readRows(context.Background(), o.Reader, enc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// readRows pulls every row of r, and its associations, into enc.
func readRows(ctx context.Context, r formats.Reader, enc *json.Encoder) error {
	for first := true; ; first = false {
		row, err := r.Next(ctx)
		if first {
			if err := enc.Encode(map[string]any{"file": r.File()}); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return enc.Encode(map[string]string{"error": err.Error()})
		}
		if err := enc.Encode(rowOf(row)); err != nil {
			return err
		}
	}
	if l, ok := r.(formats.Linker); ok {
		for _, a := range l.Associations() {
			if err := enc.Encode(map[string]any{"association": a.Describe(), "line": a.Origin.Line, "ref": a.Origin.Ref}); err != nil {
				return err
			}
		}
	}
	return nil
}

// row is a Row as want.jsonl shows it.
type row struct {
	Line   int    `json:"line,omitempty"`
	Index  int    `json:"index"`
	Ref    string `json:"ref,omitempty"`
	Fields any    `json:"fields,omitempty"`
	Skip   string `json:"skip,omitempty"`
	// SkipKey is the row's formats.Row.SkipKey.
	SkipKey string `json:"skip_key,omitempty"`
	Link    string `json:"link,omitempty"`
	Reject  string `json:"reject,omitempty"`
	Field   string `json:"reject_field,omitempty"`
	Value   string `json:"reject_value,omitempty"`
}

func rowOf(r formats.Row) row {
	out := row{Line: r.Origin.Line, Index: r.Origin.Index, Ref: r.Origin.Ref, Skip: r.Skip, SkipKey: r.SkipKey, Link: r.Link}
	if len(r.Fields.Members()) > 0 {
		out.Fields = r.Fields.Any()
	}
	if r.Reject != nil {
		out.Reject, out.Field, out.Value = r.Reject.Reason, r.Reject.Field, r.Reject.Value
	}
	return out
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Lines reads text as a file named name under opts and returns each row
// as "line:value", or "line:reject:reason" for a rejected one, with the
// error that ended the file: the short form the format packages' table
// tests compare.
func Lines(t *testing.T, name, text string, opts formats.Options) ([]string, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := formats.Open(p, name, opts, nil)
	if err != nil {
		return nil, err
	}
	defer o.Close()
	var got []string
	for {
		row, err := o.Reader.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		if row.Reject != nil {
			got = append(got, fmt.Sprintf("%d:reject:%s", row.Origin.Line, row.Reject.Reason))
			continue
		}
		got = append(got, fmt.Sprintf("%d:%s", row.Origin.Line, row.Fields.Get(formats.FieldValue).Str))
	}
}
