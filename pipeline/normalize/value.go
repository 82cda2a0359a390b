package normalize

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// CleanText removes what copy-paste and vendor tooling leave in values:
// zero-width and direction marks, byte order marks, non-breaking spaces,
// and surrounding white space.
func CleanText(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if !ascii {
		s = strings.Map(func(r rune) rune {
			switch r {
			case '\u200b', '\u200c', '\u200d', '\u200e', '\u200f', '\u2060', '\ufeff', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069':
				return -1
			case '\u00a0', '\u2007', '\u202f', '\u3000':
				return ' '
			}
			return r
		}, s)
	}
	return strings.TrimSpace(s)
}

var fangs = strings.NewReplacer(
	"[.]", ".", "(.)", ".", "{.}", ".", "[dot]", ".", "(dot)", ".", "{dot}", ".", "[DOT]", ".", "(DOT)", ".", `\.`, ".",
	"[,]", ".", "(,)", ".", "{,}", ".",
	"[:]", ":", "[://]", "://", "[:/]", ":/", "[/]", "/", "[//]", "//",
	"[@]", "@", "(@)", "@", "[at]", "@", "(at)", "@", "[AT]", "@", "{at}", "@",
	// Broken defangs, a bracket missing: bombay.com[.ar, evil.]com.
	"[.", ".", ".]", ".",
)

// spacedFangs are the defangs written with white space around them
// ("evil dot com", "user [at] evil [dot] com"): undone only when nothing
// else in the value is white space.
var spacedFangs = strings.NewReplacer(
	" [dot] ", ".", " (dot) ", ".", " {dot} ", ".", " [.] ", ".", " dot ", ".", " DOT ", ".",
	" [at] ", "@", " (at) ", "@", " [@] ", "@", " {at} ", "@",
)

// Refang undoes the usual defanging: hxxp, hxxps, fxp, [.], (.), [dot],
// [,], [:], [://], [@], [at] and the like, a defang missing one of its
// brackets (bombay.com[.ar), and the spaced forms of a whole value
// ("evil dot example dot com").
func Refang(s string) string {
	if strings.IndexByte(s, ' ') > 0 {
		if r := spacedFangs.Replace(s); r != s && !strings.ContainsAny(r, " \t") {
			s = r
		}
	}
	if strings.ContainsAny(s, `[({\]`) {
		s = fangs.Replace(s)
	}
	if len(s) > 4 && (s[0] == 'h' || s[0] == 'H' || s[0] == 'f' || s[0] == 'F') {
		l := strings.ToLower(s[:min(len(s), 8)])
		for _, p := range [...]struct{ from, to string }{{"hxxps", "https"}, {"hxxp", "http"}, {"hxtps", "https"}, {"hxtp", "http"}, {"hxps", "https"}, {"fxp", "ftp"}} {
			if strings.HasPrefix(l, p.from) && (strings.HasPrefix(s[len(p.from):], ":") || strings.HasPrefix(s[len(p.from):], "[:")) {
				s = p.to + strings.Replace(s[len(p.from):], "[:", ":", 1)
				s = strings.Replace(s, ":]//", "://", 1)
				break
			}
		}
	}
	return s
}

var (
	errUnknownType = errors.New("cannot tell what kind of indicator this is (give a type column to say)")
	errIPv6Zone    = errors.New("an IPv6 zone (%eth0) names a local interface, not an indicator")
)

// Detect infers the type of a clean, refanged value and returns it with
// the value's canonical form. note carries what was split off the value
// (a port).
func Detect(v string) (t ioc.Type, canon, note string, err error) {
	if v == "" {
		return "", "", "", errors.New("empty value")
	}
	if i := strings.Index(v, "://"); i > 0 && isScheme(v[:i]) {
		c, err := canonURL(v)
		return ioc.URL, c, "", err
	}
	if a, err := netip.ParseAddr(v); err == nil {
		return ipType(a)
	} else if strings.Contains(v, "%") && strings.Contains(v, ":") {
		return "", "", "", errIPv6Zone
	}
	if strings.IndexByte(v, '/') > 0 {
		if p, err := netip.ParsePrefix(v); err == nil {
			return ioc.CIDR, p.String(), "", nil
		}
	}
	if t := hashType(v); t != "" {
		return t, strings.ToLower(v), "", nil
	}
	if isCVE(v) {
		return ioc.CVE, strings.ToUpper(v), "", nil
	}
	if strings.IndexByte(v, '@') > 0 {
		if c, err := canonEmail(v, true); err == nil {
			return ioc.Email, c, "", nil
		}
	}
	// ip:port, [v6]:port, v6:port where the whole is no address
	if host, port, ok := splitAddrPort(v); ok {
		t, c, _, err := ipType(host)
		return t, c, "port " + port, err
	}
	// A schemeless URL: host[:port]/path.
	if i := strings.IndexByte(v, '/'); i > 0 {
		host := v[:i]
		if h, _, ok := splitHostPort(host); ok {
			host = h
		}
		if _, err := netip.ParseAddr(host); err == nil || isDomain(host, true) {
			c, err := canonURL("http://" + v)
			return ioc.URL, c, "", err
		}
	}
	if host, port, ok := splitHostPort(v); ok && isDomain(host, true) {
		c, err := canonDomain(host)
		return ioc.Domain, c, "port " + port, err
	}
	if isDomain(v, true) {
		c, err := canonDomain(v)
		return ioc.Domain, c, "", err
	}
	if isBitcoin(v) {
		return ioc.Bitcoin, v, "", nil
	}
	return "", "", "", errUnknownType
}

