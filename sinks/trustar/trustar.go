// Package trustar delivers indicators to the TruSTAR API 1.3: OAuth2
// client credentials with a cached token, POST /api/1.3/indicators with
// enclaveIds, content and tags, retries and rate limiting through the
// shared sinks kit, 413 splitting and 400 isolation of refused rows.
//
// Its emulator is the package trustartest beside it.
package trustar

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/sinks"
)

// MaxIndicators is the most indicators TruSTAR takes in one submission;
// more is a 413.
const MaxIndicators = 10000

// Config configures a Client. URL, Key and Secret are required.
type Config struct {
	// URL is the base URL; the client appends /oauth/token and /api/1.3/.
	URL string
	// Key and Secret are the API credentials (from the environment).
	Key, Secret string
	// HTTP tunes the HTTP side: timeouts, retries, rate, connections.
	HTTP sinks.HTTPOptions
	// MaxIsolation bounds the extra requests spent isolating the rows of a
	// refused (400) batch; 0 means 200. Rows not isolated within it are
	// rejected with the batch's message.
	MaxIsolation int
	// Logger receives the client's log; nil discards it.
	Logger *slog.Logger
}

// A Client is a TruSTAR sink. It is safe for concurrent use.
type Client struct {
	cfg   Config
	base  string
	doer  *sinks.Doer
	log   *slog.Logger
	token tokenCache
}

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("trustar: url %q is not an absolute URL", cfg.URL)
	}
	if cfg.Key == "" || cfg.Secret == "" {
		return nil, errors.New("trustar: the API key and secret are required")
	}
	if cfg.MaxIsolation <= 0 {
		cfg.MaxIsolation = 200
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.HTTP.Logger = cfg.Logger
	c := &Client{cfg: cfg, base: strings.TrimRight(cfg.URL, "/"), doer: sinks.NewDoer(cfg.HTTP).Scrubbing(cfg.Key, cfg.Secret), log: cfg.Logger}
	return c, nil
}

// Retries returns how many requests were retried.
func (c *Client) Retries() int64 { return c.doer.Retries() }

// Send implements pipeline.Sink: it posts the batch, splitting it on 413
// and isolating refused rows on 400. What one part of a split batch
// delivered is acknowledged whatever the other parts do: a part whose
// retries ran out is in Result.Failed, and so are the parts after it,
// unsent. Send returns an error when the batch is stopped (a fatal
// answer, ctx ending), or when nothing of it was delivered for want of
// retries (every item counts as failed then).
func (c *Client) Send(ctx context.Context, b *ioc.Batch) (ioc.Result, error) {
	s := &sender{c: c, sub: b.Sub, budget: c.cfg.MaxIsolation}
	err := s.send(ctx, b.Items, 0)
	if err == nil && s.stop != nil && s.res.Requests == 0 && len(s.res.Failed) == len(b.Items) {
		return ioc.Result{}, s.stop
	}
	return s.res, err
}

// sender delivers one batch: its result and its isolation budget.
type sender struct {
	c      *Client
	sub    *ioc.Submission
	budget int
	res    ioc.Result
	// stop is the failure of a part whose retries ran out: the parts
	// after it are failed with it, unsent.
	stop error
}

func (s *sender) send(ctx context.Context, items []*ioc.Indicator, offset int) error {
	if s.stop != nil {
		s.fail(offset, len(items), s.stop.Error(), s.stop)
		return nil
	}
	if len(items) > MaxIndicators {
		h := len(items) / 2
		if err := s.send(ctx, items[:h], offset); err != nil {
			return err
		}
		return s.send(ctx, items[h:], offset+h)
	}
	traceID, err := s.c.post(ctx, Body(s.sub, items))
	return s.outcome(ctx, items, offset, traceID, err)
}

// outcome accounts for the answer to items, posted as one submission:
// delivered, split on 413, isolated on 400, or failed.
func (s *sender) outcome(ctx context.Context, items []*ioc.Indicator, offset int, traceID string, err error) error {
	if err == nil {
		s.res.Requests++
		if traceID != "" {
			s.res.IDs = append(s.res.IDs, traceID)
		}
		return nil
	}
	var he *sinks.HTTPError
	if errors.Is(err, ioc.ErrFatal) || ctx.Err() != nil || !errors.As(err, &he) {
		return err
	}
	switch he.Status {
	case http.StatusRequestEntityTooLarge:
		if len(items) == 1 {
			s.reject(offset, he)
			return nil
		}
		h := len(items) / 2
		s.c.log.Info("submission too large, splitting", "indicators", len(items))
		if err := s.send(ctx, items[:h], offset); err != nil {
			return err
		}
		return s.send(ctx, items[h:], offset+h)
	case http.StatusBadRequest:
		return s.isolate(ctx, items, offset, he)
	}
	// Retries ran out: this part failed, and the parts after it would too.
	s.stop = err
	s.fail(offset, len(items), err.Error(), err)
	return nil
}

