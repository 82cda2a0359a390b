package text

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/pipeline/normalize"
)

// A found is one indicator of a line: its type, the refanged text that
// holds it (the engine normalizes it again, splitting a port off into the
// notes), and its canonical form.
type found struct {
	typ          ioc.Type
	value, canon string
}

// An extraction is what one line holds.
type extraction struct {
	// empty says the line is blank or separators only: no row.
	empty bool
	found []found
	// notes is the rest of the line, labels and separators trimmed.
	notes string
	// title is the line as a section title, when it may be one.
	title string
	// skip says why the line's only candidates are no indicators (a
	// certificate serial number, labelled so).
	skip string
	// bad says why a candidate that looks like an indicator is none (a
	// hash of the wrong length), and badValue is that candidate.
	bad, badValue string
}

// A piece is a candidate cut out of a word: refanged, trimmed of the
// punctuation around it; defanged says the word was written defanged.
type piece struct {
	text     string
	defanged bool
}

// An around is what the line around a candidate says about it.
type around struct {
	// prev are the words before the candidate's.
	prev []string
	// btc says the line speaks of bitcoin; cites, that its section cites
	// sources ("References").
	btc, cites bool
}

// extract finds the indicators of one line, in the section titled
// section.
func extract(line, section string) extraction {
	line = normalize.CleanText(line)
	if !strings.ContainsFunc(line, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) {
		return extraction{empty: true}
	}
	var x extraction
	words := joinSpaced(strings.FieldsFunc(line, unicode.IsSpace))
	ctx := around{btc: mentionsBitcoin(line), cites: citing(strings.Fields(section))}
	rest := make([]string, 0, len(words))
	seen := map[string]bool{}
	for i, w := range words {
		var left []string
		hit := false
		for _, p := range pieces(w) {
			ctx.prev = words[:i]
			f, c := classify(p, ctx)
			switch {
			case f != nil:
				hit = true
				if !seen[f.canon] {
					seen[f.canon] = true
					x.found = append(x.found, *f)
				}
			case c.skip != "" || c.bad != "":
				hit = true
				if x.skip == "" && x.bad == "" {
					x.skip, x.bad, x.badValue = c.skip, c.bad, p.text
				}
			default:
				left = append(left, p.text)
			}
		}
		switch {
		case !hit:
			rest = append(rest, w)
		case len(left) > 0:
			rest = append(rest, strings.Join(left, " "))
		}
	}
	if len(x.found) > 0 {
		x.notes = notesOf(rest, x.found)
		if x.bad != "" {
			// The line's indicators go; the bad candidate is rejected
			// alone, by the engine, as a value of the hash type it
			// resembles.
			x.found = append(x.found, found{typ: nearestHash(len(x.badValue)), value: x.badValue, canon: x.badValue})
		}
		return x
	}
	x.title = titleOf(line)
	return x
}

// A classification is why a candidate is no indicator although it looks
// like one.
type classification struct{ skip, bad string }

// classify says whether p, a candidate in ctx, is an indicator.
func classify(p piece, ctx around) (*found, classification) {
	prev := ctx.prev
	if len(p.text) < 3 {
		return nil, classification{}
	}
	t, canon, _, err := normalize.Value("", p.text)
	if k, v, ok := strings.Cut(p.text, "="); err != nil && ok && k != "" && labelKey(k) {
		// md5=…, ip=…: a key naming the value's type.
		p.text = v
		t, canon, _, err = normalize.Value("", v)
	}
	if err != nil {
		if n := hexRun(p.text); n >= 24 {
			return nil, classification{bad: fmt.Sprintf("looks like a hash, but has %d hex digits (MD5 has 32, SHA-1 40, SHA-256 64, SHA-512 128)", n)}
		}
		return nil, classification{}
	}
	if t == ioc.URL && !p.defanged && (ctx.cites || citing(prev[max(0, len(prev)-3):]) || referenceHost(canon)) {
		return nil, classification{skip: "a reference link (not defanged, cited as a source), not an indicator"}
	}
	if !kept(t, canon, p, prev, ctx.btc) {
		return nil, classification{}
	}
	switch t {
	case ioc.MD5, ioc.SHA1, ioc.SHA256, ioc.SHA512:
		if label, what := labelled(prev); what != "" {
			return nil, classification{skip: fmt.Sprintf("labelled %q: %s, not an indicator", label, what)}
		}
	}
	return &found{typ: t, value: p.text, canon: canon}, classification{}
}

