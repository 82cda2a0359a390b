package main

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// printable returns s made safe for a terminal: every rune that is not
// printable — control characters such as ESC, CR and BEL, C1 controls,
// DEL, format characters such as the bidirectional overrides, line and
// paragraph separators — and every byte that is not UTF-8 is shown escaped
// as strconv.Quote shows it (`\x1b`, `\r`, `\u202e`); printable Unicode,
// spaces and backslashes are kept as they are. Every text printer of the
// CLI uses it, so that a feed cannot rewrite the analyst's terminal; JSON
// output is escaped by its encoder, and what is sent is never changed.
func printable(s string) string {
	i := strings.IndexFunc(s, needsEscape)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for s = s[i:]; s != ""; {
		r, n := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(s[0])>>4, 16))
			b.WriteString(strconv.FormatUint(uint64(s[0])&0xf, 16))
		case needsEscape(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[:n])
		}
		s = s[n:]
	}
	return b.String()
}

// needsEscape reports whether printable escapes r.
func needsEscape(r rune) bool {
	return r == utf8.RuneError || !strconv.IsPrint(r) && !unicode.Is(unicode.Zs, r)
}
