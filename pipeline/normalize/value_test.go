package normalize

import (
	"strings"
	"testing"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		in, typ, canon, note string
		bad                  bool
	}{
		{in: "198.51.100.1", typ: "ip", canon: "198.51.100.1"},
		{in: "2001:0DB8::0001", typ: "ipv6", canon: "2001:db8::1"},
		{in: "::ffff:198.51.100.1", typ: "ip", canon: "198.51.100.1"},
		{in: "198.51.100.0/24", typ: "cidr", canon: "198.51.100.0/24"},
		{in: "Example.COM", typ: "domain", canon: "example.com"},
		{in: "example.com.", typ: "domain", canon: "example.com"},
		{in: "bücher.example", typ: "domain", canon: "xn--bcher-kva.example"},
		{in: "xn--bcher-kva.example", typ: "domain", canon: "xn--bcher-kva.example"},
		{in: "HTTPS://Example.COM/Path?Q=1", typ: "url", canon: "https://example.com/Path?Q=1"},
		{in: "http://bücher.example/x", typ: "url", canon: "http://xn--bcher-kva.example/x"},
		{in: "http://[2001:DB8::1]:8080/", typ: "url", canon: "http://[2001:db8::1]:8080/"},
		{in: "example.com/path/x.php", typ: "url", canon: "http://example.com/path/x.php"},
		{in: "198.51.100.7:9338/dot.gif", typ: "url", canon: "http://198.51.100.7:9338/dot.gif"},
		{in: "198.51.100.7:443", typ: "ip", canon: "198.51.100.7", note: "port 443"},
		{in: "[2001:db8::1]:443", typ: "ipv6", canon: "2001:db8::1", note: "port 443"},
		{in: "evil.example.com:8443", typ: "domain", canon: "evil.example.com", note: "port 8443"},
		{in: "User@Mail.Example.ORG", typ: "email", canon: "User@mail.example.org"},
		{in: "d41d8cd98f00b204e9800998ecf8427e", typ: "md5", canon: "d41d8cd98f00b204e9800998ecf8427e"},
		{in: "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709", typ: "sha1", canon: "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
		{in: strings.Repeat("A", 64), typ: "sha256", canon: strings.Repeat("a", 64)},
		{in: strings.Repeat("b", 128), typ: "sha512", canon: strings.Repeat("b", 128)},
		{in: "cve-2021-44228", typ: "cve", canon: "CVE-2021-44228"},
		{in: "1BoatSLRHtKNngkdXEeobR76b53LETtpyT", typ: "btc", canon: "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"},
		{in: "2a02:cf40:1::5:40669", typ: "ipv6", canon: "2a02:cf40:1::5", note: "port 40669"},
		{in: "2001:db8::1:80", typ: "ipv6", canon: "2001:db8::1:80"},
		{in: "file://Host.Example@SSL/DavWWWRoot/A.exe", typ: "url", canon: "file://Host.Example@SSL/DavWWWRoot/A.exe"},
		{in: "invoice.exe", bad: true},
		{in: "just words", bad: true},
		{in: "fe80::1%eth0", bad: true},
		{in: "010.1.1.1", bad: true},
		{in: "http:///nohost", bad: true},
		{in: "http://exa mple.com/", bad: true},
	}
	for _, tt := range tests {
		typ, canon, note, err := Detect(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("Detect(%q) = %s %q, want an error", tt.in, typ, canon)
			}
			continue
		}
		if err != nil || string(typ) != tt.typ || canon != tt.canon || note != tt.note {
			t.Errorf("Detect(%q) = %s %q %q %v; want %s %q %q", tt.in, typ, canon, note, err, tt.typ, tt.canon, tt.note)
		}
	}
}

func TestCanonicalDeclared(t *testing.T) {
	tests := []struct {
		typ      ioc.Type
		in, want string
		bad      bool
	}{
		{typ: ioc.URL, in: "example.com", want: "http://example.com"},
		{typ: ioc.URL, in: "ftp://Files.Example.com/a", want: "ftp://files.example.com/a"},
		{typ: ioc.Domain, in: "internal.local", want: "internal.local"},
		{typ: ioc.Domain, in: "invoice.exe", want: "invoice.exe"}, // declared: no TLD check
		{typ: ioc.Domain, in: "not_a_domain", bad: true},
		{typ: ioc.IP, in: "198.51.100.9:80", want: "198.51.100.9"},
		{typ: ioc.IP, in: "300.1.1.1", bad: true},
		{typ: ioc.MD5, in: "abc", bad: true},
		{typ: ioc.SHA256, in: strings.Repeat("c", 40), bad: true},
		{typ: ioc.CIDR, in: "198.51.100.9", want: "198.51.100.9/32"},
		{typ: ioc.Email, in: "a@b", bad: true},
		{typ: ioc.Malware, in: "Emotet", want: "Emotet"},
	}
	for _, tt := range tests {
		got, _, err := canonical(tt.typ, tt.in)
		if tt.bad != (err != nil) || !tt.bad && got != tt.want {
			t.Errorf("canonical(%s, %q) = %q, %v; want %q (error %v)", tt.typ, tt.in, got, err, tt.want, tt.bad)
		}
	}
}

