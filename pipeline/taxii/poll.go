package taxii

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// A Page is one answer of the objects endpoint: a unit of input the
// caller delivers and acknowledges before it persists Cursor.
type Page struct {
	// Collection is the collection polled.
	Collection Collection
	// Number counts the pages of the poll from 1.
	Number int
	// Objects are the page's STIX objects, as the server sent them, less
	// those the cursor says were delivered already.
	Objects []json.RawMessage
	// Versions are Objects' ids and versions, in the same order.
	Versions []ObjectVersion
	// Skipped counts the objects of the page left out as delivered
	// already (at the cursor's bound).
	Skipped int
	// DateAddedFirst and DateAddedLast are the page's
	// X-TAXII-Date-Added-First and X-TAXII-Date-Added-Last.
	DateAddedFirst, DateAddedLast time.Time
	// More is the envelope's more: the server has objects after this page.
	More bool
	// Cursor is where the next poll starts once this page and every
	// earlier one of the poll are delivered (the poll's Cursor advanced
	// by each page in turn).
	Cursor Cursor

	skipped []ObjectVersion // the versions Skipped counts
}

// DateAddedRange is the page's date_added range as
// "first/last" in RFC 3339 with microseconds, for origins in reports.
func (p *Page) DateAddedRange() string {
	return formatTime(p.DateAddedFirst) + "/" + formatTime(p.DateAddedLast)
}

// formatTime formats t as TAXII's timestamps: UTC, microseconds.
func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000Z")
}

// envelope is the TAXII 2.1 envelope resource.
type envelope struct {
	More    bool              `json:"more"`
	Next    string            `json:"next"`
	Objects []json.RawMessage `json:"objects"`
}

// stixHead is what the client reads of each object: its identity.
type stixHead struct {
	ID       string `json:"id"`
	Created  string `json:"created"`
	Modified string `json:"modified"`
}

// versionOf returns an object's id and version.
func versionOf(raw json.RawMessage) (ObjectVersion, error) {
	var h stixHead
	if err := json.Unmarshal(raw, &h); err != nil {
		return ObjectVersion{}, err
	}
	if h.ID == "" {
		return ObjectVersion{}, fmt.Errorf("a STIX object without an id: %.100s", raw)
	}
	v := ObjectVersion{ID: h.ID}
	for _, s := range []string{h.Modified, h.Created} {
		if s == "" {
			continue
		}
		v.Version = s
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			v.Version = t.UTC().Format(time.RFC3339Nano)
		}
		break
	}
	return v, nil
}

// Poll reads col from cur to the end of the collection, yielding in
// order each page that delivers objects or moves the cursor (a page of
// objects all delivered already, at the bound, may do either); after an
// error it yields (nil, err) and stops. The caller delivers each Page and persists its Cursor; a
// poll stopped early (the caller breaks, ctx is done) resumes from the
// last Cursor persisted. A server that misbehaves in a way that would
// make a poll loop ends it with a WARN, not an error.
func (c *Client) Poll(ctx context.Context, col Collection, cur Cursor) iter.Seq2[*Page, error] {
	return func(yield func(*Page, error) bool) {
		p := poller{c: c, col: col, cur: cur, nexts: map[string]bool{}}
		for {
			page, more, err := p.next(ctx)
			if err != nil {
				yield(nil, fmt.Errorf("taxii poll of collection %s at %s: %w", col, redacted(col.APIRoot), err))
				return
			}
			if page != nil && !yield(page, nil) {
				return
			}
			if !more {
				return
			}
		}
	}
}

// A poller is the state of one poll.
type poller struct {
	c         *Client
	col       Collection
	cur       Cursor          // advanced by every page read
	since     time.Time       // the poll's added_after; reset only when paging without next
	nextToken string          // the next to send; "" for the first request
	nexts     map[string]bool // every next the server gave
	n         int
	prev      signature // the previous page's, to tell a page served again
	began     bool
}

// warn logs that the poll ends early because the server misbehaves.
func (p *poller) warn(msg string, args ...any) {
	p.c.log.Warn(msg, append([]any{"collection", p.col.ID, "title", p.col.Title, "api_root", redacted(p.col.APIRoot), "page", p.n}, args...)...)
}

