// Package warninglist reads warninglists in MISP's format and tells
// whether an indicator is on one: well-known, benign or reserved values
// (private address ranges, documentation domains, popular sites, cloud
// ranges) that a feed should not make anyone act on.
//
// A list is a JSON file (list.json in MISP's misp-warninglists repository)
// with a name, a type — string (the whole value), substring, hostname (the
// name or any name under it), cidr (an address or network inside one of
// the list's networks) or regex — the list of entries, and the MISP
// attribute types it applies to (matching_attributes; none means every
// type). Load reads lists from files, folders (every *.json file below)
// and "builtin", a small set written for iocpipe (see builtin/).
package warninglist

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// Builtin is the name that stands for the built-in lists in Load's paths.
const Builtin = "builtin"

//go:embed builtin/*.json
var builtin embed.FS

// A List is one warninglist.
type List struct {
	// Name is the list's name, given as the reason of a match.
	Name string
	// Type is string, substring, hostname, cidr or regex.
	Type string
	// Source is the file the list was read from.
	Source string

	types    []ioc.Type // the indicator types it applies to; nil: all
	exact    map[string]bool
	subs     []string
	res      []*regexp.Regexp
	prefixes map[int]map[netip.Prefix]bool // by prefix length
}

// A Set is the lists a route checks indicators against.
type Set struct {
	lists []*List
}

// Lists returns the set's lists, in the order they were loaded.
func (s *Set) Lists() []*List { return slices.Clone(s.lists) }

// TypeOf maps a MISP attribute type of matching_attributes (one part of a
// composite, "ip-dst") to the indicator type it holds; ok false for a type
// that is no indicator.
type TypeOf func(mispType string) (typ ioc.Type, ok bool)

// Load reads the lists named by paths: Builtin, files, or folders (every
// *.json file below them). typeOf maps matching_attributes; nil applies
// every list to every type its kind fits.
func Load(paths []string, typeOf TypeOf) (*Set, error) {
	s := &Set{}
	for _, p := range paths {
		if p == Builtin {
			if err := s.loadFS(builtin, "builtin", "builtin:", typeOf); err != nil {
				return nil, err
			}
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("warninglist: %w", err)
		}
		if !fi.IsDir() {
			if err := s.loadFile(os.DirFS(filepath.Dir(p)), filepath.Base(p), p, typeOf); err != nil {
				return nil, err
			}
			continue
		}
		if err := s.loadFS(os.DirFS(p), ".", p+string(filepath.Separator), typeOf); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// loadFS loads every *.json file under dir of fsys; prefix names them.
func (s *Set) loadFS(fsys fs.FS, dir, prefix string, typeOf TypeOf) error {
	n := len(s.lists)
	err := fs.WalkDir(fsys, dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("warninglist: %w", err)
		}
		if d.IsDir() || !strings.HasSuffix(path, ".json") {
			return nil
		}
		name := strings.TrimPrefix(path, dir+"/")
		return s.loadFile(fsys, path, prefix+filepath.FromSlash(name), typeOf)
	})
	if err == nil && len(s.lists) == n {
		err = fmt.Errorf("warninglist: %s holds no *.json list", strings.TrimSuffix(prefix, string(filepath.Separator)))
	}
	return err
}

// file is a list file as MISP writes it.
type file struct {
	Name       string   `json:"name"`
	Type       string   `json:"type"`
	List       []string `json:"list"`
	Attributes []string `json:"matching_attributes"`
}

func (s *Set) loadFile(fsys fs.FS, path, source string, typeOf TypeOf) error {
	data, err := fs.ReadFile(fsys, path)
	if err != nil {
		return fmt.Errorf("warninglist: %w", err)
	}
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("warninglist %s: not a MISP warninglist: %w", source, err)
	}
	if f.Name == "" {
		return fmt.Errorf("warninglist %s: no name", source)
	}
	l, err := newList(f, source, typeOf)
	if err != nil {
		return fmt.Errorf("warninglist %s (%s): %w", source, f.Name, err)
	}
	s.lists = append(s.lists, l)
	return nil
}

// kinds are the indicator types each list type can hold.
var kinds = map[string][]ioc.Type{
	"cidr":     {ioc.IP, ioc.IPv6, ioc.CIDR},
	"hostname": {ioc.Domain, ioc.URL, ioc.Email},
}

func newList(f file, source string, typeOf TypeOf) (*List, error) {
	l := &List{Name: f.Name, Type: f.Type, Source: source}
	if typeOf != nil {
		for _, a := range f.Attributes {
			for _, part := range strings.Split(a, "|") {
				if t, ok := typeOf(part); ok && !slices.Contains(l.types, t) {
					l.types = append(l.types, t)
				}
			}
		}
		// MISP's ip-src and ip-dst hold both families, and networks.
		if slices.Contains(l.types, ioc.IP) {
			for _, t := range []ioc.Type{ioc.IPv6, ioc.CIDR} {
				if !slices.Contains(l.types, t) {
					l.types = append(l.types, t)
				}
			}
		}
		if len(f.Attributes) > 0 && len(l.types) == 0 {
			return nil, fmt.Errorf("matching_attributes %v: none is an indicator type", f.Attributes)
		}
	}
	if k, ok := kinds[f.Type]; ok {
		l.types = intersect(l.types, k)
	}
	for i, e := range f.List {
		if err := l.add(strings.TrimSpace(e)); err != nil {
			return nil, fmt.Errorf("list[%d] %q: %w", i, e, err)
		}
	}
	return l, nil
}

