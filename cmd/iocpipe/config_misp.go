package main

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/iocpipe/iocpipe/pipeline/formats"
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
