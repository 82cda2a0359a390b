package schemas

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A Violation is one way a document breaks a schema.
type Violation struct {
	// Field is the path of the offending value: a property name, names
	// and indexes joined by dots ("tags.2.name"), or "(root)".
	Field string
	// Keyword is the schema keyword that failed ("type", "maxLength", ...).
	Keyword string
	// Message says what is wrong, without the field.
	Message string
}

func (v Violation) String() string { return v.Field + ": " + v.Message }

// node is one compiled schema: the fast path. It implements the subset of
// JSON Schema (draft 4 to 7) that iocpipe's schema files use; compile
// refuses any other keyword, so the fast path can never silently ignore a
// rule that the reference validator (gojsonschema) enforces.
type node struct {
	types    uint16 // bit per Kind; 0 = any
	integer  bool   // "integer" allowed where "number" is not
	required []string
	props    []prop
	noExtra  bool // additionalProperties: false

	minLen, maxLen     int // -1 = unset
	pattern            *regexp.Regexp
	minimum, maximum   *bound
	exclMin, exclMax   bool
	minItems, maxItems int // -1 = unset
	items              *node
	enum               []Value

	message string // x-message: what to say instead of the keyword's text

	ref   string // "#/definitions/x", resolved lazily into refTo
	refTo *node
	anyOf []*node
	allOf []*node
	oneOf []*node
	// if/then/else (draft 7): a failing if selects else.
	ifN, thenN, elseN *node
}

type prop struct {
	name string
	n    *node
}

// Keywords that carry no validation and are accepted anywhere.
var annotations = map[string]bool{
	"$schema": true, "$id": true, "id": true, "title": true, "description": true,
	"$comment": true, "examples": true, "default": true, "definitions": true, "$defs": true,
}

type compiler struct {
	root map[string]any
	defs map[string]*node
}

func compile(doc []byte) (*node, error) {
	var root map[string]any
	dec := json.NewDecoder(strings.NewReader(string(doc)))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("decode schema: %w", err)
	}
	c := &compiler{root: root, defs: map[string]*node{}}
	n, err := c.node(root, "#")
	if err != nil {
		return nil, err
	}
	if err := c.resolve(n, map[*node]bool{}); err != nil {
		return nil, err
	}
	return n, nil
}

// node compiles one schema object. It is one long switch on purpose, one
// case per keyword the fast path implements, ending in the default that
// refuses every other keyword: the list of what is implemented and the
// refusal stay side by side, so a keyword cannot be added to a schema
// without being added here (over 100 lines, the one function of the
// project that is).
func (c *compiler) node(s map[string]any, at string) (*node, error) {
	n := &node{minLen: -1, maxLen: -1, minItems: -1, maxItems: -1}
	for k, v := range s {
		var err error
		switch k {
		case "type":
			err = n.setType(v)
		case "required":
			n.required, err = stringList(v)
		case "properties":
			m, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s/properties: not an object", at)
			}
			names := make([]string, 0, len(m))
			for name := range m {
				names = append(names, name)
			}
			slices.Sort(names)
			for _, name := range names {
				sub, ok := m[name].(map[string]any)
				if !ok {
					return nil, fmt.Errorf("%s/properties/%s: not an object", at, name)
				}
				pn, err := c.node(sub, at+"/properties/"+name)
				if err != nil {
					return nil, err
				}
				n.props = append(n.props, prop{name, pn})
			}
		case "additionalProperties":
			b, ok := v.(bool)
			if !ok {
				return nil, fmt.Errorf("%s/additionalProperties: only true or false is supported by the fast path", at)
			}
			n.noExtra = !b
		case "minLength":
			n.minLen, err = intOf(v)
		case "maxLength":
			n.maxLen, err = intOf(v)
		case "minItems":
			n.minItems, err = intOf(v)
		case "maxItems":
			n.maxItems, err = intOf(v)
		case "pattern":
			p, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("%s/pattern: not a string", at)
			}
			n.pattern, err = regexp.Compile(p)
		case "minimum", "exclusiveMinimum":
			if b, ok := v.(bool); ok { // draft 4 form
				n.exclMin = b
				continue
			}
			n.minimum, err = boundOf(v)
			if k == "exclusiveMinimum" {
				n.exclMin = true
			}
		case "maximum", "exclusiveMaximum":
			if b, ok := v.(bool); ok {
				n.exclMax = b
				continue
			}
			n.maximum, err = boundOf(v)
			if k == "exclusiveMaximum" {
				n.exclMax = true
			}
		case "items":
			sub, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s/items: only a single schema is supported by the fast path", at)
			}
			n.items, err = c.node(sub, at+"/items")
		case "enum":
			list, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("%s/enum: not an array", at)
			}
			for _, e := range list {
				n.enum = append(n.enum, FromAny(e))
			}
		case "x-message":
			// iocpipe's own annotation: the words of a violation. Other
			// validators ignore x- keywords.
			n.message, _ = v.(string)
		case "const":
			n.enum = []Value{FromAny(v)}
		case "$ref":
			ref, ok := v.(string)
			if !ok || !(strings.HasPrefix(ref, "#/definitions/") || strings.HasPrefix(ref, "#/$defs/")) {
				return nil, fmt.Errorf("%s/$ref: only local #/definitions/NAME references are supported", at)
			}
			n.ref = ref
		case "if", "then", "else":
			sub, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s/%s: only a schema object is supported by the fast path", at, k)
			}
			sn, err := c.node(sub, at+"/"+k)
			if err != nil {
				return nil, err
			}
			switch k {
			case "if":
				n.ifN = sn
			case "then":
				n.thenN = sn
			default:
				n.elseN = sn
			}
		case "anyOf", "allOf", "oneOf":
			list, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("%s/%s: not an array", at, k)
			}
			var subs []*node
			for i, e := range list {
				sub, ok := e.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("%s/%s/%d: not an object", at, k, i)
				}
				sn, err := c.node(sub, fmt.Sprintf("%s/%s/%d", at, k, i))
				if err != nil {
					return nil, err
				}
				subs = append(subs, sn)
			}
			switch k {
			case "anyOf":
				n.anyOf = subs
			case "allOf":
				n.allOf = subs
			default:
				n.oneOf = subs
			}
		default:
			if !annotations[k] {
				return nil, fmt.Errorf("%s: keyword %q is not supported by the fast path", at, k)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", at, k, err)
		}
	}
	return n, nil
}

