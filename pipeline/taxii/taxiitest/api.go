package taxiitest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// discovery is the discovery resource.
type discovery struct {
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Contact     string   `json:"contact,omitempty"`
	Default     string   `json:"default,omitempty"`
	APIRoots    []string `json:"api_roots"`
}

// apiRoot is the API root resource.
type apiRoot struct {
	Title            string   `json:"title"`
	Description      string   `json:"description,omitempty"`
	Versions         []string `json:"versions"`
	MaxContentLength int      `json:"max_content_length"`
}

// collectionResource is the collection resource.
type collectionResource struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Alias       string   `json:"alias,omitempty"`
	CanRead     bool     `json:"can_read"`
	CanWrite    bool     `json:"can_write"`
	MediaTypes  []string `json:"media_types,omitempty"`
}

// envelope is the envelope resource, answered and accepted.
type envelope struct {
	More    bool              `json:"more,omitempty"`
	Next    string            `json:"next,omitempty"`
	Objects []json.RawMessage `json:"objects,omitempty"`
}

// errorMessage is the TAXII error message resource.
type errorMessage struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	HTTPStatus  string `json:"http_status,omitempty"`
}

// ServeHTTP serves /taxii2/ and /_emulator/taxii/.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mux.ServeHTTP(w, r)
}

func (e *Emulator) routes() *http.ServeMux {
	mux := http.NewServeMux()
	taxii := http.NewServeMux()
	taxii.Handle(DiscoveryPath+"{$}", e.allow(http.HandlerFunc(e.handleDiscovery), http.MethodGet))
	taxii.Handle(APIRootPath+"{$}", e.allow(http.HandlerFunc(e.handleAPIRoot), http.MethodGet))
	taxii.Handle(APIRootPath+"collections/{$}", e.allow(http.HandlerFunc(e.handleCollections), http.MethodGet))
	taxii.Handle(APIRootPath+"collections/{id}/{$}", e.allow(http.HandlerFunc(e.handleCollection), http.MethodGet))
	taxii.Handle(APIRootPath+"collections/{id}/objects/{$}", e.allow(e.objects, http.MethodGet, http.MethodPost))
	taxii.Handle(APIRootPath+"status/{id}/{$}", e.allow(http.HandlerFunc(e.handleStatus), http.MethodGet))
	taxii.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		e.writeError(w, http.StatusNotFound, "Not found", "no TAXII endpoint "+r.Method+" "+r.URL.Path+" (TAXII paths end with /)")
	})
	mux.Handle(DiscoveryPath, e.guard(taxii))
	mux.HandleFunc("POST "+controlPrefix+"collections/{id}/objects", e.handleControlAdd)
	mux.HandleFunc("POST "+controlPrefix+"reset", func(w http.ResponseWriter, r *http.Request) {
		e.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET "+controlPrefix+"stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(e.Stats())
	})
	return mux
}

// allow answers 405 with a TAXII error message to a method not among
// methods, and passes the others to h.
func (e *Emulator) allow(h http.Handler, methods ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains(methods, r.Method) {
			w.Header().Set("Allow", strings.Join(methods, ", "))
			e.writeError(w, http.StatusMethodNotAllowed, "Method not allowed", r.Method+" "+r.URL.Path)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// guard checks the credentials, then the Accept header, of every TAXII
// request.
func (e *Emulator) guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.requests.Add(1)
		user, pass, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(e.opts.Username))&subtle.ConstantTimeCompare([]byte(pass), []byte(e.opts.Password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="iocpipe TAXII emulator", charset="UTF-8"`)
			e.writeError(w, http.StatusUnauthorized, "Unauthorized", "HTTP Basic credentials missing or wrong")
			return
		}
		if !acceptable(r.Header.Values("Accept")) {
			e.writeError(w, http.StatusNotAcceptable, "Not Acceptable",
				fmt.Sprintf("this server answers %s only; the request accepts %q", MediaType, strings.Join(r.Header.Values("Accept"), ", ")))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// acceptable reports whether Accept header values admit MediaType: a
// media range application/taxii+json with no version or version 2.1,
// application/*, or */*. No Accept header at all is not acceptable: the
// specification requires clients to send one.
func acceptable(values []string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			if q := params["q"]; q != "" {
				if f, err := strconv.ParseFloat(q, 64); err == nil && f == 0 {
					continue
				}
			}
			switch mt {
			case "*/*", "application/*":
				return true
			case "application/taxii+json":
				if v := params["version"]; v == "" || v == "2.1" {
					return true
				}
			}
		}
	}
	return false
}

// isTAXIIContent reports whether a Content-Type is TAXII 2.1's.
func isTAXIIContent(v string) bool {
	mt, params, err := mime.ParseMediaType(v)
	return err == nil && mt == "application/taxii+json" && (params["version"] == "" || params["version"] == "2.1")
}

func (e *Emulator) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"title":"Internal error"}`)
	}
	w.Header().Set("Content-Type", MediaType)
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func (e *Emulator) writeError(w http.ResponseWriter, status int, title, description string) {
	if status >= 400 && status < 500 && status != http.StatusTooManyRequests {
		e.refused.Add(1)
	}
	e.log.Debug("taxii request refused", "status", status, "title", title, "description", description)
	e.writeJSON(w, status, errorMessage{Title: title, Description: description, HTTPStatus: strconv.Itoa(status)})
}

// respondFault is the faults.Responder: an injected failure as a TAXII
// error message; a 429 carries Retry-After.
func (e *Emulator) respondFault(w http.ResponseWriter, r *http.Request, status int, kind, msg string, wait time.Duration) {
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", retryAfter(wait))
	}
	e.writeError(w, status, http.StatusText(status), msg+" ("+kind+")")
}

