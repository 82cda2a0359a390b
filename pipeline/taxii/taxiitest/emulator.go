package taxiitest

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iocpipe/iocpipe/sinks/faults"
)

// Media types and paths of the emulator.
const (
	// MediaType is the TAXII 2.1 media type of every answer.
	MediaType = "application/taxii+json;version=2.1"
	// STIXMediaType is the media type the collections hold.
	STIXMediaType = "application/stix+json;version=2.1"
	// DiscoveryPath is the discovery endpoint.
	DiscoveryPath = "/taxii2/"
	// APIRootPath is the one API root's path, listed by discovery.
	APIRootPath = "/taxii2/api1/"
	// controlPrefix is the unauthenticated control endpoints' prefix.
	controlPrefix = "/_emulator/taxii/"
)

// The default collections' ids and titles.
const (
	DemoCollectionID    = "9f2c6d3e-1b7a-4c55-8e0d-3a61f2b4c7d8"
	DemoTitle           = "Demo indicators"
	ScratchCollectionID = "5b0e8f41-2d6c-4a93-b7e1-0c48d9a2f6e3"
	ScratchTitle        = "scratch"
	LockedCollectionID  = "c3d7a1f0-6e2b-4f84-9a5c-71e0b8d4e2a9"
	LockedTitle         = "Locked"
)

// Defaults of Options.
const (
	// DefaultPageSize is the most objects a page holds when
	// Options.PageSize is zero.
	DefaultPageSize = 100
	// DefaultDemoObjects is how many indicators the demo collection holds
	// when Options.DemoObjects is zero.
	DefaultDemoObjects = 40
	// MaxContentLength is the largest request body accepted (the API
	// root's max_content_length); a larger one is answered 413.
	MaxContentLength = 16 << 20
)

// A Collection is one collection of the API root, as its resource
// describes it.
type Collection struct {
	ID          string
	Title       string
	Description string
	Alias       string
	CanRead     bool
	CanWrite    bool
	// MediaTypes are the collection's media types; nil means
	// STIXMediaType.
	MediaTypes []string
}

// DefaultCollections returns the demo, scratch and locked collections.
func DefaultCollections() []Collection {
	return []Collection{
		{ID: DemoCollectionID, Title: DemoTitle, Alias: "demo", CanRead: true,
			Description: "STIX 2.1 indicators of every common type, the same on every start"},
		{ID: ScratchCollectionID, Title: ScratchTitle, CanRead: true, CanWrite: true,
			Description: "Empty and writable; emptied by POST /_emulator/reset"},
		{ID: LockedCollectionID, Title: LockedTitle, CanWrite: true,
			Description: "Cannot be read (can_read false): reading it is answered 403"},
	}
}

// Options configures an Emulator. The zero Options serves the default
// collections with the demo credentials, pages of DefaultPageSize, and
// injects no faults.
type Options struct {
	// Username and Password are the HTTP Basic credentials accepted; ""
	// means "demo".
	Username, Password string
	// Collections are the API root's collections; nil means
	// DefaultCollections. A collection whose ID is DemoCollectionID holds
	// the demo indicators; the others start empty.
	Collections []Collection
	// DemoObjects is how many indicators the demo collection holds; zero
	// means DefaultDemoObjects.
	DemoObjects int
	// SameDateAdded makes the demo indicators come in runs of this many
	// sharing one date_added, so that runs cross page boundaries; zero or
	// one gives each its own.
	SameDateAdded int
	// PageSize is the most objects one page holds, whatever limit the
	// client asks for; zero means DefaultPageSize.
	PageSize int
	// RateLimitEvery answers 429 with Retry-After to every n-th request of
	// the objects endpoint; zero turns it off.
	RateLimitEvery int
	// RetryAfter is the Retry-After of those 429s, sent in whole seconds
	// rounded up; zero means one second.
	RetryAfter time.Duration
	// Faults selects the faults injected into the objects endpoint (5xx
	// rates, latency, dropped connections); the zero value injects none.
	Faults faults.Options
	// RepeatNext makes the objects endpoint ignore next: a request with
	// next is answered the first page again, with the same next (a broken
	// server that would make a naive client loop for ever).
	RepeatNext bool
	// EmptyMore answers every request with next more:true, no objects,
	// and a new next each time (another broken server).
	EmptyMore bool
	// NoNext leaves next out of the envelope: a client pages by
	// added_after alone, from X-TAXII-Date-Added-Last, as TAXII 2.1
	// allows.
	NoNext bool
	// Logger receives the emulator's events; nil discards them.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Username == "" {
		o.Username = "demo"
	}
	if o.Password == "" {
		o.Password = "demo"
	}
	if o.Collections == nil {
		o.Collections = DefaultCollections()
	}
	if o.DemoObjects <= 0 {
		o.DemoObjects = DefaultDemoObjects
	}
	if o.SameDateAdded <= 0 {
		o.SameDateAdded = 1
	}
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Stats counts what the emulator served.
type Stats struct {
	// Requests counts the requests to /taxii2/.
	Requests int64 `json:"requests"`
	// Pages counts the objects pages answered 200; Objects the objects
	// they held.
	Pages   int64 `json:"pages"`
	Objects int64 `json:"objects"`
	// Added counts the objects added (POST, or the control endpoint).
	Added int64 `json:"added"`
	// RateLimited counts the 429s of RateLimitEvery.
	RateLimited int64 `json:"rate_limited"`
	// Refused counts the other 4xx answers.
	Refused int64 `json:"refused"`
	// Faults counts the faults injected.
	Faults faults.Counts `json:"faults"`
}