// citing reports whether words cite a source: the words before a link
// ("See", "Source:"), a section's title ("References").
func citing(words []string) bool {
	for _, w := range words {
		switch normalize.Key(w) {
		case "see", "source", "sources", "reference", "references", "ref", "refs", "blog", "blogpost", "article",
			"writeup", "published", "credit", "credits", "via", "readmore", "moreinfo", "link", "links":
			return true
		}
	}
	return false
}

// referenceHosts are the sites whose links a report cites (sandboxes,
// scanners, ATT&CK, CVE databases): not defanged, they are references.
var referenceHosts = []string{
	"virustotal.com", "attack.mitre.org", "cve.mitre.org", "nvd.nist.gov", "twitter.com", "x.com", "github.com",
	"any.run", "hybrid-analysis.com", "shodan.io", "censys.io", "otx.alienvault.com", "urlscan.io", "bazaar.abuse.ch",
	"urlhaus.abuse.ch", "threatfox.abuse.ch", "joesandbox.com", "tria.ge", "malpedia.caad.fkie.fraunhofer.de",
}

// referenceHost reports whether the URL u points at a reference site.
func referenceHost(u string) bool {
	_, rest, _ := strings.Cut(u, "://")
	host, _, _ := strings.Cut(rest, "/")
	for _, h := range referenceHosts {
		if host == h || strings.HasSuffix(host, "."+h) {
			return true
		}
	}
	return false
}

// labelKey reports whether k, in front of "=", names an indicator type
// or an indicator ("md5", "ip", "ioc").
func labelKey(k string) bool {
	t, what, ok := normalize.LookupType(k)
	return ok && what == "" && t != normalize.FileType
}

// kept applies what the line around a valid value says: a file name, a
// version, code or a bitcoin-like word in prose are no indicators.
func kept(t ioc.Type, canon string, p piece, prev []string, btc bool) bool {
	switch t {
	case ioc.Domain:
		tld := canon[strings.LastIndexByte(canon, '.')+1:]
		if p.defanged {
			return true
		}
		raw := strings.TrimSuffix(p.text, ".")
		rawTLD := raw[strings.LastIndexByte(raw, '.')+1:]
		// invoice.zip, run.py, ASP.NET and window.top are file names and
		// code.
		first, _, _ := strings.Cut(canon, ".")
		if strings.Count(canon, ".") == 1 && codeNames[first] {
			return false
		}
		return !fileExtensions[tld] && strings.ToLower(rawTLD) == rawTLD
	case ioc.IP, ioc.IPv6, ioc.CIDR:
		if len(prev) > 0 && versionWords[normalize.Key(prev[len(prev)-1])] {
			return false
		}
		return true
	case ioc.URL:
		scheme, _, _ := strings.Cut(canon, "://")
		return schemes[scheme]
	case ioc.Bitcoin:
		return btc
	case ioc.Email, ioc.CVE, ioc.MD5, ioc.SHA1, ioc.SHA256, ioc.SHA512:
		return true
	}
	return false
}

// labelled returns the label that the words before a value end with
// ("Serial number:"), and what it says the value is when that is no
// indicator (a certificate serial number, an import hash, JA3).
func labelled(prev []string) (label, what string) {
	if len(prev) == 0 {
		return "", ""
	}
	for n := 1; n <= min(4, len(prev)); n++ {
		label = strings.TrimRight(strings.Join(prev[len(prev)-n:], " "), ":=")
		if _, what, ok := normalize.LookupType(label); ok && what != "" {
			return label, what
		}
	}
	return "", ""
}