// retryAfter is d in whole seconds, rounded up, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.FormatInt(max(int64((d+time.Second-1)/time.Second), 1), 10)
}

func (e *Emulator) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	e.writeJSON(w, http.StatusOK, discovery{
		Title:       "iocpipe TAXII 2.1 emulator",
		Description: "An in-process TAXII 2.1 server for tests and demos",
		Contact:     "https://github.com/iocpipe/iocpipe",
		Default:     APIRootPath,
		APIRoots:    []string{APIRootPath},
	})
}

func (e *Emulator) handleAPIRoot(w http.ResponseWriter, r *http.Request) {
	e.writeJSON(w, http.StatusOK, apiRoot{
		Title: "Demo API root", Description: "The emulator's one API root",
		Versions: []string{MediaType}, MaxContentLength: MaxContentLength,
	})
}

func resource(c *collection) collectionResource {
	return collectionResource{ID: c.ID, Title: c.Title, Description: c.Description, Alias: c.Alias,
		CanRead: c.CanRead, CanWrite: c.CanWrite, MediaTypes: c.MediaTypes}
}

func (e *Emulator) handleCollections(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	list := make([]collectionResource, 0, len(e.order))
	for _, id := range e.order {
		list = append(list, resource(e.collections[id]))
	}
	e.mu.Unlock()
	e.writeJSON(w, http.StatusOK, map[string][]collectionResource{"collections": list})
}

func (e *Emulator) handleCollection(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	c := e.collections[r.PathValue("id")]
	var res collectionResource
	if c != nil {
		res = resource(c)
	}
	e.mu.Unlock()
	if c == nil {
		e.writeError(w, http.StatusNotFound, "Collection not found", "no collection "+r.PathValue("id"))
		return
	}
	e.writeJSON(w, http.StatusOK, res)
}

func (e *Emulator) handleStatus(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	s := e.statuses[r.PathValue("id")]
	e.mu.Unlock()
	if s == nil {
		e.writeError(w, http.StatusNotFound, "Status not found", "no status "+r.PathValue("id"))
		return
	}
	e.writeJSON(w, http.StatusOK, s)
}

// handleObjects serves GET and POST (allow let no other through) of the
// objects endpoint, behind the faults.
func (e *Emulator) handleObjects(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		if n := e.objectRequests.Add(1); e.opts.RateLimitEvery > 0 && n%int64(e.opts.RateLimitEvery) == 0 {
			e.rateLimited.Add(1)
			w.Header().Set("Retry-After", retryAfter(e.opts.RetryAfter))
			e.writeError(w, http.StatusTooManyRequests, "Too Many Requests", "rate limited: retry after "+retryAfter(e.opts.RetryAfter)+"s")
			return
		}
		e.getObjects(w, r)
	default:
		e.postObjects(w, r)
	}
}

// A query is an objects request's filters.
type query struct {
	addedAfter   time.Time // zero: none
	limit        int
	next         *key // nil: from the start
	rawNext      string
	types, ids   []string
	versions     []string // "last" (default), "first", "all", or timestamps
	specVersions []string
}

