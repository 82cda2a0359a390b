package stixpattern

// This file decides whether a parsed pattern is expressible as plain
// indicators and collects them. The tree is walked top-down, left to right;
// the first offending node determines the reason.

// valueKinds maps the object types whose "value" property is an indicator.
var valueKinds = map[string]Kind{
	"ipv4-addr":   IPv4,
	"ipv6-addr":   IPv6,
	"domain-name": Domain,
	"url":         URL,
	"email-addr":  Email,
}

// hashKinds maps the upper-cased keys of file:hashes that are indicators.
var hashKinds = map[string]Kind{
	"MD5":     MD5,
	"SHA-1":   SHA1,
	"SHA1":    SHA1,
	"SHA-256": SHA256,
	"SHA256":  SHA256,
	"SHA-512": SHA512,
	"SHA512":  SHA512,
}

// indicatorKind returns the kind of indicator an object path denotes, if any.
func indicatorKind(path objectPath) (Kind, bool) {
	for _, s := range path.steps {
		if s.isIndex {
			return "", false
		}
	}
	if k, ok := valueKinds[path.typ]; ok {
		return k, len(path.steps) == 1 && path.steps[0].name == "value"
	}
	if path.typ == "file" && len(path.steps) == 2 && path.steps[0].name == "hashes" {
		k, ok := hashKinds[asciiUpper(path.steps[1].name)]
		return k, ok
	}
	return "", false
}

func notExpressible(reason string) error {
	return &NotExpressibleError{Reason: reason}
}

// collectObservation appends the indicators of an observation expression.
func collectObservation(e obsExpr, out *[]Observable) error {
	switch e := e.(type) {
	case *obsBinary:
		if e.op.text != "OR" {
			return notExpressible("uses " + e.op.text)
		}
		for _, a := range e.args {
			if err := collectObservation(a, out); err != nil {
				return err
			}
		}
		return nil
	case *obsQualified:
		return notExpressible("uses qualifier " + e.quals[0].name)
	case *obsBracket:
		return collectComparison(e.cmp, out)
	}
	return notExpressible("unknown observation expression")
}

// collectComparison appends the indicators of a comparison expression.
func collectComparison(e cmpExpr, out *[]Observable) error {
	switch e := e.(type) {
	case *cmpBinary:
		if e.op.text != "OR" {
			return notExpressible("uses " + e.op.text)
		}
		for _, a := range e.args {
			if err := collectComparison(a, out); err != nil {
				return err
			}
		}
		return nil
	case *comparison:
		return collectLeaf(e, out)
	}
	return notExpressible("unknown comparison expression")
}

// collectLeaf appends the indicators of one comparison. The checks run from
// the most to the least fundamental: a negation or a pattern-matching
// operator can never be an indicator, whatever the path.
func collectLeaf(c *comparison, out *[]Observable) error {
	path := display(c.path.text)
	if c.not != nil {
		return notExpressible("uses NOT")
	}
	switch op := c.op.text; op {
	case "MATCHES", "LIKE", "EXISTS":
		return notExpressible("uses operator " + op)
	}
	kind, ok := indicatorKind(c.path)
	if !ok {
		return notExpressible("compares " + path + " (not an indicator path)")
	}
	values := c.set
	switch op := c.op.text; op {
	case "=", "==":
		values = []token{*c.value}
	case "IN":
		if len(values) == 0 {
			return notExpressible("compares " + path + " with an empty set")
		}
	default:
		return notExpressible("compares " + path + " with " + op)
	}
	for _, v := range values {
		if v.kind != tokString {
			return notExpressible("uses a non-string constant " + display(v.text))
		}
		if v.val == "" {
			return notExpressible("compares " + path + " with an empty string")
		}
	}
	for _, v := range values {
		*out = append(*out, Observable{Kind: kind, Path: c.path.text, Value: v.val})
	}
	return nil
}