func TestRefang(t *testing.T) {
	tests := map[string]string{
		"hxxp://evil[.]com/a":                      "http://evil.com/a",
		"hxxps[://]evil[.]com":                     "https://evil.com",
		"HXXPS://evil(.)com":                       "https://evil.com",
		"evil[dot]example{.}com":                   "evil.example.com",
		"user[@]evil[.]com":                        "user@evil.com",
		"user[at]evil[.]com":                       "user@evil.com",
		"104.21.84[.]251":                          "104.21.84.251",
		"hxxp[:]//evil.com":                        "http://evil.com",
		"fxp://files[.]example[.]com/x":            "ftp://files.example.com/x",
		"plain.example.com":                        "plain.example.com",
		"https://example.com/a[.]b?x=[]":           "https://example.com/a.b?x=[]",
		"bombay.com[.ar":                           "bombay.com.ar",
		"chromiumengine[.space":                    "chromiumengine.space",
		"evil.]example.com":                        "evil.example.com",
		"precizeabrilliant[,]com":                  "precizeabrilliant.com",
		"evil dot example DOT com":                 "evil.example.com",
		"user [at] evil [dot] com":                 "user@evil.com",
		"connect the dot to the line":              "connect the dot to the line",
		"https://x.example/?[REDACTED]=[REDACTED]": "https://x.example/?[REDACTED]=[REDACTED]",
	}
	for in, want := range tests {
		if got := Refang(in); got != want {
			t.Errorf("Refang(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCleanText(t *testing.T) {
	tests := map[string]string{
		"  evil.com  ":         "evil.com",
		"\u200eevil.com\u200b": "evil.com",
		"\ufeffevil.com":       "evil.com",
		"evil.com\u00a0":       "evil.com",
		"a\u202eb":             "ab",
	}
	for in, want := range tests {
		if got := CleanText(in); got != want {
			t.Errorf("CleanText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCleanTag(t *testing.T) {
	tests := map[string]string{
		"Brute Force":   "brute-force",
		"APT.28":        "apt-28",
		"c2":            "c2",
		"  mixed_Case ": "mixed_case",
		"!!!":           "",
		"Ünïcode tag":   "ünïcode-tag",
		"a -- b":        "a-b",
		"trailing-":     "trailing",
		"tag:with/sep":  "tag-with-sep",
		"emoji🔥tag":     "emojitag",
	}
	for in, want := range tests {
		if got := CleanTag(in); got != want {
			t.Errorf("CleanTag(%q) = %q, want %q", in, got, want)
		}
	}
	if got := CleanTag(strings.Repeat("x", 300)); len(got) != maxTagLen {
		t.Errorf("a long tag is cut to %d runes, got %d", maxTagLen, len(got))
	}
}

func TestLookupType(t *testing.T) {
	tests := []struct {
		in      string
		want    ioc.Type
		notInd  bool
		unknown bool
	}{
		{in: "FileHash-SHA256", want: ioc.SHA256},
		{in: "ipaddress", want: ioc.IP},
		{in: "ip_port", want: ioc.IP},
		{in: "hostname", want: ioc.Domain},
		{in: "URL", want: ioc.URL},
		{in: "email-address", want: ioc.Email},
		{in: "hash", want: ""},
		{in: "filename", notInd: true},
		{in: "command_line", notInd: true},
		{in: "user_agent", notInd: true},
		{in: "spaceship", unknown: true},
	}
	for _, tt := range tests {
		got, what, ok := LookupType(tt.in)
		if ok == tt.unknown || got != tt.want || (what != "") != tt.notInd {
			t.Errorf("LookupType(%q) = %q, %q, %v", tt.in, got, what, ok)
		}
	}
}

func FuzzNormalizeValue(f *testing.F) {
	for _, s := range []string{"hxxp://evil[.]com", "198.51.100.1:80", "bücher.example", "a@b.com", "[::1]:1", "http://[::1%25eth0]/", "x.y/z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		typ, canon, _, err := Detect(Refang(CleanText(s)))
		if err != nil {
			return
		}
		if canon == "" || typ == "" {
			t.Fatalf("Detect(%q) gave type %q value %q", s, typ, canon)
		}
		// Canonical forms are stable: normalizing again changes nothing.
		typ2, canon2, _, err := Detect(canon)
		if err != nil || canon2 != canon || typ2 != typ {
			t.Fatalf("Detect(%q) = %s %q, but again gives %s %q %v", s, typ, canon, typ2, canon2, err)
		}
	})
}

func TestLookupTypeVendorSpellings(t *testing.T) {
	tests := []struct {
		in     string
		want   ioc.Type
		notInd string
	}{
		{in: "IPv4", want: ioc.IP},
		{in: "ip:port", want: ioc.IP},
		{in: "sha256_hash", want: ioc.SHA256},
		{in: "FileHash-MD5", want: ioc.MD5},
		{in: "URI", want: ioc.URL},
		{in: "FQDN", want: ioc.Domain},
		{in: "file", want: FileType},
		{in: "command_line_parameter", notInd: "a command line"},
		{in: "scheduled_task_path", notInd: "a scheduled task"},
		{in: "registry_path_key_value", notInd: "a registry value"},
		{in: "http-user-agent-string", notInd: "a user agent"},
		{in: "FilePath", notInd: "a file path"},
		{in: "YARA", notInd: "a YARA rule"},
		{in: "x509-fingerprint-sha1", notInd: "a fingerprint"},
		{in: "Description", notInd: "free text"},
	}
	for _, tt := range tests {
		got, what, ok := LookupType(tt.in)
		if !ok || got != tt.want || what != tt.notInd {
			t.Errorf("LookupType(%q) = %q, %q, %v; want %q, %q", tt.in, got, what, ok, tt.want, tt.notInd)
		}
	}
}

func TestColumnType(t *testing.T) {
	tests := []struct {
		name string
		want ioc.Type
		ok   bool
	}{
		{"url", ioc.URL, true}, {"dst_ip", ioc.IP, true}, {"IPaddress", ioc.IP, true}, {"IP address(es)", ioc.IP, true},
		{"saddr", ioc.IP, true}, {"source ip", ioc.IP, true}, {"sha256_hash", ioc.SHA256, true}, {"Host", "", true},
		{"hostname", ioc.Domain, true}, {"malware", "", false}, {"hash", "", false}, {"threat", "", false},
	}
	for _, tt := range tests {
		if got, ok := ColumnType(tt.name); got != tt.want || ok != tt.ok {
			t.Errorf("ColumnType(%q) = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestCutLabel(t *testing.T) {
	tests := []struct {
		in       string
		declared ioc.Type
		want     string
		ok       bool
	}{
		{"SHA1: e298cd6c5fe7b9b05a28480fd215ddcbd7aaa48a", ioc.SHA1, "e298cd6c5fe7b9b05a28480fd215ddcbd7aaa48a", true},
		{"SHA1:  e298", "", "e298", true},
		{"sha256:abc", "", "abc", true},
		{"ip: 198.51.100.1", "", "198.51.100.1", true},
		{"host:8080", "", "", false},
		{"ip:8080", "", "", false},
		{"http://x.example", "", "", false},
		{"domain autuo.xicp.net", ioc.Domain, "autuo.xicp.net", true},
		{"domain autuo.xicp.net", ioc.URL, "", false},
		{"not a label: x", "", "", false},
	}
	for _, tt := range tests {
		got, ok := cutLabel(tt.in, tt.declared)
		if got != tt.want || ok != tt.ok {
			t.Errorf("cutLabel(%q, %q) = %q, %v; want %q, %v", tt.in, tt.declared, got, ok, tt.want, tt.ok)
		}
	}
}

func TestTypedAndSplit(t *testing.T) {
	tests := []struct {
		declared ioc.Type
		in       string
		want     string // "type value" joined by " + ", or "error"
	}{
		{"", "198.51.100.1", "ip 198.51.100.1"},
		{ioc.IP, "0.0.0.0", "error"},
		{"", "::", "error"},
		{FileType, strings.Repeat("A", 64), "sha256 " + strings.Repeat("a", 64)},
		{FileType, "C:\\x.exe", "error"},
		{ioc.SHA1, "SHA1: " + strings.Repeat("b", 40), "sha1 " + strings.Repeat("b", 40)},
		{ioc.IP, "213.176.241.230|67.171.65.64", "ip 213.176.241.230 + ip 67.171.65.64"},
		{"", "evil.example.com, 198.51.100.2", "domain evil.example.com + ip 198.51.100.2"},
		{"", "http://a.example.com/?q=a|b", "url http://a.example.com/?q=a|b"},
		{"", "198.51.100.113,comma", "error"},
		{ioc.URL, "http://a.example/x http://b.example/y", "url http://a.example/x + url http://b.example/y"},
	}
	for _, tt := range tests {
		var got []string
		typ, canon, _, err := Value(tt.declared, tt.in)
		switch {
		case err == nil:
			got = []string{string(typ) + " " + canon}
		default:
			for _, p := range Split(tt.declared, tt.in) {
				got = append(got, string(p.Type)+" "+p.Canon)
			}
			if got == nil {
				got = []string{"error"}
			}
		}
		if s := strings.Join(got, " + "); s != tt.want {
			t.Errorf("%s %q: got %s, want %s", tt.declared, tt.in, s, tt.want)
		}
	}
}
