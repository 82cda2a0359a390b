// Package sinks holds what every HTTP sink shares: the client with its
// connection pool and TLS settings, the single decision of which answers
// are retried, backoff with full jitter under a deadline, the rate
// limiter, and the error type that carries an API's own error ids.
//
// Each API lives in its own package below (sinks/trustar,
// sinks/threatwinds), beside its emulator.
package sinks

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// HTTPOptions configures the HTTP side of a sink. The zero value of each
// field means the default in its comment.
type HTTPOptions struct {
	// Timeout bounds one attempt of a request, answer body included; 0
	// means 60s. After an attempt times out, the next one of the same
	// request gets twice as long, up to MaxTimeoutFactor times Timeout:
	// an API slower than Timeout still processes the request, so
	// retrying within the same time would only send it again and again.
	Timeout time.Duration
	// RetryDeadline bounds the retries of one request; 0 means 5m. A
	// negative value retries forever (watch mode).
	RetryDeadline time.Duration
	// BaseDelay is the first backoff; 0 means 250ms.
	BaseDelay time.Duration
	// MaxDelay caps one backoff; 0 means 30s.
	MaxDelay time.Duration
	// RatePerMinute limits calls; 0 means no limit.
	RatePerMinute float64
	// Burst is the rate limiter's burst; 0 means 1.
	Burst int
	// Limiter, when set, spaces the calls instead of the in-process
	// limiter of RatePerMinute and Burst (NewRateLimiter): a quota shared
	// by several instances (sinks/quota). It learns each 429's wait hint.
	Limiter Limiter
	// MaxConns caps connections to the API host; 0 means 16.
	MaxConns int
	// MaxAnswer is the most of an answer's body read, in bytes; 0 means
	// 64 KiB, enough for the sinks' answers. A longer 2xx body is cut at
	// this size: a client that reads large answers (TAXII pages) sets it
	// and treats a body of exactly this size as too large.
	MaxAnswer int
	// InsecureSkipVerify turns TLS verification off. Callers log a warning.
	InsecureSkipVerify bool
	// Logger receives retries and failures; nil discards them.
	Logger *slog.Logger
	// Sink names the sink in log lines ("trustar"); empty means "http".
	Sink string
	// Observer learns how the requests fare; nil means no one.
	Observer Observer
}

// An Observer learns whether a sink is reachable, from each attempt of its
// requests. Failed is called after an attempt that failed in a way that
// says the sink is unreachable or unwell — a network error, a timeout, an
// untrusted certificate, an answer Retryable approves or a 2xx that is not
// the API's (a proxy's page) — whether or not it is retried; Succeeded
// after an attempt the API answered otherwise (a 2xx, or an answer that is
// the request's fault, such as a 400). Both
// must be safe for concurrent use and must not block.
type Observer interface {
	Failed(err error)
	Succeeded()
}

// unreachableEvery is how often a request that keeps failing logs
// "sink unreachable, retrying" again after its first failed attempt.
var unreachableEvery = time.Minute

func (o *HTTPOptions) defaults() {
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	if o.RetryDeadline == 0 {
		o.RetryDeadline = 5 * time.Minute
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = 250 * time.Millisecond
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = 30 * time.Second
	}
	if o.Burst <= 0 {
		o.Burst = 1
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 16
	}
	if o.MaxAnswer <= 0 {
		o.MaxAnswer = maxAnswer
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Sink == "" {
		o.Sink = "http"
	}
}

// MaxTimeoutFactor caps how far the timeout of a request's attempts grows
// after timeouts: 8 times HTTPOptions.Timeout.
const MaxTimeoutFactor = 8

// A Doer sends requests with a pooled client, a rate limit and retries.
// It is safe for concurrent use.
type Doer struct {
	opts    HTTPOptions
	client  *http.Client
	limiter Limiter // nil: no limit
	// retries counts retried attempts; shared with Unlimited copies.
	retries *atomicCounter
	// secrets are scrubbed from errors besides the credentials the
	// requests carry.
	secrets []string
}

// Scrubbing returns a Doer like d that also scrubs secrets from errors:
// values sent other than as credentials (webhook headers in a body). The
// credentials a request carries are always scrubbed (see Scrub).
func (d *Doer) Scrubbing(secrets ...string) *Doer {
	c := *d
	c.secrets = append(slices.Clip(d.secrets), secrets...)
	return &c
}

// NewDoer returns a Doer for opts.
func NewDoer(opts HTTPOptions) *Doer {
	opts.defaults()
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        opts.MaxConns,
		MaxIdleConnsPerHost: opts.MaxConns,
		MaxConnsPerHost:     opts.MaxConns,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   true,
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: opts.InsecureSkipVerify, MinVersion: tls.VersionTLS12}, //nolint:gosec // off only on explicit request, with a warning
	}
	d := &Doer{opts: opts, client: &http.Client{Transport: tr}, retries: &atomicCounter{}}
	switch {
	case opts.Limiter != nil:
		d.limiter = opts.Limiter
	case opts.RatePerMinute > 0:
		d.limiter = NewRateLimiter(opts.RatePerMinute, opts.Burst)
	}
	return d
}

