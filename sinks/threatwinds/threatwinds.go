package threatwinds

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/sinks"
)

// DefaultURL is the ThreatWinds API host used when Config.URL is empty.
const DefaultURL = "https://intelligence.threatwinds.com"

// BasePath is the path of the Ingest API under the host; the client
// appends it to Config.URL.
const BasePath = "/api/ingest/v1"

// The kinds of route, for Config.Kind.
const (
	// KindEntities posts each indicator to /entity, the default.
	KindEntities = "entities"
	// KindWellKnown posts each indicator to /well-known (role trusted).
	KindWellKnown = "well-known"
	// KindScan schedules a scan of each IP address or host name.
	KindScan = "scan"
)

// DefaultReputation is the reputation sent when neither the indicator nor
// Config.Reputation gives one: -1, malicious, per the ingest docs.
const DefaultReputation = -1

// DefaultInFlight is the number of requests in flight when
// Config.InFlight is zero.
const DefaultInFlight = 16

// A Webhook is called by ThreatWinds when a scan is done.
type Webhook struct {
	// URL is the absolute http or https URL to call.
	URL string
	// Headers are sent with the call, in order.
	Headers []Header
}

// A Header is one header of a Webhook call.
type Header struct {
	Key, Value string
}

// Config configures a Client. Credentials are required: APIKey and
// APISecret, or Token, not both. The zero value of every other field
// means the default in its comment.
type Config struct {
	// URL is the API host, like http://127.0.0.1:8080; the client appends
	// BasePath (unless the URL already ends with it). Empty means
	// DefaultURL.
	URL string
	// APIKey and APISecret authenticate with the api-key and api-secret
	// headers.
	APIKey, APISecret string
	// Token authenticates with Authorization: Bearer <Token>.
	Token string
	// Kind is what the route sends: KindEntities (empty means it),
	// KindWellKnown or KindScan.
	Kind string
	// Comments posts an indicator's Notes as a comment on its entity once
	// the entity is acknowledged (KindEntities only).
	Comments bool
	// Reputation is the reputation (-3..3) of indicators that have none;
	// nil means DefaultReputation.
	Reputation *int
	// Webhook is sent with every scan (KindScan only); nil sends none.
	Webhook *Webhook
	// InFlight caps the requests in flight across all batches sent at
	// once; 0 means DefaultInFlight.
	InFlight int
	// Remember bounds the acknowledged entities the Client remembers, so
	// as not to post them again, and apart the comments it remembers
	// posting: beyond it the least recently used is forgotten (and posted
	// again if it comes back, which the API takes as an update). 0 means
	// DefaultRemember.
	Remember int
	// HTTP tunes the HTTP side: timeouts, retries, rate limit,
	// connections. A zero HTTP.MaxConns means InFlight; a smaller MaxConns
	// makes requests wait for connections.
	HTTP sinks.HTTPOptions
	// Logger receives the client's log; nil discards it.
	Logger *slog.Logger
}