// pieces cuts the candidates out of a word: refanged, split at the
// characters that surround values in text and CSV ('"', ',', ';', '|',
// '<', '(' ...), and trimmed of sentence punctuation.
func pieces(w string) []piece {
	r := normalize.Refang(w)
	defanged := r != w
	var out []piece
	for _, p := range strings.FieldsFunc(r, isSep) {
		p = trimClosing(strings.TrimLeft(strings.TrimRight(p, ".,:;!?>*"), "([{<*"))
		if p == "" {
			continue
		}
		q := normalize.Refang(p)
		out = append(out, piece{text: q, defanged: defanged || q != p})
	}
	return out
}

// trimClosing trims the closing brackets and sentence punctuation at the
// end of p that no bracket in it opens ("(see evil.com)", but
// "?[REDACTED]=[REDACTED]" whole).
func trimClosing(p string) string {
	const opens, closes = "([{", ")]}"
	var open, closed [3]int
	for i := 0; i < len(p); i++ {
		if k := strings.IndexByte(opens, p[i]); k >= 0 {
			open[k]++
		} else if k := strings.IndexByte(closes, p[i]); k >= 0 {
			closed[k]++
		}
	}
	for p != "" {
		c := p[len(p)-1]
		k := strings.IndexByte(closes, c)
		switch {
		case strings.IndexByte(".,:;!?", c) >= 0:
		case k >= 0 && closed[k] > open[k]:
			closed[k]--
		default:
			return p
		}
		p = p[:len(p)-1]
	}
	return p
}

func isSep(r rune) bool {
	switch r {
	case '"', '\'', '`', ',', ';', '|', '<', '>', '(', ')', '{', '}', '\u201c', '\u201d', '\u2018', '\u2019', '\u00ab', '\u00bb':
		return true
	}
	return false
}

// joinSpaced joins the words of a value defanged with spaces ("evil dot
// example dot com", "user [at] evil [dot] com") into one, when the whole
// is an indicator.
func joinSpaced(words []string) []string {
	out := words[:0:0]
	for i := 0; i < len(words); i++ {
		s, j := words[i], i
		for j+2 < len(words) && j-i < 2*maxSpaced && spacedSep(words[j+1]) != "" {
			s += spacedSep(words[j+1]) + words[j+2]
			j += 2
		}
		if j > i && !(bareDot(words[i+1]) && stopWords[strings.ToLower(words[i])]) {
			if _, _, _, err := normalize.Value("", normalize.Refang(s)); err == nil {
				out = append(out, s)
				i = j
				continue
			}
		}
		out = append(out, words[i])
	}
	return out
}

// maxSpaced is the most separators joinSpaced joins into one value: a
// host name has few labels, and a line of "a dot a dot ..." costs no
// more than that per word.
const maxSpaced = 8

// spacedSep returns what a word standing between two parts of a value
// stands for ("." for "dot" and "[dot]", "@" for "[at]"), or "".
func spacedSep(w string) string {
	switch strings.ToLower(w) {
	case "dot", "[dot]", "(dot)", "{dot}", "[.]", "(.)", "{.}":
		return "."
	case "[at]", "(at)", "{at}", "[@]", "(@)":
		return "@"
	}
	return ""
}

func bareDot(w string) bool { return strings.EqualFold(w, "dot") }

// stopWords are words of prose that "dot" follows ("the dot to"): no
// host name starts there.
var stopWords = map[string]bool{
	"the": true, "a": true, "an": true, "this": true, "that": true, "each": true, "one": true, "every": true,
	"and": true, "or": true, "to": true, "of": true, "in": true, "on": true, "at": true, "with": true, "from": true,
}

// notesOf makes notes of the words of a line that are no indicator:
// joined, trimmed of separators and unbalanced brackets, and without the
// labels in front that name a hash ("SHA256 hash:") or the type of the
// line's indicators ("URL:").
func notesOf(rest []string, found []found) string {
	if len(rest) > 0 && listMarker(rest[0]) {
		rest = rest[1:]
	}
	for len(rest) > 0 {
		k := normalize.Key(rest[0])
		t, _, _ := normalize.LookupType(k)
		switch {
		case k == "", normalize.IsGeneric(k), t == ioc.MD5 || t == ioc.SHA1 || t == ioc.SHA256 || t == ioc.SHA512:
		case strings.HasSuffix(rest[0], ":") && len(found) > 0 && k == string(found[0].typ):
		default:
			return clean(strings.Join(rest, " "))
		}
		rest = rest[1:]
	}
	return ""
}

