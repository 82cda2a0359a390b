package taxii

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/iocpipe/iocpipe/sinks"
)

// MediaType is the TAXII 2.1 media type the client asks for and accepts.
const MediaType = "application/taxii+json;version=2.1"

// Defaults of Options.
const (
	// DefaultMaxPageBytes is the largest answer read when
	// Options.MaxPageBytes is zero.
	DefaultMaxPageBytes = 32 << 20
)

// Errors a caller can tell apart with errors.Is; each is wrapped in an
// error naming the URL (and the collection).
var (
	// ErrUnauthorized is a 401: credentials missing or wrong.
	ErrUnauthorized = errors.New("authentication failed (401 Unauthorized): check the username and password, or the token")
	// ErrForbidden is a 403: the credentials may not do this.
	ErrForbidden = errors.New("forbidden (403): the credentials may not read this")
	// ErrNotFound is a 404.
	ErrNotFound = errors.New("not found (404): check the URL (TAXII paths end with /)")
	// ErrNotReadable is a collection whose can_read is false.
	ErrNotReadable = errors.New("the collection cannot be read (can_read is false)")
	// ErrMediaType is an answer that is not application/taxii+json;version=2.1,
	// or a 406 or 415 from the server.
	ErrMediaType = errors.New("not a TAXII 2.1 answer")
	// ErrTAXII20 is a TAXII 2.0 server, which this client does not read.
	ErrTAXII20 = errors.New("TAXII 2.0 server: iocpipe reads TAXII 2.1 only (application/taxii+json;version=2.1)")
	// ErrNoCollection is a collection id, title or alias the API root does
	// not list.
	ErrNoCollection = errors.New("no such collection")
	// ErrNotDiscovery is a URL that answers an API root where discovery
	// was asked for.
	ErrNotDiscovery = errors.New("an API root, not a discovery endpoint")
)

// Options configures a Client. The zero Options sends no credentials and
// uses the sinks' HTTP defaults with TLS verification on.
type Options struct {
	// Username and Password are HTTP Basic credentials; Token a bearer
	// token. Give one or the other, or neither.
	Username, Password string
	Token              string
	// HTTP configures connections, TLS verification, timeouts and the
	// retries of 429 and 5xx answers, as for the sinks. HTTP.Sink names
	// the client in log lines; "" means "taxii". HTTP.MaxAnswer is set
	// from MaxPageBytes.
	HTTP sinks.HTTPOptions
	// Limit is the page size asked for (the limit parameter); zero or
	// less sends none, leaving the server's default.
	Limit int
	// MaxPageBytes is the largest answer read, in bytes; a larger page is
	// an error (ask for a smaller Limit). Zero means DefaultMaxPageBytes.
	MaxPageBytes int
	// Logger receives warnings about misbehaving servers; nil discards
	// them. It is also HTTP.Logger when that is nil.
	Logger *slog.Logger
}

// A Client talks to TAXII 2.1 servers. It is safe for concurrent use.
// Create one with New.
type Client struct {
	opts Options
	doer *sinks.Doer
	log  *slog.Logger
}

