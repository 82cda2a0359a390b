package threatwindstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iocpipe/iocpipe/sinks/faults"
)

// BasePath is the path under which the emulator serves the Ingest API.
const BasePath = "/api/ingest/v1"

// MaxBodyBytes is the largest request body the emulator reads; a larger one
// is answered 413.
const MaxBodyBytes = 1 << 20

// DefaultScanStep is the time a scan task spends in each of the states new,
// queued and running when Options.ScanStep is zero.
const DefaultScanStep = 200 * time.Millisecond

// Roles known to the Ingest API gateway. A user with RoleAdmin holds every
// role.
const (
	RoleAdmin    = "admin"
	RoleUser     = "user"
	RoleReporter = "reporter"
	RoleTrusted  = "trusted"
)

// A User is an account the emulator accepts. A request authenticates with
// "Authorization: Bearer <Token>" or with the headers api-key: <Key> and
// api-secret: <Secret>. An empty Token (or Key) disables that way in.
type User struct {
	Key, Secret, Token string
	// Roles lists the roles the user holds (RoleReporter, RoleTrusted, ...).
	Roles []string
}

// DemoUsers returns the users of a zero Options: api-key "reporter" with
// api-secret "reporter" (or Bearer "reporter") holding the reporter role, and
// "trusted"/"trusted" (or Bearer "trusted") holding reporter and trusted.
func DemoUsers() []User {
	return []User{
		{Key: "reporter", Secret: "reporter", Token: "reporter", Roles: []string{RoleReporter}},
		{Key: "trusted", Secret: "trusted", Token: "trusted", Roles: []string{RoleReporter, RoleTrusted}},
	}
}

// Options configures an Emulator. The zero Options is valid: the demo users,
// 200ms scan steps, requests recorded, no faults, no logging.
type Options struct {
	// Users are the accounts accepted; nil means DemoUsers().
	Users []User
	// ScanStep is the time a scan task spends in each of new, queued and
	// running before it is done; zero means DefaultScanStep.
	ScanStep time.Duration
	// NoRecord stops the emulator from keeping accepted requests, for
	// benchmarks; Requests then returns nothing.
	NoRecord bool
	// Faults selects the failures injected into the API endpoints.
	Faults faults.Options
	// Logger receives the emulator's log; nil discards it.
	Logger *slog.Logger
	// WebhookClient calls scan webhooks; nil means a client with a 5s
	// timeout.
	WebhookClient *http.Client
}

// A Request is one API request the emulator accepted (status 200 or 202).
type Request struct {
	// Method and Path are the request's; Path includes BasePath.
	Method string `json:"method"`
	Path   string `json:"path"`
	// Status is the status answered, 200 or 202.
	Status int `json:"status"`
	// Body is the request body as compact JSON; null for a GET.
	Body json.RawMessage `json:"body"`
}

// Stats counts what the emulator has seen since it was created or reset.
type Stats struct {
	// Entities is the number of distinct stored entities, including those
	// posted as associations of another entity and well-known ones.
	Entities int64 `json:"entities"`
	// EntityRequests counts accepted POST /entity requests, repeats included.
	EntityRequests int64 `json:"entity_requests"`
	// Associations counts accepted POST /association requests.
	Associations int64 `json:"associations"`
	// Comments counts accepted POST /comment requests.
	Comments int64 `json:"comments"`
	// WellKnown counts accepted POST /well-known requests.
	WellKnown int64 `json:"well_known"`
	// Scans counts scan tasks created (answered 202).
	Scans int64 `json:"scans"`
	// ScansExisting counts scans answered 200 with an existing task.
	ScansExisting int64 `json:"scans_existing"`
	// Webhooks counts scan webhooks delivered with a 2xx answer.
	Webhooks int64 `json:"webhooks"`
	// Rejected counts requests answered 400, injected rejections included.
	Rejected int64 `json:"rejected"`
	// AuthErrors counts requests answered 401 or 403.
	AuthErrors int64 `json:"auth_errors"`
	// Faults counts the injected faults.
	Faults faults.Counts `json:"faults"`
}