// fail records items offset..offset+n-1 as not delivered, for reason.
func (s *sender) fail(offset, n int, reason string, err error) {
	ir := ioc.ItemReject{Reason: reason}
	var he *sinks.HTTPError
	if errors.As(err, &he) {
		ir.Status, ir.ErrorID, ir.TraceID = he.Status, he.ErrorID, he.TraceID
	}
	for i := range n {
		ir.Index = offset + i
		s.res.Failed = append(s.res.Failed, ir)
	}
}

// isolate finds the rows a 400 refers to and delivers the others. When the
// message names rows (content[N], or a value quoted in it), those are
// rejected and the rest resent; otherwise the batch is bisected, and when
// both halves are refused with the same message the 400 is about the
// request, not a row: the rows fail. Extra requests are bounded by the
// budget; rows left when it runs out are rejected with the message.
func (s *sender) isolate(ctx context.Context, items []*ioc.Indicator, offset int, he *sinks.HTTPError) error {
	if len(items) == 1 {
		s.reject(offset, he)
		return nil
	}
	if s.budget <= 0 {
		for i := range items {
			s.reject(offset+i, he)
		}
		return nil
	}
	if named := blamed(he.Message, items); len(named) > 0 && len(named) < len(items) {
		var rest []*ioc.Indicator
		var restIdx []int
		for i, in := range items {
			if named[i] {
				s.reject(offset+i, he)
				continue
			}
			rest = append(rest, in)
			restIdx = append(restIdx, offset+i)
		}
		s.budget--
		return s.sendScattered(ctx, rest, restIdx)
	}
	return s.bisect(ctx, items, offset)
}

// bisect posts both halves of items, refused as a whole by a 400 that
// names no row, and accounts for each.
func (s *sender) bisect(ctx context.Context, items []*ioc.Indicator, offset int) error {
	h := len(items) / 2
	s.budget -= 2
	id1, err1 := s.c.post(ctx, Body(s.sub, items[:h]))
	var he1 *sinks.HTTPError
	if !errors.As(err1, &he1) || he1.Status != http.StatusBadRequest {
		if err := s.outcome(ctx, items[:h], offset, id1, err1); err != nil {
			return err
		}
		return s.send(ctx, items[h:], offset+h)
	}
	id2, err2 := s.c.post(ctx, Body(s.sub, items[h:]))
	var he2 *sinks.HTTPError
	if errors.As(err2, &he2) && he2.Status == http.StatusBadRequest && he2.Message == he1.Message {
		s.c.log.Warn("TruSTAR refused the submission naming no row", "indicators", len(items), "status", he2.Status, "message", he2.Message)
		s.fail(offset, len(items), fmt.Sprintf("refused by TruSTAR (%d) for the whole submission; the message names no row: %s", he2.Status, he2.Message), he2)
		return nil
	}
	if err := s.outcome(ctx, items[:h], offset, id1, err1); err != nil {
		return err
	}
	return s.outcome(ctx, items[h:], offset+h, id2, err2)
}

// sendScattered sends items whose batch indexes are not contiguous.
func (s *sender) sendScattered(ctx context.Context, items []*ioc.Indicator, idx []int) error {
	inner := &sender{c: s.c, sub: s.sub, budget: s.budget, stop: s.stop}
	err := inner.send(ctx, items, 0)
	s.budget, s.stop = inner.budget, inner.stop
	s.res.Requests += inner.res.Requests
	s.res.IDs = append(s.res.IDs, inner.res.IDs...)
	for _, r := range inner.res.Rejects {
		r.Index = idx[r.Index]
		s.res.Rejects = append(s.res.Rejects, r)
	}
	for _, r := range inner.res.Failed {
		r.Index = idx[r.Index]
		s.res.Failed = append(s.res.Failed, r)
	}
	return err
}

func (s *sender) reject(index int, he *sinks.HTTPError) {
	s.res.Rejects = append(s.res.Rejects, ioc.ItemReject{
		Index: index, Reason: fmt.Sprintf("refused by TruSTAR (%d): %s", he.Status, he.Message),
		Status: he.Status, ErrorID: he.ErrorID, TraceID: he.TraceID,
	})
}

var contentIndex = regexp.MustCompile(`content\[(\d+)\]`)

// blamed returns the items an error message points at: by index
// (content[N]) or by quoting their value.
func blamed(msg string, items []*ioc.Indicator) map[int]bool {
	named := map[int]bool{}
	for _, m := range contentIndex.FindAllStringSubmatch(msg, -1) {
		if i, err := strconv.Atoi(m[1]); err == nil && i < len(items) {
			named[i] = true
		}
	}
	if len(named) > 0 {
		return named
	}
	for i, in := range items {
		if len(in.Value) >= 4 && (strings.Contains(msg, `"`+in.Value+`"`) || strings.Contains(msg, `'`+in.Value+`'`)) {
			named[i] = true
		}
	}
	return named
}

