package warninglist

import (
	"strings"
	"testing"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// mispTypes is a few MISP attribute types, as the route's reader maps
// them.
func mispTypes(t string) (ioc.Type, bool) {
	typ, ok := map[string]ioc.Type{"ip-src": ioc.IP, "ip-dst": ioc.IP, "ip": ioc.IP, "domain": ioc.Domain, "hostname": ioc.Domain,
		"url": ioc.URL, "uri": ioc.URL, "email": ioc.Email, "email-src": ioc.Email, "email-dst": ioc.Email}[t]
	return typ, ok
}

func TestMatch(t *testing.T) {
	s, err := Load([]string{Builtin, "testdata/lists"}, mispTypes)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.Lists()); n != 8 {
		t.Fatalf("%d lists, want 8", n)
	}
	tests := []struct {
		typ   ioc.Type
		value string
		list  string // "" for no match
	}{
		{ioc.IP, "10.1.2.3", "iocpipe: private, shared and loopback addresses"},
		{ioc.IP, "100.64.0.1", "iocpipe: private, shared and loopback addresses"},
		{ioc.CIDR, "192.168.10.0/24", "iocpipe: private, shared and loopback addresses"},
		{ioc.CIDR, "192.0.0.0/8", ""}, // wider than the list's networks
		{ioc.IPv6, "fe80::1", "iocpipe: private, shared and loopback addresses"},
		{ioc.IP, "198.51.100.7", "iocpipe: documentation addresses"},
		{ioc.IPv6, "2001:db8::5", "iocpipe: documentation addresses"},
		{ioc.IP, "8.8.8.8", "List of known IPv4 public DNS resolvers"},
		{ioc.IPv6, "2001:4860:4860::8888", "List of known IPv4 public DNS resolvers"},
		{ioc.URL, "8.8.8.8", ""}, // not a type the list applies to
		{ioc.IP, "3.5.141.9", "List of known Amazon AWS IP address ranges"},
		{ioc.IP, "3.5.144.1", ""},
		{ioc.Domain, "www.example.com", "iocpipe: documentation, example and local names"},
		{ioc.URL, "https://Example.ORG/path", "iocpipe: documentation, example and local names"},
		{ioc.Email, "bob@mail.example.net", "iocpipe: documentation, example and local names"},
		{ioc.Domain, "notexample.com", ""},
		{ioc.Domain, "printer.local", "iocpipe: documentation, example and local names"},
		{ioc.Domain, "x.sinkdns.org", "Known sinkhole domains"},
		{ioc.Domain, "sinkhole.shadowserver.org", "Known sinkhole domains"},
		{ioc.Domain, "shadowserver.org", ""},
		{ioc.URL, "https://bit.ly/3abc", "List of known URL Shorteners domains"},
		{ioc.Domain, "bit.ly", ""}, // substring "bit.ly/", and urls only
		{ioc.Domain, "ABCDEFGHIJKLMNOP.onion", "Onion v2 names"},
		{ioc.Domain, "evil.example.co", ""},
		{ioc.SHA256, strings.Repeat("a", 64), ""},
	}
	for _, tt := range tests {
		l, ok := s.Match(tt.typ, tt.value)
		got := ""
		if ok {
			got = l.Name
		}
		if got != tt.list {
			t.Errorf("%s %s: on %q, want %q", tt.typ, tt.value, got, tt.list)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tt := range []struct{ path, want string }{
		{"testdata/bad-cidr.json", `list[0] "10.0.0.0/33"`},
		{"testdata/bad-regex.json", "missing closing )"},
		{"testdata/bad-type.json", `type "glob"`},
		{"testdata/not-a-list.json", "not a MISP warninglist"},
		{"testdata/missing.json", "no such file"},
		{"testdata/lists/cloud/..", ""},
	} {
		_, err := Load([]string{tt.path}, mispTypes)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.path, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.path)):
			t.Errorf("%s: error %v, want one naming the file and saying %q", tt.path, err, tt.want)
		}
	}
	if _, err := Load([]string{t.TempDir()}, nil); err == nil || !strings.Contains(err.Error(), "no *.json list") {
		t.Errorf("empty folder: %v", err)
	}
}