// New returns a Client for opts; giving both Basic credentials and a
// token is an error.
func New(opts Options) (*Client, error) {
	if opts.Token != "" && (opts.Username != "" || opts.Password != "") {
		return nil, errors.New("taxii: give a username and password or a token, not both")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxPageBytes <= 0 {
		opts.MaxPageBytes = DefaultMaxPageBytes
	}
	h := opts.HTTP
	if h.Sink == "" {
		h.Sink = "taxii"
	}
	if h.Logger == nil {
		h.Logger = opts.Logger
	}
	h.MaxAnswer = opts.MaxPageBytes
	return &Client{opts: opts, doer: sinks.NewDoer(h), log: opts.Logger}, nil
}

// get sends GET u with the TAXII Accept header and the credentials,
// retrying transient failures, checks that the answer is TAXII 2.1 and
// decodes it into v. It returns the answer's headers.
func (c *Client) get(ctx context.Context, u string, v any) (http.Header, error) {
	build := func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", MediaType)
		switch {
		case c.opts.Token != "":
			req.Header.Set("Authorization", "Bearer "+c.opts.Token)
		case c.opts.Username != "" || c.opts.Password != "":
			req.SetBasicAuth(c.opts.Username, c.opts.Password)
		}
		return req, nil
	}
	resp, body, err := c.doer.Do(ctx, build, decodeError)
	if err != nil {
		return nil, explain(err)
	}
	if err := checkMediaType(resp.Header.Get("Content-Type")); err != nil {
		return nil, fmt.Errorf("GET %s: %w", redacted(u), err)
	}
	if len(body) >= c.opts.MaxPageBytes {
		return nil, fmt.Errorf("GET %s: the answer is larger than %d bytes: ask for smaller pages (limit)", redacted(u), c.opts.MaxPageBytes)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return nil, fmt.Errorf("GET %s: %w: the answer does not decode: %v (%s)", redacted(u), ErrMediaType, err, sinks.Excerpt(body))
	}
	return resp.Header, nil
}

// taxiiError is the TAXII error message resource.
type taxiiError struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	ErrorID     string `json:"error_id"`
	ErrorCode   string `json:"error_code"`
}

// decodeError reads a TAXII error message into the sinks' HTTPError.
func decodeError(resp *http.Response, body []byte) *sinks.HTTPError {
	he := &sinks.HTTPError{Status: resp.StatusCode, Message: sinks.Excerpt(body)}
	var te taxiiError
	if json.Unmarshal(body, &te) == nil && te.Title != "" {
		he.Message = te.Title
		if te.Description != "" {
			he.Message += ": " + te.Description
		}
		he.ErrorID = te.ErrorID
	}
	return he
}

// explain wraps an answer's error with the sentinel its status means.
func explain(err error) error {
	var he *sinks.HTTPError
	if !errors.As(err, &he) {
		return err
	}
	switch he.Status {
	case http.StatusOK, http.StatusCreated, http.StatusAccepted, http.StatusNonAuthoritativeInfo, http.StatusNoContent:
		return fmt.Errorf("%w: %w", ErrMediaType, err) // a 2xx that is not JSON: a proxy's page
	case http.StatusUnauthorized:
		return fmt.Errorf("%w: %w", ErrUnauthorized, err)
	case http.StatusForbidden:
		return fmt.Errorf("%w: %w", ErrForbidden, err)
	case http.StatusNotFound:
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case http.StatusNotAcceptable:
		return fmt.Errorf("%w: the server does not serve %s (406 Not Acceptable; a TAXII 2.0 server would not): %w", ErrMediaType, MediaType, err)
	case http.StatusUnsupportedMediaType:
		return fmt.Errorf("%w: the server refuses %s (415 Unsupported Media Type): %w", ErrMediaType, MediaType, err)
	}
	return err
}

// checkMediaType accepts a Content-Type of TAXII 2.1 and explains any
// other.
func checkMediaType(ct string) error {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("%w: Content-Type %q, not %s", ErrMediaType, ct, MediaType)
	}
	v := params["version"]
	switch {
	case mt == "application/vnd.oasis.taxii+json" || (mt == "application/taxii+json" && v == "2.0"):
		return fmt.Errorf("%w (answered Content-Type %q)", ErrTAXII20, ct)
	case mt == "application/taxii+json" && (v == "" || v == "2.1"):
		return nil
	}
	return fmt.Errorf("%w: Content-Type %q, not %s", ErrMediaType, ct, MediaType)
}

// redacted is u without any credentials in it.
func redacted(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.Redacted()
}

// withSlash returns u ending with "/": TAXII's URLs all do.
func withSlash(u string) string {
	if strings.HasSuffix(u, "/") {
		return u
	}
	return u + "/"
}
