package stixpattern

import (
	"strconv"
	"strings"
)

// maxDepth is the deepest nesting of brackets and parentheses that the parser
// accepts. It bounds the recursion of the parser and of every walk over the
// syntax tree; no real pattern comes close.
const maxDepth = 100

// The syntax tree. Chains of the same binary operator are flattened into one
// node, so the depth of the tree is bounded by the nesting of brackets and
// parentheses, not by the length of the pattern.

// obsExpr is an observation expression (or a combination of them).
type obsExpr interface{ obsNode() }

// obsBinary is a chain of observation expressions joined by the same
// observation operator: AND, OR or FOLLOWEDBY.
type obsBinary struct {
	op   token // the first operator
	args []obsExpr
}

// obsBracket is [ comparison-expression ].
type obsBracket struct {
	open token
	cmp  cmpExpr
}

// obsQualified is an observation expression followed by qualifiers.
type obsQualified struct {
	inner obsExpr
	quals []qualifier
}

// qualifier is WITHIN n SECONDS, REPEATS n TIMES or START t STOP t.
type qualifier struct {
	name string // "WITHIN", "REPEATS" or "START/STOP"
	tok  token  // the first keyword
	args []token
}

func (*obsBinary) obsNode()    {}
func (*obsBracket) obsNode()   {}
func (*obsQualified) obsNode() {}

// cmpExpr is a comparison expression inside brackets.
type cmpExpr interface{ cmpNode() }

// cmpBinary is a chain of comparison expressions joined by the same boolean
// operator: AND or OR.
type cmpBinary struct {
	op   token // the first operator
	args []cmpExpr
}

// comparison is one comparison: <path> [NOT] <op> <constant or set>, or
// EXISTS <path>.
type comparison struct {
	path  objectPath
	not   *token  // the NOT modifier, if present
	op    token   // the operator: tokOp or a keyword (IN, LIKE, ..., EXISTS)
	value *token  // the constant, for operators other than IN and EXISTS
	set   []token // the constants, for IN
}

func (*cmpBinary) cmpNode()  {}
func (*comparison) cmpNode() {}

// objectPath is <type>:<property>(.<property>|[<index>]|[*])*.
type objectPath struct {
	pos   int
	text  string // the tokens as written, concatenated
	typ   string
	steps []pathStep
}

// pathStep is one property (name unescaped) or one list index.
type pathStep struct {
	name    string
	isIndex bool
}

// parser is a recursive-descent parser with one token of lookahead.
type parser struct {
	lx    lexer
	tok   token
	depth int
}

// parse parses a whole pattern into its syntax tree.
func parse(src string) (obsExpr, error) {
	p := &parser{lx: lexer{src: src}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokEOF {
		return nil, p.fail("empty pattern")
	}
	e, err := p.obsChain(0)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.fail("expected AND, OR, FOLLOWEDBY, a qualifier or end of pattern, found " + p.tok.describe())
	}
	return e, nil
}

func (p *parser) advance() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

// fail returns a *SyntaxError at the current token.
func (p *parser) fail(msg string) error {
	return &SyntaxError{Offset: p.tok.pos, Msg: msg}
}

func (p *parser) isKeyword(word string) bool {
	return p.tok.kind == tokKeyword && p.tok.text == word
}

// enter records one more level of nesting at the current token.
func (p *parser) enter() error {
	if p.depth >= maxDepth {
		return p.fail("nesting deeper than " + strconv.Itoa(maxDepth) + " levels of brackets and parentheses")
	}
	p.depth++
	return nil
}

// Observation operators from lowest to highest precedence.
var obsOps = [...]string{"FOLLOWEDBY", "OR", "AND"}

// obsChain parses observation expressions joined by obsOps[level] or any
// operator of higher precedence.
func (p *parser) obsChain(level int) (obsExpr, error) {
	if level == len(obsOps) {
		return p.obsQualified()
	}
	first, err := p.obsChain(level + 1)
	if err != nil || !p.isKeyword(obsOps[level]) {
		return first, err
	}
	n := &obsBinary{op: p.tok, args: []obsExpr{first}}
	for p.isKeyword(obsOps[level]) {
		if err := p.advance(); err != nil {
			return nil, err
		}
		next, err := p.obsChain(level + 1)
		if err != nil {
			return nil, err
		}
		n.args = append(n.args, next)
	}
	return n, nil
}

// obsQualified parses an observation expression and its qualifiers.
func (p *parser) obsQualified() (obsExpr, error) {
	e, err := p.obsPrimary()
	if err != nil {
		return nil, err
	}
	var quals []qualifier
	for {
		var q qualifier
		var err error
		switch {
		case p.isKeyword("WITHIN"):
			q, err = p.qualifier("WITHIN", "SECONDS", tokInt, tokFloat)
		case p.isKeyword("REPEATS"):
			q, err = p.qualifier("REPEATS", "TIMES", tokInt)
		case p.isKeyword("START"):
			q, err = p.startStop()
		default:
			if len(quals) == 0 {
				return e, nil
			}
			return &obsQualified{inner: e, quals: quals}, nil
		}
		if err != nil {
			return nil, err
		}
		for _, prev := range quals {
			if prev.name == q.name {
				return nil, &SyntaxError{q.tok.pos, "more than one " + q.name + " qualifier on the same observation expression"}
			}
		}
		quals = append(quals, q)
	}
}