// An Emulator is a TAXII 2.1 server's http.Handler, serving /taxii2/ and
// /_emulator/taxii/. It is safe for concurrent use. Create one with New.
type Emulator struct {
	opts    Options
	log     *slog.Logger
	faults  *faults.Injector
	objects http.Handler // the objects endpoint with its faults
	mux     *http.ServeMux

	mu          sync.Mutex
	collections map[string]*collection
	order       []string           // collection ids as listed
	statuses    map[string]*status // by status id
	lastAdded   time.Time          // the latest date_added given
	emptyNexts  int                // EmptyMore's next values given

	requests, pages, served, added, rateLimited, refused, objectRequests atomic.Int64
}

// New returns an Emulator configured by opts.
func New(opts Options) *Emulator {
	opts = opts.withDefaults()
	e := &Emulator{opts: opts, log: opts.Logger}
	e.faults = faults.New(opts.Faults, e.respondFault)
	e.objects = e.faults.Wrap(http.HandlerFunc(e.handleObjects))
	e.reset()
	e.mux = e.routes()
	return e
}

// Reset brings the collections back to their initial content (the demo
// indicators; scratch and the others empty) and zeroes the counters.
func (e *Emulator) Reset() {
	e.reset()
	e.faults.Reset()
	for _, c := range []*atomic.Int64{&e.requests, &e.pages, &e.served, &e.added, &e.rateLimited, &e.refused, &e.objectRequests} {
		c.Store(0)
	}
}

func (e *Emulator) reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.collections = make(map[string]*collection, len(e.opts.Collections))
	e.order = e.order[:0]
	e.statuses = map[string]*status{}
	e.lastAdded = time.Time{}
	e.emptyNexts = 0
	for _, c := range e.opts.Collections {
		if c.MediaTypes == nil {
			c.MediaTypes = []string{STIXMediaType}
		}
		e.collections[c.ID] = newCollection(c)
		e.order = append(e.order, c.ID)
	}
	if c := e.collections[DemoCollectionID]; c != nil {
		for i, o := range demoObjects(e.opts.DemoObjects) {
			c.add(o, demoDateAdded(i, e.opts.SameDateAdded))
		}
	}
}

// Stats returns the counts so far.
func (e *Emulator) Stats() Stats {
	return Stats{
		Requests: e.requests.Load(), Pages: e.pages.Load(), Objects: e.served.Load(), Added: e.added.Load(),
		RateLimited: e.rateLimited.Load(), Refused: e.refused.Load(), Faults: e.faults.Counts(),
	}
}