// parseQuery reads the URL parameters of an objects request; the error
// says which one is wrong.
func (e *Emulator) parseQuery(r *http.Request) (query, error) {
	v := r.URL.Query()
	q := query{limit: e.opts.PageSize, versions: []string{"last"}}
	if s := v.Get("added_after"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return q, fmt.Errorf("added_after %q is not an RFC 3339 timestamp", s)
		}
		q.addedAfter = t.UTC()
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return q, fmt.Errorf("limit %q is not a positive integer", s)
		}
		q.limit = min(n, e.opts.PageSize)
	}
	if s := v.Get("next"); s != "" {
		q.rawNext = s
		if !e.opts.RepeatNext && !e.opts.EmptyMore {
			k, err := decodeNext(s)
			if err != nil {
				return q, fmt.Errorf("next %q is not one this server gave", s)
			}
			q.next = &k
		}
	}
	list := func(name string) []string {
		s := v.Get(name)
		if s == "" {
			return nil
		}
		return strings.Split(s, ",")
	}
	q.types, q.ids, q.specVersions = list("match[type]"), list("match[id]"), list("match[spec_version]")
	if vs := list("match[version]"); vs != nil {
		q.versions = vs
	}
	for _, s := range q.versions {
		if s == "last" || s == "first" || s == "all" {
			continue
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return q, fmt.Errorf("match[version] %q is not last, first, all or a timestamp", s)
		}
	}
	return q, nil
}

// matches reports whether en passes q's match filters in c.
func (c *collection) matches(en *entry, q *query) bool {
	if q.types != nil && !contains(q.types, en.typ) {
		return false
	}
	if q.ids != nil && !contains(q.ids, en.id) {
		return false
	}
	if q.specVersions != nil && !contains(q.specVersions, en.specVersion) {
		return false
	}
	vs := c.versions[en.id]
	for _, want := range q.versions {
		switch want {
		case "all":
			return true
		case "last":
			if en.version.Equal(vs[len(vs)-1]) {
				return true
			}
		case "first":
			if en.version.Equal(vs[0]) {
				return true
			}
		default:
			if t, err := time.Parse(time.RFC3339Nano, want); err == nil && en.version.Equal(t) {
				return true
			}
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if strings.TrimSpace(v) == s {
			return true
		}
	}
	return false
}

func (e *Emulator) getObjects(w http.ResponseWriter, r *http.Request) {
	q, err := e.parseQuery(r)
	if err != nil {
		e.writeError(w, http.StatusBadRequest, "Bad request", err.Error())
		return
	}
	e.mu.Lock()
	c := e.collections[r.PathValue("id")]
	if c == nil {
		e.mu.Unlock()
		e.writeError(w, http.StatusNotFound, "Collection not found", "no collection "+r.PathValue("id"))
		return
	}
	if !c.CanRead {
		e.mu.Unlock()
		e.writeError(w, http.StatusForbidden, "Forbidden", "collection "+c.ID+" ("+c.Title+") cannot be read: can_read is false")
		return
	}
	if q.rawNext != "" && e.opts.EmptyMore {
		e.emptyNexts++
		next := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "empty:%d", e.emptyNexts))
		e.mu.Unlock()
		e.pages.Add(1)
		e.writeJSON(w, http.StatusOK, envelope{More: true, Next: next, Objects: []json.RawMessage{}})
		return
	}
	env, first, last := c.page(&q)
	e.mu.Unlock()
	if e.opts.NoNext {
		env.Next = ""
	}
	if len(env.Objects) > 0 {
		w.Header().Set("X-TAXII-Date-Added-First", timestamp(first))
		w.Header().Set("X-TAXII-Date-Added-Last", timestamp(last))
	}
	e.pages.Add(1)
	e.served.Add(int64(len(env.Objects)))
	e.writeJSON(w, http.StatusOK, env)
}

// page returns the page q asks for, with its first and last date_added.
func (c *collection) page(q *query) (env envelope, first, last time.Time) {
	start := 0
	if !q.addedAfter.IsZero() {
		start = sort.Search(len(c.entries), func(i int) bool { return c.entries[i].dateAdded.After(q.addedAfter) })
	}
	if q.next != nil {
		n := sort.Search(len(c.entries), func(i int) bool {
			return key{c.entries[i].dateAdded, c.entries[i].seq}.after(*q.next)
		})
		start = max(start, n)
	}
	var lastKey key
	for i := start; i < len(c.entries); i++ {
		en := &c.entries[i]
		if !c.matches(en, q) {
			continue
		}
		if len(env.Objects) == q.limit {
			env.More = true
			env.Next = encodeNext(lastKey)
			break
		}
		if len(env.Objects) == 0 {
			first = en.dateAdded
		}
		env.Objects = append(env.Objects, en.raw)
		last, lastKey = en.dateAdded, key{en.dateAdded, en.seq}
	}
	return env, first, last
}

// encodeNext and decodeNext turn a position into a next value and back.
func encodeNext(k key) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "v1:%d:%d", k.dateAdded.UnixMicro(), k.seq))
}