// qualifier parses <keyword> <positive number> <unit>.
func (p *parser) qualifier(keyword, unit string, kinds ...tokKind) (qualifier, error) {
	q := qualifier{name: keyword, tok: p.tok}
	if err := p.advance(); err != nil {
		return q, err
	}
	ok := false
	for _, k := range kinds {
		ok = ok || p.tok.kind == k
	}
	what := "a positive integer"
	if len(kinds) > 1 {
		what = "a positive number"
	}
	if !ok || strings.HasPrefix(p.tok.text, "-") || !strings.ContainsAny(p.tok.text, "123456789") {
		return q, p.fail("expected " + what + " after " + keyword + ", found " + p.tok.describe())
	}
	q.args = append(q.args, p.tok)
	if err := p.advance(); err != nil {
		return q, err
	}
	if !p.isKeyword(unit) {
		return q, p.fail("expected " + unit + " after " + keyword + " " + q.args[0].text + ", found " + p.tok.describe())
	}
	return q, p.advance()
}

// startStop parses START <timestamp> STOP <timestamp>. STIX 2.1 requires t'...'
// constants; STIX 2.0 used plain strings, which are accepted too.
func (p *parser) startStop() (qualifier, error) {
	q := qualifier{name: "START/STOP", tok: p.tok}
	for _, keyword := range [...]string{"START", "STOP"} {
		if !p.isKeyword(keyword) {
			return q, p.fail("expected STOP after START " + q.args[0].text + ", found " + p.tok.describe())
		}
		if err := p.advance(); err != nil {
			return q, err
		}
		if p.tok.kind != tokTimestamp && p.tok.kind != tokString {
			return q, p.fail("expected a timestamp t'...' after " + keyword + ", found " + p.tok.describe())
		}
		q.args = append(q.args, p.tok)
		if err := p.advance(); err != nil {
			return q, err
		}
	}
	return q, nil
}

