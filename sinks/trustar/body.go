package trustar

import (
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/sinks"
)

// Body encodes a submission as POST /api/1.3/indicators takes it: enclave
// UUIDs, one content row per indicator with its own tags when it has
// them, and the submission's tags at the top. Unknown timestamps and
// sightings (0) are left out, never sent as 0.
func Body(sub *ioc.Submission, items []*ioc.Indicator) []byte {
	n := 64
	for _, in := range items {
		n += 64 + len(in.Value) + len(in.Source) + len(in.Notes) + 80*len(in.Tags)
	}
	b := make([]byte, 0, n)
	b = append(b, `{"enclaveIds":[`...)
	for i, e := range sub.Enclaves {
		if i > 0 {
			b = append(b, ',')
		}
		b = sinks.AppendString(b, e)
	}
	b = append(b, `],"content":[`...)
	for i, in := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendIndicator(b, in)
	}
	b = append(b, ']')
	if len(sub.Tags) > 0 {
		b = append(b, `,"tags":`...)
		b = appendTags(b, sub.Tags)
	}
	return append(b, '}')
}

func appendIndicator(b []byte, in *ioc.Indicator) []byte {
	b = append(b, `{"value":`...)
	b = sinks.AppendString(b, in.Value)
	if in.FirstSeen > 0 {
		b = append(b, `,"firstSeen":`...)
		b = sinks.AppendInt(b, in.FirstSeen)
	}
	if in.LastSeen > 0 {
		b = append(b, `,"lastSeen":`...)
		b = sinks.AppendInt(b, in.LastSeen)
	}
	if in.Sightings > 0 {
		b = append(b, `,"sightings":`...)
		b = sinks.AppendInt(b, in.Sightings)
	}
	if in.Source != "" {
		b = append(b, `,"source":`...)
		b = sinks.AppendString(b, in.Source)
	}
	if in.Notes != "" {
		b = append(b, `,"notes":`...)
		b = sinks.AppendString(b, in.Notes)
	}
	if in.TagLevel == ioc.LevelRow && len(in.Tags) > 0 {
		b = append(b, `,"tags":`...)
		b = appendTags(b, in.Tags)
	}
	return append(b, '}')
}

func appendTags(b []byte, tags []ioc.Tag) []byte {
	b = append(b, '[')
	for i, t := range tags {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = sinks.AppendString(b, t.Name)
		b = append(b, `,"enclaveId":`...)
		b = sinks.AppendString(b, t.Enclave)
		b = append(b, '}')
	}
	return append(b, ']')
}

// Encoder returns the request bodies a batch becomes, split as Send would
// split it by size; validate --dump writes them.
func Encoder(b *ioc.Batch) [][]byte {
	var out [][]byte
	for items := b.Items; len(items) > 0; {
		n := min(len(items), MaxIndicators)
		out = append(out, Body(b.Sub, items[:n]))
		items = items[n:]
	}
	return out
}
