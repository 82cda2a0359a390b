package stixpattern

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind is the kind of a plain indicator expressed by a pattern. Its value is
// the STIX Cyber-observable Object type for network indicators and the
// lower-case hash algorithm for file hashes.
type Kind string

// The kinds of plain indicators that Parse can return.
const (
	// IPv4 is an IPv4 address or CIDR block, as given, from ipv4-addr:value.
	IPv4 Kind = "ipv4-addr"
	// IPv6 is an IPv6 address or CIDR block, as given, from ipv6-addr:value.
	IPv6 Kind = "ipv6-addr"
	// Domain is a domain name, from domain-name:value.
	Domain Kind = "domain-name"
	// URL is a URL, from url:value.
	URL Kind = "url"
	// Email is an email address, from email-addr:value.
	Email Kind = "email-addr"
	// MD5 is an MD5 file hash, from file:hashes.MD5.
	MD5 Kind = "md5"
	// SHA1 is a SHA-1 file hash, from file:hashes.'SHA-1' or file:hashes.SHA1.
	SHA1 Kind = "sha1"
	// SHA256 is a SHA-256 file hash, from file:hashes.'SHA-256' or
	// file:hashes.SHA256.
	SHA256 Kind = "sha256"
	// SHA512 is a SHA-512 file hash, from file:hashes.'SHA-512' or
	// file:hashes.SHA512.
	SHA512 Kind = "sha512"
)

// Observable is one plain indicator expressed by a pattern: one leaf
// comparison <path> = '<value>' (or one member of <path> IN (...)), or
// one composite of comparisons on one object (see the package doc).
type Observable struct {
	// Kind is the kind of indicator, derived from Path.
	Kind Kind
	// Path is the object path as written, e.g. "ipv4-addr:value" or
	// "file:hashes.'SHA-256'", with any whitespace or comments between its
	// tokens removed. Quoted names keep their quotes and escapes.
	Path string
	// Value is the string constant with its escapes (\' and \\) resolved,
	// otherwise exactly as given: no trimming, case folding or validation.
	Value string
	// Notes are, for a file composite, its comparisons that are no hash,
	// as "property value" joined by "; " ("name a.exe; size 1024"); empty
	// otherwise.
	Notes string
}

// SyntaxError reports a pattern that is not valid STIX patterning: a lexical
// or grammatical error, an invalid constant, a violated rule of the
// specification (such as a repeated qualifier) or nesting deeper than the
// parser accepts.
type SyntaxError struct {
	// Offset is the byte offset in the pattern where the error was detected.
	Offset int
	// Msg describes the error.
	Msg string
}

// Error returns "invalid STIX pattern at offset N: msg".
func (e *SyntaxError) Error() string {
	return "invalid STIX pattern at offset " + strconv.Itoa(e.Offset) + ": " + e.Msg
}

// NotExpressibleError reports a valid pattern that cannot be expressed as a
// list of plain indicators, because it uses a construct other than OR,
// parentheses and equality (or IN) comparisons of indicator paths with
// string constants.
type NotExpressibleError struct {
	// Reason names the first offending construct, e.g. "uses AND",
	// "uses qualifier WITHIN" or "compares file:name (not an indicator path)".
	Reason string
}

// Error returns "pattern not expressible as indicators: <reason>".
func (e *NotExpressibleError) Error() string {
	return "pattern not expressible as indicators: " + e.Reason
}

// Parse parses a STIX 2.0 or 2.1 pattern and returns the plain indicators it
// expresses, in order of appearance, duplicates included.
//
// It returns a *SyntaxError if the pattern is not valid STIX patterning and a
// *NotExpressibleError if it is valid but is not an OR of equality
// comparisons of indicator paths with string constants (see the package
// documentation for the exact rule). On error the slice is nil; on success it
// holds at least one Observable.
func Parse(pattern string) ([]Observable, error) {
	expr, err := parse(pattern)
	if err != nil {
		return nil, err
	}
	var out []Observable
	if err := collectObservation(expr, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// maxDisplay bounds how much of the user's input is quoted in messages.
const maxDisplay = 80

// display renders a piece of the pattern for an error message: cut to
// maxDisplay bytes (on a rune boundary) and Go-quoted if it contains
// anything unprintable.
func display(s string) string {
	cut := false
	if len(s) > maxDisplay {
		i := maxDisplay
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s, cut = s[:i], true
	}
	quote := !utf8.ValidString(s)
	for _, r := range s {
		if !unicode.IsPrint(r) {
			quote = true
			break
		}
	}
	if quote {
		s = strconv.Quote(s)
	}
	if cut {
		s += "..."
	}
	return s
}

// asciiUpper upper-cases ASCII letters only, so that no non-ASCII character
// (such as U+017F LATIN SMALL LETTER LONG S) can fold onto a hash key.
func asciiUpper(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}