// obsPrimary parses [ comparison-expression ] or ( observation-expressions ).
func (p *parser) obsPrimary() (obsExpr, error) {
	open := p.tok
	switch open.kind {
	case tokLBrack:
		if err := p.enter(); err != nil {
			return nil, err
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		cmp, err := p.cmpChain(0)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tokRBrack {
			return nil, p.fail("expected AND, OR or ']' to close '[' at offset " + strconv.Itoa(open.pos) + ", found " + p.tok.describe())
		}
		p.depth--
		return &obsBracket{open: open, cmp: cmp}, p.advance()
	case tokLParen:
		if err := p.enter(); err != nil {
			return nil, err
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		e, err := p.obsChain(0)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tokRParen {
			return nil, p.fail("expected AND, OR, FOLLOWEDBY, a qualifier or ')' to close '(' at offset " + strconv.Itoa(open.pos) + ", found " + p.tok.describe())
		}
		p.depth--
		return e, p.advance()
	}
	return nil, p.fail("expected '[' or '(' to start an observation expression, found " + open.describe())
}

// Boolean operators from lowest to highest precedence.
var cmpOps = [...]string{"OR", "AND"}

// cmpChain parses comparison expressions joined by cmpOps[level] or any
// operator of higher precedence.
func (p *parser) cmpChain(level int) (cmpExpr, error) {
	if level == len(cmpOps) {
		return p.cmpPrimary()
	}
	first, err := p.cmpChain(level + 1)
	if err != nil || !p.isKeyword(cmpOps[level]) {
		return first, err
	}
	n := &cmpBinary{op: p.tok, args: []cmpExpr{first}}
	for p.isKeyword(cmpOps[level]) {
		if err := p.advance(); err != nil {
			return nil, err
		}
		next, err := p.cmpChain(level + 1)
		if err != nil {
			return nil, err
		}
		n.args = append(n.args, next)
	}
	return n, nil
}

// cmpPrimary parses ( comparison-expression ), EXISTS <path> or a
// comparison.
func (p *parser) cmpPrimary() (cmpExpr, error) {
	switch {
	case p.tok.kind == tokLParen:
		open := p.tok
		if err := p.enter(); err != nil {
			return nil, err
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		c, err := p.cmpChain(0)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tokRParen {
			return nil, p.fail("expected AND, OR or ')' to close '(' at offset " + strconv.Itoa(open.pos) + ", found " + p.tok.describe())
		}
		p.depth--
		return c, p.advance()
	case p.isKeyword("EXISTS"):
		c := &comparison{op: p.tok}
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tokIdent {
			return nil, p.fail("expected an object path after EXISTS, found " + p.tok.describe())
		}
		path, err := p.objectPath()
		c.path = path
		return c, err
	case p.tok.kind == tokIdent:
		return p.comparison()
	}
	return nil, p.fail("expected a comparison (an object path, EXISTS or '('), found " + p.tok.describe())
}

// comparison parses <path> [NOT] <operator> <operand>.
func (p *parser) comparison() (cmpExpr, error) {
	path, err := p.objectPath()
	if err != nil {
		return nil, err
	}
	c := &comparison{path: path}
	if p.isKeyword("NOT") {
		not := p.tok
		c.not = &not
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	c.op = p.tok
	switch {
	case p.tok.kind == tokOp:
		if err := p.advance(); err != nil {
			return nil, err
		}
		orderable := c.op.text != "=" && c.op.text != "==" && c.op.text != "!=" && c.op.text != "<>"
		v, err := p.constant(c.op.text, orderable)
		c.value = &v
		return c, err
	case p.isKeyword("IN"):
		if err := p.advance(); err != nil {
			return nil, err
		}
		c.set, err = p.set()
		return c, err
	case p.isKeyword("LIKE"), p.isKeyword("MATCHES"), p.isKeyword("ISSUBSET"), p.isKeyword("ISSUPERSET"):
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tokString {
			return nil, p.fail("expected a string constant after " + c.op.text + ", found " + p.tok.describe())
		}
		v := p.tok
		c.value = &v
		return c, p.advance()
	}
	if c.not != nil {
		return nil, p.fail("expected a comparison operator after NOT, found " + p.tok.describe())
	}
	return nil, p.fail("expected a comparison operator after " + display(path.text) + ", found " + p.tok.describe())
}

// constant parses one constant operand of op. Booleans are not orderable.
func (p *parser) constant(op string, orderable bool) (token, error) {
	t := p.tok
	switch t.kind {
	case tokString, tokInt, tokFloat, tokHex, tokBinary, tokTimestamp:
		return t, p.advance()
	case tokKeyword:
		if t.text == "true" || t.text == "false" {
			if orderable {
				return t, p.fail("a boolean cannot be compared with " + op)
			}
			return t, p.advance()
		}
	}
	return t, p.fail("expected a constant after " + op + ", found " + t.describe())
}

// set parses ( ) or ( constant , ... ).
func (p *parser) set() ([]token, error) {
	if p.tok.kind != tokLParen {
		return nil, p.fail("expected '(' to start the set of constants after IN, found " + p.tok.describe())
	}
	open := p.tok
	if err := p.advance(); err != nil {
		return nil, err
	}
	set := []token{}
	if p.tok.kind == tokRParen {
		return set, p.advance()
	}
	for {
		v, err := p.constant("IN", false)
		if err != nil {
			return nil, err
		}
		set = append(set, v)
		switch p.tok.kind {
		case tokComma:
			if err := p.advance(); err != nil {
				return nil, err
			}
		case tokRParen:
			return set, p.advance()
		default:
			return nil, p.fail("expected ',' or ')' to close the set at offset " + strconv.Itoa(open.pos) + ", found " + p.tok.describe())
		}
	}
}

// objectPath parses <type>:<property>(.<property>|[<index>]|[*])*. The
// current token is the object type, an identifier.
func (p *parser) objectPath() (objectPath, error) {
	path := objectPath{pos: p.tok.pos, typ: p.tok.text}
	var text strings.Builder
	text.WriteString(p.tok.text)
	if err := p.advance(); err != nil {
		return path, err
	}
	if p.tok.kind != tokColon {
		return path, p.fail("expected ':' after object type " + display(path.typ) + ", found " + p.tok.describe())
	}
	text.WriteByte(':')
	if err := p.advance(); err != nil {
		return path, err
	}
	if err := p.property(&path, &text, "':'"); err != nil {
		return path, err
	}
	for {
		switch p.tok.kind {
		case tokDot:
			text.WriteByte('.')
			if err := p.advance(); err != nil {
				return path, err
			}
			if err := p.property(&path, &text, "'.'"); err != nil {
				return path, err
			}
		case tokLBrack:
			text.WriteByte('[')
			if err := p.advance(); err != nil {
				return path, err
			}
			if p.tok.kind != tokInt && p.tok.kind != tokStar {
				return path, p.fail("expected a list index or '*' after '[', found " + p.tok.describe())
			}
			text.WriteString(p.tok.text)
			path.steps = append(path.steps, pathStep{name: p.tok.text, isIndex: true})
			if err := p.advance(); err != nil {
				return path, err
			}
			if p.tok.kind != tokRBrack {
				return path, p.fail("expected ']' after list index, found " + p.tok.describe())
			}
			text.WriteByte(']')
			if err := p.advance(); err != nil {
				return path, err
			}
		default:
			path.text = text.String()
			return path, nil
		}
	}
}

// property parses one property name of an object path: an identifier
// without hyphens or a quoted string.
func (p *parser) property(path *objectPath, text *strings.Builder, after string) error {
	t := p.tok
	switch {
	case t.kind == tokString:
	case t.kind == tokIdent && !strings.Contains(t.text, "-"):
	case t.kind == tokIdent:
		return p.fail("property name " + display(t.text) + " contains '-' and must be quoted, as in '" + display(t.text) + "'")
	default:
		return p.fail("expected a property name after " + after + ", found " + t.describe())
	}
	text.WriteString(t.text)
	path.steps = append(path.steps, pathStep{name: t.val})
	return p.advance()
}
