package threatwindstest

import (
	"crypto/sha3"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// wantID computes an entity id from the API's formula, independently of
// EntityID.
func wantID(typ, normalized string) string {
	sum := sha3.Sum256([]byte(normalized))
	return typ + "-" + hex.EncodeToString(sum[:])
}

func TestEntityIDFormula(t *testing.T) {
	// SHA3-256 digests computed outside Go (Python's hashlib.sha3_256).
	tests := []struct{ typ, value, want string }{
		{"ip", "8.8.8.8", "ip-ba7fa36bff8d58ee45b973615e83d9aaeb921f1cc477d9c156e8a9cae8cca16e"},
		{"domain", "example.com", "domain-8dcd81bf7b19cac849e23eac1ae339a5d55b2be653ee7c00c5e5646c9c2da8c4"},
	}
	for _, tt := range tests {
		if got := EntityID(tt.typ, tt.value); got != tt.want {
			t.Errorf("EntityID(%q, %q) = %s, want %s", tt.typ, tt.value, got, tt.want)
		}
	}
}

func TestEntityAccepted(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	tests := []struct {
		name      string
		body      string
		typ, want string // type and normalised main attribute
	}{
		{"ipv4", `{"type":"ip","attributes":{"ip":"8.8.8.8","text":"manual"},"associations":[],"reputation":-1,"correlate":[],"tags":["malicious"],"visibleBy":["g1"]}`, "ip", "8.8.8.8"},
		{"ipv6 upper case", `{"type":"ip","attributes":{"ip":"2001:4860:4860:0:0:0:0:8888"}}`, "ip", "2001:4860:4860::8888"},
		{"domain", `{"type":"domain","attributes":{"domain":"Example.COM"}}`, "domain", "example.com"},
		{"hostname", `{"type":"hostname","attributes":{"hostname":"WWW.example.co.uk"}}`, "hostname", "www.example.co.uk"},
		{"url", `{"type":"url","attributes":{"url":"HTTP://Example.COM/Path?q=A"}}`, "url", "http://example.com/Path?q=A"},
		{"md5", `{"type":"md5","attributes":{"md5":"D41D8CD98F00B204E9800998ECF8427E"}}`, "md5", "d41d8cd98f00b204e9800998ecf8427e"},
		{"md5 16 digits", `{"type":"md5","attributes":{"md5":"D41D8CD98F00B204"}}`, "md5", "d41d8cd98f00b204"},
		{"sha1", `{"type":"sha1","attributes":{"sha1":"DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"}}`, "sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
		{"sha256", `{"type":"sha256","attributes":{"sha256":"` + strings.Repeat("AB", 32) + `"}}`, "sha256", strings.Repeat("ab", 32)},
		{"sha512", `{"type":"sha512","attributes":{"sha512":"` + strings.Repeat("0f", 64) + `"}}`, "sha512", strings.Repeat("0f", 64)},
		{"email address", `{"type":"email-address","attributes":{"email-address":"Bob@Example.COM"}}`, "email-address", "bob@example.com"},
		{"cve", `{"type":"cve","attributes":{"cve":"cve-2021-44228"}}`, "cve", "CVE-2021-44228"},
		{"malware is case-insensitive", `{"type":"malware","attributes":{"malware":"Emotet"},"reputation":-3}`, "malware", "emotet"},
		{"btc is case-sensitive", `{"type":"btc","attributes":{"btc":"1BoatSLRHtKNngkdXEeobR76b53LETtpyT"}}`, "btc", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"},
		{"asn", `{"type":"asn","attributes":{"asn":15169}}`, "asn", "15169"},
		{"port", `{"type":"port","attributes":{"port":"443/TCP"}}`, "port", "443/tcp"},
		{"cidr", `{"type":"cidr","attributes":{"cidr":"8.8.8.0/24"}}`, "cidr", "8.8.8.0/24"},
		{"mac", `{"type":"mac-address","attributes":{"mac-address":"aa-bb-cc-dd-ee-ff"}}`, "mac-address", "AA-BB-CC-DD-EE-FF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := send(t, s, "POST", "/api/ingest/v1/entity", asReporter, tt.body)
			if resp.StatusCode != 202 {
				t.Fatalf("status = %d, want 202 (%s: %s)", resp.StatusCode, resp.Header.Get("x-error"), body)
			}
			if strings.TrimSpace(string(body)) != `{"message":"acknowledged"}` {
				t.Errorf("body = %s, want acknowledged", body)
			}
			id := wantID(tt.typ, tt.want)
			ent, ok := s.Entity(id)
			if !ok {
				t.Fatalf("entity %s not stored", id)
			}
			if ent.Value != tt.want || ent.Attributes[tt.typ] != tt.want {
				t.Errorf("value = %q, attribute = %v, want %q", ent.Value, ent.Attributes[tt.typ], tt.want)
			}
		})
	}
	if st := s.Stats(); st.Entities != int64(len(tests)) || st.EntityRequests != int64(len(tests)) {
		t.Errorf("entities = %d, entity_requests = %d, want %d each", st.Entities, st.EntityRequests, len(tests))
	}
}

func TestEntityRejected(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	tests := []struct {
		name, body, wantErr string
	}{
		{"missing main attribute", `{"type":"ip","attributes":{"text":"x"}}`, "main attribute ip missing"},
		{"empty main attribute", `{"type":"domain","attributes":{"domain":""}}`, "main attribute domain missing"},
		{"no attributes", `{"type":"ip"}`, "main attribute ip missing"},
		{"unknown type", `{"type":"hash","attributes":{"hash":"abc"}}`, "unknown entity type"},
		{"email is a message id, not the address type", `{"type":"email","attributes":{"email-address":"a@b.com"}}`, "main attribute email missing"},
		{"no type", `{"attributes":{"ip":"8.8.8.8"}}`, "type required"},
		{"private IP", `{"type":"ip","attributes":{"ip":"10.0.0.1"}}`, "private"},
		{"loopback", `{"type":"ip","attributes":{"ip":"127.0.0.1"}}`, "loopback"},
		{"loopback v6", `{"type":"ip","attributes":{"ip":"::1"}}`, "loopback"},
		{"link-local", `{"type":"ip","attributes":{"ip":"169.254.10.1"}}`, "link-local unicast"},
		{"link-local multicast", `{"type":"ip","attributes":{"ip":"224.0.0.251"}}`, "link-local multicast"},
		{"multicast", `{"type":"ip","attributes":{"ip":"239.1.1.1"}}`, "multicast"},
		{"unspecified", `{"type":"ip","attributes":{"ip":"0.0.0.0"}}`, "unspecified"},
		{"not an IP", `{"type":"ip","attributes":{"ip":"8.8.8"}}`, "invalid IP"},
		{"IP as a number", `{"type":"ip","attributes":{"ip":8}}`, "not a string"},
		{"private CIDR", `{"type":"cidr","attributes":{"cidr":"192.168.0.0/16"}}`, "private"},
		{"bad domain", `{"type":"domain","attributes":{"domain":"no_such domain"}}`, "invalid FQDN"},
		{"single-label domain", `{"type":"domain","attributes":{"domain":"localhost"}}`, "invalid FQDN"},
		{"url without scheme", `{"type":"url","attributes":{"url":"example.com/x"}}`, "invalid URL"},
		{"bad md5", `{"type":"md5","attributes":{"md5":"xyz"}}`, "invalid MD5"},
		{"short sha256", `{"type":"sha256","attributes":{"sha256":"abcd"}}`, "64 hex digits"},
		{"bad email", `{"type":"email-address","attributes":{"email-address":"not an address"}}`, "invalid email"},
		{"bad cve", `{"type":"cve","attributes":{"cve":"CVE-21-1"}}`, "invalid CVE"},
		{"port without protocol", `{"type":"port","attributes":{"port":"443"}}`, "invalid port"},
		{"blank text", `{"type":"text","attributes":{"text":"   "}}`, "blank"},
		{"reputation 5", `{"type":"ip","attributes":{"ip":"8.8.8.8"},"reputation":5}`, "reputation 5 out of range"},
		{"reputation -4", `{"type":"ip","attributes":{"ip":"8.8.8.8"},"reputation":-4}`, "out of range"},
		{"fractional reputation", `{"type":"ip","attributes":{"ip":"8.8.8.8"},"reputation":1.5}`, "invalid JSON body"},
		{"bad association mode", `{"type":"ip","attributes":{"ip":"8.8.8.8"},"associations":[{"mode":"link","type":"domain","attributes":{"domain":"example.com"}}]}`, `associations[0]: mode "link"`},
		{"bad nested entity", `{"type":"ip","attributes":{"ip":"8.8.8.8"},"associations":[{"mode":"association","type":"domain","attributes":{"domain":"example.com"},"associations":[{"mode":"aggregation","type":"md5","attributes":{}}]}]}`, "associations[0].associations[0]: main attribute md5 missing"},
		{"unknown top-level field", `{"type":"ip","attributes":{"ip":"8.8.8.8"},"score":3}`, `unknown field "score"`},
		{"malformed JSON", `{"type":"ip",`, "invalid JSON body"},
		{"trailing data", `{"type":"ip","attributes":{"ip":"8.8.8.8"}} {}`, "data after"},
		{"array body", `[{"type":"ip","attributes":{"ip":"8.8.8.8"}}]`, "invalid JSON body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := send(t, s, "POST", "/api/ingest/v1/entity", asReporter, tt.body)
			if resp.StatusCode != 400 {
				t.Fatalf("status = %d, want 400", resp.StatusCode)
			}
			if msg := checkError(t, resp, body); !strings.Contains(msg, tt.wantErr) {
				t.Errorf("x-error = %q, want it to contain %q", msg, tt.wantErr)
			}
		})
	}
	st := s.Stats()
	if st.Entities != 0 || st.EntityRequests != 0 || st.Rejected != int64(len(tests)) {
		t.Errorf("stats = %+v, want nothing stored and %d rejected", st, len(tests))
	}
}

func TestEntityUpdateAndAssociations(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	body := `{"type":"ip","attributes":{"ip":"8.8.8.8"},"reputation":-1,"tags":["a"],
		"associations":[{"mode":"aggregation","type":"domain","attributes":{"domain":"Example.com"},"reputation":-2}]}`
	for i := range 2 {
		if resp, _ := send(t, s, "POST", "/api/ingest/v1/entity", asReporter, body); resp.StatusCode != 202 {
			t.Fatalf("post %d: status = %d, want 202", i, resp.StatusCode)
		}
	}
	again := `{"type":"ip","attributes":{"ip":"8.8.8.8","text":"second"},"reputation":-3,"tags":["b"]}`
	send(t, s, "POST", "/api/ingest/v1/entity", asReporter, again)

	ipID, domainID := wantID("ip", "8.8.8.8"), wantID("domain", "example.com")
	ip, ok := s.Entity(ipID)
	if !ok {
		t.Fatal("ip entity not stored")
	}
	if ip.Posts != 3 || ip.Reputation != -3 || !slices.Equal(ip.Tags, []string{"a", "b"}) || ip.Attributes["text"] != "second" {
		t.Errorf("ip = %+v, want 3 posts, reputation -3, tags [a b], text second", ip)
	}
	if want := []Link{{Mode: "aggregation", ID: domainID}}; !slices.Equal(ip.Links, want) {
		t.Errorf("links = %v, want %v", ip.Links, want)
	}
	dom, ok := s.Entity(domainID)
	if !ok || dom.Reputation != -2 || dom.Posts != 2 {
		t.Errorf("domain = %+v (stored %v), want reputation -2 and 2 posts", dom, ok)
	}
	if st := s.Stats(); st.Entities != 2 || st.EntityRequests != 3 {
		t.Errorf("entities = %d, entity_requests = %d, want 2 and 3", st.Entities, st.EntityRequests)
	}
	// Entity returns a copy.
	ip.Tags[0] = "changed"
	if again, _ := s.Entity(ipID); again.Tags[0] != "a" {
		t.Error("Entity returned the stored slices, not copies")
	}
}

func TestAssociation(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	ipID, domainID := wantID("ip", "8.8.8.8"), wantID("domain", "example.com")
	link := `{"entityID":"` + ipID + `","relatedEntityID":"` + domainID + `"}`
	tests := []struct {
		name    string
		setup   string // an entity to post first
		body    string
		want    int
		wantErr string
	}{
		{"neither exists", "", link, 400, "entity " + ipID + " not found"},
		{"related missing", goodEntity, link, 400, "entity " + domainID + " not found"},
		{"both exist", `{"type":"domain","attributes":{"domain":"example.com"}}`, link, 202, ""},
		{"missing field", "", `{"entityID":"` + ipID + `"}`, 400, "required"},
		{"unknown field", "", `{"entityID":"a","relatedEntityID":"b","mode":"x"}`, 400, "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != "" {
				if resp, _ := send(t, s, "POST", "/api/ingest/v1/entity", asReporter, tt.setup); resp.StatusCode != 202 {
					t.Fatalf("setup: status = %d", resp.StatusCode)
				}
			}
			resp, body := send(t, s, "POST", "/api/ingest/v1/association", asReporter, tt.body)
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d (%s)", resp.StatusCode, tt.want, body)
			}
			if tt.want != 202 {
				if msg := checkError(t, resp, body); !strings.Contains(msg, tt.wantErr) {
					t.Errorf("x-error = %q, want it to contain %q", msg, tt.wantErr)
				}
			}
		})
	}
	ip, _ := s.Entity(ipID)
	if want := []Link{{Mode: "association", ID: domainID}}; !slices.Equal(ip.Links, want) {
		t.Errorf("links = %v, want %v", ip.Links, want)
	}
	if st := s.Stats(); st.Associations != 1 {
		t.Errorf("associations = %d, want 1", st.Associations)
	}
}

