package mispcsv_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/formats/formatstest"
	"github.com/iocpipe/iocpipe/pipeline/formats/mispcsv"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

const header = "uuid,event_id,category,type,value,comment,to_ids,date\n"

// TestDetect checks that MISP's header decides, over generic CSV, and
// that a CSV merely holding some of its columns stays generic.
func TestDetect(t *testing.T) {
	tests := []struct{ name, head, want string }{
		{"input.csv", header, mispcsv.Name},
		{"export.txt", header, mispcsv.Name},
		{"export", "uuid,event_id,category,type,value,comment,to_ids,date,object_relation,attribute_tag,object_uuid,object_name,object_meta_category\n", mispcsv.Name},
		{"quoted.csv", `"uuid","event_id","category","type","value","comment","to_ids","date"` + "\n", mispcsv.Name},
		{"crlf.csv", strings.ReplaceAll(header, "\n", "\r\n"), mispcsv.Name},
		{"generic.csv", "uuid,type,value\n", "csv"},
		{"no-to-ids.csv", "uuid,event_id,category,type,value,comment,date\n", "csv"},
		{"data.csv", "5e1a0000-0000-4000-8000-000000000001,12,Network activity,ip-dst,198.51.100.7,,1,20240105\n", "csv"},
	}
	for _, tt := range tests {
		f, err := formats.Detect(tt.name, []byte(tt.head+"a,b\n"), "")
		if err != nil || f.Name() != tt.want {
			t.Errorf("Detect(%s) = %v, %v; want %s", tt.name, f, err, tt.want)
		}
	}
}

// TestRecords checks the record reader: comments spanning lines,
// blank lines, CRLF, and a record longer than max_line_bytes rejected
// while reading goes on.
func TestRecords(t *testing.T) {
	long := strings.Repeat("x", 2000)
	text := header +
		"u1,1,Network activity,domain,a.example.com,\"two\r\nlines\",1,20240105\r\n" +
		"\r\n" +
		"u2,1,Network activity,domain,b.example.com," + long + ",1,20240105\n" +
		"u3,1,Network activity,domain,c.example.com,\"open " + long + "\nstill open\",1,20240105\n" +
		"u4,1,Network activity,domain,d.example.com,,1,20240105\n"
	got, err := formatstest.Lines(t, "e.csv", text, formats.Options{MaxLineBytes: 1024})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"2:domain\x1ea.example.com",
		"5:reject:record longer than 1024 bytes (the route's max_line_bytes)",
		"6:reject:record longer than 1024 bytes (the route's max_line_bytes)",
		"8:domain\x1ed.example.com",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

// TestWriteRows checks that the rejected-rows writer copies the header
// and the chosen records as written.
func TestWriteRows(t *testing.T) {
	text := header +
		"u1,1,Network activity,ip-dst,198.51.100.1,,1\n" +
		"u2,1,Network activity,domain,\"b.example.com\",\"a, b\nc\",1,20240105\n" +
		"u3,1,Network activity,ip-dst,198.51.100.3,,1,20240105,x\n"
	p := filepath.Join(t.TempDir(), "e.csv")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var rows ioc.Ranges
	rows.Add(0)
	rows.Add(2)
	var b bytes.Buffer
	if err := formats.WriteRows(p, mispcsv.Name, formats.Options{}, rows, &b); err != nil {
		t.Fatal(err)
	}
	want := header + "u1,1,Network activity,ip-dst,198.51.100.1,,1\n" + "u3,1,Network activity,ip-dst,198.51.100.3,,1,20240105,x\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// FuzzRead checks, for any input under MISP's header, that reading ends
// (no panic, no hang), that every row has its line, that a rejected row
// has a reason and that rows come in line order.
func FuzzRead(f *testing.F) {
	for _, s := range []string{
		"u1,1,Network activity,ip-dst|port,198.51.100.1|443,\"a\nb\",1,20240105\n",
		"u2,1,Payload delivery,filename|sha256,a.exe|ab,,0,\n\n\"u3\",\"1\",x,link,\"http://x\",\"\"\"q\"\"\",True,Jun-22\r\n",
		"\"open\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		got, err := formatstest.Lines(t, "e.csv", header+body, formats.Options{MaxLineBytes: 1024})
		var fe *formats.FileError
		if errors.As(err, &fe) {
			return // refused as a whole (binary, UTF-16): with the reason
		}
		if err != nil {
			t.Fatalf("read error: %v", err)
		}
		last := 1
		for _, l := range got {
			var line int
			if _, err := fmt.Sscanf(l, "%d:", &line); err != nil || line <= last {
				t.Fatalf("row %q: no line after %d", l, last)
			}
			last = line
			if strings.HasPrefix(l[strings.Index(l, ":")+1:], "reject:") && strings.HasSuffix(l, "reject:") {
				t.Fatalf("row %q: a reject without a reason", l)
			}
		}
	})
}