// intersect returns the types of a that are in b (all of b for no a).
func intersect(a, b []ioc.Type) []ioc.Type {
	if len(a) == 0 {
		return slices.Clone(b)
	}
	return slices.DeleteFunc(slices.Clone(a), func(t ioc.Type) bool { return !slices.Contains(b, t) })
}

func (l *List) add(e string) error {
	if e == "" {
		return nil
	}
	switch l.Type {
	case "string":
		l.setExact(strings.ToLower(e))
	case "hostname":
		l.setExact(strings.Trim(strings.TrimPrefix(strings.ToLower(e), "*."), "."))
	case "substring":
		l.subs = append(l.subs, strings.ToLower(e))
	case "regex":
		re, err := compile(e)
		if err != nil {
			return err
		}
		l.res = append(l.res, re)
	case "cidr":
		p, err := prefix(e)
		if err != nil {
			return err
		}
		if l.prefixes == nil {
			l.prefixes = map[int]map[netip.Prefix]bool{}
		}
		if l.prefixes[p.Bits()] == nil {
			l.prefixes[p.Bits()] = map[netip.Prefix]bool{}
		}
		l.prefixes[p.Bits()][p] = true
	default:
		return fmt.Errorf("type %q: use string, substring, hostname, cidr or regex", l.Type)
	}
	return nil
}

func (l *List) setExact(e string) {
	if l.exact == nil {
		l.exact = map[string]bool{}
	}
	l.exact[e] = true
}

// prefix reads an address or a network.
func prefix(e string) (netip.Prefix, error) {
	if strings.Contains(e, "/") {
		p, err := netip.ParsePrefix(e)
		if err != nil {
			return p, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(e)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// compile reads a regex entry, as MISP writes it between delimiters with
// flags ("/^evil\./i") or bare.
func compile(e string) (*regexp.Regexp, error) {
	expr, flags := e, ""
	if len(e) > 2 && e[0] == '/' {
		if end := strings.LastIndexByte(e, '/'); end > 0 {
			expr, flags = e[1:end], e[end+1:]
		}
	}
	if strings.Contains(flags, "i") {
		expr = "(?i)" + expr
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	return re, nil
}

// Match returns the first list of s the indicator (its canonical type and
// value) is on.
func (s *Set) Match(typ ioc.Type, value string) (*List, bool) {
	if s == nil {
		return nil, false
	}
	lower := strings.ToLower(value)
	for _, l := range s.lists {
		if l.match(typ, value, lower) {
			return l, true
		}
	}
	return nil, false
}

// Match reports whether the indicator is on l.
func (l *List) Match(typ ioc.Type, value string) bool {
	return l.match(typ, value, strings.ToLower(value))
}

// match is Match with the value also in lower case (v), which a set's
// lists share.
func (l *List) match(typ ioc.Type, value, v string) bool {
	if l.types != nil && !slices.Contains(l.types, typ) {
		return false
	}
	switch l.Type {
	case "string":
		return l.exact[v]
	case "substring":
		return slices.ContainsFunc(l.subs, func(s string) bool { return strings.Contains(v, s) })
	case "regex":
		return slices.ContainsFunc(l.res, func(re *regexp.Regexp) bool { return re.MatchString(value) })
	case "hostname":
		return l.underName(hostOf(typ, v))
	case "cidr":
		return l.inNetwork(value)
	}
	return false
}

// hostOf is the host name an indicator names: a domain, a URL's host, an
// email address's domain.
func hostOf(typ ioc.Type, v string) string {
	switch typ {
	case ioc.URL:
		if u, err := url.Parse(v); err == nil {
			return u.Hostname()
		}
	case ioc.Email:
		if i := strings.LastIndexByte(v, '@'); i >= 0 {
			return v[i+1:]
		}
	}
	return v
}

// underName reports whether host is one of l's names or below one.
func (l *List) underName(host string) bool {
	host = strings.TrimSuffix(host, ".")
	for host != "" {
		if l.exact[host] {
			return true
		}
		i := strings.IndexByte(host, '.')
		if i < 0 {
			return false
		}
		host = host[i+1:]
	}
	return false
}

// inNetwork reports whether value, an address or a network, lies in one
// of l's networks.
func (l *List) inNetwork(value string) bool {
	p, err := prefix(value)
	if err != nil {
		return false
	}
	for bits, set := range l.prefixes {
		if bits > p.Bits() {
			continue
		}
		if q, err := p.Addr().Prefix(bits); err == nil && set[q] {
			return true
		}
	}
	return false
}