func TestComment(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	ipID := wantID("ip", "8.8.8.8")
	tests := []struct {
		name    string
		setup   string // an entity to post first
		body    string
		want    int
		wantErr string
	}{
		{"unknown entity", "", `{"entityID":"` + ipID + `","comment":"seen in phishing"}`, 400, "entity " + ipID + " not found"},
		{"empty comment", goodEntity, `{"entityID":"` + ipID + `","comment":"  "}`, 400, "comment must not be empty"},
		{"no entity id", "", `{"comment":"x"}`, 400, "entityID required"},
		{"unknown field", "", `{"entityID":"` + ipID + `","comment":"x","author":"me"}`, 400, "unknown field"},
		{"good", "", `{"entityID":"` + ipID + `","comment":"seen in phishing","parentID":"c1","visibleBy":["g1"]}`, 202, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != "" {
				if resp, _ := send(t, s, "POST", "/api/ingest/v1/entity", asReporter, tt.setup); resp.StatusCode != 202 {
					t.Fatalf("setup: status = %d", resp.StatusCode)
				}
			}
			resp, body := send(t, s, "POST", "/api/ingest/v1/comment", asReporter, tt.body)
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d (%s)", resp.StatusCode, tt.want, body)
			}
			if tt.want != 202 {
				if msg := checkError(t, resp, body); !strings.Contains(msg, tt.wantErr) {
					t.Errorf("x-error = %q, want it to contain %q", msg, tt.wantErr)
				}
			}
		})
	}
	ip, _ := s.Entity(ipID)
	want := Comment{Text: "seen in phishing", ParentID: "c1", VisibleBy: []string{"g1"}}
	if len(ip.Comments) != 1 || ip.Comments[0].Text != want.Text || ip.Comments[0].ParentID != want.ParentID ||
		!slices.Equal(ip.Comments[0].VisibleBy, want.VisibleBy) {
		t.Errorf("comments = %+v, want [%+v]", ip.Comments, want)
	}
	if st := s.Stats(); st.Comments != 1 {
		t.Errorf("comments = %d, want 1", st.Comments)
	}
}