// Add adds objects (STIX objects, each with a type and an id) to a
// collection, as if a producer had. When at is zero each gets its own new
// date_added, later than any given so far; otherwise they all get at
// (truncated to the microsecond), wherever that falls. It returns the
// first and last date_added given. An object whose id and version the
// collection holds already is left out.
func (e *Emulator) Add(collectionID string, at time.Time, objects ...json.RawMessage) (first, last time.Time, err error) {
	parsed := make([]object, 0, len(objects))
	for i, raw := range objects {
		o, err := parseObject(raw)
		if err != nil {
			return first, last, fmt.Errorf("object %d: %w", i, err)
		}
		parsed = append(parsed, o)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.collections[collectionID]
	if c == nil {
		return first, last, fmt.Errorf("no collection %q", collectionID)
	}
	at = at.UTC().Truncate(time.Microsecond)
	for i, o := range parsed {
		d := at
		if d.IsZero() {
			d = e.freshDateAdded()
		}
		if i == 0 {
			first = d
		}
		last = d
		if c.add(o, d) {
			e.added.Add(1)
		}
	}
	return first, last, nil
}

// freshDateAdded returns now, to the microsecond, or a microsecond after
// the latest date_added given when now is not later. Call with e.mu held.
func (e *Emulator) freshDateAdded() time.Time {
	d := time.Now().UTC().Truncate(time.Microsecond)
	if !d.After(e.lastAdded) {
		d = e.lastAdded.Add(time.Microsecond)
	}
	e.lastAdded = d
	return d
}

// latestDateAdded returns the latest date_added of a collection, zero
// when it is empty. Call with e.mu held.
func (c *collection) latestDateAdded() time.Time {
	if len(c.entries) == 0 {
		return time.Time{}
	}
	return c.entries[len(c.entries)-1].dateAdded
}

// An object is a STIX object as the emulator stores it.
type object struct {
	id, typ, specVersion string
	// version is modified, else created, else zero (then date_added).
	version time.Time
	raw     json.RawMessage
}

// stixHead is what the emulator reads of a STIX object.
type stixHead struct {
	Type        string `json:"type"`
	ID          string `json:"id"`
	SpecVersion string `json:"spec_version"`
	Created     string `json:"created"`
	Modified    string `json:"modified"`
}

func parseObject(raw json.RawMessage) (object, error) {
	var h stixHead
	if err := json.Unmarshal(raw, &h); err != nil {
		return object{}, fmt.Errorf("not a JSON object: %w", err)
	}
	if h.Type == "" || h.ID == "" {
		return object{}, errors.New("a STIX object needs a type and an id")
	}
	o := object{id: h.ID, typ: h.Type, specVersion: h.SpecVersion, raw: slices.Clone(raw)}
	for _, s := range []string{h.Modified, h.Created} {
		if s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return object{}, fmt.Errorf("%s: timestamp %q: %w", h.ID, s, err)
		}
		o.version = t.UTC()
		break
	}
	return o, nil
}

// An entry is one stored object version.
type entry struct {
	object
	dateAdded time.Time
	seq       uint64 // arrival order: the tie-break of equal date_added
}

// key is an entry's position in the order of a collection.
type key struct {
	dateAdded time.Time
	seq       uint64
}

func (k key) after(o key) bool {
	return k.dateAdded.After(o.dateAdded) || (k.dateAdded.Equal(o.dateAdded) && k.seq > o.seq)
}

// A collection is a Collection's resource and content.
type collection struct {
	Collection
	entries  []entry // by date_added, then seq
	seq      uint64
	versions map[string][]time.Time // every version of an id, sorted
}

func newCollection(c Collection) *collection {
	return &collection{Collection: c, versions: map[string][]time.Time{}}
}

// add stores o with date_added d, reporting false when that version of it
// is there already.
func (c *collection) add(o object, d time.Time) bool {
	if o.version.IsZero() {
		o.version = d
	}
	vs := c.versions[o.id]
	i, found := slices.BinarySearchFunc(vs, o.version, func(a, b time.Time) int { return a.Compare(b) })
	if found {
		return false
	}
	c.versions[o.id] = slices.Insert(vs, i, o.version)
	c.seq++
	en := entry{object: o, dateAdded: d, seq: c.seq}
	k := key{d, c.seq}
	j := len(c.entries)
	for j > 0 && !k.after(key{c.entries[j-1].dateAdded, c.entries[j-1].seq}) {
		j--
	}
	c.entries = slices.Insert(c.entries, j, en)
	return true
}

// A status is a TAXII status resource of an addition.
type status struct {
	ID               string   `json:"id"`
	Status           string   `json:"status"`
	RequestTimestamp string   `json:"request_timestamp"`
	TotalCount       int      `json:"total_count"`
	SuccessCount     int      `json:"success_count"`
	Successes        []detail `json:"successes,omitempty"`
	FailureCount     int      `json:"failure_count"`
	Failures         []detail `json:"failures,omitempty"`
	PendingCount     int      `json:"pending_count"`
}

// A detail is one object of a status resource.
type detail struct {
	ID      string `json:"id"`
	Version string `json:"version,omitempty"`
	Message string `json:"message,omitempty"`
}

// timestamp formats t as TAXII's timestamps: UTC, microseconds.
func timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000Z")
}