// Unlimited returns a Doer sharing d's connections and retry policy but
// not its rate limit: for calls the API does not count, such as fetching
// an OAuth token.
func (d *Doer) Unlimited() *Doer {
	return &Doer{opts: d.opts, client: d.client, retries: d.retries, secrets: d.secrets}
}

// Retries returns how many attempts were retried so far.
func (d *Doer) Retries() int64 { return d.retries.load() }

// An HTTPError is an answer other than 2xx. It carries the API's own
// error ids so that a reject or a log line can be traced by its support.
type HTTPError struct {
	Method, URL string
	Status      int
	// Message is the API's error message (from x-error, or the body's
	// message/error_description), else an excerpt of the body.
	Message string
	// ErrorID is x-error-id; TraceID is Trace-Id.
	ErrorID, TraceID string
	// RetryAfter is the server's wait hint (Retry-After, or a body's
	// waitTime), 0 when none.
	RetryAfter time.Duration
	// Body is the start of the response body.
	Body []byte
}

func (e *HTTPError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.ErrorID != "" {
		b.WriteString(" (error id " + e.ErrorID + ")")
	}
	if e.TraceID != "" {
		b.WriteString(" (Trace-Id " + e.TraceID + ")")
	}
	return b.String()
}

// Retryable is the one place that decides which answers are transient:
// 408, 425, 429 and 5xx but 501 and 505. Everything else is the
// request's fault and retrying it would not help.
func Retryable(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		return false
	}
	return status >= 500
}

// A Request builds one HTTP request; it is called again for each attempt.
type Request func(ctx context.Context) (*http.Request, error)

// A Decoder turns a non-2xx answer into an HTTPError with the API's own
// message and wait hint; body holds up to 64 KiB of the answer.
type Decoder func(resp *http.Response, body []byte) *HTTPError

// A CertError is a TLS certificate the client does not trust. Retrying
// cannot make it trusted, so Do returns it at once; each API package
// decides what it means for the run (both stop it).
type CertError struct{ Err error }

func (e *CertError) Error() string {
	return "TLS certificate not trusted (fix the server's certificate or the system's CA store; insecure_skip_verify is for tests only): " + e.Err.Error()
}

func (e *CertError) Unwrap() error { return e.Err }

// ErrMaybeDelivered marks a failure whose outcome is unknown: an attempt
// was sent and timed out, and the API may have processed it. Its text
// starts every such error's message.
var ErrMaybeDelivered = errors.New("may have been delivered")

// A TimeoutError is an attempt that got no complete answer within its
// timeout. When Sent, the request had been written: the API may have
// processed it, and the error wraps ErrMaybeDelivered.
type TimeoutError struct {
	Method, URL string
	After       time.Duration
	Sent        bool
}

func (e *TimeoutError) Error() string {
	if !e.Sent {
		return fmt.Sprintf("%s %s: no connection within %s (the request was not sent)", e.Method, e.URL, e.After)
	}
	return fmt.Sprintf("may have been delivered: the request timed out after %s (%s %s)", e.After, e.Method, e.URL)
}

// Is reports a sent request as ErrMaybeDelivered.
func (e *TimeoutError) Is(target error) bool { return e.Sent && target == ErrMaybeDelivered }

// An unknownOutcome is a request that failed in the end after an earlier
// attempt timed out once sent: that attempt may have been processed.
type unknownOutcome struct {
	msg string
	err error
}

func (e *unknownOutcome) Error() string   { return e.msg }
func (e *unknownOutcome) Unwrap() []error { return []error{ErrMaybeDelivered, e.err} }