// resolve binds every $ref to its definition, compiling each definition once.
func (c *compiler) resolve(n *node, seen map[*node]bool) error {
	if n == nil || seen[n] {
		return nil
	}
	seen[n] = true
	if n.ref != "" {
		def, ok := c.defs[n.ref]
		if !ok {
			parts := strings.Split(strings.TrimPrefix(n.ref, "#/"), "/")
			group, _ := c.root[parts[0]].(map[string]any)
			s, ok := group[parts[1]].(map[string]any)
			if !ok || len(parts) != 2 {
				return fmt.Errorf("$ref %s: no such definition", n.ref)
			}
			var err error
			def, err = c.node(s, n.ref)
			if err != nil {
				return err
			}
			c.defs[n.ref] = def
		}
		n.refTo = def
		if err := c.resolve(def, seen); err != nil {
			return err
		}
	}
	for _, p := range n.props {
		if err := c.resolve(p.n, seen); err != nil {
			return err
		}
	}
	for _, group := range [][]*node{n.anyOf, n.allOf, n.oneOf, {n.items, n.ifN, n.thenN, n.elseN}} {
		for _, s := range group {
			if err := c.resolve(s, seen); err != nil {
				return err
			}
		}
	}
	return nil
}

func (n *node) setType(v any) error {
	var names []string
	switch t := v.(type) {
	case string:
		names = []string{t}
	case []any:
		var err error
		if names, err = stringList(t); err != nil {
			return err
		}
	default:
		return fmt.Errorf("not a string or array")
	}
	for _, name := range names {
		switch name {
		case "null":
			n.types |= 1 << Null
		case "boolean":
			n.types |= 1 << Bool
		case "number":
			n.types |= 1 << Number
		case "integer":
			n.integer = true
		case "string":
			n.types |= 1 << String
		case "array":
			n.types |= 1 << Array
		case "object":
			n.types |= 1 << Object
		default:
			return fmt.Errorf("unknown type %q", name)
		}
	}
	return nil
}

func stringList(v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("not an array")
	}
	out := make([]string, len(list))
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("item %d is not a string", i)
		}
		out[i] = s
	}
	return out, nil
}

func intOf(v any) (int, error) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("not a number")
	}
	i, err := strconv.Atoi(num.String())
	if err != nil {
		return 0, fmt.Errorf("not a whole number: %w", err)
	}
	return i, nil
}

// A bound is a minimum or maximum: its literal and its decimal.
type bound struct {
	lit string
	dec decimal
}

func boundOf(v any) (*bound, error) {
	num, ok := v.(json.Number)
	if !ok {
		return nil, fmt.Errorf("not a number")
	}
	d, ok := parseDecimal(num.String())
	if !ok {
		return nil, fmt.Errorf("bad number %q", num)
	}
	return &bound{num.String(), d}, nil
}