// listMarker reports whether w is the marker of a list item ("1.",
// "2)", "-", "*", "•").
func listMarker(w string) bool {
	switch w {
	case "-", "*", "+", "\u2022", "\u2013", "\u2014", ">":
		return true
	}
	d := strings.TrimRight(w, ".)")
	return d != w && d != "" && strings.Trim(d, "0123456789") == ""
}

// clean drops the brackets of notes that the cutting out of indicators
// left unpaired ("C2 (see"), and trims separators off their ends.
func clean(s string) string {
	for _, pair := range [...]string{"()", "[]"} {
		if strings.Count(s, pair[:1]) != strings.Count(s, pair[1:]) {
			s = strings.NewReplacer(pair[:1]+" ", "", pair[:1], "", " "+pair[1:], "", pair[1:], "").Replace(s)
		}
	}
	for range 8 {
		t := strings.Trim(s, " \t-\u2013\u2014:,;|\"'=")
		if len(t) > 2 && t[0] == '(' && t[len(t)-1] == ')' && strings.Count(t, "(") == 1 {
			t = t[1 : len(t)-1] // "(C2)"
		}
		for _, w := range [...]string{"and", "or", "&"} {
			t = strings.TrimSuffix(strings.TrimPrefix(t, w+" "), " "+w)
			if t == w {
				t = ""
			}
		}
		if t == s {
			break
		}
		s = t
	}
	return s
}

// titleOf returns the line as a section title ("Captcha landing pages:",
// "Nitrogen IOCs,"), or "" when it is no title: long, a sentence, a
// labelled field ("Name: ..."), or holding a blob.
func titleOf(line string) string {
	t := strings.TrimSpace(strings.TrimLeft(line, "#*=->\t "))
	t = strings.Trim(strings.TrimRight(t, " \t,;|:*=-"), `"`)
	for i := 0; i+1 < len(t); i++ {
		if (t[i] == ',' || t[i] == '\t' || t[i] == ';' || t[i] == '|') && t[i+1] != ' ' {
			t = strings.TrimSpace(t[:i]) // a title cell, its row's other cells
			break
		}
	}
	if t == "" || len(t) > 80 || strings.HasSuffix(t, ".") || strings.Contains(t, ":") {
		return ""
	}
	words := strings.Fields(t)
	if len(words) > 8 || !strings.ContainsFunc(t, unicode.IsLetter) {
		return ""
	}
	capital := 0
	for _, w := range words {
		if len(w) > 32 {
			return ""
		}
		w = strings.TrimLeft(w, "([\"'")
		if r, _ := utf8.DecodeRuneInString(w); unicode.IsUpper(r) || unicode.IsDigit(r) || minorWords[strings.ToLower(w)] {
			capital++
		}
	}
	first, _ := utf8.DecodeRuneInString(t)
	last := strings.ToLower(strings.Trim(words[len(words)-1], "()[]"))
	switch {
	case !unicode.IsUpper(first) && !unicode.IsDigit(first):
		return "" // "some words", a sentence's end
	case strings.HasSuffix(strings.TrimRight(line, " \t,;|\""), ":"), capital == len(words), titleWords[last]:
		return t
	}
	return ""
}

// minorWords are the words a title in title case leaves in lower case.
var minorWords = map[string]bool{
	"a": true, "an": true, "and": true, "the": true, "of": true, "for": true, "in": true, "on": true, "by": true,
	"to": true, "from": true, "with": true, "or": true, "via": true, "&": true, "-": true, "\u2013": true,
}