// Do sends a request, retrying transient failures — network errors,
// timeouts and answers Retryable approves — with exponential backoff and
// full jitter, honouring the server's wait hint, until RetryDeadline (a
// hint that fits in the time left is waited). A 2xx answer whose body is
// neither empty nor JSON is an *HTTPError, not retried.
// Each attempt has its timeout (see HTTPOptions.Timeout). It returns the
// answer's body for a 2xx, else the last error: an *HTTPError for an
// answer; an error wrapping ErrMaybeDelivered when an attempt timed out
// after it was sent. Every wait selects on ctx.
func (d *Doer) Do(ctx context.Context, build Request, decode Decoder) (*http.Response, []byte, error) {
	start := time.Now()
	timeout := d.opts.Timeout
	var sentTimeout *TimeoutError // the last attempt that timed out once sent
	var warned time.Time          // when "sink unreachable" was last logged
	for attempt := 0; ; attempt++ {
		if d.limiter != nil {
			if err := d.limiter.Wait(ctx); err != nil {
				return nil, nil, err
			}
		}
		resp, body, err := d.once(ctx, build, decode, timeout)
		if err == nil {
			d.succeeded()
			return resp, body, nil
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		if certError(err) {
			// Retrying cannot make an untrusted certificate trusted.
			d.failed(err)
			return nil, nil, &CertError{Err: err}
		}
		var he *HTTPError
		hint := time.Duration(0)
		if errors.As(err, &he) {
			if !Retryable(he.Status) {
				if he.Status < 300 {
					d.failed(err) // a proxy's page: the API was not reached
				} else {
					d.succeeded() // the API answered: the request is at fault
				}
				return resp, body, err
			}
			hint = he.RetryAfter
			if he.Status == http.StatusTooManyRequests && hint > 0 && d.limiter != nil {
				d.limiter.Pause(ctx, hint) // a shared quota pauses every instance
			}
		}
		d.failed(err)
		var te *TimeoutError
		if errors.As(err, &te) {
			if te.Sent {
				sentTimeout = te
			}
			timeout = min(2*timeout, MaxTimeoutFactor*d.opts.Timeout)
			d.opts.Logger.Warn("request timed out; the next attempt waits longer", "sink", d.opts.Sink,
				"after", te.After.String(), "next_timeout", timeout.String(), "sent", te.Sent)
		}
		wait, left, ok := d.nextWait(attempt, hint, start)
		if !ok {
			return resp, body, gaveUp(attempt+1, time.Since(start), err, sentTimeout)
		}
		if warned.IsZero() || time.Since(warned) >= unreachableEvery {
			warned = time.Now()
			leftText := "no deadline"
			if left >= 0 {
				leftText = left.Round(time.Millisecond).String()
			}
			d.opts.Logger.Warn("sink unreachable, retrying", "sink", d.opts.Sink, "error", err,
				"attempts", attempt+1, "deadline_in", leftText)
		}
		d.retries.add(1)
		d.opts.Logger.Debug("retrying", "sink", d.opts.Sink, "attempt", attempt+1, "wait", wait.String(), "error", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, nil, ctx.Err()
		}
	}
}

func (d *Doer) failed(err error) {
	if d.opts.Observer != nil {
		d.opts.Observer.Failed(err)
	}
}

func (d *Doer) succeeded() {
	if d.opts.Observer != nil {
		d.opts.Observer.Succeeded()
	}
}

// nextWait returns how long to wait before the attempt after attempt
// (hint is the server's), the time left before the retry deadline (-1:
// none), and false when the retries are over. A backoff drawn past the
// deadline does not end them early: the last attempt is made at the
// deadline; a server's hint longer than what is left does end them.
func (d *Doer) nextWait(attempt int, hint time.Duration, start time.Time) (wait, left time.Duration, ok bool) {
	wait, left = d.backoff(attempt, hint), -1
	dl := d.opts.RetryDeadline
	if dl <= 0 {
		return wait, left, true
	}
	left = max(dl-time.Since(start), 0)
	if hint > 0 && hint <= left {
		wait = min(wait, left) // the hint fits: its jitter must not make it give up
	}
	if wait > left {
		if hint > left || left < lastTry {
			return 0, left, false
		}
		wait = left
	}
	return wait, left, true
}

// lastTry is the least time before the retry deadline worth a last
// attempt.
const lastTry = 10 * time.Millisecond

// gaveUp is the error of a request whose retries ran out after attempts
// in elapsed, the last failing with err; sent is the last attempt that
// timed out once sent, if any, which makes the outcome unknown.
func gaveUp(attempts int, elapsed time.Duration, err error, sent *TimeoutError) error {
	tries := fmt.Sprintf("gave up after %d attempts in %s", attempts, elapsed.Round(time.Millisecond))
	switch {
	case sent == nil:
		return fmt.Errorf("%s: %w", tries, err)
	case errors.Is(err, ErrMaybeDelivered):
		return fmt.Errorf("%w; %s", err, tries)
	}
	return &unknownOutcome{
		msg: fmt.Sprintf("may have been delivered: an attempt timed out after %s; %s: %v", sent.After, tries, err),
		err: err,
	}
}

// backoff is full jitter: a random wait up to base·2^attempt, capped; a
// server hint is a floor, plus up to a tenth of it so that clients told
// the same wait do not return in lockstep.
func (d *Doer) backoff(attempt int, hint time.Duration) time.Duration {
	ceiling := d.opts.MaxDelay
	if attempt < 30 {
		ceiling = min(d.opts.MaxDelay, d.opts.BaseDelay<<attempt)
	}
	wait := time.Duration(rand.Int64N(int64(ceiling) + 1))
	if hint > 0 {
		wait = min(hint, d.opts.MaxDelay*4) + time.Duration(rand.Int64N(int64(hint/10)+1))
	}
	return wait
}

// once makes one attempt within timeout and reads the answer.
func (d *Doer) once(ctx context.Context, build Request, decode Decoder, timeout time.Duration) (*http.Response, []byte, error) {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var wrote atomic.Bool
	actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(true) },
	})
	req, err := build(actx)
	if err != nil {
		return nil, nil, err
	}
	timedOut := func(err error) error {
		if ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
			return &TimeoutError{Method: req.Method, URL: req.URL.Redacted(), After: timeout, Sent: wrote.Load()}
		}
		return err
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, nil, timedOut(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(d.opts.MaxAnswer)))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	if err != nil {
		return resp, nil, timedOut(fmt.Errorf("%s %s: reading the answer: %w", req.Method, req.URL.Redacted(), err))
	}
	// An error body may reflect what was sent, credentials included.
	secrets := credentials(req, d.secrets)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if !jsonOrEmpty(body, d.opts.MaxAnswer) {
			return resp, nil, &HTTPError{
				Method: req.Method, URL: req.URL.Redacted(), Status: resp.StatusCode,
				Message: "the answer is not JSON (a proxy's page?), so not the API's: " + Excerpt(Scrub(body, secrets)),
			}
		}
		return resp, body, nil
	}
	body = Scrub(body, secrets)
	he := decode(resp, body)
	if he == nil {
		he = &HTTPError{Status: resp.StatusCode, Message: Excerpt(body)}
	}
	he.Message = string(Scrub([]byte(he.Message), secrets))
	he.Method, he.URL = req.Method, req.URL.Redacted()
	if he.ErrorID == "" {
		he.ErrorID = resp.Header.Get("X-Error-Id")
	}
	if he.TraceID == "" {
		he.TraceID = resp.Header.Get("Trace-Id")
	}
	if he.RetryAfter == 0 {
		he.RetryAfter = RetryAfter(resp.Header.Get("Retry-After"))
	}
	if len(body) > 512 {
		body = body[:512]
	}
	he.Body = body
	return resp, body, he
}

