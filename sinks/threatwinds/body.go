package threatwinds

import (
	"hash/maphash"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/sinks"
)

// settings are the parts of a Config that decide request bodies, with
// defaults filled: what Send and Encoder share.
type settings struct {
	kind       string
	reputation int
	comments   bool
	webhook    *Webhook
}

func settingsOf(cfg Config) settings {
	s := settings{kind: cfg.Kind, reputation: DefaultReputation, comments: cfg.Comments, webhook: cfg.Webhook}
	if s.kind == "" {
		s.kind = KindEntities
	}
	if cfg.Reputation != nil {
		s.reputation = *cfg.Reputation
	}
	return s
}

// An op is the request planned for one batch item, or why there is none.
type op struct {
	index  int
	reject string // set when the item is not sent
	path   string // endpoint under BasePath
	body   []byte
	ent    entity // entities: the entity posted
	sum    uint64 // entities: a hash of body, to tell a correction
	// comment is the body of the comment to post once the entity is
	// acknowledged; nil when none. commentKey identifies it.
	comment    []byte
	commentKey commentKey
}

// A commentKey identifies a comment in the dedup set: the entity and a
// hash of the text.
type commentKey struct {
	ent   entityKey
	notes uint64
}

var hashSeed = maphash.MakeSeed()

// planItem plans the request for b.Items[i].
func (s *settings) planItem(b *ioc.Batch, i int) op {
	in := b.Items[i]
	o := op{index: i}
	if s.kind == KindScan {
		var et string
		switch in.Type {
		case ioc.IP, ioc.IPv6:
			et = "ip"
		case ioc.Domain:
			et = "hostname"
		default:
			t := string(in.Type)
			if t == "" {
				t = "value of unknown type"
			}
			o.reject = "scan targets must be an IP address or host name, not a " + t
			return o
		}
		v, err := Normalize(et, in.Value)
		if err != nil {
			o.reject = "not a valid scan target: " + err.Error()
			return o
		}
		o.path, o.body = "/scan", appendScan(nil, v, s.webhook)
		return o
	}
	ent, err := resolve(in.Type, in.Value)
	if err != nil {
		o.reject = err.Error()
		return o
	}
	o.ent = ent
	if s.kind == KindWellKnown {
		o.path, o.body = "/well-known", appendWellKnown(nil, ent)
		return o
	}
	rep := s.reputation
	if in.Reputation != nil {
		rep = *in.Reputation
	}
	o.path, o.body = "/entity", appendEntity(nil, ent, rep, tagsOf(b, in))
	o.sum = maphash.Bytes(hashSeed, o.body)
	if s.comments && in.Notes != "" {
		o.comment = appendComment(nil, ent.id, in.Notes)
		o.commentKey = commentKey{ent.key, maphash.String(hashSeed, in.Notes)}
	}
	return o
}

// planAssociation plans the request for b.Associations[i].
func (s *settings) planAssociation(b *ioc.Batch, i int) op {
	a := b.Associations[i]
	o := op{index: i}
	if s.kind == KindScan {
		o.reject = "associations are not sent on a scan route: scans create no entities to link"
		return o
	}
	from, err := resolve(a.From.Type, a.From.Value)
	if err != nil {
		o.reject = "cannot link from " + a.From.Value + ": " + err.Error()
		return o
	}
	to, err := resolve(a.To.Type, a.To.Value)
	if err != nil {
		o.reject = "cannot link to " + a.To.Value + ": " + err.Error()
		return o
	}
	o.path, o.body = "/association", appendAssociation(nil, from.id, to.id)
	return o
}

// tagsOf is b.TagsOf, tolerating a batch without a submission.
func tagsOf(b *ioc.Batch, in *ioc.Indicator) []ioc.Tag {
	if in.TagLevel != ioc.LevelRow && b.Sub == nil {
		return nil
	}
	return b.TagsOf(in)
}