// titleWords end the titles of IOC sections ("KeePass download domains",
// "IoC list").
var titleWords = map[string]bool{
	"ioc": true, "iocs": true, "indicators": true, "list": true, "hashes": true, "domains": true, "urls": true,
	"ips": true, "addresses": true, "files": true, "samples": true, "servers": true, "c2": true, "c2s": true,
	"infrastructure": true, "certificates": true, "executables": true, "installers": true, "payloads": true,
	"emails": true, "senders": true, "hosts": true, "networks": true, "artifacts": true, "artefacts": true,
}

// hexRun returns the length of s when it is all hex digits with both a
// digit and a letter and no valid hash length, else 0.
func hexRun(s string) int {
	digit, letter := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digit = true
		case c|0x20 >= 'a' && c|0x20 <= 'f':
			letter = true
		default:
			return 0
		}
	}
	switch len(s) {
	case 32, 40, 64, 128:
		return 0
	}
	if !digit || !letter {
		return 0
	}
	return len(s)
}

// nearestHash is the hash type whose length is nearest n hex digits.
func nearestHash(n int) ioc.Type {
	switch {
	case n < 36:
		return ioc.MD5
	case n < 52:
		return ioc.SHA1
	case n < 96:
		return ioc.SHA256
	}
	return ioc.SHA512
}

// mentionsBitcoin reports whether a line speaks of bitcoin, so that a
// word of the form of a bitcoin address in it is one.
func mentionsBitcoin(line string) bool {
	l := strings.ToLower(line)
	return strings.Contains(l, "bitcoin") || strings.Contains(l, "btc") || strings.Contains(l, "wallet")
}

// fileExtensions are the extensions of file names that are also
// top-level domains, or read as such: a name ending so is a file name
// unless it is defanged or in a URL.
var fileExtensions = map[string]bool{
	"zip": true, "mov": true, "sh": true, "py": true, "md": true, "so": true, "ps": true, "pm": true,
	"exe": true, "dll": true, "js": true, "html": true, "htm": true, "php": true, "txt": true, "json": true,
	"bat": true, "ps1": true, "vbs": true, "lnk": true, "name": true, "rar": true, "doc": true, "pdf": true,
	"tar": true, "gz": true, "bin": true, "dat": true, "log": true, "ini": true, "cfg": true,
}

// codeNames are the objects of code whose properties read as two-label
// domains (window.top, document.domain, this.name): undefanged, no host.
var codeNames = map[string]bool{
	"window": true, "document": true, "this": true, "self": true, "console": true, "navigator": true,
	"location": true, "math": true, "json": true, "object": true, "string": true, "array": true, "system": true,
	"os": true, "sys": true, "req": true, "res": true, "request": true, "response": true, "process": true,
	"module": true, "exports": true, "config": true, "settings": true, "app": true, "args": true, "obj": true,
}

// versionWords are the words before a dotted number that make it a
// version, not an IP address ("version 1.2.3.4").
var versionWords = map[string]bool{
	"version": true, "ver": true, "v": true, "build": true, "release": true, "firmware": true,
}

// schemes are the URL schemes of indicators: other words with "://" in
// text are code or paths.
var schemes = map[string]bool{
	"http": true, "https": true, "ftp": true, "ftps": true, "sftp": true, "file": true, "ws": true, "wss": true,
	"tcp": true, "udp": true, "smb": true, "ssh": true, "telnet": true, "rdp": true, "irc": true, "ldap": true,
}

// A Found is one indicator Find found in prose.
type Found struct {
	// Type is its type; Value the refanged text that holds it.
	Type  ioc.Type
	Value string
}

// Find returns the indicators written in s, prose such as a STIX
// object's description, whose type keep takes, each once, in the order
// they appear: the same reading as the text format's, line by line.
func Find(s string, keep func(ioc.Type) bool) []Found {
	var out []Found
	seen := map[string]bool{}
	for line := range strings.Lines(s) {
		for _, f := range extract(line, "").found {
			if keep(f.typ) && !seen[f.canon] {
				seen[f.canon] = true
				out = append(out, Found{Type: f.typ, Value: f.value})
			}
		}
	}
	return out
}
