package pipeline

import (
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/pipeline/normalize"
)

func (n *normalizer) indicator(f *fileState, r *Row, p *proto, t ioc.Type, canon, note string) *ioc.Indicator {
	ind := &ioc.Indicator{
		Value: canon, Type: t,
		FirstSeen: p.firstSeen, LastSeen: p.lastSeen, Sightings: p.sightings,
		Source: p.source, Notes: normalize.JoinNotes(p.notes, note),
		Reputation: p.reputation,
		Origin:     r.Origin,
		Sub:        p.sub,
	}
	if p.tags != nil {
		ind.Tags, ind.TagLevel = p.tags, ioc.LevelRow
	} else {
		ind.TagLevel = p.sub.TagLevel
	}
	return ind
}