// An Emulator is an http.Handler that behaves like the ThreatWinds Ingest
// API. It is safe for concurrent use. Call Close when done with it, to stop
// the scan timers.
type Emulator struct {
	log     *slog.Logger
	step    time.Duration
	record  bool
	byKey   map[string]*account
	byToken map[string]*account
	inj     *faults.Injector
	api     http.Handler
	hookc   *http.Client

	seq atomic.Uint64 // arrival order of API requests

	entMu    sync.Mutex
	entities map[string]*Entity

	recMu    sync.Mutex
	requests []recorded

	taskMu   sync.Mutex
	tasks    map[string]*task // by normalised target
	taskList []*task          // creation order
	ctx      context.Context  // cancelled by Reset and Close: aborts webhooks
	cancel   context.CancelFunc
	closed   bool
	timers   sync.WaitGroup // pending and running timer callbacks

	entityRequests, associations, comments, wellKnown atomic.Int64
	scans, scansExisting, webhooks                    atomic.Int64
	rejected, authErrors                              atomic.Int64
}

type account struct {
	secret string
	roles  map[string]bool
}

func (a *account) has(role string) bool { return a.roles[role] || a.roles[RoleAdmin] }

type recorded struct {
	seq uint64
	Request
}

// New returns an Emulator configured by opts.
func New(opts Options) *Emulator {
	e := &Emulator{
		log:      opts.Logger,
		step:     opts.ScanStep,
		record:   !opts.NoRecord,
		byKey:    map[string]*account{},
		byToken:  map[string]*account{},
		hookc:    opts.WebhookClient,
		entities: map[string]*Entity{},
		tasks:    map[string]*task{},
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.step <= 0 {
		e.step = DefaultScanStep
	}
	if e.hookc == nil {
		e.hookc = &http.Client{Timeout: 5 * time.Second}
	}
	users := opts.Users
	if users == nil {
		users = DemoUsers()
	}
	for _, u := range users {
		a := &account{secret: u.Secret, roles: map[string]bool{}}
		for _, r := range u.Roles {
			a.roles[r] = true
		}
		if u.Key != "" {
			e.byKey[u.Key] = a
		}
		if u.Token != "" {
			e.byToken[u.Token] = a
		}
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.inj = faults.New(opts.Faults, e.respondFault)
	e.api = e.inj.Wrap(http.HandlerFunc(e.serveAPI))
	return e
}

// Stats returns the counters.
func (e *Emulator) Stats() Stats {
	e.entMu.Lock()
	n := len(e.entities)
	e.entMu.Unlock()
	return Stats{
		Entities:       int64(n),
		EntityRequests: e.entityRequests.Load(),
		Associations:   e.associations.Load(),
		Comments:       e.comments.Load(),
		WellKnown:      e.wellKnown.Load(),
		Scans:          e.scans.Load(),
		ScansExisting:  e.scansExisting.Load(),
		Webhooks:       e.webhooks.Load(),
		Rejected:       e.rejected.Load(),
		AuthErrors:     e.authErrors.Load(),
		Faults:         e.inj.Counts(),
	}
}

// Reset forgets the stored entities, the scan tasks (stopping their timers
// and aborting webhooks in flight), the recorded requests and every counter,
// including the fault counts; the fault injector's outage window restarts.
func (e *Emulator) Reset() {
	e.entMu.Lock()
	e.entities = map[string]*Entity{}
	e.entMu.Unlock()

	e.recMu.Lock()
	e.requests = nil
	e.recMu.Unlock()

	e.taskMu.Lock()
	e.stopTimersLocked()
	e.tasks = map[string]*task{}
	e.taskList = nil
	if !e.closed {
		e.ctx, e.cancel = context.WithCancel(context.Background())
	}
	e.taskMu.Unlock()

	for _, c := range []*atomic.Int64{&e.entityRequests, &e.associations, &e.comments, &e.wellKnown,
		&e.scans, &e.scansExisting, &e.webhooks, &e.rejected, &e.authErrors} {
		c.Store(0)
	}
	e.inj.Reset()
}

// Close stops the scan timers and aborts webhooks in flight, and returns
// once no goroutine of the emulator runs. The emulator still answers
// requests after Close, but scan tasks no longer advance.
func (e *Emulator) Close() {
	e.taskMu.Lock()
	if !e.closed {
		e.closed = true
		e.stopTimersLocked()
	}
	e.taskMu.Unlock()
	e.timers.Wait()
}

// Requests returns the accepted API requests in arrival order. It returns
// nil when Options.NoRecord is set.
func (e *Emulator) Requests() []Request {
	e.recMu.Lock()
	recs := slices.Clone(e.requests)
	e.recMu.Unlock()
	slices.SortFunc(recs, func(a, b recorded) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	out := make([]Request, len(recs))
	for i, r := range recs {
		out[i] = r.Request
	}
	return out
}

// ServeHTTP serves the Ingest API under BasePath and the inspection
// endpoints under /_emulator/threatwinds/.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == BasePath || strings.HasPrefix(p, BasePath+"/"):
		e.admit(w, r)
	case strings.HasPrefix(p, "/_emulator/threatwinds/"):
		e.serveInspect(w, r)
	default:
		e.fail(w, r, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s", r.Method, p))
	}
}

type ctxKey struct{}

// reqInfo travels with an API request through the fault injector.
type reqInfo struct {
	seq  uint64
	body []byte
}

// admit numbers an API request, reads its body within MaxBodyBytes and
// hands it to the fault injector, which calls serveAPI.
func (e *Emulator) admit(w http.ResponseWriter, r *http.Request) {
	info := &reqInfo{seq: e.seq.Add(1)}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			e.fail(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", MaxBodyBytes))
			return
		}
		e.fail(w, r, http.StatusBadRequest, "unreadable request body: "+err.Error())
		return
	}
	info.body = body
	r.Body = io.NopCloser(bytes.NewReader(body))
	e.api.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, info)))
}

