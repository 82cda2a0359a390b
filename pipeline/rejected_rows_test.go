package pipeline

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// refusingSink accepts every batch but refuses the values in refuse, as a
// sink answering 400 for them would.
type refusingSink struct {
	refuse map[string]bool
}

func (s refusingSink) Send(ctx context.Context, b *ioc.Batch) (ioc.Result, error) {
	var res ioc.Result
	for i, in := range b.Items {
		if s.refuse[in.Value] {
			res.Rejects = append(res.Rejects, ioc.ItemReject{Index: i, Reason: "refused by the sink", Status: 400})
		}
	}
	res.Requests = 1
	return res, nil
}

// importOne runs a pipeline over one file and returns its result, with
// every reject (collected from its reports).
func importOne(t *testing.T, path string, route *Route, refuse ...string) FileResult {
	t.Helper()
	s := refusingSink{refuse: map[string]bool{}}
	for _, v := range refuse {
		s.refuse[v] = true
	}
	var rejects []ioc.Reject
	p, err := New(Options{
		Route:   route,
		Sink:    s,
		Workers: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var res *FileResult
	in := make(chan Input, 1)
	in <- Input{Path: path, Name: filepath.Base(path), Report: func(r FileReport) {
		mu.Lock()
		rejects = append(rejects, r.Rejects...)
		if r.Final {
			res = &r.Result
		}
		mu.Unlock()
	}}
	close(in)
	if _, err := p.Run(context.Background(), in); err != nil {
		t.Fatalf("run: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if res == nil {
		t.Fatalf("%s: no result", path)
	}
	res.Rejects = rejects
	return *res
}

func TestWriteRejectedRows(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		input  string
		delim  rune
		refuse []string
		want   string
	}{{
		name: "csv with comments, blank lines and a quoted newline",
		file: "a.csv",
		input: "# exported 2024-05-01\nvalue,notes\nexample.com,ok\nnot a thing,bad one\n\n# section\n" +
			"\"also\nbad\",two lines\n1.2.3.4,fine\nh1.example.com,refused by sink\n",
		refuse: []string{"h1.example.com"},
		want:   "value,notes\nnot a thing,bad one\n\"also\nbad\",two lines\nh1.example.com,refused by sink\n",
	}, {
		name:  "csv without a header, no final newline, CRLF",
		file:  "b.csv",
		input: "example.com\r\nnot valid\r\n???",
		want:  "value\nnot valid\r\n???\n",
	}, {
		name:  "csv with a forced delimiter and a BOM",
		file:  "c.txt",
		input: "\xEF\xBB\xBFvalue;notes\nexample.com;a,b\nbad value;c,d\n",
		delim: ';',
		want:  "value;notes\nbad value;c,d\n",
	}, {
		name:  "jsonl with blank lines and broken JSON",
		file:  "d.jsonl",
		input: "{\"value\":\"example.com\"}\n\n   \n{\"value\":\"???\"}\nnot json\n{\"value\":\"1.2.3.4\"}",
		want:  "{\"value\":\"???\"}\nnot json\n",
	}, {
		name:  "json array on one line",
		file:  "e.json",
		input: `[{"value":"example.com"},{"value":"???"},"1.2.3.4", 5, {"value": "x y"}]`,
		want:  "[\n  {\"value\":\"???\"},\n  5,\n  {\"value\": \"x y\"}\n]\n",
	}, {
		name: "trustar-shaped object",
		file: "f.json",
		input: `{"enclaveIds": ["11111111-2222-4333-8444-555555555555"],
 "content": [{"value": "example.com"}, {"value": "nope nope"}],
 "tags": [{"name": "apt"}]}`,
		want: "{\n  \"enclaveIds\": [\"11111111-2222-4333-8444-555555555555\"],\n  \"content\": [\n    {\"value\": \"nope nope\"}\n  ],\n  \"tags\": [{\"name\": \"apt\"}]\n}\n",
	}, {
		name:  "wrapper object",
		file:  "w.json",
		input: `{"query_status": "ok", "data": [{"ioc": "example.com"}, {"ioc": "no way"}, {"ioc": "1.2.3.4"}]}`,
		want:  "{\n  \"query_status\": \"ok\",\n  \"data\": [\n    {\"ioc\": \"no way\"}\n  ]\n}\n",
	}, {
		name:  "csv with its header in a comment line",
		file:  "urlhaus.csv",
		input: "# URLhaus export\n# id,dateadded,url,threat\n\"1\",\"2024-01-01\",\"http://a.example.com/x\",\"malware\"\n\"2\",\"2024-01-01\",\"???\",\"malware\"\n# END\n",
		want:  "# id,dateadded,url,threat\n\"2\",\"2024-01-01\",\"???\",\"malware\"\n",
	}, {
		name:  "padded text with ; comments",
		file:  "p.txt",
		input: "; list of bad hosts\nvalue | notes\nexample.com | fine\nbad host name | nope\n; end\n",
		want:  "value | notes\nbad host name | nope\n",
	}, {
		name:  "a single item",
		file:  "g.json",
		input: "{\"value\": \"???\"}",
		want:  "{\"value\": \"???\"}\n",
	}, {
		name:  "nothing rejected",
		file:  "h.csv",
		input: "value\nexample.com\n# just a comment\n",
		want:  "",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tt.file)
			if err := os.WriteFile(path, []byte(tt.input), 0o600); err != nil {
				t.Fatal(err)
			}
			route := &Route{Name: "t", Sink: "test", Enclaves: []string{"11111111-2222-4333-8444-555555555555"}, Delimiter: tt.delim}
			res := importOne(t, path, route, tt.refuse...)
			if res.Err != "" {
				t.Fatalf("file failed: %s", res.Err)
			}
			var out bytes.Buffer
			if err := WriteRejectedRows(path, res.Format, route, res.Rejects, &out); err != nil {
				t.Fatalf("WriteRejectedRows: %v", err)
			}
			if got := out.String(); got != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
			if out.Len() == 0 {
				return
			}
			// Round trip: the rejected rows, imported, are all rejected
			// again, for the same reasons.
			again := filepath.Join(dir, "again"+filepath.Ext(tt.file))
			if err := os.WriteFile(again, out.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			res2 := importOne(t, again, route, tt.refuse...)
			if got, want := reasons(res2.Rejects), reasons(res.Rejects); got != want {
				t.Errorf("re-import rejects:\n%s\nwant\n%s", got, want)
			}
			if res2.Delivered != 0 {
				t.Errorf("re-import delivered %d, want 0", res2.Delivered)
			}
		})
	}
}

func reasons(rejects []ioc.Reject) string {
	var b strings.Builder
	for _, r := range rejects {
		if r.Skipped || r.Row < 0 {
			continue
		}
		b.WriteString(r.Field + " " + r.Value + ": " + r.Reason + "\n")
	}
	return b.String()
}

func TestWriteRejectedRowsSkipsSkipped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.csv")
	os.WriteFile(path, []byte("value\nexample.com\nbad one\n"), 0o600)
	rejects := []ioc.Reject{{Row: 1, Skipped: true}, {Row: -1, Reason: "whole file"}}
	var out bytes.Buffer
	if err := WriteRejectedRows(path, FormatCSV, nil, rejects, &out); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Errorf("got %q, want nothing", out.String())
	}
	if err := WriteRejectedRows(path, "stix", nil, []ioc.Reject{{Row: 1}}, &out); !errors.Is(err, ErrRowsFormat) {
		t.Errorf("format stix: got %v, want ErrRowsFormat", err)
	}
}