func TestWellKnown(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	tests := []struct {
		name, body string
		want       int
		wantErr    string
	}{
		{"good", `{"type":"domain","attributes":{"domain":"Google.com"}}`, 202, ""},
		{"invalid", `{"type":"ip","attributes":{"ip":"10.1.1.1"}}`, 400, "private"},
		{"no associations here", `{"type":"domain","attributes":{"domain":"google.com"},"associations":[]}`, 400, "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := send(t, s, "POST", "/api/ingest/v1/well-known", bearerTrusted, tt.body)
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d (%s)", resp.StatusCode, tt.want, body)
			}
			if tt.want != 202 {
				if msg := checkError(t, resp, body); !strings.Contains(msg, tt.wantErr) {
					t.Errorf("x-error = %q, want it to contain %q", msg, tt.wantErr)
				}
			}
		})
	}
	ent, ok := s.Entity(wantID("domain", "google.com"))
	if !ok || !ent.WellKnown {
		t.Errorf("entity = %+v (stored %v), want it stored as well-known", ent, ok)
	}
	if st := s.Stats(); st.WellKnown != 1 || st.Entities != 1 {
		t.Errorf("well_known = %d, entities = %d, want 1 and 1", st.WellKnown, st.Entities)
	}
}

func TestDefinitions(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	resp, body := send(t, s, "GET", "/api/ingest/v1/definitions", asTrusted, "")
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	var defs []struct {
		Type        string   `json:"type"`
		Description string   `json:"description"`
		Attributes  []string `json:"attributes"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&defs); err != nil {
		t.Fatalf("definitions %s: %v", body, err)
	}
	byType := map[string][]string{}
	for _, d := range defs {
		if d.Type == "" || d.Description == "" || d.Attributes == nil {
			t.Errorf("definition %+v: want type, description and an attributes array", d)
		}
		byType[d.Type] = d.Attributes
	}
	if got := byType["ip"]; !slices.Equal(got, []string{"text", "value", "country"}) {
		t.Errorf("ip attributes = %v, want [text value country]", got)
	}
	for _, typ := range []string{"ip", "cidr", "domain", "hostname", "url", "md5", "sha1", "sha224", "sha256", "sha384", "sha512",
		"sha3-256", "email-address", "email", "cve", "file", "filename", "malware", "malware-family", "btc", "xmr",
		"ja3-fingerprint", "jarm-fingerprint", "certificate-fingerprint", "asn", "port", "regkey", "mac-address", "phone"} {
		if _, ok := byType[typ]; !ok {
			t.Errorf("definitions lack type %q", typ)
		}
	}
}