// validate appends to out every violation of v against n, at path.
func (n *node) validate(v Value, path string, out *[]Violation) {
	if n.message != "" {
		start := len(*out)
		defer func() {
			for i := start; i < len(*out); i++ {
				if (*out)[i].Field == path {
					(*out)[i].Message = n.message
				}
			}
		}()
	}
	n.check(v, path, out)
}

func (n *node) check(v Value, path string, out *[]Violation) {
	if n.refTo != nil {
		n.refTo.validate(v, path, out)
	}
	if v.Kind == Missing {
		return
	}
	if !n.typeOK(v) {
		*out = append(*out, Violation{path, "type", "must be " + n.typeNames() + ", not " + kindName(v)})
		return
	}
	switch v.Kind {
	case String:
		n.validateString(v.Str, path, out)
	case Number:
		n.validateNumber(v.Str, path, out)
	case Array:
		n.validateArray(v, path, out)
	case Object:
		n.validateObject(v, path, out)
	}
	if len(n.enum) > 0 && !slices.ContainsFunc(n.enum, func(e Value) bool { return equal(e, v) }) {
		*out = append(*out, Violation{path, "enum", "must be one of the allowed values"})
	}
	for _, s := range n.allOf {
		s.validate(v, path, out)
	}
	if len(n.anyOf) > 0 && n.matching(n.anyOf, v) == 0 {
		*out = append(*out, Violation{path, "anyOf", "must match at least one of the allowed forms"})
	}
	if len(n.oneOf) > 0 && n.matching(n.oneOf, v) != 1 {
		*out = append(*out, Violation{path, "oneOf", "must match exactly one of the allowed forms"})
	}
	if n.ifN != nil {
		if n.matching([]*node{n.ifN}, v) == 1 {
			if n.thenN != nil {
				n.thenN.validate(v, path, out)
			}
		} else if n.elseN != nil {
			n.elseN.validate(v, path, out)
		}
	}
}

func (n *node) matching(subs []*node, v Value) int {
	count := 0
	for _, s := range subs {
		var tmp []Violation
		s.validate(v, "", &tmp)
		if len(tmp) == 0 {
			count++
		}
	}
	return count
}

func (n *node) typeOK(v Value) bool {
	if n.types == 0 && !n.integer {
		return true
	}
	if n.types&(1<<v.Kind) != 0 {
		return true
	}
	return n.integer && v.Kind == Number && isInteger(v.Str)
}

func (n *node) typeNames() string {
	var names []string
	for k := Null; k <= Object; k++ {
		if n.types&(1<<k) != 0 {
			names = append(names, article(k.String()))
		}
		if k == Number && n.integer && n.types&(1<<Number) == 0 {
			names = append(names, "an integer")
		}
	}
	return strings.Join(names, " or ")
}

func kindName(v Value) string {
	if v.Kind == Number && !isInteger(v.Str) {
		return "a fractional number"
	}
	return article(v.Kind.String())
}

func article(noun string) string {
	if strings.ContainsRune("aeiou", rune(noun[0])) {
		return "an " + noun
	}
	return "a " + noun
}

func (n *node) validateString(s, path string, out *[]Violation) {
	if n.minLen >= 0 || n.maxLen >= 0 {
		l := utf8.RuneCountInString(s)
		if n.minLen >= 0 && l < n.minLen {
			if n.minLen == 1 {
				*out = append(*out, Violation{path, "minLength", "must not be empty"})
			} else {
				*out = append(*out, Violation{path, "minLength", fmt.Sprintf("must be at least %d characters long", n.minLen)})
			}
		}
		if n.maxLen >= 0 && l > n.maxLen {
			*out = append(*out, Violation{path, "maxLength", fmt.Sprintf("is %d characters long, more than the %d allowed", l, n.maxLen)})
		}
	}
	if n.pattern != nil && !n.pattern.MatchString(s) {
		*out = append(*out, Violation{path, "pattern", "does not match " + n.pattern.String()})
	}
}

func (n *node) validateNumber(lit, path string, out *[]Violation) {
	if n.minimum == nil && n.maximum == nil {
		return
	}
	if n.minimum != nil {
		c, ok := compareLiteral(lit, n.minimum.dec)
		if !ok {
			*out = append(*out, Violation{path, "type", "is not a valid number"})
			return
		}
		if c < 0 || (c == 0 && n.exclMin) {
			*out = append(*out, Violation{path, "minimum", "must be at least " + n.minimum.lit})
		}
	}
	if n.maximum != nil {
		c, ok := compareLiteral(lit, n.maximum.dec)
		if !ok {
			*out = append(*out, Violation{path, "type", "is not a valid number"})
			return
		}
		if c > 0 || (c == 0 && n.exclMax) {
			*out = append(*out, Violation{path, "maximum", "must be at most " + n.maximum.lit})
		}
	}
}