// post sends one submission body and returns the answer's Trace-Id. An
// expired or invalid token refreshes it once; a 401 or 403 after that is
// fatal.
func (c *Client) post(ctx context.Context, body []byte) (string, error) {
	refreshed := false
	for {
		tok, err := c.token.get(ctx, c, refreshed)
		if err != nil {
			return "", err
		}
		resp, _, err := c.doer.Do(ctx, func(ctx context.Context) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/api/1.3/indicators", bytes.NewReader(body))
			if err != nil {
				return nil, err
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Client-Type", "iocpipe")
			return req, nil
		}, decodeError)
		if err == nil {
			return resp.Header.Get("Trace-Id"), nil
		}
		var he *sinks.HTTPError
		if errors.As(err, &he) && !refreshed && (he.Status == http.StatusUnauthorized || he.Status == http.StatusForbidden || tokenProblem(he)) {
			c.log.Info("token refused, fetching a new one", "status", he.Status, "message", he.Message)
			refreshed = true
			continue
		}
		if errors.As(err, &he) && (he.Status == http.StatusUnauthorized || he.Status == http.StatusForbidden || tokenProblem(he)) {
			return "", fmt.Errorf("%w: TruSTAR refused the credentials even with a fresh token: %v", ioc.ErrFatal, err)
		}
		return "", fatalCert(err)
	}
}

// fatalCert makes a certificate error fatal for the run: no retry and no
// other batch can get past it.
func fatalCert(err error) error {
	var ce *sinks.CertError
	if errors.As(err, &ce) {
		return fmt.Errorf("%w: %v", ioc.ErrFatal, err)
	}
	return err
}

// tokenProblem reports TruSTAR's way of saying the token expired or is
// invalid: a 400 whose error_description names the oauth2 access token.
func tokenProblem(he *sinks.HTTPError) bool {
	return he.Status == http.StatusBadRequest && strings.Contains(strings.ToLower(he.Message), "oauth2 access token")
}

// errorBody covers TruSTAR's error shapes: the generic
// {status, error, message}, OAuth's {error, error_description} and the
// 429's {message, waitTime}.
type errorBody struct {
	Message          string `json:"message"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	WaitTime         *int64 `json:"waitTime"`
}

func decodeError(resp *http.Response, body []byte) *sinks.HTTPError {
	he := &sinks.HTTPError{Status: resp.StatusCode}
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil {
		switch {
		case eb.ErrorDescription != "":
			he.Message = eb.ErrorDescription
			if eb.Error != "" {
				he.Message = eb.Error + ": " + eb.ErrorDescription
			}
		case eb.Message != "":
			he.Message = eb.Message
		case eb.Error != "":
			he.Message = eb.Error
		}
		if eb.WaitTime != nil && *eb.WaitTime > 0 {
			// waitTime is in milliseconds (the API docs and the SDK agree).
			he.RetryAfter = time.Duration(*eb.WaitTime) * time.Millisecond
		}
	}
	if he.Message == "" {
		he.Message = sinks.Excerpt(body)
	}
	return he
}

// tokenCache holds the OAuth2 token and refreshes it shortly before it
// expires, or when asked to after the API refused it.
type tokenCache struct {
	mu     sync.Mutex
	token  string
	expiry time.Time
}

type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
}

func (t *tokenCache) get(ctx context.Context, c *Client, force bool) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !force && t.token != "" && time.Until(t.expiry) > 0 {
		return t.token, nil
	}
	// The token call does not count against the API's rate limit.
	_, body, err := c.doer.Unlimited().Do(ctx, func(ctx context.Context) (*http.Request, error) {
		form := url.Values{"grant_type": {"client_credentials"}}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/oauth/token", strings.NewReader(form.Encode()))
		if err != nil {
			return nil, err
		}
		req.SetBasicAuth(c.cfg.Key, c.cfg.Secret)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req, nil
	}, decodeError)
	if err != nil {
		var he *sinks.HTTPError
		if errors.As(err, &he) && he.Status >= 400 && he.Status < 500 && !sinks.Retryable(he.Status) {
			return "", fmt.Errorf("%w: TruSTAR refused the API key and secret: %v", ioc.ErrFatal, err)
		}
		return "", fmt.Errorf("fetching a TruSTAR token: %w", fatalCert(err))
	}
	var a tokenAnswer
	if err := json.Unmarshal(body, &a); err != nil || a.AccessToken == "" {
		return "", fmt.Errorf("fetching a TruSTAR token: no access_token in the answer %q", sinks.Excerpt(sinks.Scrub(body, []string{c.cfg.Key, c.cfg.Secret})))
	}
	ttl := time.Duration(a.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = 10 * time.Minute
	}
	// Refresh a little early: a token that expires in flight costs a
	// round trip and a retry.
	t.token, t.expiry = a.AccessToken, time.Now().Add(ttl-min(ttl/10, 30*time.Second))
	return t.token, nil
}
