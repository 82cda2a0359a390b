// Package schemas holds iocpipe's JSON Schema files — the single source of
// truth for the shape of input rows and of the request bodies sent to each
// API — embedded with go:embed and compiled once.
//
// Each Schema is compiled twice from the same file: by gojsonschema, the
// reference validator, and by a small compiler in this package into a tree
// of Go checks, the fast path. The pipeline validates every row on the fast
// path (about a tenth of a microsecond instead of about 22 µs); tests run
// both on every testdata row and on fuzzed rows and fail on any difference
// in verdict, so the fast path cannot drift from the schema. The compiler
// accepts only the keywords it implements and refuses a schema using any
// other, so a new rule in a schema file can never be silently ignored.
package schemas

import (
	"embed"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/xeipuuv/gojsonschema"
)

//go:embed *.schema.json
var files embed.FS

const root = "(root)"

// Names lists the embedded schemas by name ("row" for row.schema.json).
func Names() []string {
	entries, _ := files.ReadDir(".")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".schema.json"))
	}
	slices.Sort(names)
	return names
}

// Source returns the text of the named schema file.
func Source(name string) ([]byte, error) {
	b, err := files.ReadFile(name + ".schema.json")
	if err != nil {
		return nil, fmt.Errorf("schema %q: %w", name, err)
	}
	return b, nil
}

// A Schema is one compiled schema file. It is safe for concurrent use.
type Schema struct {
	name string
	fast *node
	ref  *gojsonschema.Schema
}

// Load compiles the named embedded schema for both validators. Compile it
// once and keep it: compiling costs milliseconds.
func Load(name string) (*Schema, error) {
	src, err := Source(name)
	if err != nil {
		return nil, err
	}
	fast, err := compile(src)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", path.Base(name), err)
	}
	ref, err := gojsonschema.NewSchema(gojsonschema.NewBytesLoader(src))
	if err != nil {
		return nil, fmt.Errorf("schema %s: gojsonschema: %w", name, err)
	}
	return &Schema{name: name, fast: fast, ref: ref}, nil
}

// MustLoad is Load for schemas known to be valid (tests and start-up); it
// panics on error.
func MustLoad(name string) *Schema {
	s, err := Load(name)
	if err != nil {
		panic(err)
	}
	return s
}

// Name returns the schema's name.
func (s *Schema) Name() string { return s.name }

// Validate checks v on the fast path and returns its violations, nil when
// v is valid.
func (s *Schema) Validate(v Value) []Violation {
	var out []Violation
	s.fast.validate(v, root, &out)
	return out
}

// ValidateReference checks v with gojsonschema and returns its violations
// in the fast path's form, nil when v is valid.
func (s *Schema) ValidateReference(v Value) ([]Violation, error) {
	return s.reference(gojsonschema.NewGoLoader(v.Any()))
}

// ValidateJSON checks a JSON document with gojsonschema; tests use it on
// every outgoing request body.
func (s *Schema) ValidateJSON(doc []byte) ([]Violation, error) {
	return s.reference(gojsonschema.NewBytesLoader(doc))
}

func (s *Schema) reference(l gojsonschema.JSONLoader) ([]Violation, error) {
	res, err := s.ref.Validate(l)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", s.name, err)
	}
	if res.Valid() {
		return nil, nil
	}
	var out []Violation
	for _, e := range res.Errors() {
		field := e.Field()
		if t := e.Type(); t == "required" || t == "additional_property_not_allowed" {
			if p, ok := e.Details()["property"].(string); ok {
				field = join(field, p)
			}
		}
		out = append(out, Violation{Field: field, Keyword: e.Type(), Message: e.Description()})
	}
	return out, nil
}
