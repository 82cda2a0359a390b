package json

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/schemas"
)

// errFound stops a walk once it found what it looked for.
var errFound = errors.New("found")

// Describe implements formats.Describer: it judges the document from its
// head (HeadSize bytes), as far as the head goes.
func (rd *reader) Describe(d *formats.Description) error {
	head, whole, route := rd.src.Head, len(rd.src.Head) < formats.HeadSize, rd.opts
	d.Format = rd.format
	m := newJSONMapper(route)
	if d.Format == FormatJSONL {
		if looksSTIX(firstLine(head)) {
			d.Format, d.Shape = FormatSTIX, "STIX objects, one per line"
			stixMapping(d)
			return nil
		}
		d.Shape = "JSON Lines: one item per line"
		itemMapping(d, m, firstLine(head))
		return nil
	}
	meta, err := scanJSONRoute(bytes.NewReader(head), route)
	var le *layoutError
	if errors.As(err, &le) && whole {
		return err
	}
	if err != nil {
		if whole {
			return fmt.Errorf("invalid JSON, so nothing of the file would be sent: %w", err)
		}
		d.Truncated = true
	}
	switch {
	case meta.stix || d.Format == FormatSTIX:
		d.Format = FormatSTIX
		d.Shape = map[stixShape]string{stixBundle: "a STIX bundle", stixArray: "an array of STIX objects", stixSingle: "one STIX object", stixLines: "STIX objects, one per line"}[meta.stixShape]
		stixMapping(d)
		return nil
	case meta.shape == shapeStream:
		d.Format, d.Shape = FormatJSONL, "JSON Lines: one item per line"
		itemMapping(d, m, firstLine(head))
		return nil
	case meta.kind == kindPulses:
		d.Format = FormatOTX
		d.Shape = plural(len(meta.contexts), "OTX pulse") + ", each with its indicators"
		if d.Truncated {
			d.Shape = "OTX pulses, each with its indicators"
		}
		d.Inherited = []string{"notes ← the pulse's name", "source ← the pulse's author_name", tagRule(d, len(meta.contexts), "pulse")}
		itemMapping(d, m, firstOf(head, func(w *jsonWalk) error {
			pulse := func() error {
				_, err := w.object(func(k string) error {
					if k == "indicators" {
						return w.elements(func(int) error { return stopAt(w) })
					}
					_, err := skipValue(w.dec)
					return err
				})
				return err
			}
			switch {
			case len(meta.items) > 0:
				return w.at(meta.items, func() error { return w.elements(func(int) error { return pulse() }) })
			case meta.shape == shapeArray:
				return w.elements(func(int) error { return pulse() })
			}
			return pulse()
		}))
		return nil
	case meta.kind == kindMISP:
		d.Format = FormatMISP
		switch {
		case meta.mispAttributes:
			d.Shape = "a MISP attribute list"
		case d.Truncated:
			d.Shape = "MISP events"
		case len(meta.contexts) == 1:
			d.Shape = "a MISP event"
		default:
			d.Shape = plural(len(meta.contexts), "MISP event")
		}
		d.Shape += ": attributes and object attributes"
		d.Mapping = []formats.FieldMapping{
			{Field: formats.FieldValue, From: []string{"value, by type (composites such as filename|sha256 split; non-indicator parts go to notes)"}},
			{Field: formats.FieldFirstSeen, From: []string{"first_seen", "timestamp"}},
			{Field: formats.FieldLastSeen, From: []string{"last_seen", "Sighting[].date_sighting"}},
			{Field: formats.FieldSightings, From: []string{"Sighting[] of type 0"}},
			{Field: formats.FieldNotes, From: []string{"comment", "the object's name and other attributes"}},
			{Field: formats.FieldTags, From: []string{"Tag[].name"}},
		}
		d.Inherited = []string{"notes ← the event's info", "source ← the event's Orgc.name", tagRule(d, len(meta.contexts), "event"),
			"skipped: to_ids false, deleted, types that are no indicator"}
		return nil
	}
	switch {
	case len(meta.items) > 0:
		d.Shape = fmt.Sprintf("a wrapper object: the items are the array at %q", strings.Join(meta.items, "."))
		itemMapping(d, m, firstOf(head, func(w *jsonWalk) error {
			return w.at(meta.items, func() error { return w.elements(func(int) error { return stopAt(w) }) })
		}))
	case meta.shape == shapeSubmission:
		d.Shape = "a TruSTAR submission: the items of content, with its tags and enclaveIds as the file's"
		itemMapping(d, m, firstOf(head, func(w *jsonWalk) error {
			return w.at([]string{"content"}, func() error { return w.elements(func(int) error { return stopAt(w) }) })
		}))
	case meta.shape == shapeItem:
		d.Shape = "a single item"
		itemMapping(d, m, firstOf(head, stopAt))
	default:
		d.Shape = "an array of items"
		itemMapping(d, m, firstOf(head, func(w *jsonWalk) error { return w.elements(func(int) error { return stopAt(w) }) }))
	}
	return nil
}

