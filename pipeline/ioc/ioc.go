package ioc

import (
	"errors"
	"strconv"
	"strings"
)

// A Type is an indicator type. The zero Type is unknown: normalization
// detects it from the value.
type Type string

// The indicator types iocpipe knows. Detection yields the first eleven;
// the others need a type column.
const (
	IP          Type = "ip"
	IPv6        Type = "ipv6"
	CIDR        Type = "cidr"
	Domain      Type = "domain"
	URL         Type = "url"
	Email       Type = "email"
	MD5         Type = "md5"
	SHA1        Type = "sha1"
	SHA256      Type = "sha256"
	SHA512      Type = "sha512"
	CVE         Type = "cve"
	Bitcoin     Type = "btc"
	RegistryKey Type = "registry_key"
	Malware     Type = "malware"
	Software    Type = "software"
)

// Level is the precedence level a set of tags or enclaves came from. A
// higher level replaces the lower ones; it does not merge with them.
type Level uint8

// The precedence levels, lowest first.
const (
	LevelRoute Level = iota
	LevelFile
	LevelRow
)

func (l Level) String() string {
	switch l {
	case LevelFile:
		return "file"
	case LevelRow:
		return "row"
	}
	return "route"
}

// A Tag is a TruSTAR tag: a cleaned name and the UUID of the enclave it
// lives in.
type Tag struct {
	Name    string
	Enclave string
}

// An Origin says where a record came from, for reject reports, the ledger
// and per-file accounting.
type Origin struct {
	// File is the file as the user named it (or as found in a folder).
	File string
	// Line is the 1-based line where the row starts; 0 when unknown.
	Line int
	// Index is the 0-based position in a JSON array; -1 when not JSON.
	Index int
	// Ref is an object id within the file (a STIX id), when there is one.
	Ref string
	// Row is the 0-based sequence number of the row among the file's data
	// rows: stable across re-reads of the same file, so the ledger can
	// record acknowledged ranges of it.
	Row int
}

// Where returns a short human form of the origin: "file:line",
// "file[index]" or "file#id".
func (o Origin) Where() string {
	var b strings.Builder
	b.WriteString(o.File)
	switch {
	case o.Ref != "":
		b.WriteString("#" + o.Ref)
	case o.Line > 0:
		b.WriteString(":" + strconv.Itoa(o.Line))
	case o.Index >= 0:
		b.WriteString("[" + strconv.Itoa(o.Index) + "]")
	}
	return b.String()
}

// An Indicator is one normalized indicator, ready for a sink.
type Indicator struct {
	Value string
	Type  Type
	// FirstSeen and LastSeen are epoch milliseconds; 0 means unknown and is
	// left out of request bodies.
	FirstSeen, LastSeen int64
	// Sightings is the number of sightings; 0 means unknown.
	Sightings int64
	Source    string
	Notes     string
	// Tags are the indicator's own tags, set when they came from the row
	// itself (TagLevel LevelRow); otherwise nil, and the submission's tags
	// apply.
	Tags     []Tag
	TagLevel Level
	// Reputation is the ThreatWinds reputation (-3..3); nil means the
	// route's default.
	Reputation *int
	// Origin is where the indicator was first read.
	Origin Origin
	// Sub is the submission the indicator belongs in.
	Sub *Submission
	// Merged counts the duplicates merged into this indicator, and
	// MergedRows lists their data rows (Origin.Row of each).
	Merged     int
	MergedRows []int
}

// EachRow calls f for each data row this indicator carries: its own and
// those of the duplicates merged into it.
func (in *Indicator) EachRow(f func(int)) {
	f(in.Origin.Row)
	for _, r := range in.MergedRows {
		f(r)
	}
}

// An Association links two indicators (a STIX relationship). A sink that
// takes associations (ThreatWinds) receives them in batches of their own,
// only after every batch carrying indicators of the same file was
// acknowledged; other sinks count them as not applicable.
type Association struct {
	// From and To are the linked indicators, by canonical type and value.
	From, To Endpoint
	// Kind is the relationship type ("indicates", "related-to", ...).
	Kind   string
	Origin Origin
}

// Describe renders the association for a reject report.
func (a *Association) Describe() string {
	return string(a.From.Type) + " " + a.From.Value + " → " + string(a.To.Type) + " " + a.To.Value
}

// An Endpoint names an indicator by canonical type and value.
type Endpoint struct {
	Type  Type
	Value string
}

// A Submission is what must be equal for indicators to share one request:
// the sink's submission key.
type Submission struct {
	// Key identifies the submission: enclaves and submission tags.
	Key string
	// Enclaves are enclave UUIDs, in the order configured.
	Enclaves []string
	// Tags are the submission-level tags: the file's, else the route's.
	Tags     []Tag
	TagLevel Level
}

// A Batch is a set of indicators that share one submission: what a sink
// sends in one request (TruSTAR) or one burst of requests (ThreatWinds).
type Batch struct {
	// Seq numbers batches in the order they were closed, from 1.
	Seq int
	// Sub is the batch's submission: enclaves and submission-level tags.
	Sub *Submission
	// Items are the indicators, duplicates within a file merged.
	Items []*Indicator
	// Associations, in a batch of their own (Items empty), link
	// indicators that were all acknowledged before.
	Associations []*Association
}

// Split returns the two halves of b, for a sink that must send fewer
// indicators at once (a 413) or isolate a refused one.
func (b *Batch) Split() (*Batch, *Batch) {
	h := len(b.Items) / 2
	return &Batch{Seq: b.Seq, Sub: b.Sub, Items: b.Items[:h:h]}, &Batch{Seq: b.Seq, Sub: b.Sub, Items: b.Items[h:]}
}

// TagsOf returns the tags that apply to in: its own when it has them (row
// level), else the submission's.
func (b *Batch) TagsOf(in *Indicator) []Tag {
	if in.TagLevel == LevelRow {
		return in.Tags
	}
	return b.Sub.Tags
}

// ErrFatal marks sink errors that no retry can mend (bad credentials, a
// missing role): the run stops.
var ErrFatal = errors.New("fatal")

// Result is what a sink reports about one batch.
type Result struct {
	// Rejects are the batch items the sink refused for good, by index in
	// b.Items (in b.Associations for a batch of associations).
	Rejects []ItemReject
	// Failed are items that could not be delivered (retries ran out) while
	// others of the batch were; same indexing. When Send returns an error,
	// every item not in Rejects counts as failed anyway.
	Failed []ItemReject
	// IDs are identifiers the sink returned (trace ids, scan task ids).
	IDs []string
	// Requests counts the requests that carried data and were accepted.
	Requests int
	// Extra counts sink-specific outcomes for the summary (for example
	// "scans_new", "scans_existing", "associations").
	Extra map[string]int64
}

// An ItemReject is one batch item the sink refused.
type ItemReject struct {
	Index   int
	Reason  string
	Status  int
	ErrorID string
	TraceID string
}
