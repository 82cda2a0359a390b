package trustar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/schemas"
	"github.com/iocpipe/iocpipe/sinks"
	"github.com/iocpipe/iocpipe/sinks/faults"
	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

const enclave = "c04caa4e-4d1b-47fc-b9e2-c9ce11396b44"

func batch(n int, prefix string) *ioc.Batch {
	sub := &ioc.Submission{Key: "k", Enclaves: []string{enclave}, Tags: []ioc.Tag{{Name: "feed", Enclave: enclave}}}
	b := &ioc.Batch{Seq: 1, Sub: sub}
	for i := range n {
		b.Items = append(b.Items, &ioc.Indicator{Value: fmt.Sprintf("%s%d.example.com", prefix, i), Type: ioc.Domain, FirstSeen: 1700000000000 + int64(i)})
	}
	return b
}

func client(t *testing.T, srv *trustartest.Server, key, secret string) *Client {
	t.Helper()
	c, err := New(Config{URL: srv.URL, Key: key, Secret: secret, HTTP: sinks.HTTPOptions{BaseDelay: time.Millisecond, MaxDelay: 20 * time.Millisecond, RetryDeadline: 20 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// received returns every value the emulator accepted, with its count.
func received(t *testing.T, srv *trustartest.Server) map[string]int {
	t.Helper()
	got := map[string]int{}
	s := schemas.MustLoad("trustar-submission")
	for _, b := range srv.Submissions() {
		if v, err := s.ValidateJSON(b); err != nil || v != nil {
			t.Fatalf("body breaks the schema: %v %v", v, err)
		}
		var body struct {
			Content []struct {
				Value string `json:"value"`
			} `json:"content"`
		}
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatal(err)
		}
		for _, c := range body.Content {
			got[c.Value]++
		}
	}
	return got
}

func TestSendDelivers(t *testing.T) {
	srv := trustartest.NewServer(trustartest.Options{Enclaves: []string{enclave}})
	defer srv.Close()
	c := client(t, srv, "demo", "demo")
	res, err := c.Send(context.Background(), batch(50, "a"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 1 || len(res.Rejects) != 0 || len(res.IDs) != 1 {
		t.Errorf("got %+v, want one request, no rejects, one trace id", res)
	}
	if got := received(t, srv); len(got) != 50 {
		t.Errorf("emulator got %d values, want 50", len(got))
	}
}

func TestTokenReusedAndRefreshed(t *testing.T) {
	srv := trustartest.NewServer(trustartest.Options{})
	defer srv.Close()
	c := client(t, srv, "demo", "demo")
	ctx := context.Background()
	for i := range 3 {
		if _, err := c.Send(ctx, batch(1, fmt.Sprint("t", i))); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.Stats().TokensIssued; n != 1 {
		t.Errorf("tokens issued for 3 sends: got %d, want 1 (the token is cached)", n)
	}
	srv.ExpireTokens() // the next call gets TruSTAR's 400 "Expired oauth2 access token"
	if _, err := c.Send(ctx, batch(1, "after")); err != nil {
		t.Fatalf("send after expiry: %v", err)
	}
	if n := srv.Stats().TokensIssued; n != 2 {
		t.Errorf("tokens issued after expiry: got %d, want 2", n)
	}
	if got := received(t, srv); got["after0.example.com"] != 1 {
		t.Errorf("the indicator sent with an expired token was not delivered once: %v", got)
	}
}

func TestBadCredentialsAreFatal(t *testing.T) {
	srv := trustartest.NewServer(trustartest.Options{})
	defer srv.Close()
	c := client(t, srv, "demo", "wrong")
	_, err := c.Send(context.Background(), batch(1, "x"))
	if !errors.Is(err, ioc.ErrFatal) {
		t.Fatalf("got %v, want a fatal error", err)
	}
	if !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "Bad client credentials") {
		t.Errorf("error %q should say 401 and the server's reason", err)
	}
}

func TestSplitsOn413(t *testing.T) {
	srv := trustartest.NewServer(trustartest.Options{MaxIndicators: 300})
	defer srv.Close()
	c := client(t, srv, "demo", "demo")
	res, err := c.Send(context.Background(), batch(1000, "s"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rejects) != 0 {
		t.Fatalf("rejects: %+v", res.Rejects)
	}
	got := received(t, srv)
	if len(got) != 1000 {
		t.Errorf("delivered %d distinct values, want 1000", len(got))
	}
	for v, n := range got {
		if n != 1 {
			t.Errorf("%s delivered %d times", v, n)
		}
	}
	if res.Requests != 4 { // 1000 → 500+500 → 250×4
		t.Errorf("requests: got %d, want 4", res.Requests)
	}
}

func TestTransientFaultsRetried(t *testing.T) {
	for _, status := range []int{500, 429, 503} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			srv := trustartest.NewServer(trustartest.Options{Faults: faults.Options{FailRate: 0.5, FailStatus: status, WaitTime: 5 * time.Millisecond, Seed: 7}})
			defer srv.Close()
			c := client(t, srv, "demo", "demo")
			for i := range 20 {
				if _, err := c.Send(context.Background(), batch(10, fmt.Sprintf("f%d-", i))); err != nil {
					t.Fatalf("batch %d: %v", i, err)
				}
			}
			if got := received(t, srv); len(got) != 200 {
				t.Errorf("delivered %d, want 200", len(got))
			}
			if c.Retries() == 0 {
				t.Error("no retry happened: the fault injection did not bite")
			}
		})
	}
}

func TestDropsRetried(t *testing.T) {
	srv := trustartest.NewServer(trustartest.Options{Faults: faults.Options{DropRate: 0.3, Seed: 3}})
	defer srv.Close()
	c := client(t, srv, "demo", "demo")
	for i := range 20 {
		if _, err := c.Send(context.Background(), batch(5, fmt.Sprintf("d%d-", i))); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	if got := received(t, srv); len(got) != 100 {
		t.Errorf("delivered %d, want 100", len(got))
	}
}

func TestGivesUpAtDeadline(t *testing.T) {
	srv := trustartest.NewServer(trustartest.Options{Faults: faults.Options{FailRate: 1}})
	defer srv.Close()
	c, err := New(Config{URL: srv.URL, Key: "demo", Secret: "demo", HTTP: sinks.HTTPOptions{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, RetryDeadline: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Send(context.Background(), batch(1, "g"))
	if err == nil || errors.Is(err, ioc.ErrFatal) {
		t.Fatalf("got %v, want a non-fatal delivery error", err)
	}
	if !strings.Contains(err.Error(), "gave up") || time.Since(start) > 5*time.Second {
		t.Errorf("error %q after %s", err, time.Since(start))
	}
}

func TestIsolatesRefusedRows(t *testing.T) {
	srv := trustartest.NewServer(trustartest.Options{Faults: faults.Options{RejectPattern: regexp.MustCompile(`bad-[0-9]+\.example\.com`)}})
	defer srv.Close()
	c := client(t, srv, "demo", "demo")
	b := batch(10000, "ok")
	for _, i := range []int{3, 999, 1000, 4242, 5000, 8888, 9999} {
		b.Items[i].Value = fmt.Sprintf("bad-%d.example.com", i)
	}
	res, err := c.Send(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rejects) != 7 {
		t.Fatalf("rejects: got %d, want 7: %+v", len(res.Rejects), res.Rejects)
	}
	for _, r := range res.Rejects {
		if !strings.HasPrefix(b.Items[r.Index].Value, "bad-") || r.Status != 400 || r.TraceID == "" || r.ErrorID == "" {
			t.Errorf("reject %+v points at %s", r, b.Items[r.Index].Value)
		}
	}
	if got := received(t, srv); len(got) != 9993 {
		t.Errorf("delivered %d, want 9993", len(got))
	}
	total := srv.Stats().Submissions + srv.Stats().Rejected
	if total > 100 {
		t.Errorf("isolation took %d requests, want at most 100", total)
	}
	t.Logf("7 refused rows of 10,000 isolated in %d requests", total)
}

func TestBisectsWhenTheMessageNamesNoRow(t *testing.T) {
	// The emulator's message quotes the match; make the match not a whole
	// value, so the client has to bisect.
	srv := trustartest.NewServer(trustartest.Options{Faults: faults.Options{RejectPattern: regexp.MustCompile(`evil`)}})
	defer srv.Close()
	c := client(t, srv, "demo", "demo")
	b := batch(1000, "fine")
	b.Items[123].Value = "very-evil.example.com"
	res, err := c.Send(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rejects) != 1 || res.Rejects[0].Index != 123 {
		t.Fatalf("rejects: %+v", res.Rejects)
	}
	if got := received(t, srv); len(got) != 999 {
		t.Errorf("delivered %d, want 999", len(got))
	}
}

func TestBody(t *testing.T) {
	sub := &ioc.Submission{Enclaves: []string{enclave}, Tags: []ioc.Tag{{Name: "route", Enclave: enclave}}}
	items := []*ioc.Indicator{
		{Value: "1.2.3.4", FirstSeen: 1, LastSeen: 2, Sightings: 3, Source: "s", Notes: "n\"q", TagLevel: ioc.LevelRow, Tags: []ioc.Tag{{Name: "own", Enclave: enclave}}},
		{Value: "x.example", TagLevel: ioc.LevelRoute},
	}
	got := string(Body(sub, items))
	want := `{"enclaveIds":["` + enclave + `"],"content":[{"value":"1.2.3.4","firstSeen":1,"lastSeen":2,"sightings":3,"source":"s","notes":"n\"q","tags":[{"name":"own","enclaveId":"` + enclave + `"}]},{"value":"x.example"}],"tags":[{"name":"route","enclaveId":"` + enclave + `"}]}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func BenchmarkBody(b *testing.B) {
	bt := batch(10000, "bench")
	b.ReportAllocs()
	for b.Loop() {
		Body(bt.Sub, bt.Items)
	}
}

func TestRateLimitSparesTheToken(t *testing.T) {
	srv := trustartest.NewServer(trustartest.Options{})
	defer srv.Close()
	c, err := New(Config{URL: srv.URL, Key: "demo", Secret: "demo", HTTP: sinks.HTTPOptions{RatePerMinute: 60, Burst: 1}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.Send(context.Background(), batch(1, "r")); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("the first submission waited %s: the token call must not use up the rate limit", d)
	}
	start = time.Now()
	if _, err := c.Send(context.Background(), batch(1, "s")); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 800*time.Millisecond {
		t.Errorf("the second submission went after %s: 60 calls a minute is one a second", d)
	}
}

func TestUntrustedCertificateIsFatal(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer srv.Close()
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	c, err := New(Config{URL: srv.URL, Key: "demo", Secret: "demo", HTTP: sinks.HTTPOptions{RetryDeadline: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(context.Background(), batch(1, "x")); !errors.Is(err, ioc.ErrFatal) || !strings.Contains(err.Error(), "not trusted") {
		t.Fatalf("got %v, want a fatal certificate error", err)
	}
}

// TestRequestFailureIsNotBisected: a 400 that names no row and refuses
// both halves alike is about the request (here its enclave), not a row:
// the rows fail (not rejected), found in 3 requests instead of 79.
func TestRequestFailureIsNotBisected(t *testing.T) {
	srv := trustartest.NewServer(trustartest.Options{Faults: faults.Options{RejectPattern: regexp.MustCompile(`"enclaveIds":\["c04caa4e`)}})
	defer srv.Close()
	c := client(t, srv, "demo", "demo")
	res, err := c.Send(context.Background(), batch(40, "r"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rejects) != 0 || len(res.Failed) != 40 {
		t.Fatalf("%d rejects, %d failed; want none rejected, 40 failed", len(res.Rejects), len(res.Failed))
	}
	for i, f := range res.Failed {
		if f.Index != i || f.Status != 400 || f.ErrorID == "" || !strings.Contains(f.Reason, "names no row") {
			t.Errorf("failed %+v: want index %d, status 400, the error id, and a reason that it names no row", f, i)
		}
	}
	if n := srv.Stats().Rejected; n > 3 {
		t.Errorf("%d requests refused, want at most 3", n)
	}
}

// TestSplitPartDeliveredIsAcknowledged: after a 413 split, one half is
// accepted and the other fails until the deadline: the accepted half is
// delivered, only the other one failed.
func TestSplitPartDeliveredIsAcknowledged(t *testing.T) {
	// The pattern matches a submission whose first row is late: the second
	// half, not the whole batch (which is refused with 413 by size).
	srv := trustartest.NewServer(trustartest.Options{MaxIndicators: 300, Faults: faults.Options{FailPattern: regexp.MustCompile(`"content":\[\{"value":"late`), FailStatus: 503}})
	defer srv.Close()
	c, err := New(Config{URL: srv.URL, Key: "demo", Secret: "demo", HTTP: sinks.HTTPOptions{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, RetryDeadline: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	b := batch(400, "early")
	for i := 200; i < 400; i++ {
		b.Items[i].Value = fmt.Sprintf("late%d.example.com", i)
	}
	res, err := c.Send(context.Background(), b)
	if err != nil {
		t.Fatalf("Send: %v; want the failed half in Result.Failed", err)
	}
	if res.Requests != 1 || len(res.Rejects) != 0 || len(res.Failed) != 200 {
		t.Fatalf("%d requests, %d rejects, %d failed; want 1, 0, 200", res.Requests, len(res.Rejects), len(res.Failed))
	}
	for i, f := range res.Failed {
		if f.Index != 200+i || !strings.Contains(f.Reason, "gave up") || f.Status != 503 {
			t.Errorf("failed %+v: want index %d, status 503 and the attempts in the reason", f, 200+i)
		}
	}
	if got := received(t, srv); len(got) != 200 {
		t.Errorf("emulator accepted %d values, want 200", len(got))
	}
}
