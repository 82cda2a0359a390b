package sinks_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/sinks"
	"github.com/iocpipe/iocpipe/sinks/faults"
	"github.com/iocpipe/iocpipe/sinks/threatwinds"
	"github.com/iocpipe/iocpipe/sinks/threatwinds/threatwindstest"
	"github.com/iocpipe/iocpipe/sinks/trustar"
	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

// entityRequest returns a Request posting one entity to the ThreatWinds
// emulator at url with the reporter's key and secret.
func entityRequest(url string) sinks.Request {
	return func(ctx context.Context) (*http.Request, error) {
		body := `{"type":"ip","attributes":{"ip":"8.8.8.8"},"reputation":-1,"tags":[]}`
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/api/ingest/v1/entity", bytes.NewReader([]byte(body)))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Api-Key", "reporter")
		req.Header.Set("Api-Secret", "reporter")
		return req, nil
	}
}

func noDecoder(*http.Response, []byte) *sinks.HTTPError { return nil }

// TestTimeoutOutcomeUnknown runs against an API that processes every
// request but answers later than the timeout: the timeout doubles after
// each timeout, up to 8×, and a failure says the request may have been
// delivered.
func TestTimeoutOutcomeUnknown(t *testing.T) {
	tests := []struct {
		name      string
		slow      time.Duration
		timeout   time.Duration
		deadline  time.Duration
		wantErr   bool
		wantInErr []string
	}{
		{"in time once the timeout doubled", 250 * time.Millisecond, 150 * time.Millisecond, 3 * time.Second, false, nil},
		{"never in time", 5 * time.Second, 20 * time.Millisecond, 700 * time.Millisecond, true,
			[]string{"may have been delivered", "timed out after 160ms", "gave up after"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := threatwindstest.NewServer(threatwindstest.Options{Faults: faults.Options{SlowAnswer: tt.slow}})
			defer s.Close()
			d := sinks.NewDoer(sinks.HTTPOptions{Timeout: tt.timeout, RetryDeadline: tt.deadline, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond})
			_, _, err := d.Do(context.Background(), entityRequest(s.URL), noDecoder)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Do: %v, want error %v", err, tt.wantErr)
			}
			if st := s.Stats(); st.EntityRequests < 2 {
				t.Errorf("the emulator processed %d requests, want at least 2 (each attempt is processed)", st.EntityRequests)
			}
			if !tt.wantErr {
				return
			}
			if !errors.Is(err, sinks.ErrMaybeDelivered) || !strings.HasPrefix(err.Error(), "may have been delivered: ") {
				t.Errorf("error %q: want it to wrap ErrMaybeDelivered and to start with \"may have been delivered: \"", err)
			}
			for _, w := range tt.wantInErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q: want it to contain %q", err, w)
				}
			}
		})
	}
}

// TestErrorsScrubbed runs against APIs that reflect the request's headers
// in their error bodies: no credential sent reaches an error, in any
// form (the Basic value, the key and secret, the bearer token).
func TestErrorsScrubbed(t *testing.T) {
	const key, secret = "client-key-7", `s3cr"et\value`
	basic := base64.StdEncoding.EncodeToString([]byte(key + ":" + secret))
	fast := sinks.HTTPOptions{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, RetryDeadline: 200 * time.Millisecond}
	batch := func(v string) *ioc.Batch {
		return &ioc.Batch{Seq: 1, Sub: &ioc.Submission{Key: "k", Enclaves: []string{"c04caa4e-4d1b-47fc-b9e2-c9ce11396b44"}}, Items: []*ioc.Indicator{{Type: ioc.Domain, Value: v}}}
	}
	// texts gathers what a Send reports: its error and every reason.
	texts := func(res ioc.Result, err error) string {
		var b strings.Builder
		if err != nil {
			b.WriteString(err.Error() + "\n")
		}
		for _, r := range append(res.Rejects, res.Failed...) {
			b.WriteString(r.Reason + "\n")
		}
		return b.String()
	}
	t.Run("trustar token refused", func(t *testing.T) {
		srv := trustartest.NewServer(trustartest.Options{Key: key, Secret: "another", Faults: faults.Options{ReflectHeaders: true}})
		defer srv.Close()
		c, err := trustar.New(trustar.Config{URL: srv.URL, Key: key, Secret: secret, HTTP: fast})
		if err != nil {
			t.Fatal(err)
		}
		got := texts(c.Send(context.Background(), batch("evil.example.com")))
		checkScrubbed(t, got, "Bad client credentials", basic, key, secret, `s3cr\"et\\value`)
	})
	tw := func(name string, cfg threatwinds.Config, secrets ...string) {
		t.Run(name, func(t *testing.T) {
			srv := threatwindstest.NewServer(threatwindstest.Options{
				Users:  []threatwindstest.User{{Key: key, Secret: secret, Token: secret + "-token", Roles: []string{"reporter"}}},
				Faults: faults.Options{ReflectHeaders: true, RejectPattern: regexp.MustCompile(`evil`)},
			})
			defer srv.Close()
			cfg.URL, cfg.HTTP = srv.URL, fast
			c, err := threatwinds.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := texts(c.Send(context.Background(), batch("evil.example.com")))
			checkScrubbed(t, got, "refused value", secrets...)
		})
	}
	tw("threatwinds key and secret", threatwinds.Config{APIKey: key, APISecret: secret}, key, secret, `s3cr\"et\\value`)
	tw("threatwinds bearer token", threatwinds.Config{Token: secret + "-token"}, secret+"-token", `s3cr\"et\\value-token`)
}