func decodeNext(s string) (key, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return key{}, err
	}
	var micros int64
	var seq uint64
	if _, err := fmt.Sscanf(string(b), "v1:%d:%d", &micros, &seq); err != nil {
		return key{}, err
	}
	return key{time.UnixMicro(micros).UTC(), seq}, nil
}

// readObjects reads a body holding a TAXII envelope or a STIX bundle:
// its objects.
func readObjects(r *http.Request) ([]json.RawMessage, int, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxContentLength+1))
	if err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("reading the body: %w", err)
	}
	if len(body) > MaxContentLength {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("the body is larger than max_content_length %d", MaxContentLength)
	}
	var env struct {
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("the body is not an envelope or a bundle: %w", err)
	}
	return env.Objects, 0, nil
}

// postObjects adds an envelope to a writable collection, answering a
// status resource (202).
func (e *Emulator) postObjects(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); !isTAXIIContent(ct) {
		e.writeError(w, http.StatusUnsupportedMediaType, "Unsupported Media Type",
			fmt.Sprintf("the body must be %s, not %q", MediaType, ct))
		return
	}
	id := r.PathValue("id")
	e.mu.Lock()
	c := e.collections[id]
	canWrite := c != nil && c.CanWrite
	e.mu.Unlock()
	switch {
	case c == nil:
		e.writeError(w, http.StatusNotFound, "Collection not found", "no collection "+id)
		return
	case !canWrite:
		e.writeError(w, http.StatusForbidden, "Forbidden", "collection "+id+" cannot be written: can_write is false")
		return
	}
	objects, code, err := readObjects(r)
	if err != nil {
		e.writeError(w, code, http.StatusText(code), err.Error())
		return
	}
	now := time.Now().UTC()
	st := &status{ID: statusID(now, len(objects)), Status: "complete", RequestTimestamp: timestamp(now), TotalCount: len(objects)}
	for _, raw := range objects {
		o, err := parseObject(raw)
		if err != nil {
			st.FailureCount++
			st.Failures = append(st.Failures, detail{ID: o.id, Message: err.Error()})
			continue
		}
		e.mu.Lock()
		d := e.freshDateAdded()
		if c.add(o, d) {
			e.added.Add(1)
		}
		e.mu.Unlock()
		st.SuccessCount++
		v := ""
		if !o.version.IsZero() {
			v = timestamp(o.version)
		}
		st.Successes = append(st.Successes, detail{ID: o.id, Version: v})
	}
	e.mu.Lock()
	e.statuses[st.ID] = st
	e.mu.Unlock()
	e.writeJSON(w, http.StatusAccepted, st)
}

// statusID is a status resource's id: a UUID made from the time and size.
func statusID(t time.Time, n int) string {
	return uuidOf(fmt.Sprintf("status %d %d", t.UnixNano(), n))
}

// uuidOf is a UUID (version 4 layout) derived from s.
func uuidOf(s string) string {
	h := sha256.Sum256([]byte(s))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	x := hex.EncodeToString(h[:16])
	return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// handleControlAdd serves POST /_emulator/taxii/collections/{id}/objects:
// a bundle or an envelope added with no authentication, whatever
// can_write says. ?date_added=same gives every object one new
// date_added; =last the collection's latest; an RFC 3339 timestamp that
// one; none, each its own new one.
func (e *Emulator) handleControlAdd(w http.ResponseWriter, r *http.Request) {
	objects, code, err := readObjects(r)
	if err != nil {
		http.Error(w, err.Error(), code)
		return
	}
	var at time.Time
	id := r.PathValue("id")
	switch s := r.URL.Query().Get("date_added"); s {
	case "":
	case "same":
		e.mu.Lock()
		at = e.freshDateAdded()
		e.mu.Unlock()
	case "last":
		e.mu.Lock()
		if c := e.collections[id]; c != nil {
			at = c.latestDateAdded()
		}
		e.mu.Unlock()
		if at.IsZero() {
			http.Error(w, "date_added=last: the collection is empty or unknown", http.StatusBadRequest)
			return
		}
	default:
		if at, err = time.Parse(time.RFC3339Nano, s); err != nil {
			http.Error(w, "date_added: same, last or an RFC 3339 timestamp, not "+strconv.Quote(s), http.StatusBadRequest)
			return
		}
	}
	first, last, err := e.Add(id, at, objects...)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	out := map[string]any{"added": len(objects)}
	if len(objects) > 0 {
		out["date_added_first"], out["date_added_last"] = timestamp(first), timestamp(last)
	}
	_ = json.NewEncoder(w).Encode(out)
}
