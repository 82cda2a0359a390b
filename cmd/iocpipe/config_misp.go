package main

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/formats/misp/misptype"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/pipeline/warninglist"
)

// MISPToIDs is a route's misp_to_ids: required or any. The zero value
// means required.
type MISPToIDs string

// UnmarshalYAML implements yaml.Unmarshaler: any other value is an error
// naming the key and its line.
func (m *MISPToIDs) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && (n.Value == formats.MISPToIDsRequired || n.Value == formats.MISPToIDsAny) {
		*m = MISPToIDs(n.Value)
		return nil
	}
	what := fmt.Sprintf("%q is", n.Value)
	if n.Kind != yaml.ScalarNode {
		what = "a list or map is"
	}
	return fmt.Errorf("line %d: misp_to_ids: %s not required or any (required, the default, skips MISP attributes whose to_ids is false; any imports them)", n.Line, what)
}

// loadWarninglists loads route r's warninglists, its paths relative to
// the config file's folder; matching_attributes are read as MISP types.
func (c *Config) loadWarninglists(r *RouteConfig, key string) error {
	if len(r.Warninglists) == 0 {
		return nil
	}
	paths := make([]string, len(r.Warninglists))
	for i, p := range r.Warninglists {
		paths[i] = p
		if p != warninglist.Builtin {
			paths[i] = c.relPath(p)
		}
	}
	set, err := warninglist.Load(paths, func(t string) (ioc.Type, bool) {
		typ, _, _ := misptype.Resolve(t)
		return typ, typ != ""
	})
	if err != nil {
		return c.errorf(key, "%v", err)
	}
	r.warn = set
	return nil
}