// canonical checks that v is a valid indicator of the declared type t and
// returns its canonical form.
func canonical(t ioc.Type, v string) (canon, note string, err error) {
	switch t {
	case ioc.IP, ioc.IPv6:
		if a, err := netip.ParseAddr(v); err == nil {
			got, c, _, err := ipType(a)
			if err == nil && got != t && !(t == ioc.IP && got == ioc.IPv6) {
				return "", "", fmt.Errorf("is an %s address, not %s", got, t)
			}
			return c, "", err
		}
		if host, port, ok := splitAddrPort(v); ok {
			_, c, _, err := ipType(host)
			return c, "port " + port, err
		}
		if p, err := netip.ParsePrefix(v); err == nil {
			return p.String(), "", nil
		}
		if strings.Contains(v, "%") {
			return "", "", errIPv6Zone
		}
		return "", "", fmt.Errorf("is not a valid IP address")
	case ioc.CIDR:
		if p, err := netip.ParsePrefix(v); err == nil {
			return p.String(), "", nil
		}
		if a, err := netip.ParseAddr(v); err == nil {
			return netip.PrefixFrom(a, a.BitLen()).String(), "", nil
		}
		return "", "", fmt.Errorf("is not a valid CIDR block")
	case ioc.Domain:
		if host, port, ok := splitHostPort(v); ok && isDomain(host, false) {
			c, err := canonDomain(host)
			return c, "port " + port, err
		}
		if !isDomain(v, false) {
			return "", "", fmt.Errorf("is not a valid domain name")
		}
		c, err := canonDomain(v)
		return c, "", err
	case ioc.URL:
		if i := strings.Index(v, "://"); i <= 0 || !isScheme(v[:i]) {
			v = "http://" + v
		}
		c, err := canonURL(v)
		return c, "", err
	case ioc.Email:
		c, err := canonEmail(v, false)
		return c, "", err
	case ioc.MD5, ioc.SHA1, ioc.SHA256, ioc.SHA512:
		if got := hashType(v); got != t {
			return "", "", fmt.Errorf("is not a valid %s hash (%d characters)", t, len(v))
		}
		return strings.ToLower(v), "", nil
	case ioc.CVE:
		if !isCVE(v) {
			return "", "", fmt.Errorf("is not a CVE id (CVE-YYYY-NNNN)")
		}
		return strings.ToUpper(v), "", nil
	case ioc.Bitcoin:
		if !isBitcoin(v) {
			return "", "", fmt.Errorf("is not a bitcoin address")
		}
		return v, "", nil
	}
	// Types with no syntax of their own (malware, software, registry keys).
	return v, "", nil
}

func ipType(a netip.Addr) (ioc.Type, string, string, error) {
	if a.Zone() != "" {
		return "", "", "", errIPv6Zone
	}
	if a.Is4In6() {
		a = a.Unmap()
	}
	if a.Is4() {
		return ioc.IP, a.String(), "", nil
	}
	return ioc.IPv6, a.String(), "", nil
}

func isScheme(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if !(c >= 'a' && c <= 'z' || i > 0 && (s[i] >= '0' && s[i] <= '9' || s[i] == '+' || s[i] == '-' || s[i] == '.')) {
			return false
		}
	}
	return true
}