// An apiError is a refusal with its status; the handlers return one for
// anything but success.
type apiError struct {
	status int
	msg    string
}

func badRequest(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// A route is one API endpoint.
type route struct {
	method string
	role   string
	// handle returns the success status and the value to send as JSON.
	handle func(e *Emulator, body []byte) (int, any, *apiError)
}

var routes = map[string]route{
	"/entity":      {http.MethodPost, RoleReporter, (*Emulator).postEntity},
	"/association": {http.MethodPost, RoleReporter, (*Emulator).postAssociation},
	"/comment":     {http.MethodPost, RoleReporter, (*Emulator).postComment},
	"/well-known":  {http.MethodPost, RoleTrusted, (*Emulator).postWellKnown},
	"/scan":        {http.MethodPost, RoleReporter, (*Emulator).postScan},
	"/definitions": {http.MethodGet, RoleTrusted, (*Emulator).getDefinitions},
}

// acknowledged is the body of a 202 for entities, associations, comments and
// well-known entities.
var acknowledged = map[string]string{"message": "acknowledged"}

// serveAPI answers an API request that passed the fault injector: route,
// method, authentication, gateway headers, role, then the endpoint itself.
func (e *Emulator) serveAPI(w http.ResponseWriter, r *http.Request) {
	info, _ := r.Context().Value(ctxKey{}).(*reqInfo)
	if info == nil { // not through admit; cannot happen, but never panic
		info = &reqInfo{seq: e.seq.Add(1)}
	}
	name := strings.TrimPrefix(r.URL.Path, BasePath)
	rt, ok := routes[name]
	if !ok {
		e.fail(w, r, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path))
		return
	}
	if r.Method != rt.method {
		w.Header().Set("Allow", rt.method)
		e.fail(w, r, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed for %s; use %s", r.Method, name, rt.method))
		return
	}
	acct, msg := e.authenticate(r)
	if acct == nil {
		e.fail(w, r, http.StatusUnauthorized, msg)
		return
	}
	if _, ok := r.Header["User-Id"]; ok {
		e.fail(w, r, http.StatusBadRequest, "user-id and groups are set by the gateway; clients must not send them")
		return
	}
	if _, ok := r.Header["Groups"]; ok {
		e.fail(w, r, http.StatusBadRequest, "user-id and groups are set by the gateway; clients must not send them")
		return
	}
	if !acct.has(rt.role) {
		e.fail(w, r, http.StatusForbidden, fmt.Sprintf("role %s required for %s %s", rt.role, rt.method, name))
		return
	}
	status, v, aerr := rt.handle(e, info.body)
	if aerr != nil {
		e.fail(w, r, aerr.status, aerr.msg)
		return
	}
	e.remember(info, r, status)
	writeJSON(w, status, v)
}

// authenticate returns the account of r's credentials, or nil and why not.
func (e *Emulator) authenticate(r *http.Request) (*account, string) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		tok = strings.TrimSpace(tok)
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return nil, "malformed Authorization header: want Bearer <token>"
		}
		if a := e.byToken[tok]; a != nil {
			return a, ""
		}
		return nil, "invalid bearer token"
	}
	key, secret := r.Header.Get("api-key"), r.Header.Get("api-secret")
	if key == "" && secret == "" {
		return nil, "missing credentials: send Authorization: Bearer <token>, or api-key and api-secret"
	}
	if key == "" || secret == "" {
		return nil, "both api-key and api-secret are required"
	}
	if a := e.byKey[key]; a != nil && subtle.ConstantTimeCompare([]byte(a.secret), []byte(secret)) == 1 {
		return a, ""
	}
	return nil, "invalid api-key or api-secret"
}