func (n *node) validateArray(v Value, path string, out *[]Violation) {
	if n.minItems >= 0 && len(v.Items()) < n.minItems {
		*out = append(*out, Violation{path, "minItems", fmt.Sprintf("must have at least %d items", n.minItems)})
	}
	if n.maxItems >= 0 && len(v.Items()) > n.maxItems {
		*out = append(*out, Violation{path, "maxItems", fmt.Sprintf("has %d items, more than the %d allowed", len(v.Items()), n.maxItems)})
	}
	if n.items != nil {
		for i, e := range v.Items() {
			n.items.validate(e, join(path, strconv.Itoa(i)), out)
		}
	}
}

func (n *node) validateObject(v Value, path string, out *[]Violation) {
	for _, r := range n.required {
		if v.Get(r).Kind == Missing {
			*out = append(*out, Violation{join(path, r), "required", "is required"})
		}
	}
	for _, p := range n.props {
		if pv := v.Get(p.name); pv.Kind != Missing {
			p.n.validate(pv, join(path, p.name), out)
		}
	}
	if n.noExtra {
		for _, m := range v.Members() {
			if m.Val.Kind != Missing && !slices.ContainsFunc(n.props, func(p prop) bool { return p.name == m.Key }) {
				*out = append(*out, Violation{join(path, m.Key), "additionalProperties", "is not allowed"})
			}
		}
	}
}

func join(path, name string) string {
	if path == "" || path == root {
		return name
	}
	return path + "." + name
}

// A decimal is a JSON number literal taken apart: neg, significant digits
// (no leading or trailing zeros) and the power of ten they are scaled by.
type decimal struct {
	neg    bool
	digits string
	exp    int64
}

func parseDecimal(lit string) (decimal, bool) {
	var d decimal
	s := lit
	if strings.HasPrefix(s, "-") {
		d.neg, s = true, s[1:]
	}
	mant, expPart, hasExp := strings.Cut(strings.ToLower(s), "e")
	intPart, frac, _ := strings.Cut(mant, ".")
	if intPart == "" || !allDigits(intPart) || !allDigits(frac) {
		return d, false
	}
	if hasExp {
		e, err := strconv.ParseInt(strings.TrimPrefix(expPart, "+"), 10, 64)
		if err != nil {
			if !allDigits(strings.TrimPrefix(strings.TrimPrefix(expPart, "+"), "-")) || expPart == "" {
				return d, false
			}
			// An exponent beyond int64: saturate.
			e = 1 << 40
			if strings.HasPrefix(expPart, "-") {
				e = -e
			}
		}
		d.exp = e
	}
	digits := intPart + frac
	d.exp -= int64(len(frac))
	trimmed := strings.TrimRight(digits, "0")
	d.exp += int64(len(digits) - len(trimmed))
	d.digits = strings.TrimLeft(trimmed, "0")
	if d.digits == "" {
		d.neg, d.exp = false, 0
	}
	return d, true
}

// cmpDecimal compares two decimals exactly, in time linear in their
// length, whatever their exponents.
func cmpDecimal(a, b decimal) int {
	sa, sb := a.sign(), b.sign()
	if sa != sb || sa == 0 {
		return cmpInt(sa, sb)
	}
	// Same sign, both non-zero: compare magnitudes, then digits.
	c := cmpInt64(a.exp+int64(len(a.digits)), b.exp+int64(len(b.digits)))
	if c == 0 {
		c = strings.Compare(a.digits, b.digits)
	}
	return c * sa
}

func (d decimal) sign() int {
	switch {
	case d.digits == "":
		return 0
	case d.neg:
		return -1
	}
	return 1
}

func cmpInt(a, b int) int { return cmpInt64(int64(a), int64(b)) }
func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// compareLiteral compares a number literal with a bound.
func compareLiteral(lit string, bound decimal) (int, bool) {
	d, ok := parseDecimal(lit)
	if !ok {
		return 0, false
	}
	return cmpDecimal(d, bound), true
}

func isInteger(lit string) bool {
	d, ok := parseDecimal(lit)
	return ok && (d.digits == "" || d.exp >= 0)
}

func equal(a, b Value) bool {
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case Number:
		da, ok1 := parseDecimal(a.Str)
		db, ok2 := parseDecimal(b.Str)
		return ok1 && ok2 && da == db
	case Array:
		return slices.EqualFunc(a.Items(), b.Items(), equal)
	case Object:
		if len(a.Members()) != len(b.Members()) {
			return false
		}
		for _, m := range a.Members() {
			if !equal(m.Val, b.Get(m.Key)) {
				return false
			}
		}
		return true
	}
	return a.Str == b.Str
}
