package stixpattern

// This file decides whether a parsed pattern is expressible as plain
// indicators and collects them. The tree is walked top-down, left to right;
// the first offending node determines the reason.

import (
	"net/netip"
	"slices"
	"strings"
)

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
		if e.op.text == "AND" {
			return collectComposite(e, out)
		}
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

// collectComposite appends the indicator of an AND of comparisons on one
// object, when it says a plain indicator: a reference's type and value
// (network-traffic:src_ref.type = 'ipv4-addr' AND
// network-traffic:src_ref.value = '198.51.100.1', as MISP's converter
// writes ip-src), or a file's hashes with other properties of the file
// (file:name = 'a.exe' AND file:hashes.MD5 = '...'), which go to the
// notes. Anything else, an AND across objects above all, uses AND.
func collectComposite(e *cmpBinary, out *[]Observable) error {
	leaves := make([]*comparison, 0, len(e.args))
	for _, a := range e.args {
		c, ok := a.(*comparison)
		if !ok || c.not != nil || (c.op.text != "=" && c.op.text != "==") || c.value == nil {
			return notExpressible("uses AND")
		}
		leaves = append(leaves, c)
	}
	if o, ok := typedRef(leaves); ok {
		*out = append(*out, o)
		return nil
	}
	if obs, ok := domainResolves(leaves); ok {
		*out = append(*out, obs...)
		return nil
	}
	if obs, ok := fileComposite(leaves); ok {
		*out = append(*out, obs...)
		return nil
	}
	return notExpressible("uses AND")
}

// typedRef reads X:<ref>.type = '<type>' AND X:<ref>.value = '<value>',
// in either order, where <type> is an object type whose value is an
// indicator; other comparisons on plain properties of X with a string or
// an integer (network-traffic:dst_port = '443', as MISP writes
// ip-dst|port) are its notes.
func typedRef(leaves []*comparison) (Observable, bool) {
	var typ, val *comparison
	var rest []*comparison
	for _, c := range leaves {
		n := len(c.path.steps)
		switch {
		case n >= 2 && c.path.steps[n-1].name == "type" && typ == nil:
			typ = c
		case n >= 2 && c.path.steps[n-1].name == "value" && val == nil:
			val = c
		default:
			rest = append(rest, c)
		}
	}
	if typ == nil || val == nil || !sameRef(typ.path, val.path) || typ.value.kind != tokString || val.value.kind != tokString || val.value.val == "" {
		return Observable{}, false
	}
	kind, ok := valueKinds[typ.value.val]
	if !ok {
		return Observable{}, false
	}
	notes, ok := plainNotes(rest, typ.path.typ)
	if !ok {
		return Observable{}, false
	}
	return Observable{Kind: kind, Path: typ.value.val + ":value", Value: val.value.val, Notes: notes}, true
}

// plainNotes renders comparisons on plain properties of objects of type
// typ with a string or an integer as notes ("size 1024; name a.exe"); ok
// is false when one is anything else.
func plainNotes(leaves []*comparison, typ string) (string, bool) {
	notes := make([]string, 0, len(leaves))
	for _, c := range leaves {
		if c.path.typ != typ || len(c.path.steps) != 1 || c.path.steps[0].isIndex || c.value.kind != tokString && c.value.kind != tokInt {
			return "", false
		}
		v := c.value.val
		if c.value.kind == tokInt {
			v = c.value.text
		}
		notes = append(notes, c.path.steps[0].name+" "+v)
	}
	return strings.Join(notes, "; "), true
}

// sameRef reports whether two paths name properties of one object: the
// same type and the same steps but the last, none of them an index.
func sameRef(a, b objectPath) bool {
	if a.typ != b.typ || len(a.steps) != len(b.steps) {
		return false
	}
	for i := range a.steps[:len(a.steps)-1] {
		if a.steps[i].isIndex || a.steps[i] != b.steps[i] {
			return false
		}
	}
	return true
}

// fileComposite reads an AND of file comparisons holding one hash or
// more (each algorithm once): the hashes are the indicators, and the
// other comparisons, each on a plain property of the file compared with a
// string or a number (name, size, mime_type), are their notes.
func fileComposite(leaves []*comparison) ([]Observable, bool) {
	var hashes []Observable
	var rest []*comparison
	for _, c := range leaves {
		kind, ok := indicatorKind(c.path)
		if !ok || c.path.typ != "file" {
			rest = append(rest, c)
			continue
		}
		if c.value.kind != tokString || c.value.val == "" || slices.ContainsFunc(hashes, func(o Observable) bool { return o.Kind == kind }) {
			return nil, false
		}
		hashes = append(hashes, Observable{Kind: kind, Path: c.path.text, Value: c.value.val})
	}
	notes, ok := plainNotes(rest, "file")
	if len(hashes) == 0 || !ok {
		return nil, false
	}
	for i := range hashes {
		hashes[i].Notes = notes
	}
	return hashes, true
}

// domainResolves reads domain-name:value = '<d>' AND
// domain-name:resolves_to_refs[*].value = '<a>' (as MISP's converter
// writes domain|ip): the domain and the address, an IPv4 or IPv6 address
// or block, or a domain name, as its value says.
func domainResolves(leaves []*comparison) ([]Observable, bool) {
	if len(leaves) != 2 {
		return nil, false
	}
	var name, addr *comparison
	for _, c := range leaves {
		st := c.path.steps
		switch {
		case c.path.typ != "domain-name" || c.value.kind != tokString || c.value.val == "":
			return nil, false
		case len(st) == 1 && st[0].name == "value" && !st[0].isIndex:
			name = c
		case len(st) == 3 && st[0].name == "resolves_to_refs" && st[1].isIndex && st[2].name == "value":
			addr = c
		}
	}
	if name == nil || addr == nil {
		return nil, false
	}
	kind := addressKind(addr.value.val)
	return []Observable{
		{Kind: Domain, Path: "domain-name:value", Value: name.value.val},
		{Kind: kind, Path: string(kind) + ":value", Value: addr.value.val},
	}, true
}

// addressKind is the kind of what a domain resolves to: an IPv4 or IPv6
// address or block, else a domain name.
func addressKind(v string) Kind {
	a, err := netip.ParseAddr(v)
	if p, perr := netip.ParsePrefix(v); perr == nil {
		a, err = p.Addr(), nil
	}
	switch {
	case err != nil:
		return Domain
	case a.Is4():
		return IPv4
	}
	return IPv6
}
