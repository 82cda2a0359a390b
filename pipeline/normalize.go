package pipeline

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/pipeline/normalize"
	"github.com/iocpipe/iocpipe/schemas"
)

// submissions builds and caches the Submission of each enclave set for one
// file: the file's (or route's) tags resolved against those enclaves.
type submissions struct {
	route    *Route
	tags     []formats.Tag
	tagLevel ioc.Level

	mu    sync.Mutex
	cache map[string]*ioc.Submission
}

// get returns the submission for enclaves (UUIDs), building it once.
func (s *submissions) get(enclaves []string) (*ioc.Submission, error) {
	key := strings.Join(enclaves, ",")
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub, ok := s.cache[key]; ok {
		return sub, nil
	}
	tags, err := resolveTags(s.route, s.tags, enclaves)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString(key)
	b.WriteByte('|')
	for _, t := range tags {
		b.WriteString(t.Name + "@" + t.Enclave + ";")
	}
	sub := &ioc.Submission{Key: b.String(), Enclaves: enclaves, Tags: tags, TagLevel: s.tagLevel}
	if s.cache == nil {
		s.cache = map[string]*ioc.Submission{}
	}
	s.cache[key] = sub
	return sub, nil
}

// resolveTags cleans tag names and binds each tag to an enclave: its own
// when given (it must be one of the submission's), else the first.
func resolveTags(r *Route, raw []formats.Tag, enclaves []string) ([]ioc.Tag, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	out := make([]ioc.Tag, 0, len(raw))
	for _, t := range raw {
		name := normalize.CleanTag(t.Name)
		if name == "" {
			continue // nothing usable is left of it, e.g. "!!!"
		}
		enc := ""
		if len(enclaves) > 0 {
			enc = enclaves[0]
		}
		// Sinks without enclaves (ThreatWinds) take tags as plain names.
		if t.Enclave != "" && len(enclaves) > 0 {
			id, err := r.ResolveEnclave(t.Enclave)
			if err != nil {
				return nil, fmt.Errorf("tag %q: %w", t.Name, err)
			}
			if !contains(enclaves, id) {
				return nil, fmt.Errorf("tag %q is in enclave %s, which is not among the submission's enclaves (%s)", t.Name, id, strings.Join(enclaves, ", "))
			}
			enc = id
		}
		// A linear search: a row has a handful of tags, and a map per row
		// costs more than it saves (tags are capped by the row schema).
		if tag := (ioc.Tag{Name: name, Enclave: enc}); !slices.Contains(out, tag) {
			out = append(out, tag)
		}
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// A normalizer turns validated rows into indicators. Each worker has its
// own: the tag cache is not shared.
type normalizer struct {
	route *Route
	// names caches what each tag name of a tags string cleans to ("" for
	// nothing usable): feeds repeat a small vocabulary of names in many
	// combinations and orders.
	names map[string]string
}

func newNormalizer(r *Route) *normalizer {
	return &normalizer{route: r, names: map[string]string{}}
}

// row normalizes r, read from f: it fills r.inds, or r.rejects.
func (n *normalizer) row(f *fileState, r *Row) {
	if r.skip != "" || len(r.rejects) > 0 {
		return
	}
	if err := n.fill(f, r); err != nil {
		var fe *ioc.FieldError
		if errors.As(err, &fe) {
			r.rejects = append(r.rejects, ioc.NewReject(r.Origin, fe.Field, fe.Value, fe.Err.Error()))
		} else {
			r.rejects = append(r.rejects, ioc.NewReject(r.Origin, "", "", err.Error()))
		}
		r.inds = nil
		r.rowRejected = true
		return
	}
	n.warn(r)
}

// warn takes the row's indicators that are on a warninglist out of it:
// the row is skipped when they all are, else each is reported skipped.
func (n *normalizer) warn(r *Row) {
	if n.route.Warninglists == nil || len(r.inds) == 0 {
		return
	}
	keep := r.inds[:0]
	var warned []ioc.Reject
	for _, in := range r.inds {
		l, ok := n.route.Warninglists.Match(in.Type, in.Value)
		if !ok {
			keep = append(keep, in)
			continue
		}
		rej := ioc.NewReject(in.Origin, formats.FieldValue, in.Value, fmt.Sprintf("on the warninglist %q: not sent", l.Name))
		rej.Skipped = true
		warned = append(warned, rej)
	}
	r.inds = keep
	switch {
	case len(warned) == 0:
	case len(keep) == 0 && len(r.rejects) == 0:
		r.skip, r.skipKey = warned[0].Reason, SkipWarninglists
	default:
		r.warned = warned
	}
}

// proto holds the row-level attributes shared by every value of a row.
type proto struct {
	typ                 ioc.Type
	firstSeen, lastSeen int64
	sightings           int64
	source, notes       string
	tags                []ioc.Tag
	reputation          *int
	sub                 *ioc.Submission
}

func (n *normalizer) fill(f *fileState, r *Row) error {
	if f.subs.baseErr != nil {
		return f.subs.baseErr
	}
	p := proto{source: n.route.Source, sub: f.subs.base}
	if err := n.enclaves(f, r, &p); err != nil {
		return err
	}
	if v := r.Get(formats.FieldType); v.Kind == schemas.String {
		if name := normalize.CleanText(v.Str); name != "" && !normalize.IsMissing(name) {
			t, what, ok := normalize.LookupType(name)
			switch {
			case !ok:
				return &ioc.FieldError{Field: formats.FieldType, Value: name, Err: errors.New("unknown indicator type")}
			case what != "":
				r.skip = fmt.Sprintf("type %q is %s, not an indicator", name, what)
				return nil
			}
			p.typ = t
		}
	}
	if err := times(r, &p); err != nil {
		return err
	}
	if err := n.context(r, &p); err != nil {
		return err
	}
	if p.reputation == nil {
		p.reputation = n.route.Reputation
	}
	r.sub = p.sub
	n.values(f, r, &p)
	return nil
}

// enclaves sets the submission of a row that names its own enclaves.
func (n *normalizer) enclaves(f *fileState, r *Row, p *proto) error {
	v := r.Get(formats.FieldEnclaves)
	if v.Kind == schemas.Missing {
		return nil
	}
	var ids []string
	for _, name := range formats.List(v) {
		id, err := n.route.ResolveEnclave(name)
		if err != nil {
			return &ioc.FieldError{Field: formats.FieldEnclaves, Value: name, Err: err}
		}
		if !contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) > 0 {
		sub, err := f.subs.get(ids)
		if err != nil {
			return &ioc.FieldError{Field: formats.FieldEnclaves, Value: formats.Display(v), Err: err}
		}
		p.sub = sub
	}
	return nil
}

// times reads first_seen and last_seen, in order.
func times(r *Row, p *proto) error {
	var err error
	if p.firstSeen, err = timeField(r, formats.FieldFirstSeen); err != nil {
		return err
	}
	if p.lastSeen, err = timeField(r, formats.FieldLastSeen); err != nil {
		return err
	}
	if p.firstSeen != 0 && p.lastSeen != 0 && p.firstSeen > p.lastSeen {
		return &ioc.FieldError{Field: formats.FieldLastSeen, Value: formats.Display(r.Get(formats.FieldLastSeen)), Err: fmt.Errorf("is before first_seen (%s)", formats.Display(r.Get(formats.FieldFirstSeen)))}
	}
	return nil
}

// context reads what the row says about its indicators: sightings,
// source, notes, tags and reputation.
func (n *normalizer) context(r *Row, p *proto) error {
	var err error
	if v := r.Get(formats.FieldSightings); v.Kind != schemas.Missing {
		s := strings.TrimSpace(v.Str)
		if s != "" && !normalize.IsMissing(s) {
			if p.sightings, err = wholeNumber(s); err != nil || p.sightings < 0 {
				return &ioc.FieldError{Field: formats.FieldSightings, Value: s, Err: errors.New("must be a whole number of sightings")}
			}
		}
	}
	if v := r.Get(formats.FieldSource); v.Kind == schemas.String {
		if s := normalize.CleanText(v.Str); s != "" && !normalize.IsMissing(s) {
			p.source = s
		}
	}
	if v := r.Get(formats.FieldNotes); v.Kind == schemas.String {
		if s := normalize.CleanText(v.Str); !normalize.IsMissing(s) {
			p.notes = s
		}
	}
	if v := r.Get(formats.FieldTags); v.Kind != schemas.Missing {
		if p.tags, err = n.tags(v, p.sub); err != nil {
			return &ioc.FieldError{Field: formats.FieldTags, Value: formats.Display(v), Err: err}
		}
	}
	if v := r.Get(formats.FieldReputation); v.Kind != schemas.Missing {
		if s := strings.TrimSpace(v.Str); s != "" && !normalize.IsMissing(s) {
			rep, err := strconv.Atoi(strings.TrimPrefix(s, "+"))
			if err != nil || rep < -3 || rep > 3 {
				return &ioc.FieldError{Field: formats.FieldReputation, Value: s, Err: errors.New("must be a whole number from -3 to 3")}
			}
			p.reputation = &rep
		}
	}
	return nil
}

// values makes one indicator per value of the row; a bad value is rejected
// alone, and the row's other values go on. A value that is no indicator
// as a whole may be a list ("1.2.3.4|5.6.7.8"): it is split when every
// piece is an indicator. A row whose only value is no indicator (a file
// name under the type "file") is skipped with the reason.
func (n *normalizer) values(f *fileState, r *Row, p *proto) {
	raw := r.Get(formats.FieldValue).Str
	multi := strings.Contains(raw, formats.MultiSep)
	notInd := ""
	rejects := len(r.rejects)
	for part := range strings.SplitSeq(raw, formats.MultiSep) {
		declared := p.typ
		if hint, rest, ok := strings.Cut(part, formats.TypeHintSep); ok && normalize.IsHint(ioc.Type(hint)) {
			declared, part = ioc.Type(hint), rest
		}
		v := normalize.Refang(normalize.CleanText(part))
		if v == "" || normalize.IsMissing(v) {
			if !multi {
				r.rejects = append(r.rejects, ioc.NewReject(r.Origin, formats.FieldValue, part, "is empty"))
			}
			continue
		}
		if !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl) {
			r.rejects = append(r.rejects, ioc.NewReject(r.Origin, formats.FieldValue, part, "holds bytes that are not text (invalid UTF-8 or control characters): is the file in another encoding? Save it as UTF-8"))
			continue
		}
		t, canon, note, err := normalize.Value(declared, v)
		if err != nil {
			if pieces := normalize.Split(declared, v); pieces != nil {
				for _, pc := range pieces {
					r.inds = append(r.inds, n.indicator(f, r, p, pc.Type, pc.Canon, pc.Note))
				}
				continue
			}
			var ni *normalize.NotIndicatorError
			if errors.As(err, &ni) && !multi {
				notInd = ni.Error()
				continue
			}
			reason := err.Error()
			if declared != "" && declared != normalize.FileType {
				reason = fmt.Sprintf("declared %s: %s", declared, reason)
			}
			r.rejects = append(r.rejects, ioc.NewReject(r.Origin, formats.FieldValue, part, reason))
			continue
		}
		r.inds = append(r.inds, n.indicator(f, r, p, t, canon, note))
	}
	switch {
	case len(r.inds) > 0 || len(r.rejects) > rejects:
	case notInd != "":
		r.skip = notInd
	default:
		r.rejects = append(r.rejects, ioc.NewReject(r.Origin, formats.FieldValue, "", "no indicator value: every value column is empty"))
	}
}

func (n *normalizer) tags(v schemas.Value, sub *ioc.Submission) ([]ioc.Tag, error) {
	if v.Kind == schemas.String {
		return n.tagNames(v.Str, sub), nil
	}
	t, err := resolveTags(n.route, formats.Tags(v), sub.Enclaves)
	if t == nil && err == nil {
		t = []ioc.Tag{}
	}
	return t, err
}

// tagNames resolves a tags string: names split as formats.List splits
// them, each cleaned as resolveTags cleans it, in the submission's first
// enclave, without duplicates. A string that cleans to nothing still sets
// the row level (an empty, non-nil list).
func (n *normalizer) tagNames(s string, sub *ioc.Submission) []ioc.Tag {
	enc := ""
	if len(sub.Enclaves) > 0 {
		enc = sub.Enclaves[0]
	}
	out := make([]ioc.Tag, 0, 4)
	for piece := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ';' || r == '|' || r == ',' }) {
		name, ok := n.names[piece]
		if !ok {
			if c := normalize.CleanText(piece); c != "" && !normalize.IsMissing(c) {
				name = normalize.CleanTag(c)
			}
			if len(n.names) >= 4096 {
				clear(n.names)
			}
			n.names[piece] = name
		}
		if tag := (ioc.Tag{Name: name, Enclave: enc}); name != "" && !slices.Contains(out, tag) {
			out = append(out, tag)
		}
	}
	return out
}

// wholeNumber parses an integer written as JSON may write it: 12, 12.0
// or 1.2e1.
func wholeNumber(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, errors.New("not a whole number")
	}
	return int64(f), nil
}

func timeField(r *Row, name string) (int64, error) {
	v := r.Get(name)
	if v.Kind == schemas.Missing || normalize.IsMissing(strings.TrimSpace(v.Str)) {
		return 0, nil
	}
	ms, err := normalize.ParseTime(v.Str)
	if err != nil {
		return 0, &ioc.FieldError{Field: name, Value: v.Str, Err: err}
	}
	return ms, nil
}

// isMissing reports the spellings feeds use for "no value".
