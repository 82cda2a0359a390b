package stixpattern

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokKind is the lexical class of a token.
type tokKind int

const (
	tokEOF       tokKind = iota
	tokIdent             // [a-zA-Z_][a-zA-Z0-9_-]*, not a keyword
	tokKeyword           // AND, OR, NOT, ..., true, false
	tokString            // '...'
	tokInt               // [+-]?(0|[1-9][0-9]*)
	tokFloat             // [+-]?[0-9]*\.[0-9]+
	tokHex               // h'..'
	tokBinary            // b'..'
	tokTimestamp         // t'..'
	tokLBrack            // [
	tokRBrack            // ]
	tokLParen            // (
	tokRParen            // )
	tokColon             // :
	tokDot               // .
	tokComma             // ,
	tokStar              // *
	tokOp                // = == != <> < <= > >=
)

// keywords are the reserved words of the STIX 2.1 grammar. They are
// case-sensitive, as in the grammar published by OASIS.
var keywords = map[string]bool{
	"AND": true, "OR": true, "NOT": true, "FOLLOWEDBY": true,
	"LIKE": true, "MATCHES": true, "ISSUPERSET": true, "ISSUBSET": true,
	"EXISTS": true, "LAST": true, "IN": true, "START": true, "STOP": true,
	"SECONDS": true, "true": true, "false": true,
	"WITHIN": true, "REPEATS": true, "TIMES": true,
}

// token is one lexeme.
type token struct {
	kind tokKind
	pos  int    // byte offset of the first byte
	text string // the source text of the token
	val  string // strings: the unescaped value; keywords and operators: text
}

// describe renders a token for an error message.
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of pattern"
	case tokIdent:
		return "identifier " + display(t.text)
	case tokKeyword:
		return "keyword " + t.text
	case tokString:
		return "string " + display(t.text)
	case tokInt, tokFloat:
		return "number " + display(t.text)
	case tokHex, tokBinary, tokTimestamp:
		return "constant " + display(t.text)
	default:
		return "'" + t.text + "'"
	}
}

// lexer splits a pattern into tokens on demand, so that an error early in a
// long input is reported without tokenizing the rest.
type lexer struct {
	src string
	pos int
}

// next returns the next token, or a *SyntaxError.
func (l *lexer) next() (token, error) {
	if err := l.skipSpace(); err != nil {
		return token{}, err
	}
	src, start := l.src, l.pos
	if start >= len(src) {
		return token{kind: tokEOF, pos: len(src)}, nil
	}
	single := func(k tokKind) (token, error) {
		l.pos++
		return token{kind: k, pos: start, text: src[start:l.pos], val: src[start:l.pos]}, nil
	}
	c := src[start]
	switch {
	case c == '[':
		return single(tokLBrack)
	case c == ']':
		return single(tokRBrack)
	case c == '(':
		return single(tokLParen)
	case c == ')':
		return single(tokRParen)
	case c == ':':
		return single(tokColon)
	case c == ',':
		return single(tokComma)
	case c == '*':
		return single(tokStar)
	case c == '.':
		if start+1 < len(src) && isDigit(src[start+1]) {
			return l.number()
		}
		return single(tokDot)
	case c == '\'':
		return l.quoted(tokString, start, start)
	case c == '=' || c == '!' || c == '<' || c == '>':
		return l.operator()
	case c == '+' || c == '-' || isDigit(c):
		return l.number()
	case isIdentStart(c):
		end := start + 1
		for end < len(src) && isIdentChar(src[end]) {
			end++
		}
		word := src[start:end]
		if end < len(src) && src[end] == '\'' {
			switch word {
			case "h":
				return l.quoted(tokHex, start, end)
			case "b":
				return l.quoted(tokBinary, start, end)
			case "t":
				return l.quoted(tokTimestamp, start, end)
			}
		}
		l.pos = end
		kind := tokIdent
		if keywords[word] {
			kind = tokKeyword
		}
		return token{kind: kind, pos: start, text: word, val: word}, nil
	}
	r, size := utf8.DecodeRuneInString(src[start:])
	if r == utf8.RuneError && size <= 1 {
		return token{}, &SyntaxError{start, fmt.Sprintf("invalid UTF-8 byte %#02x", src[start])}
	}
	return token{}, &SyntaxError{start, "unexpected character " + strconv.QuoteRune(r)}
}

// skipSpace skips Unicode white space (WSpace=Y) and /* */ and // comments.
func (l *lexer) skipSpace() error {
	src := l.src
	for l.pos < len(src) {
		c := src[l.pos]
		switch {
		case c == '/' && strings.HasPrefix(src[l.pos:], "/*"):
			end := strings.Index(src[l.pos+2:], "*/")
			if end < 0 {
				return &SyntaxError{l.pos, "unterminated comment"}
			}
			l.pos += 2 + end + 2
		case c == '/' && strings.HasPrefix(src[l.pos:], "//"):
			end := strings.IndexAny(src[l.pos:], "\r\n")
			if end < 0 {
				l.pos = len(src)
			} else {
				l.pos += end
			}
		case c < utf8.RuneSelf:
			if !unicode.IsSpace(rune(c)) {
				return nil
			}
			l.pos++
		default:
			r, size := utf8.DecodeRuneInString(src[l.pos:])
			if !unicode.IsSpace(r) {
				return nil
			}
			l.pos += size
		}
	}
	return nil
}

