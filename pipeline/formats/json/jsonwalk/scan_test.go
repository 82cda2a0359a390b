package jsonwalk

import (
	"slices"
	"strings"
	"testing"

	"github.com/iocpipe/iocpipe/pipeline/formats"
)

func TestScan(t *testing.T) {
	stix := `{"type": "indicator", "id": "indicator--1"}`
	tests := []struct {
		name     string
		doc      string
		items    string // the route's items path
		shape    Shape
		kind     Kind
		layout   STIXLayout
		path     []string
		contexts int
		wantErr  string
	}{
		{name: "array of items", doc: `[{"value": "a"}, "b"]`, shape: Array},
		{name: "single item", doc: `{"value": "a", "data": [{"x": 1}]}`, shape: Item},
		{name: "wrapper", doc: `{"status": "ok", "data": [{"value": "a"}]}`, shape: Item, path: []string{"data"}},
		{name: "submission", doc: `{"content": [{"value": "a"}], "tags": ["t"]}`, shape: Submission},
		{name: "items path", doc: `{"a": {"b": [{"value": "x"}]}}`, items: "a.b", shape: Item, path: []string{"a", "b"}},
		{name: "items path missing", doc: `{"a": {}}`, items: "a.b", shape: Item, wantErr: `items path "a.b" leads to no array`},
		{name: "JSON Lines", doc: "{\"value\": \"a\"}\n{\"value\": \"b\"}\n", shape: Stream},
		{name: "STIX bundle", doc: `{"type": "bundle", "id": "bundle--1", "objects": [` + stix + `]}`, shape: Item, kind: STIX, layout: STIXBundle},
		{name: "STIX array", doc: `[` + stix + `]`, shape: Array, kind: STIX, layout: STIXArray},
		{name: "STIX object", doc: stix, shape: Item, kind: STIX, layout: STIXSingle},
		{name: "STIX lines", doc: stix + "\n" + stix + "\n", shape: Stream, kind: STIX, layout: STIXLines},
		{name: "MISP event", doc: `{"Event": {"info": "i", "Attribute": []}}`, shape: Item, kind: MISP, contexts: 1},
		{name: "MISP events", doc: `[{"Event": {"info": "a"}}, {"Event": {"info": "b"}}]`, shape: Array, kind: MISP, contexts: 2},
		{name: "MISP response", doc: `{"response": [{"Event": {"info": "a"}}]}`, shape: Item, kind: MISP, contexts: 1},
		{name: "OTX pulses", doc: `[{"name": "p", "indicators": []}, {"name": "q", "indicators": []}]`, shape: Array, kind: OTX, contexts: 2},
		{name: "OTX pulse", doc: `{"name": "p", "indicators": [{"indicator": "x"}]}`, shape: Item, kind: OTX, contexts: 1},
		{name: "OTX page", doc: `{"results": [{"name": "p", "indicators": []}]}`, shape: Item, kind: OTX, path: []string{"results"}, contexts: 1},
		{name: "empty", doc: "  ", wantErr: "empty JSON document"},
		{name: "scalar", doc: "42", wantErr: "must be an array or an object"},
	}
	for _, tt := range tests {
		var opts formats.Options
		if tt.items != "" {
			opts.JSONFields = map[string][]string{formats.JSONItems: {tt.items}}
		}
		d, err := Scan(strings.NewReader(tt.doc), opts)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: got error %v, want %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if d.Shape != tt.shape || d.Kind != tt.kind || d.STIXLayout != tt.layout || !slices.Equal(d.Items, tt.path) || len(d.Contexts) != tt.contexts {
			t.Errorf("%s: got shape %v kind %q layout %v items %v contexts %d; want %v %q %v %v %d",
				tt.name, d.Shape, d.Kind, d.STIXLayout, d.Items, len(d.Contexts), tt.shape, tt.kind, tt.layout, tt.path, tt.contexts)
		}
	}
}

func TestLineTracker(t *testing.T) {
	lt := newLineTracker(strings.NewReader("a\nbb\n\nccc\n"))
	buf := make([]byte, 3)
	for {
		if _, err := lt.Read(buf); err != nil {
			break
		}
	}
	for _, tt := range []struct {
		off  int64
		want int
	}{{0, 1}, {1, 1}, {2, 2}, {5, 3}, {6, 4}, {9, 4}, {10, 5}} {
		if got := lt.lineAt(tt.off); got != tt.want {
			t.Errorf("lineAt(%d): got %d, want %d", tt.off, got, tt.want)
		}
	}
}