// validate checks cfg and fills its defaults.
func (cfg *Config) validate() error {
	if cfg.URL == "" {
		cfg.URL = DefaultURL
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("threatwinds: url %q is not an absolute http or https URL", cfg.URL)
	}
	key := cfg.APIKey != "" || cfg.APISecret != ""
	switch {
	case key && cfg.Token != "":
		return errors.New("threatwinds: give either an API key and secret or a bearer token, not both")
	case key && (cfg.APIKey == "" || cfg.APISecret == ""):
		return errors.New("threatwinds: the API key and the API secret go together; one of them is empty")
	case !key && cfg.Token == "":
		return errors.New("threatwinds: credentials required: an API key and secret, or a bearer token")
	}
	switch cfg.Kind {
	case "":
		cfg.Kind = KindEntities
	case KindEntities, KindWellKnown, KindScan:
	default:
		return fmt.Errorf("threatwinds: unknown kind %q (entities, well-known or scan)", cfg.Kind)
	}
	if r := cfg.Reputation; r != nil && (*r < -3 || *r > 3) {
		return fmt.Errorf("threatwinds: reputation %d is out of range: ThreatWinds reputations go from -3 to 3", *r)
	}
	if cfg.Comments && cfg.Kind != KindEntities {
		return fmt.Errorf("threatwinds: comments are posted on entities; kind %s creates none", cfg.Kind)
	}
	if wh := cfg.Webhook; wh != nil {
		if cfg.Kind != KindScan {
			return fmt.Errorf("threatwinds: a webhook is sent with scans; kind %s schedules none", cfg.Kind)
		}
		u, err := url.Parse(wh.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("threatwinds: webhook url %q is not an absolute http or https URL", wh.URL)
		}
		for i, h := range wh.Headers {
			if h.Key == "" || strings.ContainsAny(h.Key, " \t\r\n:") || strings.ContainsAny(h.Value, "\r\n") {
				return fmt.Errorf("threatwinds: webhook header %d (%q) is not a valid header", i+1, h.Key)
			}
		}
	}
	if cfg.InFlight <= 0 {
		cfg.InFlight = DefaultInFlight
	}
	if cfg.HTTP.MaxConns <= 0 {
		cfg.HTTP.MaxConns = cfg.InFlight
	}
	if cfg.Remember <= 0 {
		cfg.Remember = DefaultRemember
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// A Client is a ThreatWinds sink. It posts one request per indicator (the
// API has no batch endpoint), with at most Config.InFlight requests in
// flight across all the batches it is sending. It remembers what it last
// posted for each entity acknowledged (up to Config.Remember of them) and
// does not post the same again; an entity whose body differs — another
// reputation or tags — is posted again, a correction. It is safe for
// concurrent use.
type Client struct {
	cfg  Config
	set  settings
	base string // URL up to and including BasePath
	path string // the path part of base, for messages
	doer *sinks.Doer
	log  *slog.Logger
	sem  chan struct{}

	mu        sync.Mutex
	acked     *memo[entityKey, uint64] // the hash of the body acknowledged
	flight    map[entityKey]chan struct{}
	commented *memo[commentKey, struct{}]
}

// New checks cfg and returns a Client for it.
func New(cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.HTTP.MaxConns < cfg.InFlight {
		cfg.Logger.Warn("threatwinds: max_conns is below in_flight; requests will wait for connections",
			"max_conns", cfg.HTTP.MaxConns, "in_flight", cfg.InFlight)
	}
	cfg.HTTP.Logger = cfg.Logger
	base := strings.TrimRight(cfg.URL, "/")
	if !strings.HasSuffix(base, BasePath) {
		base += BasePath
	}
	u, _ := url.Parse(base) // validated
	return &Client{
		cfg:       cfg,
		set:       settingsOf(cfg),
		base:      base,
		path:      u.Path,
		doer:      sinks.NewDoer(cfg.HTTP).Scrubbing(secretsOf(cfg)...),
		log:       cfg.Logger,
		sem:       make(chan struct{}, cfg.InFlight),
		acked:     newMemo[entityKey, uint64](cfg.Remember),
		flight:    map[entityKey]chan struct{}{},
		commented: newMemo[commentKey, struct{}](cfg.Remember),
	}, nil
}

// secretsOf returns the secrets of cfg, scrubbed from every error: the
// credentials and the webhook's header values, sent in scan bodies.
func secretsOf(cfg Config) []string {
	out := []string{cfg.APIKey, cfg.APISecret, cfg.Token}
	if cfg.Webhook != nil {
		for _, h := range cfg.Webhook.Headers {
			out = append(out, h.Value)
		}
	}
	return out
}

// Retries returns how many requests were retried so far.
func (c *Client) Retries() int64 { return c.doer.Retries() }

// do sends one request within the Client's in-flight limit, through the
// Doer: retries, backoff and rate limit. It returns the answer of a 2xx.
func (c *Client) do(ctx context.Context, method, endpoint string, body []byte) (*http.Response, []byte, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	defer func() { <-c.sem }()
	target := c.base + endpoint
	return c.doer.Do(ctx, func(ctx context.Context) (*http.Request, error) {
		var rd io.Reader = http.NoBody
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, target, rd)
		if err != nil {
			return nil, err
		}
		h := req.Header
		if body != nil {
			h["Content-Type"] = []string{"application/json"}
		}
		h["Accept"] = []string{"application/json"}
		h["User-Agent"] = []string{"iocpipe"}
		if c.cfg.Token != "" {
			h["Authorization"] = []string{"Bearer " + c.cfg.Token}
		} else {
			h["Api-Key"] = []string{c.cfg.APIKey}
			h["Api-Secret"] = []string{c.cfg.APISecret}
		}
		return req, nil
	}, decodeError)
}

// errorBody is the JSON body of an error answer, which repeats the
// x-error and x-error-id headers.
type errorBody struct {
	Error   string `json:"error"`
	ID      string `json:"id"`
	Message string `json:"message"`
}

// decodeError reads the API's error: the message from x-error and the
// error id from x-error-id, else from the body.
func decodeError(resp *http.Response, body []byte) *sinks.HTTPError {
	he := &sinks.HTTPError{
		Status:  resp.StatusCode,
		Message: resp.Header.Get("X-Error"),
		ErrorID: resp.Header.Get("X-Error-Id"),
	}
	if he.Message == "" || he.ErrorID == "" {
		var eb errorBody
		if json.Unmarshal(body, &eb) == nil {
			if he.Message == "" {
				he.Message = eb.Error
				if he.Message == "" {
					he.Message = eb.Message
				}
			}
			if he.ErrorID == "" {
				he.ErrorID = eb.ID
			}
		}
	}
	if he.Message == "" {
		he.Message = sinks.Excerpt(body)
	}
	return he
}

// A fatalError is an answer no retry can mend: 401 or 403. It wraps
// ioc.ErrFatal and the *sinks.HTTPError.
type fatalError struct {
	msg string
	he  *sinks.HTTPError
}

func (e *fatalError) Error() string   { return e.msg }
func (e *fatalError) Unwrap() []error { return []error{ioc.ErrFatal, e.he} }

// roles are the roles the endpoints need (ingest/index.md).
var roles = map[string]string{
	"/entity": "reporter", "/association": "reporter", "/comment": "reporter", "/scan": "reporter",
	"/well-known": "trusted", "/definitions": "trusted",
}

// fatal returns the error for a 401 or 403, else nil.
func (c *Client) fatal(err error) error {
	if errors.Is(err, ioc.ErrFatal) {
		return err
	}
	var ce *sinks.CertError
	if errors.As(err, &ce) {
		return fmt.Errorf("%w: %v", ioc.ErrFatal, err)
	}
	var he *sinks.HTTPError
	if !errors.As(err, &he) || (he.Status != http.StatusUnauthorized && he.Status != http.StatusForbidden) {
		return nil
	}
	path := he.URL
	if u, err := url.Parse(he.URL); err == nil {
		path = u.Path
	}
	who := "the API key"
	if c.cfg.Token != "" {
		who = "the bearer token"
	}
	var hint string
	if he.Status == http.StatusUnauthorized {
		hint = who + " was not accepted; check the credentials"
		if c.cfg.Token == "" {
			hint = "the API key and secret were not accepted; check them"
		}
	} else {
		role := roles[strings.TrimPrefix(path, c.path)]
		if role == "" {
			role = "reporter or trusted"
		}
		hint = who + " needs the " + role + " role"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "ThreatWinds refused %s %s: %d %s", he.Method, path, he.Status, http.StatusText(he.Status))
	if he.Message != "" {
		b.WriteString(": " + he.Message)
	}
	if he.ErrorID != "" {
		b.WriteString(" (error id " + he.ErrorID + ")")
	}
	b.WriteString(" — " + hint)
	return &fatalError{msg: b.String(), he: he}
}

// A Definition is one entity type of GET /definitions. The docs show
// attributes as names and the vendor SDK as nested definitions, so only
// the type and description are decoded; Raw holds the entry as received.
type Definition struct {
	Type        string          `json:"type"`
	Description string          `json:"description"`
	Raw         json.RawMessage `json:"-"`
}

// Definitions fetches the entity types the API knows (GET /definitions,
// role trusted). A 401 or 403 is an error wrapping ioc.ErrFatal.
func (c *Client) Definitions(ctx context.Context) ([]Definition, error) {
	_, body, err := c.do(ctx, http.MethodGet, "/definitions", nil)
	if err != nil {
		if ferr := c.fatal(err); ferr != nil {
			return nil, ferr
		}
		return nil, fmt.Errorf("threatwinds: fetching definitions: %w", err)
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("threatwinds: GET %s/definitions answered something other than a JSON array: %q", c.path, sinks.Excerpt(sinks.Scrub(body, secretsOf(c.cfg))))
	}
	defs := make([]Definition, 0, len(raw))
	for _, r := range raw {
		var d Definition
		json.Unmarshal(r, &d) // loosely: an entry of another shape keeps only Raw
		d.Raw = r
		defs = append(defs, d)
	}
	return defs, nil
}