// operator lexes a comparison operator at l.pos.
func (l *lexer) operator() (token, error) {
	src, start := l.src, l.pos
	two := ""
	if start+2 <= len(src) {
		two = src[start : start+2]
	}
	var n int
	switch {
	case two == "==" || two == "!=" || two == "<>" || two == "<=" || two == ">=":
		n = 2
	case src[start] == '!':
		return token{}, &SyntaxError{start, "unexpected character '!' (did you mean '!='?)"}
	default:
		n = 1
	}
	l.pos = start + n
	text := src[start:l.pos]
	return token{kind: tokOp, pos: start, text: text, val: text}, nil
}

// number lexes an integer or a floating-point constant at l.pos.
func (l *lexer) number() (token, error) {
	src, start := l.src, l.pos
	i := start
	if src[i] == '+' || src[i] == '-' {
		i++
	}
	digits := i
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	intPart := src[digits:i]
	if i+1 < len(src) && src[i] == '.' && isDigit(src[i+1]) {
		i++
		for i < len(src) && isDigit(src[i]) {
			i++
		}
		l.pos = i
		return token{kind: tokFloat, pos: start, text: src[start:i], val: src[start:i]}, nil
	}
	if intPart == "" {
		return token{}, &SyntaxError{start, "unexpected character " + strconv.QuoteRune(rune(src[start]))}
	}
	if len(intPart) > 1 && intPart[0] == '0' {
		return token{}, &SyntaxError{start, "invalid integer " + display(src[start:i]) + ": leading zero"}
	}
	l.pos = i
	return token{kind: tokInt, pos: start, text: src[start:i], val: src[start:i]}, nil
}

// quoted lexes a quoted constant: a string (quote == start) or an h'...',
// b'...' or t'...' constant whose opening quote is at quote.
func (l *lexer) quoted(kind tokKind, start, quote int) (token, error) {
	src := l.src
	var b strings.Builder
	escaped := false
	i := quote + 1
	for {
		if i >= len(src) {
			return token{}, &SyntaxError{start, "unterminated " + kindName(kind)}
		}
		c := src[i]
		if c == '\'' {
			break
		}
		if c == '\\' && kind == tokString {
			if i+1 >= len(src) {
				return token{}, &SyntaxError{start, "unterminated " + kindName(kind)}
			}
			if e := src[i+1]; e != '\'' && e != '\\' {
				r, _ := utf8.DecodeRuneInString(src[i+1:])
				return token{}, &SyntaxError{i, "invalid escape sequence " + display(`\`+string(r)) + ` in string (only \' and \\ are allowed)`}
			}
			if !escaped {
				b.WriteString(src[quote+1 : i])
				escaped = true
			}
			b.WriteByte(src[i+1])
			i += 2
			continue
		}
		if escaped {
			b.WriteByte(c)
		}
		i++
	}
	l.pos = i + 1
	tok := token{kind: kind, pos: start, text: src[start:l.pos], val: src[quote+1 : i]}
	if escaped {
		tok.val = b.String()
	}
	var msg string
	switch kind {
	case tokHex:
		msg = checkHex(tok.val)
	case tokBinary:
		msg = checkBase64(tok.val)
	case tokTimestamp:
		msg = checkTimestamp(tok.val)
	}
	if msg != "" {
		return token{}, &SyntaxError{start, "invalid " + kindName(kind) + " " + display(tok.text) + ": " + msg}
	}
	return tok, nil
}

func kindName(k tokKind) string {
	switch k {
	case tokHex:
		return "hex constant"
	case tokBinary:
		return "binary constant"
	case tokTimestamp:
		return "timestamp constant"
	}
	return "string"
}

// checkHex validates the body of h'...': an even number of hex digits.
func checkHex(s string) string {
	for i := 0; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			return "not a hexadecimal digit"
		}
	}
	if len(s)%2 != 0 {
		return "odd number of hexadecimal digits"
	}
	return ""
}

// checkBase64 validates the body of b'...': padded standard base64 of at
// least one octet; line feeds are ignored, as the specification requires.
func checkBase64(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isAlnum(c) || c == '+' || c == '/' || c == '=' || c == '\n' || c == '\r') {
			return "not a base64 character"
		}
	}
	if strings.Trim(s, "\r\n") == "" {
		return "empty"
	}
	if _, err := base64.StdEncoding.DecodeString(s); err != nil {
		return "not padded standard base64"
	}
	return ""
}

// checkTimestamp validates the body of t'...' against the grammar:
// YYYY-MM-DDTHH:MM:SS[.s+]Z with the field ranges of the grammar.
func checkTimestamp(s string) string {
	const bad = "not of the form YYYY-MM-DDTHH:MM:SS[.sss]Z"
	if len(s) < 20 {
		return bad
	}
	num := func(i int) int {
		if !isDigit(s[i]) || !isDigit(s[i+1]) {
			return -1
		}
		return int(s[i]-'0')*10 + int(s[i+1]-'0')
	}
	if num(0) < 0 || num(2) < 0 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return bad
	}
	month, day, hour, minute, second := num(5), num(8), num(11), num(14), num(17)
	if month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 ||
		minute < 0 || minute > 59 || second < 0 || second > 60 {
		return bad
	}
	rest := s[19:]
	if rest[0] == '.' {
		j := 1
		for j < len(rest) && isDigit(rest[j]) {
			j++
		}
		if j == 1 {
			return bad
		}
		rest = rest[j:]
	}
	if rest != "Z" {
		return bad
	}
	return ""
}

func isDigit(c byte) bool      { return '0' <= c && c <= '9' }
func isAlnum(c byte) bool      { return isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isIdentStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isIdentChar(c byte) bool  { return isAlnum(c) || c == '_' || c == '-' }
func isHexDigit(c byte) bool   { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }
