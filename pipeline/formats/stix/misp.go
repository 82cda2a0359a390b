package stix

import (
	"strings"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/formats/misp/misptype"
	"github.com/iocpipe/iocpipe/pipeline/normalize"
	"github.com/iocpipe/iocpipe/schemas"
)

// mispLabels are the machine tags MISP's STIX converter writes as an
// object's labels: misp:type="sha256", misp:category="Payload delivery",
// misp:to_ids="True". They steer the reading, as the attribute's own
// properties do in MISP JSON, and are no tags.
type mispLabels struct {
	typ, category, toIDs string
	// observed says the object is an observed-data with MISP's labels:
	// the converter writes the attributes whose to_ids is false so, and
	// without a misp:to_ids label.
	observed bool
}

// splitLabels takes the MISP converter's labels (every misp:key="value")
// out of obj's labels.
func splitLabels(obj schemas.Value) (mispLabels, schemas.Value) {
	var ml mispLabels
	labels := obj.Get("labels").Items()
	keep := make([]schemas.Value, 0, len(labels))
	for _, l := range labels {
		k, v, ok := strings.Cut(strings.TrimPrefix(l.Str, "misp:"), "=")
		if l.Kind != schemas.String || !strings.HasPrefix(l.Str, "misp:") || !ok {
			keep = append(keep, l)
			continue
		}
		v = strings.Trim(v, `"`)
		switch k {
		case "type":
			ml.typ = v
		case "category":
			ml.category = v
		case "to_ids":
			ml.toIDs = v
		}
	}
	if len(keep) == len(labels) {
		return ml, obj
	}
	ml.observed = obj.Get("type").Str == "observed-data"
	members := make([]schemas.Member, 0, len(obj.Members()))
	for _, m := range obj.Members() {
		if m.Key == "labels" {
			m.Val = schemas.ArrayValue(keep)
		}
		members = append(members, m)
	}
	return ml, schemas.ObjectValue(members)
}

// skip sets row's skip when the labels say the object is no indicator
// (its MISP type, a reference) or, by to_ids, is not read under opts.
func (ml mispLabels) skip(row *formats.Row, opts formats.Options) bool {
	if ml.typ != "" {
		if what := notIndicator(ml.typ); what != "" {
			row.Skip = misptype.NotIndicator(ml.typ, what)
			return true
		}
		if r := misptype.Reference(ml.category, ml.typ); r != "" {
			row.Skip = r
			return true
		}
	}
	switch {
	case ml.toIDs != "" && misptype.ToIDsSkip(misptype.Truth(ml.toIDs, true), opts) != "":
		row.Skip, row.SkipKey = misptype.ToIDsReason, formats.SkipMISPToIDs
		return true
	case ml.toIDs == "" && ml.observed && misptype.ToIDsSkip(false, opts) != "":
		row.Skip, row.SkipKey = observedToIDs, formats.SkipMISPToIDs
		return true
	}
	return false
}

// observedToIDs is the skip reason of an observed-data that MISP's
// converter wrote: an attribute whose to_ids is false.
const observedToIDs = "to_ids is false: MISP's converter writes such attributes as observed-data (misp_to_ids: any imports it)"

// notIndicator says what a MISP type is when none of its parts is an
// indicator; empty when one is.
func notIndicator(typ string) string {
	what := ""
	for part := range strings.SplitSeq(typ, "|") {
		t, w, _ := misptype.Resolve(part)
		if t != "" {
			return ""
		}
		if what == "" {
			what = w
		}
	}
	return what
}

// addNotes appends notes to the notes of an Object Value of fields.
func addNotes(fields schemas.Value, notes string) schemas.Value {
	members := fields.Members()
	out := make([]schemas.Member, 0, len(members)+1)
	found := false
	for _, m := range members {
		if m.Key == formats.FieldNotes {
			m.Val, found = schemas.StringValue(normalize.JoinNotes(m.Val.Str, notes)), true
		}
		out = append(out, m)
	}
	if !found {
		out = append(out, schemas.Member{Key: formats.FieldNotes, Val: schemas.StringValue(notes)})
	}
	return schemas.ObjectValue(out)
}
