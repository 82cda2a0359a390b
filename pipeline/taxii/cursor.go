package taxii

import (
	"cmp"
	"slices"
	"time"
)

// precision is the resolution of TAXII timestamps: the next poll asks
// from this long before a Cursor's bound, so that the bound is included.
const precision = time.Microsecond

// An ObjectVersion names one version of a STIX object: its id and its
// modified timestamp (else created; "" when it has neither), normalised
// to RFC 3339 in UTC.
type ObjectVersion struct {
	ID      string `json:"id"`
	Version string `json:"version,omitempty"`
}

// A Cursor is where a poll of a collection starts: after AddedAfter,
// leaving out what was delivered at that very instant. It is a value: a
// caller persists the Cursor of a page once that page, and every earlier
// one, has been delivered, and starts the next poll from it. It marshals
// to JSON as {"added_after": RFC 3339, "seen": [{"id","version"}]}.
//
// The zero Cursor starts from the beginning of the collection.
type Cursor struct {
	// AddedAfter is the bound: the X-TAXII-Date-Added-Last of the last
	// page delivered, or where to start (objects added after it). Zero
	// means from the start.
	AddedAfter time.Time `json:"added_after,omitzero"`
	// Seen are the object versions delivered that may have been added at
	// AddedAfter exactly. When Seen is empty, the next poll asks for
	// objects added after AddedAfter, as TAXII's added_after does; when
	// it is not, from one microsecond before, leaving Seen out — so
	// objects at the bound are neither lost nor delivered twice.
	Seen []ObjectVersion `json:"seen,omitempty"`
}

// StartAfter returns the Cursor of a first poll that reads the objects
// added after t (none added at t).
func StartAfter(t time.Time) Cursor { return Cursor{AddedAfter: t.UTC()} }

// addedAfter is the added_after a poll from c sends; zero means none.
func (c Cursor) addedAfter() time.Time {
	if c.AddedAfter.IsZero() || len(c.Seen) == 0 {
		return c.AddedAfter
	}
	return c.AddedAfter.Add(-precision)
}

// seen reports whether v is among c.Seen (which is sorted).
func (c Cursor) seen(v ObjectVersion) bool {
	_, ok := slices.BinarySearchFunc(c.Seen, v, compareVersions)
	return ok
}

// Advance returns the Cursor after p was delivered from c. A page that
// ends after c's bound moves the bound to its X-TAXII-Date-Added-Last,
// and Seen to its object versions (those it skipped included); a page that ends at c's bound adds its
// versions to Seen; an empty page, or one that ends before the bound (a
// server out of order), leaves c as it is.
func (c Cursor) Advance(p *Page) Cursor {
	last := p.DateAddedLast
	switch {
	case last.IsZero() || last.Before(c.AddedAfter):
		return c
	case last.After(c.AddedAfter):
		return Cursor{AddedAfter: last, Seen: versionSet(nil, p.Versions, p.skipped)}
	}
	return Cursor{AddedAfter: c.AddedAfter, Seen: versionSet(c.Seen, p.Versions)}
}

// versionSet returns the sorted union of sets, in a new slice.
func versionSet(sets ...[]ObjectVersion) []ObjectVersion {
	var out []ObjectVersion
	for _, s := range sets {
		out = append(out, s...)
	}
	slices.SortFunc(out, compareVersions)
	return slices.Compact(out)
}

func compareVersions(a, b ObjectVersion) int {
	return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Version, b.Version))
}