// jsonOrEmpty reports whether a 2xx answer's body is the API's: empty,
// or JSON (a body cut at the read limit only needs to start like JSON).
// Anything else — an HTML page from a proxy or a captive portal — is not.
func jsonOrEmpty(body []byte, limit int) bool {
	t := bytes.TrimSpace(body)
	if len(t) == 0 || json.Valid(t) {
		return true
	}
	return len(body) == limit && (t[0] == '{' || t[0] == '[')
}

// maxAnswer is the most of an answer's body read by default.
const maxAnswer = 64 << 10

// certError reports a TLS certificate that failed verification.
func certError(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}

// RetryAfter parses a Retry-After header: seconds or an HTTP date.
func RetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// Excerpt returns the start of a body as one line of text.
func Excerpt(body []byte) string {
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// Redacted replaces a secret in Scrub's output.
const Redacted = "[redacted]"

// credentialHeaders are the request headers whose values are secrets.
var credentialHeaders = []string{"Authorization", "Proxy-Authorization", "Api-Key", "Api-Secret", "X-Api-Key", "Cookie"}

// credentials returns the secrets req carries — each credential header's
// value, the credentials after its scheme ("Basic", "Bearer"), and the
// user and password of Basic auth — with extra.
func credentials(req *http.Request, extra []string) []string {
	out := append([]string(nil), extra...)
	for _, h := range credentialHeaders {
		for _, v := range req.Header.Values(h) {
			out = append(out, v)
			if _, cred, ok := strings.Cut(v, " "); ok {
				out = append(out, strings.TrimSpace(cred))
			}
		}
	}
	if user, pass, ok := req.BasicAuth(); ok {
		out = append(out, user, pass)
	}
	return out
}

// Scrub returns b with every secret replaced by Redacted, as it is and as
// it appears inside a JSON string; empty secrets are skipped, longer ones
// first, so that a secret containing another is replaced whole. b is not
// modified.
func Scrub(b []byte, secrets []string) []byte {
	forms := make([]string, 0, 2*len(secrets))
	for _, s := range secrets {
		if s == "" {
			continue
		}
		forms = append(forms, s)
		if q := AppendString(nil, s); string(q[1:len(q)-1]) != s {
			forms = append(forms, string(q[1:len(q)-1]))
		}
	}
	slices.SortFunc(forms, func(a, b string) int { return len(b) - len(a) })
	for _, f := range forms {
		if bytes.Contains(b, []byte(f)) {
			b = bytes.ReplaceAll(b, []byte(f), []byte(Redacted))
		}
	}
	return b
}
