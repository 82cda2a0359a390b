package threatwinds

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/sinks/threatwinds/threatwindstest"
)

func TestEntityType(t *testing.T) {
	tests := []struct {
		in     ioc.Type
		want   string
		wantOK bool
	}{
		{ioc.IP, "ip", true},
		{ioc.IPv6, "ip", true},
		{ioc.CIDR, "cidr", true},
		{ioc.Domain, "domain", true},
		{ioc.URL, "url", true},
		{ioc.Email, "email-address", true},
		{ioc.MD5, "md5", true},
		{ioc.SHA1, "sha1", true},
		{ioc.SHA256, "sha256", true},
		{ioc.SHA512, "sha512", true},
		{ioc.CVE, "cve", true},
		{ioc.Bitcoin, "btc", true},
		{ioc.RegistryKey, "regkey", true},
		{ioc.Malware, "malware", true},
		{ioc.Software, "", false},
		{"", "", false},
		{"yara", "", false},
	}
	for _, tt := range tests {
		got, ok := EntityType(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("EntityType(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		typ, in string
		want    string
		wantErr string // substring of the error; "" means no error
	}{
		{"ip", "8.8.8.8", "8.8.8.8", ""},
		{"ip", "2001:DB8:0:0::1", "2001:db8::1", ""},
		{"ip", "::ffff:8.8.4.4", "8.8.4.4", ""},
		{"ip", "10.1.2.3", "", "private address"},
		{"ip", "192.168.0.1", "", "private address"},
		{"ip", "fd00::1", "", "private address"},
		{"ip", "127.0.0.1", "", "loopback address"},
		{"ip", "169.254.1.1", "", "link-local address"},
		{"ip", "fe80::1", "", "link-local address"},
		{"ip", "224.0.0.1", "", "link-local multicast address"},
		{"ip", "ff01::1", "", "interface-local multicast address"},
		{"ip", "239.1.2.3", "", "multicast address"},
		{"ip", "0.0.0.0", "", "unspecified address"},
		{"ip", "::", "", "unspecified address"},
		{"ip", "1.2.3", "", "not an IP address"},
		{"cidr", "8.8.8.0/24", "8.8.8.0/24", ""},
		{"cidr", "8.8.8.8/24", "8.8.8.0/24", ""},
		{"cidr", "10.0.0.0/8", "", "private address"},
		{"cidr", "8.8.8.8", "", "not a CIDR block"},
		{"domain", "Evil.Example.COM", "evil.example.com", ""},
		{"domain", "xn--80ak6aa92e.com", "xn--80ak6aa92e.com", ""},
		{"domain", "a--b.com", "a--b.com", ""},
		{"domain", "a---b.com", "", "fully qualified domain name"},
		{"domain", "a_b.com", "", "fully qualified domain name"},
		{"domain", "-a.com", "", "fully qualified domain name"},
		{"domain", "localhost", "", "fully qualified domain name"},
		{"domain", "example.com.", "", "fully qualified domain name"},
		{"hostname", "WWW.example.org", "www.example.org", ""},
		{"url", "HTTP://Example.COM/Path?Q=1#F", "http://example.com/Path?Q=1#F", ""},
		{"url", "https://user:pw@Host.example:8443/x", "https://user:pw@host.example:8443/x", ""},
		{"url", "/just/a/path", "", "scheme and a host"},
		{"url", "example.com/path", "", "scheme and a host"},
		{"email-address", "John <John.Doe@Example.COM>", "john.doe@example.com", ""},
		{"email-address", "a@b.co", "a@b.co", ""},
		{"email-address", "not an address", "", "not an email address"},
		{"md5", "D41D8CD98F00B204E9800998ECF8427E", "d41d8cd98f00b204e9800998ecf8427e", ""},
		{"md5", "d41d8cd98f00b204", "d41d8cd98f00b204", ""},
		{"md5", "d41d8cd98f00b204e9800998ecf8427", "", "MD5"},
		{"sha1", strings.Repeat("A", 40), strings.Repeat("a", 40), ""},
		{"sha1", strings.Repeat("g", 40), "", "40 hex digits"},
		{"sha256", strings.Repeat("0", 64), strings.Repeat("0", 64), ""},
		{"sha256", strings.Repeat("0", 63), "", "64 hex digits"},
		{"sha512", strings.Repeat("F", 128), strings.Repeat("f", 128), ""},
		{"cve", "cve-2021-44228", "CVE-2021-44228", ""},
		{"cve", "CVE-2021-1", "", "CVE id"},
		{"btc", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT", ""},
		{"regkey", `HKLM\Software\Evil`, `hklm\software\evil`, ""},
		{"malware", "Emotet\x00Loader", "emotet loader", ""},
		{"malware", " \t ", "", "blank"},
		{"malware", "bad\xffbyte", "bad\uFFFDbyte", ""},
		{"email", "<id@host>", "", "not one iocpipe sends"},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"/"+tt.in, func(t *testing.T) {
			got, err := Normalize(tt.typ, tt.in)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Normalize(%q, %q): %v", tt.typ, tt.in, err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("Normalize(%q, %q) = %q, want an error containing %q", tt.typ, tt.in, got, tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("Normalize(%q, %q) error %q, want it to contain %q", tt.typ, tt.in, err, tt.wantErr)
			case got != tt.want:
				t.Fatalf("Normalize(%q, %q) = %q, want %q", tt.typ, tt.in, got, tt.want)
			}
		})
	}
}

func TestEntityIDKnownValue(t *testing.T) {
	// SHA3-256 digests computed independently, with Python's hashlib.sha3_256.
	tests := []struct{ typ, in, want string }{
		{"ip", "8.8.8.8", "ip-ba7fa36bff8d58ee45b973615e83d9aaeb921f1cc477d9c156e8a9cae8cca16e"},
		{"domain", "Evil.Example.COM", "domain-726de4b12d5a9545a884394f4fdf1cfa593983d270ca7913f43d7c07bbf1807c"},
	}
	for _, tt := range tests {
		got, err := EntityID(tt.typ, tt.in)
		if err != nil || got != tt.want {
			t.Errorf("EntityID(%q, %q) = %q, %v; want %q", tt.typ, tt.in, got, err, tt.want)
		}
	}
	if _, err := EntityID("ip", "10.0.0.1"); err == nil {
		t.Errorf("EntityID of a private IP: no error")
	}
}

// knownDisagreement says why Normalize and the emulator's Normalize may
// differ on a value, given whether the emulator accepted it, or "" when
// they must agree.
func knownDisagreement(typ, v string, emulatorOK bool) string {
	switch typ {
	case "malware", "btc", "regkey":
		if strings.ToValidUTF8(v, "") != v {
			return "text: invalid UTF-8 becomes U+FFFD per byte here (as JSON carries it); the emulator's Normalize makes each run one space"
		}
	}
	switch typ {
	case "regkey":
		if strings.ToLower(v) != v {
			return "regkey: the SDK's definitions make it case-insensitive (lower-cased); the emulator keeps case"
		}
	case "domain", "hostname":
		l := strings.ToLower(v)
		if emulatorOK && strings.Contains(l, "---") {
			return "fqdn: the SDK's pattern allows at most two hyphens in a row; the emulator any number"
		}
		if i := strings.LastIndexByte(l, '.'); emulatorOK && i >= 0 && len(l)-i-1 > 20 {
			return "fqdn: the SDK's pattern takes TLDs of 2 to 20 letters; the emulator up to 63"
		}
	case "cidr":
		if _, n, err := net.ParseCIDR(strings.ToLower(v)); emulatorOK && err == nil {
			if a := n.IP; a.IsPrivate() || a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() || a.IsLinkLocalUnicast() {
				return "cidr: a block whose network address is not public (8.8.8.8/0 is 0.0.0.0/0) is refused here; the SDK and the emulator check only the address given"
			}
		}
	case "email-address":
		if emulatorOK && strings.Contains(v, `"`) {
			return "email: an address that normalises to no address (\"quoted name\"@x.com to quoted name@x.com) is refused here; the emulator takes it"
		}
	}
	return ""
}

// TestKnownDisagreements keeps the list of known disagreements true: each
// example must still differ from the emulator.
func TestKnownDisagreements(t *testing.T) {
	tests := []struct{ typ, in string }{
		{"regkey", `HKLM\Software\Evil`},
		{"domain", "a---b.com"},
		{"domain", "example.abcdefghijklmnopqrstu"},
		{"cidr", "8.8.8.8/0"},
		{"cidr", "11.1.1.1/7"},
		{"email-address", `"quoted name"@x.com`},
		{"malware", "bad\xffbyte"},
	}
	for _, tt := range tests {
		got, err := Normalize(tt.typ, tt.in)
		want, werr := threatwindstest.Normalize(tt.typ, tt.in)
		if (err == nil) == (werr == nil) && got == want {
			t.Errorf("%s %q: Normalize agrees with the emulator now (%q, %v); update knownDisagreement", tt.typ, tt.in, got, err)
			continue
		}
		if knownDisagreement(tt.typ, tt.in, werr == nil) == "" {
			t.Errorf("%s %q: disagreement not classified", tt.typ, tt.in)
		}
		t.Logf("%s %q: ours %q, %v; emulator %q, %v", tt.typ, tt.in, got, err, want, werr)
	}
}

// agreementValues returns values of each type for the cross-check:
// hand-picked edge cases and generated ones.
func agreementValues() map[string][]string {
	rng := rand.New(rand.NewPCG(1, 2))
	vals := map[string][]string{
		"ip": {"8.8.8.8", "::ffff:8.8.8.8", "0.0.0.0", "::", "224.0.0.1", "ff02::1", "ff01::1", "169.254.0.1", "FE80::1",
			"2001:DB8::1", "1.2.3", "8.8.8.8 ", "008.8.8.8", "100.64.0.1", "255.255.255.255", "::1", "fc00::1", "1.1.1.1/32", ""},
		"cidr": {"8.8.8.0/24", "8.8.8.8/24", "10.0.0.0/8", "2001:db8::/32", "2001:DB8::1/64", "8.8.8.8", "0.0.0.0/0", "8.8.8.8/0", "bad", ""},
		"domain": {"Example.COM", "a--b.com", "a---b.com", "xn--80ak6aa92e.com", "a_b.com", "-a.com", "a-.com", "com",
			"a.b.c.d.e.f.example.org", "example.abcdefghijklmnopqrstu", "example.abcdefghijklmnopqrst", strings.Repeat("a.", 130) + "com",
			"ex ample.com", "example.com.", "1.2.3.4", "123.example", "x.co", "ünicode.de", ""},
		"url": {"HTTP://Example.COM/Path?q=1#frag", "http://a.com", "/path", "example.com/path", "https://user:pw@Host.com:8443/x",
			"http://[2001:DB8::1]/", "http://a.com/ü", "ftp://x.y/z", "http://a.com/%zz", "mailto:a@b.com", "http://a.com/a b",
			"http://A.com/%41%2F", "https://EXAMPLE.com:443", "http://example.com/?", "http://example.com/#", ""},
		"email-address": {"John <JOHN@Example.com>", "a@b.com", "bad", "a@b", `"quoted name"@x.com`, "a.b+c@sub.example.org", "<a@b.com>", ""},
		"md5":           {"D41D8CD98F00B204E9800998ECF8427E", "d41d8cd98f00b204", "d41d8cd98f00b20", "zz1d8cd98f00b204e9800998ecf8427e", ""},
		"sha1":          {strings.Repeat("A", 40), strings.Repeat("a", 41), ""},
		"sha256":        {strings.Repeat("B", 64), strings.Repeat("x", 64), ""},
		"sha512":        {strings.Repeat("C", 128), strings.Repeat("c", 127), ""},
		"cve":           {"cve-2021-44228", "CVE-2021-1234", "CVE-2021-123", "CVE-21-12345", "CVE-2021-1234567", "CVE_2021_1234", ""},
		"btc":           {"1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", " ", "a\x00b", ""},
		"regkey":        {`HKLM\Software\Evil`, `hkcu\run`, "tab\there", ""},
		"malware":       {"Emotet", "Émotet Loader", "a\u0301b", "zero\u200bwidth", "ctl\x01", "bad\xffbyte", "bad\xff\xfebytes", " ", ""},
	}
	for range 400 {
		var b [16]byte
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		v4 := netip.AddrFrom4([4]byte(b[:4]))
		v6 := netip.AddrFrom16(b)
		vals["ip"] = append(vals["ip"], v4.String(), v6.String(), strings.ToUpper(v6.StringExpanded()))
		vals["cidr"] = append(vals["cidr"], fmt.Sprintf("%s/%d", v4, rng.IntN(33)), fmt.Sprintf("%s/%d", v6, rng.IntN(129)))
		sum := sha256.Sum256(b[:])
		h := hex.EncodeToString(sum[:])
		vals["md5"] = append(vals["md5"], h[:32], strings.ToUpper(h[:32]), h[:16], h[:31])
		vals["sha1"] = append(vals["sha1"], h[:40], strings.ToUpper(h[:40]))
		vals["sha256"] = append(vals["sha256"], h, strings.ToUpper(h))
		vals["sha512"] = append(vals["sha512"], h+h, h+h[:63])
		label := func() string {
			const alpha = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
			n := 1 + rng.IntN(12)
			s := make([]byte, n)
			for i := range s {
				s[i] = alpha[rng.IntN(len(alpha))]
			}
			return string(s)
		}
		tld := []string{"com", "org", "io", "Net", "x", "c0m", "travelersinsurance", "abcdefghijklmnopqrstuvwxyz"}[rng.IntN(8)]
		d := label() + "." + label() + "." + tld
		vals["domain"] = append(vals["domain"], d)
		vals["url"] = append(vals["url"], "hTTps://"+d+"/"+label()+"?"+label()+"="+label())
		vals["email-address"] = append(vals["email-address"], label()+"@"+d)
		vals["cve"] = append(vals["cve"], fmt.Sprintf("cve-%04d-%0*d", 1999+rng.IntN(30), 4+rng.IntN(3), rng.IntN(100000)))
		vals["regkey"] = append(vals["regkey"], `HKLM\`+label()+`\`+label())
		vals["malware"] = append(vals["malware"], label()+" "+label())
		vals["btc"] = append(vals["btc"], "1"+label()+label())
	}
	return vals
}

// TestNormalizeAgreesWithEmulator cross-checks Normalize and EntityID with
// the emulator's independent implementation. Where they are known to
// differ (knownDisagreement), the test checks that they still do, so that
// the list stays true.
func TestNormalizeAgreesWithEmulator(t *testing.T) {
	n, accepted := 0, 0
	seen := map[string]bool{}
	for typ, values := range agreementValues() {
		for _, v := range values {
			n++
			got, err := Normalize(typ, v)
			want, werr := threatwindstest.Normalize(typ, v)
			if (err == nil) != (werr == nil) || got != want {
				why := knownDisagreement(typ, v, werr == nil)
				if why == "" {
					t.Errorf("Normalize(%q, %q) = %q, %v; emulator: %q, %v", typ, v, got, err, want, werr)
				} else if !seen[why] {
					seen[why] = true
					t.Logf("known disagreement: %s (e.g. %q: ours %q, %v; emulator %q, %v)", why, v, got, err, want, werr)
				}
			}
			if err != nil {
				continue
			}
			accepted++
			// What we send must be stored under the id we compute: the
			// emulator, normalising our value again, must land on it.
			again, err := threatwindstest.Normalize(typ, got)
			if err != nil || again != got {
				t.Errorf("emulator normalises our %s %q to %q, %v; want it unchanged", typ, got, again, err)
			}
			if g2, _ := Normalize(typ, got); g2 != got {
				t.Errorf("Normalize is not idempotent on %s %q: %q", typ, got, g2)
			}
			id, err := EntityID(typ, v)
			if err != nil {
				t.Errorf("EntityID(%q, %q): %v", typ, v, err)
				continue
			}
			if wid := threatwindstest.EntityID(typ, got); id != wid {
				t.Errorf("EntityID(%q, %q) = %s; emulator: %s", typ, v, id, wid)
			}
		}
	}
	t.Logf("%d values cross-checked, %d accepted", n, accepted)
}