// next reads one page, returning it (nil when it holds no object) and
// whether to read another.
func (p *poller) next(ctx context.Context) (*Page, bool, error) {
	if !p.began {
		p.began, p.since = true, p.cur.addedAfter()
	}
	u := p.url()
	var env envelope
	h, err := p.c.get(ctx, u, &env)
	if err != nil {
		return nil, false, err
	}
	p.n++
	if len(env.Objects) == 0 {
		if env.More {
			p.warn("the TAXII server answered more:true with no objects: the poll ends here; the next one resumes from the cursor")
		}
		return nil, false, nil
	}
	if env.More && env.Next != "" && p.nexts[env.Next] {
		p.warn("the TAXII server answered the same next twice: the poll ends here; the next one resumes from the cursor", "next", env.Next)
		return nil, false, nil
	}
	page := &Page{Collection: p.col, Number: p.n, More: env.More}
	if page.DateAddedFirst, page.DateAddedLast, err = dateAdded(h, u, len(env.Objects)); err != nil {
		return nil, false, err
	}
	for i, raw := range env.Objects {
		v, err := versionOf(raw)
		if err != nil {
			return nil, false, fmt.Errorf("GET %s: object %d: %w", redacted(u), i, err)
		}
		if !p.cur.AddedAfter.IsZero() && page.DateAddedFirst.Compare(p.cur.AddedAfter) <= 0 && p.cur.seen(v) {
			page.Skipped++
			page.skipped = append(page.skipped, v)
			continue
		}
		page.Objects = append(page.Objects, raw)
		page.Versions = append(page.Versions, v)
	}
	if page.DateAddedLast.Before(p.cur.AddedAfter) {
		p.warn("the TAXII server answered a page that ends before the cursor (X-TAXII-Date-Added-Last out of order): the cursor stays", "date_added_last", formatTime(page.DateAddedLast), "cursor", formatTime(p.cur.AddedAfter))
	}
	sig := signatureOf(page, env.Objects)
	again := p.n > 1 && sig == p.prev
	before := p.cur
	page.Cursor = before.Advance(page)
	p.cur, p.prev = page.Cursor, sig
	// A page is yielded when it delivers something or moves the cursor.
	if len(page.Objects) == 0 && !page.Cursor.AddedAfter.After(before.AddedAfter) {
		page = nil
	}
	switch {
	case again:
		p.warn("the TAXII server answered the same page again: the poll ends here; the next one resumes from the cursor")
		return page, false, nil
	case !env.More:
		return page, false, nil
	case env.Next == "":
		// Paging by added_after alone, as TAXII 2.1 allows: from the
		// cursor, which must move.
		if page == nil {
			p.warn("the TAXII server gives no next and the cursor does not move: the poll ends here")
			return nil, false, nil
		}
		p.since = p.cur.addedAfter()
	default:
		p.nexts[env.Next] = true
		p.nextToken = env.Next
	}
	return page, true, nil
}

// url is the objects URL of the next request: added_after, limit and
// next as the poll stands.
func (p *poller) url() string {
	q := url.Values{}
	if !p.since.IsZero() {
		q.Set("added_after", formatTime(p.since))
	}
	if p.c.opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.c.opts.Limit))
	}
	if p.nextToken != "" {
		q.Set("next", p.nextToken)
	}
	u := p.col.objectsURL()
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// dateAdded reads a page's X-TAXII-Date-Added-First and -Last headers
// (the page of n objects fetched from u), without which no poll can
// resume from it.
func dateAdded(h http.Header, u string, n int) (first, last time.Time, err error) {
	var ts [2]time.Time
	for i, name := range []string{"X-TAXII-Date-Added-First", "X-TAXII-Date-Added-Last"} {
		s := h.Get(name)
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return first, last, fmt.Errorf("GET %s: %w: a page of %d objects without a valid %s header (%q): the poll cannot resume from it", redacted(u), ErrMediaType, n, name, s)
		}
		ts[i] = t.UTC()
	}
	return ts[0], ts[1], nil
}

// A signature tells a page served again from the next one: its
// date_added range, size, and first and last objects.
type signature struct {
	first, last time.Time
	n           int
	a, b        string
}

func signatureOf(page *Page, raw []json.RawMessage) signature {
	return signature{page.DateAddedFirst, page.DateAddedLast, len(raw), string(raw[0]), string(raw[len(raw)-1])}
}