// canonURL lower-cases the scheme and host and turns an IDN host into
// punycode; the rest of the URL is kept byte for byte.
func canonURL(v string) (string, error) {
	i := strings.Index(v, "://")
	scheme := strings.ToLower(v[:i])
	rest := v[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	userinfo := ""
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		userinfo, authority = authority[:at+1], authority[at+1:]
	}
	host, port := authority, ""
	if h, p, ok := splitHostPort(authority); ok {
		host, port = h, ":"+p
	} else if strings.HasSuffix(authority, ":") {
		host = authority[:len(authority)-1]
	}
	if host == "" {
		return "", errors.New("URL has no host")
	}
	if strings.ContainsAny(v, " \t\r\n") {
		return "", errors.New("URL contains white space")
	}
	if scheme == "file" {
		// file://host@SSL/share: a WebDAV path, kept as written.
		return scheme + "://" + rest, nil
	}
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		if a.Zone() != "" {
			return "", errIPv6Zone
		}
		if a.Is6() && !a.Is4In6() {
			host = "[" + a.String() + "]"
		} else {
			host = a.Unmap().String()
		}
	} else {
		h, err := canonDomain(host)
		if err != nil || !isDomain(h, false) && !isLabel(h) {
			return "", fmt.Errorf("URL host %q is not a valid host name", ioc.Clip(host))
		}
		host = h
	}
	return scheme + "://" + userinfo + host + port + tail, nil
}

// splitAddrPort splits an address and a numeric port: "ip:port",
// "[v6]:port", and "v6:port" without brackets when that is unambiguous,
// the whole being no address ("2a02:cf40:1::5:40669").
func splitAddrPort(v string) (netip.Addr, string, bool) {
	if host, port, ok := splitHostPort(v); ok {
		a, err := netip.ParseAddr(host)
		return a, port, err == nil
	}
	i := strings.LastIndexByte(v, ':')
	if i <= 0 || strings.Count(v, ":") < 3 || v[i-1] == ':' {
		return netip.Addr{}, "", false
	}
	if _, err := netip.ParseAddr(v); err == nil {
		return netip.Addr{}, "", false
	}
	host, port := v[:i], v[i+1:]
	n, ok := digits(port)
	if !ok || len(port) > 5 || n > 65535 {
		return netip.Addr{}, "", false
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !a.Is6() || a.Is4In6() {
		return netip.Addr{}, "", false
	}
	return a, port, true
}

// splitHostPort splits "host:port" and "[v6]:port" with a numeric port.
func splitHostPort(v string) (host, port string, ok bool) {
	i := strings.LastIndexByte(v, ':')
	if i <= 0 || i == len(v)-1 {
		return "", "", false
	}
	host, port = v[:i], v[i+1:]
	if len(port) > 5 {
		return "", "", false
	}
	if n, ok := digits(port); !ok || n > 65535 {
		return "", "", false
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	} else if strings.Contains(host, ":") {
		return "", "", false // a bare IPv6 address, not host:port
	}
	return host, port, true
}

var lookup = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.StrictDomainName(false), idna.BidiRule())

// canonDomain lower-cases a domain, drops a trailing dot and turns an IDN
// into punycode.
func canonDomain(v string) (string, error) {
	v = strings.TrimSuffix(v, ".")
	for i := 0; i < len(v); i++ {
		if v[i] >= utf8.RuneSelf {
			a, err := lookup.ToASCII(v)
			if err != nil {
				return "", fmt.Errorf("is not a valid internationalized domain name: %w", err)
			}
			return a, nil
		}
	}
	return strings.ToLower(v), nil
}

