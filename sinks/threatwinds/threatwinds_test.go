package threatwinds

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/sinks"
	"github.com/iocpipe/iocpipe/sinks/faults"
	"github.com/iocpipe/iocpipe/sinks/threatwinds/threatwindstest"
)

// fastHTTP keeps retries quick in tests.
var fastHTTP = sinks.HTTPOptions{
	Timeout:       5 * time.Second,
	RetryDeadline: 10 * time.Second,
	BaseDelay:     time.Millisecond,
	MaxDelay:      20 * time.Millisecond,
}

func newServer(t testing.TB, opts threatwindstest.Options) *threatwindstest.Server {
	t.Helper()
	s := threatwindstest.NewServer(opts)
	t.Cleanup(s.Close)
	return s
}

// newClient returns a Client of cfg for the server at url: the reporter's
// key unless cfg has credentials, fastHTTP unless cfg has HTTP options.
func newClient(t testing.TB, url string, cfg Config) *Client {
	t.Helper()
	cfg.URL = url
	if cfg.APIKey == "" && cfg.APISecret == "" && cfg.Token == "" {
		cfg.APIKey, cfg.APISecret = "reporter", "reporter"
	}
	if cfg.HTTP == (sinks.HTTPOptions{}) {
		cfg.HTTP = fastHTTP
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// batchOf builds a batch whose submission carries the tag "iocpipe".
func batchOf(items ...*ioc.Indicator) *ioc.Batch {
	return &ioc.Batch{Seq: 1, Sub: &ioc.Submission{Key: "test", Tags: []ioc.Tag{{Name: "iocpipe"}}}, Items: items}
}

func ind(t ioc.Type, v string) *ioc.Indicator {
	return &ioc.Indicator{Type: t, Value: v}
}

// specTypes is the type mapping of the specification, kept apart from
// EntityType so that the tests check it.
var specTypes = map[ioc.Type]string{
	ioc.IP: "ip", ioc.IPv6: "ip", ioc.CIDR: "cidr", ioc.Domain: "domain", ioc.URL: "url",
	ioc.Email: "email-address", ioc.MD5: "md5", ioc.SHA1: "sha1", ioc.SHA256: "sha256",
	ioc.SHA512: "sha512", ioc.CVE: "cve", ioc.Bitcoin: "btc", ioc.RegistryKey: "regkey",
	ioc.Malware: "malware",
}

// emulatorID is the id the emulator stores a value under, computed with
// its own functions; ok is false when it refuses the value.
func emulatorID(t ioc.Type, v string) (id, typ, norm string, ok bool) {
	typ, ok = specTypes[t]
	if !ok {
		return "", "", "", false
	}
	norm, err := threatwindstest.Normalize(typ, v)
	if err != nil {
		return "", "", "", false
	}
	return threatwindstest.EntityID(typ, norm), typ, norm, true
}

type wantEntity struct{ typ, value string }

func hexOf(sum []byte) string { return hex.EncodeToString(sum) }

// mixedIP is a public IPv4 address numbered k.
func mixedIP(k int) string {
	first := []int{11, 23, 45, 61, 77, 89, 101, 142, 185, 203}
	return fmt.Sprintf("%d.%d.%d.%d", first[k%10], (k/10)%256, (k/2560)%256, 7)
}

// mixed returns n indicators of most types: public and private IPs, IPv6,
// mixed-case domains, URLs and addresses, hashes, CVEs, malware names, an
// unmappable type (software), and values repeated in other spellings
// (::ffff:a.b.c.d, upper-case MD5s) that are the same entity.
func mixed(n int) []*ioc.Indicator {
	items := make([]*ioc.Indicator, 0, n)
	for i := range n {
		k := i / 12
		var in *ioc.Indicator
		switch i % 12 {
		case 0:
			in = ind(ioc.IP, mixedIP(k))
		case 1:
			in = ind(ioc.IPv6, fmt.Sprintf("2a00:1450:%x::%x", k, k+1))
		case 2:
			in = ind(ioc.Domain, fmt.Sprintf("Host%d.Example-%d.com", k, k%7))
		case 3:
			in = ind(ioc.URL, fmt.Sprintf("HTTPS://Site%d.Example.NET/path/%d?q=%d", k, k, k))
		case 4:
			in = ind(ioc.Email, fmt.Sprintf("user%d@Mail%d.example.org", k, k%5))
		case 5:
			sum := md5.Sum([]byte(fmt.Sprint(k)))
			in = ind(ioc.MD5, hexOf(sum[:]))
		case 6:
			sum := sha1.Sum([]byte(fmt.Sprint(k)))
			in = ind(ioc.SHA1, hexOf(sum[:]))
		case 7:
			sum := sha256.Sum256([]byte(fmt.Sprint(k)))
			in = ind(ioc.SHA256, hexOf(sum[:]))
		case 8:
			in = ind(ioc.CVE, fmt.Sprintf("cve-20%02d-%05d", k%25, 10000+k))
		case 9:
			if k%2 == 0 {
				in = ind(ioc.IP, fmt.Sprintf("10.%d.%d.1", k%256, k/256))
			} else {
				in = ind(ioc.IP, fmt.Sprintf("192.168.%d.%d", k%256, 1+k/256))
			}
		case 10:
			if k%2 == 0 {
				in = ind(ioc.IPv6, "::ffff:"+mixedIP(k/2))
			} else {
				sum := md5.Sum([]byte(fmt.Sprint(k / 2)))
				in = ind(ioc.MD5, strings.ToUpper(hexOf(sum[:])))
			}
		case 11:
			switch k % 3 {
			case 0:
				in = ind(ioc.Software, fmt.Sprintf("Acme Tool %d", k))
			case 1:
				in = ind(ioc.Malware, fmt.Sprintf("Emotet Loader %d", k))
			default:
				sum := sha512.Sum512([]byte(fmt.Sprint(k)))
				in = ind(ioc.SHA512, hexOf(sum[:]))
			}
		}
		items = append(items, in)
	}
	return items
}

// expectations computes, with the emulator's functions, the entities
// items must produce and the indexes that must be rejected.
func expectations(items []*ioc.Indicator) (map[string]wantEntity, map[int]bool) {
	want := map[string]wantEntity{}
	rejects := map[int]bool{}
	for i, in := range items {
		id, typ, norm, ok := emulatorID(in.Type, in.Value)
		if !ok {
			rejects[i] = true
			continue
		}
		want[id] = wantEntity{typ, norm}
	}
	return want, rejects
}

// sendAll sends items in batches of size, four batches at once as the
// pipeline does, and returns the results in batch order with the offset
// of each batch.
func sendAll(t testing.TB, c *Client, items []*ioc.Indicator, size int) ([]ioc.Result, []int) {
	t.Helper()
	var batches []*ioc.Batch
	var offsets []int
	for off := 0; off < len(items); off += size {
		b := batchOf(items[off:min(off+size, len(items))]...)
		b.Seq = len(batches) + 1
		batches = append(batches, b)
		offsets = append(offsets, off)
	}
	results := make([]ioc.Result, len(batches))
	errs := make([]error, len(batches))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, b := range batches {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			results[i], errs[i] = c.Send(context.Background(), b)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("batch %d: %v", i+1, err)
		}
	}
	return results, offsets
}

// sum adds up the Extra counts and Requests of results.
func sum(results []ioc.Result) (map[string]int64, int) {
	extra := map[string]int64{}
	requests := 0
	for _, r := range results {
		for k, v := range r.Extra {
			extra[k] += v
		}
		requests += r.Requests
	}
	return extra, requests
}

func TestEntitiesMixed(t *testing.T) {
	s := newServer(t, threatwindstest.Options{NoRecord: true})
	c := newClient(t, s.URL, Config{InFlight: 32})
	items := mixed(5000)
	want, wantRejects := expectations(items)

	results, offsets := sendAll(t, c, items, 500)

	gotRejects := map[int]ioc.ItemReject{}
	for bi, r := range results {
		if len(r.Failed) > 0 {
			t.Errorf("batch %d: %d failed, first: %+v", bi+1, len(r.Failed), r.Failed[0])
		}
		for _, rj := range r.Rejects {
			gotRejects[offsets[bi]+rj.Index] = rj
		}
	}
	for i := range wantRejects {
		rj, ok := gotRejects[i]
		if !ok {
			t.Errorf("item %d (%s %q) not rejected", i, items[i].Type, items[i].Value)
			continue
		}
		var want string
		switch items[i].Type {
		case ioc.Software:
			want = "type software has no ThreatWinds entity type"
		case ioc.IP:
			want = "is a private address: ThreatWinds takes public IP addresses only"
		}
		if !strings.Contains(rj.Reason, want) {
			t.Errorf("item %d (%s %q) rejected with %q, want it to say %q", i, items[i].Type, items[i].Value, rj.Reason, want)
		}
	}
	for i, rj := range gotRejects {
		if !wantRejects[i] {
			t.Errorf("item %d (%s %q) rejected: %s", i, items[i].Type, items[i].Value, rj.Reason)
		}
	}

	accepted := len(items) - len(wantRejects)
	extra, requests := sum(results)
	if extra["entities"] != int64(len(want)) || requests != len(want) {
		t.Errorf("entities %d, requests %d; want %d distinct entities", extra["entities"], requests, len(want))
	}
	if got, want := extra["entities_deduplicated"], int64(accepted-len(want)); got != want {
		t.Errorf("entities_deduplicated = %d, want %d", got, want)
	}
	st := s.Stats()
	if st.Entities != int64(len(want)) || st.EntityRequests != int64(len(want)) || st.Rejected != 0 || st.AuthErrors != 0 {
		t.Errorf("emulator stats %+v; want %d entities from as many requests, none refused", st, len(want))
	}
	for id, w := range want {
		e, ok := s.Entity(id)
		if !ok {
			t.Errorf("entity %s (%s %q) not stored", id, w.typ, w.value)
			continue
		}
		if e.Type != w.typ || e.Value != w.value || e.Attributes[w.typ] != w.value {
			t.Errorf("entity %s stored as %s %q (attribute %v), want %s %q", id, e.Type, e.Value, e.Attributes[w.typ], w.typ, w.value)
		}
		if e.Reputation != DefaultReputation || !slices.Contains(e.Tags, "iocpipe") || len(e.VisibleBy) != 0 {
			t.Errorf("entity %s: reputation %d, tags %v, visibleBy %v; want %d, [iocpipe], none", id, e.Reputation, e.Tags, e.VisibleBy, DefaultReputation)
		}
	}
	t.Logf("%d indicators: %d entities, %d deduplicated, %d rejected", len(items), len(want), extra["entities_deduplicated"], len(wantRejects))
}

func TestDedupAcrossBatches(t *testing.T) {
	s := newServer(t, threatwindstest.Options{})
	c := newClient(t, s.URL, Config{})
	sum5 := md5.Sum([]byte("x"))
	first := batchOf(ind(ioc.IP, "8.8.8.8"), ind(ioc.Domain, "evil.example.com"), ind(ioc.MD5, hexOf(sum5[:])))
	second := batchOf(
		ind(ioc.IPv6, "::ffff:8.8.8.8"),
		ind(ioc.Domain, "EVIL.example.COM"),
		ind(ioc.MD5, strings.ToUpper(hexOf(sum5[:]))),
		ind(ioc.IP, "8.8.4.4"),
	)
	tests := []struct {
		name         string
		b            *ioc.Batch
		wantRequests int
		wantDedup    int64
	}{
		{"first", first, 3, 0},
		{"same entities, other spellings", second, 1, 3},
		{"first again", first, 0, 3},
	}
	for _, tt := range tests {
		res, err := c.Send(context.Background(), tt.b)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if res.Requests != tt.wantRequests || res.Extra["entities_deduplicated"] != tt.wantDedup || len(res.Rejects)+len(res.Failed) != 0 {
			t.Errorf("%s: got %d requests, %d deduplicated, rejects %v, failed %v; want %d requests, %d deduplicated",
				tt.name, res.Requests, res.Extra["entities_deduplicated"], res.Rejects, res.Failed, tt.wantRequests, tt.wantDedup)
		}
	}
	if st := s.Stats(); st.EntityRequests != 4 || st.Entities != 4 {
		t.Errorf("emulator: %d entity requests, %d entities; want 4 and 4", st.EntityRequests, st.Entities)
	}
}

// TestDedupInFlight sends the same entities in batches at once: each
// entity is posted once, the other copies wait for its outcome.
func TestDedupInFlight(t *testing.T) {
	s := newServer(t, threatwindstest.Options{NoRecord: true, Faults: faults.Options{Latency: 20 * time.Millisecond}})
	c := newClient(t, s.URL, Config{InFlight: 64})
	var items []*ioc.Indicator
	for i := range 40 {
		items = append(items, ind(ioc.IP, mixedIP(i)))
	}
	var wg sync.WaitGroup
	results := make([]ioc.Result, 3)
	for i := range results {
		wg.Go(func() {
			var err error
			if results[i], err = c.Send(context.Background(), batchOf(items...)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	extra, requests := sum(results)
	if requests != 40 || extra["entities"] != 40 || extra["entities_deduplicated"] != 80 {
		t.Errorf("requests %d, extra %v; want 40 requests, 40 entities, 80 deduplicated", requests, extra)
	}
	if st := s.Stats(); st.EntityRequests != 40 {
		t.Errorf("emulator received %d entity requests, want 40", st.EntityRequests)
	}
}

func TestComments(t *testing.T) {
	s := newServer(t, threatwindstest.Options{Faults: faults.Options{RejectPattern: regexp.MustCompile(`"comment":"refuse me`)}})
	c := newClient(t, s.URL, Config{Comments: true})
	note := func(in *ioc.Indicator, notes string) *ioc.Indicator { in.Notes = notes; return in }
	b := batchOf(
		note(ind(ioc.IP, "8.8.8.8"), "seen in campaign X"),
		note(ind(ioc.IPv6, "::ffff:8.8.8.8"), "seen in campaign X"), // same entity, same comment
		note(ind(ioc.Domain, "evil.example.com"), "refuse me, please"),
		ind(ioc.MD5, strings.Repeat("ab", 16)),
		note(ind(ioc.IP, "8.8.8.8"), "second note"),
	)
	res, err := c.Send(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rejects)+len(res.Failed) != 0 {
		t.Errorf("rejects %v, failed %v; a comment failure must not reject its item", res.Rejects, res.Failed)
	}
	want := map[string]int64{"entities": 3, "entities_deduplicated": 2, "comments": 2, "comments_deduplicated": 1, "comments_failed": 1}
	for k, v := range want {
		if res.Extra[k] != v {
			t.Errorf("Extra[%s] = %d, want %d (all: %v)", k, res.Extra[k], v, res.Extra)
		}
	}
	id, _ := EntityID("ip", "8.8.8.8")
	e, _ := s.Entity(id)
	var texts []string
	for _, cm := range e.Comments {
		texts = append(texts, cm.Text)
	}
	slices.Sort(texts)
	if !slices.Equal(texts, []string{"second note", "seen in campaign X"}) {
		t.Errorf("comments on %s: %q", id, texts)
	}
	if st := s.Stats(); st.Comments != 2 {
		t.Errorf("emulator stored %d comments, want 2", st.Comments)
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// checkFatal checks a fatal error: it wraps ioc.ErrFatal and the
// HTTPError, and its message names the status, the API's message and its
// error id.
func checkFatal(t *testing.T, err error, status int, wantText ...string) {
	t.Helper()
	if !errors.Is(err, ioc.ErrFatal) {
		t.Fatalf("error %v does not wrap ioc.ErrFatal", err)
	}
	var he *sinks.HTTPError
	if !errors.As(err, &he) || he.Status != status {
		t.Fatalf("error %v: want an HTTPError with status %d", err, status)
	}
	if !uuidRE.MatchString(he.ErrorID) || !strings.Contains(err.Error(), "(error id "+he.ErrorID+")") {
		t.Errorf("error %q: want the x-error-id (%q) in it", err, he.ErrorID)
	}
	for _, w := range append(wantText, fmt.Sprintf("%d %s", status, http.StatusText(status)), he.Message) {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q: want it to contain %q", err, w)
		}
	}
}

func TestWellKnown(t *testing.T) {
	s := newServer(t, threatwindstest.Options{})
	items := []*ioc.Indicator{ind(ioc.Domain, "google.com"), ind(ioc.IP, "8.8.8.8"), ind(ioc.IP, "10.0.0.1")}

	t.Run("trusted", func(t *testing.T) {
		c := newClient(t, s.URL, Config{Kind: KindWellKnown, APIKey: "trusted", APISecret: "trusted"})
		res, err := c.Send(context.Background(), batchOf(items...))
		if err != nil {
			t.Fatal(err)
		}
		if res.Extra["well_known"] != 2 || res.Requests != 2 || len(res.Rejects) != 1 || res.Rejects[0].Index != 2 {
			t.Errorf("result %+v; want 2 well-known entities and item 2 rejected", res)
		}
		for _, v := range []string{"google.com", "8.8.8.8"} {
			typ := "domain"
			if v == "8.8.8.8" {
				typ = "ip"
			}
			id, _ := EntityID(typ, v)
			if e, ok := s.Entity(id); !ok || !e.WellKnown {
				t.Errorf("entity %s: stored %v, well-known %v", id, ok, e.WellKnown)
			}
		}
	})
	t.Run("reporter", func(t *testing.T) {
		c := newClient(t, s.URL, Config{Kind: KindWellKnown})
		_, err := c.Send(context.Background(), batchOf(items...))
		checkFatal(t, err, http.StatusForbidden, "ThreatWinds refused POST /api/ingest/v1/well-known", "role trusted required", "the API key needs the trusted role")
		t.Log(err)
	})
	t.Run("bad key", func(t *testing.T) {
		c := newClient(t, s.URL, Config{Kind: KindWellKnown, APIKey: "trusted", APISecret: "wrong"})
		_, err := c.Send(context.Background(), batchOf(items...))
		checkFatal(t, err, http.StatusUnauthorized, "invalid api-key or api-secret", "the API key and secret were not accepted")
	})
}

func TestBearer(t *testing.T) {
	s := newServer(t, threatwindstest.Options{})
	tests := []struct {
		name, token, kind string
		wantStatus        int // 0: delivered
		wantText          []string
	}{
		{"reporter entity", "reporter", KindEntities, 0, nil},
		{"trusted well-known", "trusted", KindWellKnown, 0, nil},
		{"reporter well-known", "reporter", KindWellKnown, 403, []string{"the bearer token needs the trusted role"}},
		{"bad token", "nope", KindEntities, 401, []string{"invalid bearer token", "the bearer token was not accepted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, s.URL, Config{Token: tt.token, Kind: tt.kind})
			res, err := c.Send(context.Background(), batchOf(ind(ioc.IP, "1.1.1.1")))
			if tt.wantStatus != 0 {
				checkFatal(t, err, tt.wantStatus, tt.wantText...)
				return
			}
			if err != nil || res.Requests != 1 {
				t.Fatalf("Send: %v, %+v; want one request accepted", err, res)
			}
		})
	}
}

func TestScan(t *testing.T) {
	type call struct {
		token string
		body  string
	}
	hooks := make(chan call, 200)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hooks <- call{r.Header.Get("X-Hook-Token"), string(b)}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hs.Close()
	s := newServer(t, threatwindstest.Options{ScanStep: 5 * time.Millisecond})
	c := newClient(t, s.URL, Config{Kind: KindScan, Webhook: &Webhook{URL: hs.URL + "/done", Headers: []Header{{"X-Hook-Token", "s3cret"}}}})

	var items []*ioc.Indicator
	wantReject := map[int]string{}
	for i := range 100 {
		k := i / 10
		switch {
		case i%10 < 6:
			items = append(items, ind(ioc.IP, mixedIP(i)))
		case i%10 < 9:
			items = append(items, ind(ioc.Domain, fmt.Sprintf("Scan%d.example.com", i)))
		default:
			switch k % 4 {
			case 0:
				items = append(items, ind(ioc.IP, fmt.Sprintf("192.168.1.%d", k)))
				wantReject[i] = "private address"
			case 1:
				items = append(items, ind(ioc.URL, "http://example.com/x"))
				wantReject[i] = "scan targets must be an IP address or host name, not a url"
			case 2:
				items = append(items, ind(ioc.MD5, strings.Repeat("ab", 16)))
				wantReject[i] = "scan targets must be an IP address or host name, not a md5"
			default:
				items = append(items, ind(ioc.Domain, "under_score.example.com"))
				wantReject[i] = "not a fully qualified domain name"
			}
		}
	}
	valid := len(items) - len(wantReject)

	res, err := c.Send(context.Background(), batchOf(items...))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.IDs) != valid || res.Extra["scans_new"] != int64(valid) || res.Requests != valid {
		t.Errorf("%d ids, extra %v, %d requests; want %d new tasks", len(res.IDs), res.Extra, res.Requests, valid)
	}
	for _, rj := range res.Rejects {
		if w, ok := wantReject[rj.Index]; !ok || !strings.Contains(rj.Reason, w) {
			t.Errorf("item %d (%s %q) rejected with %q, want %q", rj.Index, items[rj.Index].Type, items[rj.Index].Value, rj.Reason, w)
		}
	}
	if len(res.Rejects) != len(wantReject) {
		t.Errorf("%d rejects, want %d", len(res.Rejects), len(wantReject))
	}
	for _, id := range res.IDs {
		if !uuidRE.MatchString(id) {
			t.Errorf("task id %q is not a UUID", id)
		}
	}

	again, err := c.Send(context.Background(), batchOf(items...))
	if err != nil {
		t.Fatal(err)
	}
	if again.Extra["scans_existing"] != int64(valid) || again.Extra["scans_new"] != 0 || !slices.Equal(again.IDs, res.IDs) {
		t.Errorf("resubmitted: extra %v, ids equal %v; want %d existing tasks with the same ids", again.Extra, slices.Equal(again.IDs, res.IDs), valid)
	}

	got := map[string]bool{}
	timeout := time.After(10 * time.Second)
	for len(got) < valid {
		select {
		case h := <-hooks:
			if h.token != "s3cret" {
				t.Errorf("webhook header X-Hook-Token = %q, want s3cret", h.token)
			}
			for _, id := range res.IDs {
				if strings.Contains(h.body, id) {
					got[id] = true
				}
			}
		case <-timeout:
			t.Fatalf("%d webhooks received in 10s, want %d", len(got), valid)
		}
	}
	if st := s.Stats(); st.Scans != int64(valid) || st.ScansExisting != int64(valid) {
		t.Errorf("emulator: %d scans, %d existing; want %d each", st.Scans, st.ScansExisting, valid)
	}
}

func TestAssociations(t *testing.T) {
	s := newServer(t, threatwindstest.Options{})
	c := newClient(t, s.URL, Config{})
	if _, err := c.Send(context.Background(), batchOf(ind(ioc.IP, "8.8.8.8"), ind(ioc.Domain, "Evil.example.com"), ind(ioc.URL, "http://evil.example.com/x"))); err != nil {
		t.Fatal(err)
	}
	ep := func(t ioc.Type, v string) ioc.Endpoint { return ioc.Endpoint{Type: t, Value: v} }
	b := &ioc.Batch{Seq: 2, Associations: []*ioc.Association{
		{From: ep(ioc.IP, "8.8.8.8"), To: ep(ioc.Domain, "evil.example.com"), Kind: "resolves-to"},
		{From: ep(ioc.Domain, "EVIL.example.com"), To: ep(ioc.URL, "http://evil.example.com/x"), Kind: "related-to"},
		{From: ep(ioc.IP, "8.8.8.8"), To: ep(ioc.MD5, strings.Repeat("cd", 16)), Kind: "related-to"},
		{From: ep(ioc.Software, "Acme"), To: ep(ioc.IP, "8.8.8.8"), Kind: "uses"},
		{From: ep(ioc.IP, "10.0.0.1"), To: ep(ioc.Domain, "evil.example.com"), Kind: "resolves-to"},
	}}
	res, err := c.Send(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if res.Extra["associations"] != 2 || res.Requests != 2 {
		t.Errorf("extra %v, %d requests; want 2 associations", res.Extra, res.Requests)
	}
	md5ID, _ := EntityID("md5", strings.Repeat("cd", 16))
	wantRejects := []struct {
		index  int
		reason string
		status int
	}{
		{2, "refused by ThreatWinds (400): entity " + md5ID + " not found", 400},
		{3, "cannot link from Acme: type software has no ThreatWinds entity type", 0},
		{4, "cannot link from 10.0.0.1: 10.0.0.1 is a private address", 0},
	}
	if len(res.Rejects) != len(wantRejects) {
		t.Fatalf("rejects %+v, want %d", res.Rejects, len(wantRejects))
	}
	for i, w := range wantRejects {
		got := res.Rejects[i]
		if got.Index != w.index || !strings.HasPrefix(got.Reason, w.reason) || got.Status != w.status || (w.status != 0) != uuidRE.MatchString(got.ErrorID) {
			t.Errorf("reject %d = %+v, want index %d, reason %q, status %d (with an error id when refused)", i, got, w.index, w.reason, w.status)
		}
	}
	ipID, _ := EntityID("ip", "8.8.8.8")
	domainID, _ := EntityID("domain", "evil.example.com")
	e, _ := s.Entity(ipID)
	if !slices.Contains(e.Links, threatwindstest.Link{Mode: "association", ID: domainID}) {
		t.Errorf("links of %s = %v, want one to %s", ipID, e.Links, domainID)
	}
}

// TestFaults runs against an API that fails 30% of requests with 500 and
// drops 5% of connections: everything is still delivered, once.
func TestFaults(t *testing.T) {
	s := newServer(t, threatwindstest.Options{NoRecord: true, Faults: faults.Options{FailRate: 0.3, DropRate: 0.05}})
	c := newClient(t, s.URL, Config{InFlight: 32})
	items := mixed(1200)
	want, wantRejects := expectations(items)
	results, _ := sendAll(t, c, items, 300)
	rejects := 0
	for _, r := range results {
		rejects += len(r.Rejects)
		if len(r.Failed) > 0 {
			t.Errorf("failed: %+v", r.Failed)
		}
	}
	st := s.Stats()
	if st.Entities != int64(len(want)) || rejects != len(wantRejects) {
		t.Errorf("emulator stored %d entities, %d rejects; want %d, %d", st.Entities, rejects, len(want), len(wantRejects))
	}
	if c.Retries() == 0 || st.Faults.Failed == 0 || st.Faults.Dropped == 0 {
		t.Errorf("retries %d, faults %+v; want some of each", c.Retries(), st.Faults)
	}
	t.Logf("retries %d, faults %+v", c.Retries(), st.Faults)
}

// TestRetriesRunOut: an outage longer than the retry deadline fails the
// items, with the status, and Send returns no error.
func TestRetriesRunOut(t *testing.T) {
	s := newServer(t, threatwindstest.Options{Faults: faults.Options{Outage: time.Hour}})
	opts := fastHTTP
	opts.RetryDeadline = 30 * time.Millisecond
	c := newClient(t, s.URL, Config{HTTP: opts})
	res, err := c.Send(context.Background(), batchOf(ind(ioc.IP, "8.8.8.8"), ind(ioc.IP, "10.0.0.1"), ind(ioc.IP, "1.1.1.1")))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failed) != 2 || res.Failed[0].Index != 0 || res.Failed[1].Index != 2 || len(res.Rejects) != 1 {
		t.Fatalf("failed %+v, rejects %+v; want items 0 and 2 failed, 1 rejected", res.Failed, res.Rejects)
	}
	for _, f := range res.Failed {
		if f.Status != http.StatusServiceUnavailable || !strings.Contains(f.Reason, "gave up after") || f.ErrorID == "" {
			t.Errorf("failed %+v; want status 503, an error id and the attempts in the reason", f)
		}
	}
	// A failure is not remembered: the next batch posts the entity again.
	e, err := resolve(ioc.IP, "8.8.8.8")
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	_, acked := c.acked.get(e.key)
	_, flying := c.flight[e.key]
	c.mu.Unlock()
	if acked || flying {
		t.Errorf("after a failure: acknowledged %v, in flight %v; want neither", acked, flying)
	}
}

func TestContextCancel(t *testing.T) {
	s := newServer(t, threatwindstest.Options{Faults: faults.Options{Latency: 5 * time.Second}})
	c := newClient(t, s.URL, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := c.Send(ctx, batchOf(ind(ioc.IP, "8.8.8.8"), ind(ioc.IP, "10.0.0.1")))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send: %v, want the context's error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Send took %s after the context ended", d)
	}
	if len(res.Failed) != 0 || len(res.Rejects) != 1 {
		t.Errorf("result %+v: want only the private IP rejected, nothing failed", res)
	}
}

func TestMixedBatch(t *testing.T) {
	c := newClient(t, "http://127.0.0.1:1", Config{})
	b := batchOf(ind(ioc.IP, "8.8.8.8"))
	b.Associations = []*ioc.Association{{}}
	if _, err := c.Send(context.Background(), b); err == nil || errors.Is(err, ioc.ErrFatal) {
		t.Fatalf("Send of a mixed batch: %v, want a non-fatal error", err)
	}
}

// TestEncoderMatchesRequests checks that Encoder gives exactly the bodies
// the emulator recorded, in order, for each kind.
func TestEncoderMatchesRequests(t *testing.T) {
	rep := 2
	withNotes := func(in *ioc.Indicator, notes string) *ioc.Indicator { in.Notes = notes; return in }
	rowTags := &ioc.Indicator{Type: ioc.Domain, Value: "Tagged.example.com", Tags: []ioc.Tag{{Name: "c2"}, {Name: "c2", Enclave: "x"}, {Name: "apt\"quoted"}}, TagLevel: ioc.LevelRow, Reputation: &rep}
	items := []*ioc.Indicator{
		withNotes(ind(ioc.IP, "8.8.8.8"), "first \"note\"\n<b>"),
		ind(ioc.IP, "10.0.0.1"),
		rowTags,
		withNotes(ind(ioc.IPv6, "::ffff:8.8.8.8"), "first \"note\"\n<b>"),
		withNotes(ind(ioc.IPv6, "::ffff:8.8.8.8"), "another"),
		ind(ioc.Software, "Acme"),
		ind(ioc.URL, "HTTP://Example.COM/ü?x=1"),
		ind(ioc.Email, "Someone <Someone@Example.org>"),
		ind(ioc.CVE, "cve-2021-44228"),
		ind(ioc.RegistryKey, `HKLM\Software\Run`),
		ind(ioc.Malware, "Emotet"),
		ind(ioc.Bitcoin, "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"),
		ind(ioc.CIDR, "8.8.8.8/24"),
		ind(ioc.IP, "9.9.9.0/24"),
		ind(ioc.SHA512, strings.Repeat("Ab", 64)),
	}
	ep := func(t ioc.Type, v string) ioc.Endpoint { return ioc.Endpoint{Type: t, Value: v} }
	assocs := &ioc.Batch{Associations: []*ioc.Association{
		{From: ep(ioc.IP, "8.8.8.8"), To: ep(ioc.Domain, "tagged.example.com")},
		{From: ep(ioc.URL, "http://example.com/ü?x=1"), To: ep(ioc.Email, "someone@example.org")},
		{From: ep(ioc.Software, "Acme"), To: ep(ioc.IP, "8.8.8.8")},
	}}
	malicious := -3
	tests := []struct {
		name  string
		cfg   Config
		batch *ioc.Batch
		path  string // the recorded requests compared
		want  int    // bodies
	}{
		{"entities", Config{Comments: true}, batchOf(items...), "", 13},
		{"entities, reputation -3", Config{Reputation: &malicious}, batchOf(items...), "", 11},
		{"well-known", Config{Kind: KindWellKnown, APIKey: "trusted", APISecret: "trusted"}, batchOf(items...), "", 13},
		{"scan", Config{Kind: KindScan, Webhook: &Webhook{URL: "http://127.0.0.1:1/hook", Headers: []Header{{"Authorization", "Bearer x"}, {"X-Two", "2"}}}}, batchOf(items...), "", 4},
		{"scan, no webhook", Config{Kind: KindScan}, batchOf(items...), "", 4},
		{"associations", Config{}, assocs, BasePath + "/association", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, threatwindstest.Options{ScanStep: time.Hour})
			cfg := tt.cfg
			cfg.InFlight = 1
			c := newClient(t, s.URL, cfg)
			if tt.batch.Associations != nil {
				if _, err := c.Send(context.Background(), batchOf(items...)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := c.Send(context.Background(), tt.batch); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range s.Requests() {
				if tt.path == "" || r.Path == tt.path {
					got = append(got, string(r.Body))
				}
			}
			var want []string
			for _, b := range Encoder(tt.cfg)(tt.batch) {
				want = append(want, string(b))
			}
			if len(want) != tt.want {
				t.Errorf("Encoder gave %d bodies, want %d", len(want), tt.want)
			}
			if !slices.Equal(got, want) {
				t.Errorf("recorded bodies:\n%s\nEncoder:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestEncoderBodies(t *testing.T) {
	rep := 3
	ipID, _ := EntityID("ip", "8.8.8.8")
	tests := []struct {
		name string
		cfg  Config
		in   *ioc.Indicator
		want []string
	}{
		{"entity", Config{}, ind(ioc.IP, "8.8.8.8"),
			[]string{`{"type":"ip","attributes":{"ip":"8.8.8.8"},"reputation":-1,"tags":["iocpipe"]}`}},
		{"email address", Config{}, ind(ioc.Email, "A@B.example"),
			[]string{`{"type":"email-address","attributes":{"email-address":"a@b.example"},"reputation":-1,"tags":["iocpipe"]}`}},
		{"row tags and reputation", Config{}, &ioc.Indicator{Type: ioc.CVE, Value: "cve-2024-0001", Reputation: &rep, TagLevel: ioc.LevelRow},
			[]string{`{"type":"cve","attributes":{"cve":"CVE-2024-0001"},"reputation":3,"tags":[]}`}},
		{"comment", Config{Comments: true}, &ioc.Indicator{Type: ioc.IP, Value: "8.8.8.8", Notes: "a \"b\""},
			[]string{`{"type":"ip","attributes":{"ip":"8.8.8.8"},"reputation":-1,"tags":["iocpipe"]}`, `{"entityID":"` + ipID + `","comment":"a \"b\""}`}},
		{"well-known", Config{Kind: KindWellKnown}, ind(ioc.Domain, "Google.com"),
			[]string{`{"type":"domain","attributes":{"domain":"google.com"}}`}},
		{"scan", Config{Kind: KindScan, Webhook: &Webhook{URL: "https://hook.example/x", Headers: []Header{{"K", "V"}}}}, ind(ioc.Domain, "Scan.example.com"),
			[]string{`{"target":"scan.example.com","webhook":{"url":"https://hook.example/x","headers":[{"key":"K","value":"V"}]}}`}},
		{"private", Config{}, ind(ioc.IP, "192.168.1.1"), nil},
	}
	for _, tt := range tests {
		got := Encoder(tt.cfg)(batchOf(tt.in))
		var gs []string
		for _, b := range got {
			gs = append(gs, string(b))
		}
		if !slices.Equal(gs, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.name, gs, tt.want)
		}
	}
}

func TestConfig(t *testing.T) {
	bad := 4
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"key", Config{APIKey: "k", APISecret: "s"}, ""},
		{"token", Config{Token: "t"}, ""},
		{"no credentials", Config{}, "credentials required"},
		{"both", Config{APIKey: "k", APISecret: "s", Token: "t"}, "not both"},
		{"key without secret", Config{APIKey: "k"}, "go together"},
		{"bad url", Config{URL: "intelligence.threatwinds.com", Token: "t"}, "not an absolute http or https URL"},
		{"bad kind", Config{Token: "t", Kind: "entity"}, `unknown kind "entity"`},
		{"reputation", Config{Token: "t", Reputation: &bad}, "out of range"},
		{"webhook on entities", Config{Token: "t", Webhook: &Webhook{URL: "https://x.example"}}, "webhook is sent with scans"},
		{"comments on scans", Config{Token: "t", Kind: KindScan, Comments: true}, "comments are posted on entities"},
		{"bad webhook url", Config{Token: "t", Kind: KindScan, Webhook: &Webhook{URL: "/hook"}}, "webhook url"},
		{"bad webhook header", Config{Token: "t", Kind: KindScan, Webhook: &Webhook{URL: "https://x.example", Headers: []Header{{"Bad Key", "v"}}}}, "webhook header 1"},
	}
	for _, tt := range tests {
		c, err := New(tt.cfg)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.wantErr)
		case err == nil && (c.base != DefaultURL+BasePath || cap(c.sem) != DefaultInFlight):
			t.Errorf("%s: base %q, in flight %d; want the defaults", tt.name, c.base, cap(c.sem))
		}
	}
	c, err := New(Config{URL: "http://127.0.0.1:9/api/ingest/v1/", Token: "t"})
	if err != nil || c.base != "http://127.0.0.1:9"+BasePath {
		t.Errorf("a URL ending in the base path: %v, base %q", err, c.base)
	}
}

func TestDefinitions(t *testing.T) {
	s := newServer(t, threatwindstest.Options{})
	c := newClient(t, s.URL, Config{APIKey: "trusted", APISecret: "trusted"})
	defs, err := c.Definitions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(defs, func(d Definition) bool { return d.Type == "email-address" })
	if i < 0 || defs[i].Description == "" || !strings.Contains(string(defs[i].Raw), `"attributes"`) {
		t.Errorf("definitions %v: want email-address with a description and its raw entry", defs)
	}

	_, err = newClient(t, s.URL, Config{}).Definitions(context.Background())
	checkFatal(t, err, http.StatusForbidden, "GET /api/ingest/v1/definitions", "needs the trusted role")

	// The SDK's shape: attributes are nested definitions.
	sdk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `[{"type":"ip","description":"An IP","dataType":"IP","attributes":[{"type":"cidr","dataType":"CIDR"}],"label":"IP"},"odd"]`)
	}))
	defer sdk.Close()
	defs, err = newClient(t, sdk.URL, Config{}).Definitions(context.Background())
	if err != nil || len(defs) != 2 || defs[0].Type != "ip" || defs[0].Description != "An IP" || string(defs[1].Raw) != `"odd"` {
		t.Errorf("SDK-shaped definitions: %+v, %v", defs, err)
	}
}

// BenchmarkEntities posts b.N distinct entities to the emulator, in
// batches of 500 sent four at a time as the pipeline does, and reports
// entities/s.
func BenchmarkEntities(b *testing.B) {
	for _, inFlight := range []int{16, 64} {
		b.Run(fmt.Sprintf("inflight=%d", inFlight), func(b *testing.B) {
			s := newServer(b, threatwindstest.Options{NoRecord: true})
			c := newClient(b, s.URL, Config{InFlight: inFlight})
			items := make([]*ioc.Indicator, b.N)
			for i := range items {
				sum := sha256.Sum256(fmt.Appendf(nil, "bench %d", i))
				items[i] = ind(ioc.SHA256, hexOf(sum[:]))
			}
			b.ResetTimer()
			start := time.Now()
			sendAll(b, c, items, 500)
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entities/s")
			if st := s.Stats(); st.Entities != int64(b.N) {
				b.Fatalf("emulator stored %d entities, want %d", st.Entities, b.N)
			}
		})
	}
}

func TestUntrustedCertificateIsFatal(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer srv.Close()
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	c := newClient(t, srv.URL, Config{HTTP: sinks.HTTPOptions{RetryDeadline: time.Minute}})
	b := &ioc.Batch{Sub: &ioc.Submission{Key: "k"}, Items: []*ioc.Indicator{{Value: "8.8.8.8", Type: ioc.IP}}}
	if _, err := c.Send(context.Background(), b); !errors.Is(err, ioc.ErrFatal) || !strings.Contains(err.Error(), "not trusted") {
		t.Fatalf("got %v, want a fatal certificate error", err)
	}
}

// TestCorrectionSentAgain: an entity sent again with another reputation,
// tags or comment is posted again (a correction), the same one is not,
// and what the Client remembers is bounded by Config.Remember.
func TestCorrectionSentAgain(t *testing.T) {
	s := newServer(t, threatwindstest.Options{})
	c := newClient(t, s.URL, Config{Comments: true, Remember: 2})
	withRep := func(rep int, tag, notes string) *ioc.Batch {
		in := &ioc.Indicator{Type: ioc.IP, Value: "8.8.8.8", Reputation: &rep, Notes: notes, TagLevel: ioc.LevelRow}
		if tag != "" {
			in.Tags = []ioc.Tag{{Name: tag}}
		}
		return batchOf(in)
	}
	tests := []struct {
		name         string
		b            *ioc.Batch
		wantRequests int
		wantDedup    int64
	}{
		{"first", withRep(-3, "malware", ""), 1, 0},
		{"same again", withRep(-3, "malware", ""), 0, 1},
		{"corrected", withRep(3, "benign", "false positive"), 1, 0},
		{"corrected again", withRep(3, "benign", "false positive"), 0, 1},
		{"other tags", withRep(3, "reviewed", ""), 1, 0},
		{"two others", batchOf(ind(ioc.IP, "1.1.1.1"), ind(ioc.IP, "9.9.9.9")), 2, 0},
		{"forgotten beyond the bound", withRep(3, "reviewed", ""), 1, 0},
	}
	for _, tt := range tests {
		res, err := c.Send(context.Background(), tt.b)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if res.Requests != tt.wantRequests || res.Extra["entities_deduplicated"] != tt.wantDedup || len(res.Rejects)+len(res.Failed) != 0 {
			t.Errorf("%s: got %d requests, %d deduplicated, rejects %v, failed %v; want %d requests, %d deduplicated",
				tt.name, res.Requests, res.Extra["entities_deduplicated"], res.Rejects, res.Failed, tt.wantRequests, tt.wantDedup)
		}
	}
	id, _ := EntityID("ip", "8.8.8.8")
	e, _ := s.Entity(id)
	if e.Reputation != 3 || !slices.Contains(e.Tags, "benign") || len(e.Comments) != 1 || e.Comments[0].Text != "false positive" {
		t.Errorf("entity %s: reputation %d, tags %v, comments %v; want the correction (3, benign, \"false positive\")", id, e.Reputation, e.Tags, e.Comments)
	}
	c.mu.Lock()
	n, m := c.acked.len(), c.commented.len()
	c.mu.Unlock()
	if n > 2 || m > 2 {
		t.Errorf("the Client remembers %d entities and %d comments, want at most Remember (2)", n, m)
	}
}