// checkScrubbed checks that got says want and holds none of secrets.
func checkScrubbed(t *testing.T, got, want string, secrets ...string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Errorf("reported %q, want it to say %q", got, want)
	}
	for _, s := range secrets {
		if strings.Contains(got, s) {
			t.Errorf("reported %q: it holds the credential %q", got, s)
		}
	}
}

// TestRateLimitWaitWithinDeadline: a 429 whose wait hint fits in the time
// left before the retry deadline is waited, never given up at once: the
// jitter added to the hint is cut to the time left (checked on nextWait,
// with the time already spent given, not measured), and end to end
// against the emulator.
func TestRateLimitWaitWithinDeadline(t *testing.T) {
	d := sinks.NewDoer(sinks.HTTPOptions{BaseDelay: time.Millisecond, MaxDelay: time.Second, RetryDeadline: 515 * time.Millisecond})
	for range 200 { // the jitter is random: up to 50ms on a 500ms hint, past the 15ms left
		wait, left, ok := d.NextWait(1, 500*time.Millisecond, time.Now())
		if !ok || wait > left || wait < 500*time.Millisecond {
			t.Fatalf("hint 500ms with %v left: wait %v, ok %v; want the hint waited, cut to what is left", left, wait, ok)
		}
	}
	if _, _, ok := d.NextWait(1, 600*time.Millisecond, time.Now()); ok {
		t.Error("a hint longer than the time left did not end the retries")
	}
	srv := trustartest.NewServer(trustartest.Options{Faults: faults.Options{FailFirst: 1, FailStatus: http.StatusTooManyRequests, WaitTime: 500 * time.Millisecond}})
	defer srv.Close()
	c, err := trustar.New(trustar.Config{URL: srv.URL, Key: "demo", Secret: "demo",
		HTTP: sinks.HTTPOptions{BaseDelay: time.Millisecond, MaxDelay: time.Second, RetryDeadline: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	b := &ioc.Batch{Seq: 1, Sub: &ioc.Submission{Key: "k", Enclaves: []string{"c04caa4e-4d1b-47fc-b9e2-c9ce11396b44"}}, Items: []*ioc.Indicator{{Type: ioc.Domain, Value: "wait.example.com"}}}
	for i := range 2 {
		srv.Reset()
		res, err := c.Send(context.Background(), b)
		if err != nil || res.Requests != 1 {
			t.Fatalf("try %d: %d requests, error %v; want the 429's 500ms waited and the batch delivered", i+1, res.Requests, err)
		}
	}
}

// TestProxyPageIsNotDelivered: a 2xx answer whose body is not JSON (an
// HTML page from a proxy) is a failure carrying an excerpt of the page.
func TestProxyPageIsNotDelivered(t *testing.T) {
	fo := faults.Options{ProxyPage: true}
	fast := sinks.HTTPOptions{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, RetryDeadline: 100 * time.Millisecond}
	b := &ioc.Batch{Seq: 1, Sub: &ioc.Submission{Key: "k", Enclaves: []string{"c04caa4e-4d1b-47fc-b9e2-c9ce11396b44"}}, Items: []*ioc.Indicator{{Type: ioc.Domain, Value: "proxy.example.com"}}}
	t.Run("trustar", func(t *testing.T) {
		srv := trustartest.NewServer(trustartest.Options{Faults: fo})
		defer srv.Close()
		c, err := trustar.New(trustar.Config{URL: srv.URL, Key: "demo", Secret: "demo", HTTP: fast})
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Send(context.Background(), b)
		if err == nil || res.Requests != 0 || !strings.Contains(err.Error(), "Please log in") {
			t.Errorf("%d requests, error %v; want none delivered and an error with the page's excerpt", res.Requests, err)
		}
	})
	t.Run("threatwinds", func(t *testing.T) {
		srv := threatwindstest.NewServer(threatwindstest.Options{Faults: fo})
		defer srv.Close()
		c, err := threatwinds.New(threatwinds.Config{URL: srv.URL, APIKey: "reporter", APISecret: "reporter", HTTP: fast})
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Send(context.Background(), b)
		if err != nil || res.Requests != 0 || len(res.Failed) != 1 || !strings.Contains(res.Failed[0].Reason, "Please log in") {
			t.Errorf("result %+v, error %v; want the item failed with the page's excerpt", res, err)
		}
	})
}