// remember records an accepted request.
func (e *Emulator) remember(info *reqInfo, r *http.Request, status int) {
	if !e.record {
		return
	}
	var body json.RawMessage
	if len(bytes.TrimSpace(info.body)) > 0 {
		var buf bytes.Buffer
		if err := json.Compact(&buf, info.body); err == nil {
			body = buf.Bytes()
		}
	}
	rec := recorded{seq: info.seq, Request: Request{Method: r.Method, Path: r.URL.Path, Status: status, Body: body}}
	e.recMu.Lock()
	e.requests = append(e.requests, rec)
	e.recMu.Unlock()
}

// respondFault is the faults.Responder: the API's error headers, plus
// Retry-After for a 429.
func (e *Emulator) respondFault(w http.ResponseWriter, r *http.Request, status int, kind, msg string, wait time.Duration) {
	if status == http.StatusTooManyRequests {
		secs := max(1, int64(math.Ceil(wait.Seconds())))
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	e.log.Debug("fault injected", "kind", kind, "status", status, "path", r.URL.Path)
	e.fail(w, r, status, msg)
}

// fail writes an error the way the API does: x-error and x-error-id headers
// and a JSON body {"error","id"} with the same text and id.
func (e *Emulator) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	switch status {
	case http.StatusBadRequest:
		e.rejected.Add(1)
	case http.StatusUnauthorized, http.StatusForbidden:
		e.authErrors.Add(1)
	}
	id := newUUID()
	h := w.Header()
	h.Set("X-Error", msg)
	h.Set("X-Error-Id", id)
	e.log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "status", status, "error", msg, "error_id", id)
	writeJSON(w, status, errorBody{Error: msg, ID: id})
}

type errorBody struct {
	Error string `json:"error"`
	ID    string `json:"id"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own types are marshalled; this is a programming error.
		b = []byte(`{"error":"internal error"}`)
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// serveInspect answers the unauthenticated inspection endpoints.
func (e *Emulator) serveInspect(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/_emulator/threatwinds/requests", "/_emulator/threatwinds/tasks":
	default:
		e.fail(w, r, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path))
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		e.fail(w, r, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed for %s; use GET", r.Method, r.URL.Path))
		return
	}
	if r.URL.Path == "/_emulator/threatwinds/tasks" {
		writeJSON(w, http.StatusOK, e.Tasks())
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, req := range e.Requests() {
		if err := enc.Encode(req); err != nil {
			return
		}
	}
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// decodeStrict decodes one JSON value from body into v, refusing unknown
// fields and trailing data.
func decodeStrict(body []byte, v any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("request body required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("invalid JSON body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("invalid JSON body: data after the JSON value")
	}
	return nil
}