// appendEntity appends a POST /entity body. visibleBy and correlate are
// left out: the API defaults visibleBy to the user's groups, and an empty
// list could hide the entity.
func appendEntity(b []byte, e entity, reputation int, tags []ioc.Tag) []byte {
	b = appendTypeAttrs(b, e)
	b = append(b, `,"reputation":`...)
	b = sinks.AppendInt(b, int64(reputation))
	b = append(b, `,"tags":[`...)
	for i, t := range tags {
		if t.Name == "" || seenName(tags[:i], t.Name) {
			continue
		}
		if b[len(b)-1] != '[' {
			b = append(b, ',')
		}
		b = sinks.AppendString(b, t.Name)
	}
	return append(b, "]}"...)
}

func seenName(tags []ioc.Tag, name string) bool {
	for _, t := range tags {
		if t.Name == name {
			return true
		}
	}
	return false
}

// appendWellKnown appends a POST /well-known body.
func appendWellKnown(b []byte, e entity) []byte {
	return append(appendTypeAttrs(b, e), '}')
}

// appendTypeAttrs appends `{"type":T,"attributes":{T:value}`, unclosed.
func appendTypeAttrs(b []byte, e entity) []byte {
	b = append(b, `{"type":`...)
	b = sinks.AppendString(b, e.typ)
	b = append(b, `,"attributes":{`...)
	b = sinks.AppendString(b, e.typ)
	b = append(b, ':')
	b = sinks.AppendString(b, e.value)
	return append(b, '}')
}

// appendComment appends a POST /comment body.
func appendComment(b []byte, entityID, comment string) []byte {
	b = append(b, `{"entityID":`...)
	b = sinks.AppendString(b, entityID)
	b = append(b, `,"comment":`...)
	b = sinks.AppendString(b, comment)
	return append(b, '}')
}

// appendAssociation appends a POST /association body.
func appendAssociation(b []byte, from, to string) []byte {
	b = append(b, `{"entityID":`...)
	b = sinks.AppendString(b, from)
	b = append(b, `,"relatedEntityID":`...)
	b = sinks.AppendString(b, to)
	return append(b, '}')
}

// appendScan appends a POST /scan body, with the webhook when there is one.
func appendScan(b []byte, target string, wh *Webhook) []byte {
	b = append(b, `{"target":`...)
	b = sinks.AppendString(b, target)
	if wh != nil {
		b = append(b, `,"webhook":{"url":`...)
		b = sinks.AppendString(b, wh.URL)
		if len(wh.Headers) > 0 {
			b = append(b, `,"headers":[`...)
			for i, h := range wh.Headers {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"key":`...)
				b = sinks.AppendString(b, h.Key)
				b = append(b, `,"value":`...)
				b = sinks.AppendString(b, h.Value)
				b = append(b, '}')
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// Encoder returns a function that gives the request bodies Send would post
// for a batch with a fresh Client of cfg, one per request, in the order a
// Client with InFlight 1 posts them: for each item its entity (or
// well-known entity, or scan), then its comment; for a batch of
// associations, one body per association. Items Send would reject are
// left out, and so are entities repeated within the batch with the same
// body as their last post, and comments repeated within the batch, which
// Send deduplicates. cfg is not validated; an empty Kind means entities.
func Encoder(cfg Config) func(*ioc.Batch) [][]byte {
	s := settingsOf(cfg)
	return func(b *ioc.Batch) [][]byte {
		var out [][]byte
		if len(b.Items) == 0 {
			for i := range b.Associations {
				if o := s.planAssociation(b, i); o.reject == "" {
					out = append(out, o.body)
				}
			}
			return out
		}
		entities := map[entityKey]uint64{} // the hash of the last body
		comments := map[commentKey]bool{}
		for i := range b.Items {
			o := s.planItem(b, i)
			if o.reject != "" {
				continue
			}
			if o.path == "/entity" {
				if last, ok := entities[o.ent.key]; !ok || last != o.sum {
					entities[o.ent.key] = o.sum
					out = append(out, o.body)
				}
				if o.comment != nil && !comments[o.commentKey] {
					comments[o.commentKey] = true
					out = append(out, o.comment)
				}
				continue
			}
			out = append(out, o.body)
		}
		return out
	}
}