func tagRule(d *formats.Description, n int, what string) string {
	if n == 1 {
		return "tags ← the " + what + "'s tags, as the file's tags"
	}
	return "tags ← each " + what + "'s tags, as its indicators' own tags (several " + what + "s in one file)"
}

func stixMapping(d *formats.Description) {
	d.Mapping = []formats.FieldMapping{
		{Field: formats.FieldValue, From: []string{"indicator patterns", "observables (SCOs)", "observed-data"}},
		{Field: formats.FieldFirstSeen, From: []string{"valid_from", "sightings"}},
		{Field: formats.FieldLastSeen, From: []string{"valid_until", "modified", "sightings"}},
		{Field: formats.FieldNotes, From: []string{"name", "description"}},
		{Field: formats.FieldTags, From: []string{"indicator_types", "labels"}},
		{Field: formats.FieldSource, From: []string{"created_by_ref identity name"}},
	}
}

// itemMapping describes the mapping of one JSON item.
func itemMapping(d *formats.Description, m *jsonMapper, raw []byte) {
	if len(raw) == 0 {
		return
	}
	v, err := decodeValue(raw)
	if err != nil {
		return
	}
	switch v.Kind {
	case schemas.String:
		d.Mapping = []formats.FieldMapping{{Field: formats.FieldValue, From: []string{"the item itself (a string)"}}}
	case schemas.Object:
		var sources []formats.FieldMapping
		m.fields(v, &sources)
		slices.SortStableFunc(sources, func(a, b formats.FieldMapping) int {
			return slices.Index(formats.Fields, a.Field) - slices.Index(formats.Fields, b.Field)
		})
		for _, fm := range sources {
			if n := len(d.Mapping); n > 0 && d.Mapping[n-1].Field == fm.Field {
				d.Mapping[n-1].From = append(d.Mapping[n-1].From, fm.From...)
				continue
			}
			d.Mapping = append(d.Mapping, fm)
		}
	}
}

// firstOf walks the head of a document with find, which stops at the
// item it looks for with stopAt, and returns that item.
func firstOf(head []byte, find func(w *jsonWalk) error) []byte {
	dec := json.NewDecoder(bytes.NewReader(head))
	dec.UseNumber()
	w := &jsonWalk{dec: dec}
	var found json.RawMessage
	w.found = &found
	find(w)
	return found
}

// stopAt reads the value that comes next as the item looked for, and
// stops the walk.
func stopAt(w *jsonWalk) error {
	raw, _, err := w.raw()
	if err != nil {
		return err
	}
	if w.found != nil {
		*w.found = raw
	}
	return errFound
}

func plural(n int, s string) string {
	if n == 1 {
		return "1 " + s
	}
	return strconv.Itoa(n) + " " + s + "s"
}