// isDomain reports whether v is a syntactically valid domain name with at
// least two labels. With knownTLD, the last label must be a top-level
// domain that exists (per the public suffix list), so that file names such
// as invoice.exe are not taken for domains.
func isDomain(v string, knownTLD bool) bool {
	v = strings.TrimSuffix(v, ".")
	if len(v) < 3 || len(v) > 253 {
		return false
	}
	ascii := true
	for i := 0; i < len(v); i++ {
		if v[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if !ascii {
		a, err := lookup.ToASCII(v)
		if err != nil {
			return false
		}
		v = a
	}
	last := strings.LastIndexByte(v, '.')
	if last <= 0 {
		return false
	}
	for label := range strings.SplitSeq(v, ".") {
		if !isLabel(label) {
			return false
		}
	}
	tld := strings.ToLower(v[last+1:])
	if !strings.HasPrefix(tld, "xn--") {
		for i := 0; i < len(tld); i++ {
			if tld[i] < 'a' || tld[i] > 'z' {
				return false
			}
		}
	}
	if len(tld) < 2 {
		return false
	}
	if knownTLD {
		switch tld {
		case "onion", "i2p", "bit", "local", "internal", "lan", "corp", "home", "test", "localhost", "example", "invalid":
			return true
		}
		if _, icann := publicsuffix.PublicSuffix(tld); !icann {
			return false
		}
	}
	return true
}

func isLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// canonEmail checks local@domain and lower-cases the domain part.
func canonEmail(v string, knownTLD bool) (string, error) {
	v = strings.TrimPrefix(strings.TrimPrefix(v, "mailto:"), "MAILTO:")
	at := strings.LastIndexByte(v, '@')
	if at <= 0 || at > 64 {
		return "", errors.New("is not a valid email address")
	}
	local, domain := v[:at], v[at+1:]
	for _, r := range local {
		if r <= ' ' || r == '<' || r == '>' || r == '(' || r == ')' || r == ',' || r == ';' || r == '"' || r == '@' || r == '\\' {
			return "", errors.New("is not a valid email address")
		}
	}
	if !isDomain(domain, knownTLD) {
		if a, err := netip.ParseAddr(strings.Trim(domain, "[]")); err == nil && strings.HasPrefix(domain, "[") {
			return local + "@[" + a.String() + "]", nil
		}
		return "", errors.New("is not a valid email address: bad domain")
	}
	d, err := canonDomain(domain)
	if err != nil {
		return "", err
	}
	return local + "@" + d, nil
}

func hashType(v string) ioc.Type {
	var t ioc.Type
	switch len(v) {
	case 32:
		t = ioc.MD5
	case 40:
		t = ioc.SHA1
	case 64:
		t = ioc.SHA256
	case 128:
		t = ioc.SHA512
	default:
		return ""
	}
	for i := 0; i < len(v); i++ {
		c := v[i] | 0x20
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return ""
		}
	}
	return t
}

func isCVE(v string) bool {
	if len(v) < 13 || !strings.EqualFold(v[:4], "cve-") || v[8] != '-' {
		return false
	}
	_, ok1 := digits(v[4:8])
	_, ok2 := digits(v[9:])
	return ok1 && ok2
}

// isBitcoin recognizes legacy (1…, 3…) base58 and bech32 (bc1…) addresses
// by form; checksums are not verified.
func isBitcoin(v string) bool {
	switch {
	case strings.HasPrefix(v, "bc1") && len(v) >= 14 && len(v) <= 74:
		for i := 3; i < len(v); i++ {
			c := v[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') || c == '1' || c == 'b' || c == 'i' || c == 'o' {
				return false
			}
		}
		return true
	case (v[0] == '1' || v[0] == '3') && len(v) >= 26 && len(v) <= 35:
		hasLetter := false
		for i := 0; i < len(v); i++ {
			c := v[i]
			if !(c >= '1' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') || c == 'O' || c == 'I' || c == 'l' {
				return false
			}
			hasLetter = hasLetter || c > '9'
		}
		return hasLetter
	}
	return false
}

// CleanTag turns a tag into what TruSTAR accepts: lower case, letters,
// digits, '-' and '_'. White space and separators become '-'; other
// characters are dropped.
func CleanTag(s string) string {
	s = CleanText(s)
	var b strings.Builder
	b.Grow(len(s))
	dash := false
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_':
			if l := unicode.ToLower(r); unicode.In(l, unicode.Ll, unicode.Lo, unicode.Nd) || l == '_' {
				b.WriteRune(l)
				dash = false
			}
		case r == '-' || unicode.IsSpace(r) || strings.ContainsRune(".:/\\+&=~", r):
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	out := strings.TrimRight(b.String(), "-")
	for utf8.RuneCountInString(out) > maxTagLen {
		_, size := utf8.DecodeLastRuneInString(out)
		out = out[:len(out)-size]
	}
	return out
}

const maxTagLen = 100

// cutLabel removes a label naming the value's type from its front:
// "SHA1: e298…", "ip: 198.51.100.1", or "sha256:<hex>" without a space
// for hashes; or, without a colon, the declared type's own name ("domain
// evil.example" declared a domain). It reports whether there was one.
func cutLabel(v string, declared ioc.Type) (string, bool) {
	i := strings.IndexByte(v, ':')
	if sp := strings.IndexAny(v, " \t"); declared != "" && sp > 0 && (i < 0 || sp < i) {
		if t, ok := typeNames[Key(v[:sp])]; ok && t == declared {
			rest := strings.TrimSpace(v[sp:])
			return rest, rest != ""
		}
	}
	if i <= 0 || i > 32 {
		return "", false
	}
	label, rest := v[:i], v[i+1:]
	for j := 0; j < len(label); j++ {
		c := label[j] | 0x20
		if !(c >= 'a' && c <= 'z' || label[j] >= '0' && label[j] <= '9' || label[j] == '-' || label[j] == '_' || label[j] == ' ') {
			return "", false
		}
	}
	k := Key(label)
	t, isType := typeNames[k]
	if !isType && !(k != "" && genericTypes[k]) {
		return "", false
	}
	trimmed := strings.TrimLeft(rest, " \t")
	if trimmed == rest {
		// "host:8080" is a host and port: without a space, only a hash
		// label counts.
		switch {
		case t == ioc.MD5 || t == ioc.SHA1 || t == ioc.SHA256 || t == ioc.SHA512:
		case k == "hash" || k == "filehash":
		default:
			return "", false
		}
	}
	trimmed = strings.TrimSpace(trimmed)
	return trimmed, trimmed != ""
}

// A NotIndicatorError says a value is no indicator at all (a file name
// given as a "file"): the row is skipped, not rejected.
type NotIndicatorError struct{ What string }

func (e *NotIndicatorError) Error() string { return e.What }

// A Piece is one indicator of a list held in one value (see Split).
type Piece struct {
	Type        ioc.Type
	Canon, Note string
}

// Split splits a value that is a list of indicators joined by '|', ',',
// ';' or white space; it returns nil unless there are several pieces and
// every one is an indicator (of the declared type, when there is one).
func Split(declared ioc.Type, v string) []Piece {
	if !strings.ContainsAny(v, "|,; \t\n") {
		return nil
	}
	parts := strings.FieldsFunc(v, func(r rune) bool {
		return r == '|' || r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	if len(parts) < 2 {
		return nil
	}
	out := make([]Piece, 0, len(parts))
	for _, s := range parts {
		t, canon, note, err := Value(declared, s)
		if err != nil {
			return nil
		}
		out = append(out, Piece{t, canon, note})
	}
	return out
}

func typedValue(declared ioc.Type, v string) (ioc.Type, string, string, error) {
	if declared == "" {
		return Detect(v)
	}
	if declared == FileType {
		if t := hashType(v); t != "" {
			return t, strings.ToLower(v), "", nil
		}
		return "", "", "", &NotIndicatorError{What: "type \"file\" with a value that is no MD5, SHA-1, SHA-256 or SHA-512 hash: a file name or path, not an indicator"}
	}
	canon, note, err := canonical(declared, v)
	if err != nil {
		return "", "", "", err
	}
	// A declared IP that holds a CIDR block, or an IPv6 address, is that.
	if declared == ioc.IP {
		if strings.Contains(canon, "/") {
			declared = ioc.CIDR
		} else if strings.Contains(canon, ":") {
			declared = ioc.IPv6
		}
	}
	return declared, canon, note, nil
}

// Value returns the type and canonical form of a clean, refanged value:
// checked against the declared type, or detected. A value labelled with
// its type ("SHA1: e298…", "ip: 198.51.100.1") loses the label; a "file"
// is a hash, or no indicator; 0.0.0.0 and :: are placeholders.
func Value(declared ioc.Type, v string) (ioc.Type, string, string, error) {
	t, canon, note, err := typedValue(declared, v)
	if err != nil {
		if rest, ok := cutLabel(v, declared); ok {
			if t2, c2, n2, err2 := typedValue(declared, rest); err2 == nil {
				return t2, c2, n2, nil
			}
		}
		return "", "", "", err
	}
	if (t == ioc.IP || t == ioc.IPv6) && (canon == "0.0.0.0" || canon == "::") {
		return "", "", "", fmt.Errorf("%s is a placeholder for no address, not an indicator", canon)
	}
	return t, canon, note, nil
}

// IsMissing reports whether s is one of the ways feeds write "no value":
// empty, a dash, NA, null, none.
func IsMissing(s string) bool {
	switch s {
	case "", "-", "--", "NA", "N/A", "n/a", "na", "null", "NULL", "None", "none", "nil":
		return true
	}
	return false
}

// JoinNotes joins a row's notes and a note about its value (a port split
// off it): "notes (port 443)".
func JoinNotes(a, b string) string {
	switch {
	case b == "":
		return a
	case a == "":
		return b
	}
	return a + " (" + b + ")"
}
