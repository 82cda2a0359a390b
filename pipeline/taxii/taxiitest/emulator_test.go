package taxiitest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/taxii/taxiitest"
	"github.com/iocpipe/iocpipe/sinks/faults"
)

const media = "application/taxii+json;version=2.1"

// answer is one response, read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request to srv with the demo credentials and media type
// unless told otherwise by edit.
func do(t *testing.T, srv *taxiitest.Server, method, path, body string, edit func(*http.Request)) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("demo", "demo")
	req.Header.Set("Accept", media)
	if body != "" {
		req.Header.Set("Content-Type", media)
	}
	if edit != nil {
		edit(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, b}
}

// get GETs path and decodes a 200 answer into v.
func get(t *testing.T, srv *taxiitest.Server, path string, v any) answer {
	t.Helper()
	a := do(t, srv, http.MethodGet, path, "", nil)
	if a.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, a.status, a.body)
	}
	if ct := a.header.Get("Content-Type"); ct != media {
		t.Errorf("GET %s: Content-Type %q, want %q", path, ct, media)
	}
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, a.body)
	}
	return a
}

type page struct {
	More    bool              `json:"more"`
	Next    string            `json:"next"`
	Objects []json.RawMessage `json:"objects"`
}

func ids(t *testing.T, objects []json.RawMessage) []string {
	t.Helper()
	out := make([]string, len(objects))
	for i, o := range objects {
		var h struct{ ID, Type string }
		if err := json.Unmarshal(o, &h); err != nil {
			t.Fatal(err)
		}
		out[i] = h.ID
	}
	return out
}

func objectsPath(id string) string {
	return taxiitest.APIRootPath + "collections/" + id + "/objects/"
}

func TestTAXIIDiscoveryAPIRootCollections(t *testing.T) {
	srv := taxiitest.NewServer(taxiitest.Options{})
	defer srv.Close()
	var d struct {
		Title    string   `json:"title"`
		Default  string   `json:"default"`
		APIRoots []string `json:"api_roots"`
	}
	get(t, srv, "/taxii2/", &d)
	if d.Title == "" || !slices.Equal(d.APIRoots, []string{taxiitest.APIRootPath}) || d.Default != taxiitest.APIRootPath {
		t.Errorf("discovery %+v", d)
	}
	var root struct {
		Title            string   `json:"title"`
		Versions         []string `json:"versions"`
		MaxContentLength int      `json:"max_content_length"`
	}
	get(t, srv, taxiitest.APIRootPath, &root)
	if !slices.Equal(root.Versions, []string{media}) || root.MaxContentLength != taxiitest.MaxContentLength {
		t.Errorf("API root %+v", root)
	}
	var list struct {
		Collections []struct {
			ID, Title  string
			CanRead    bool     `json:"can_read"`
			CanWrite   bool     `json:"can_write"`
			MediaTypes []string `json:"media_types"`
		} `json:"collections"`
	}
	get(t, srv, taxiitest.APIRootPath+"collections/", &list)
	got := map[string]string{}
	for _, c := range list.Collections {
		got[c.Title] = fmt.Sprintf("%s read=%v write=%v %v", c.ID, c.CanRead, c.CanWrite, c.MediaTypes)
	}
	want := map[string]string{
		taxiitest.DemoTitle:    taxiitest.DemoCollectionID + " read=true write=false [application/stix+json;version=2.1]",
		taxiitest.ScratchTitle: taxiitest.ScratchCollectionID + " read=true write=true [application/stix+json;version=2.1]",
		taxiitest.LockedTitle:  taxiitest.LockedCollectionID + " read=false write=true [application/stix+json;version=2.1]",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("collection %q: got %q, want %q", k, got[k], v)
		}
	}
	var one struct{ ID string }
	get(t, srv, taxiitest.APIRootPath+"collections/"+taxiitest.ScratchCollectionID+"/", &one)
	if one.ID != taxiitest.ScratchCollectionID {
		t.Errorf("collection: %+v", one)
	}
	if a := do(t, srv, http.MethodGet, taxiitest.APIRootPath+"collections/nope/", "", nil); a.status != http.StatusNotFound {
		t.Errorf("unknown collection: %d", a.status)
	}
}

func TestTAXIIAuthAndMediaTypes(t *testing.T) {
	srv := taxiitest.NewServer(taxiitest.Options{})
	defer srv.Close()
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		edit   func(*http.Request)
		want   int
	}{
		{"no credentials", "GET", "/taxii2/", "", func(r *http.Request) { r.Header.Del("Authorization") }, 401},
		{"wrong password", "GET", "/taxii2/", "", func(r *http.Request) { r.SetBasicAuth("demo", "nope") }, 401},
		{"no Accept", "GET", "/taxii2/", "", func(r *http.Request) { r.Header.Del("Accept") }, 406},
		{"Accept json", "GET", "/taxii2/", "", func(r *http.Request) { r.Header.Set("Accept", "application/json") }, 406},
		{"Accept TAXII 2.0", "GET", "/taxii2/", "", func(r *http.Request) {
			r.Header.Set("Accept", "application/vnd.oasis.taxii+json; version=2.0")
		}, 406},
		{"Accept 2.1 q=0", "GET", "/taxii2/", "", func(r *http.Request) { r.Header.Set("Accept", media+";q=0") }, 406},
		{"Accept any", "GET", "/taxii2/", "", func(r *http.Request) { r.Header.Set("Accept", "text/html, */*;q=0.1") }, 200},
		{"Accept without version", "GET", "/taxii2/", "", func(r *http.Request) { r.Header.Set("Accept", "application/taxii+json") }, 200},
		{"can_read false", "GET", objectsPath(taxiitest.LockedCollectionID), "", nil, 403},
		{"POST wrong Content-Type", "POST", objectsPath(taxiitest.ScratchCollectionID), `{"objects":[]}`, func(r *http.Request) {
			r.Header.Set("Content-Type", "application/json")
		}, 415},
		{"POST STIX Content-Type", "POST", objectsPath(taxiitest.ScratchCollectionID), `{"objects":[]}`, func(r *http.Request) {
			r.Header.Set("Content-Type", "application/stix+json;version=2.1")
		}, 415},
		{"POST can_write false", "POST", objectsPath(taxiitest.DemoCollectionID), `{"objects":[]}`, nil, 403},
		{"unknown endpoint", "GET", taxiitest.APIRootPath + "nothing/", "", nil, 404},
		{"POST discovery", "POST", "/taxii2/", `{}`, nil, 405},
		{"DELETE objects", "DELETE", objectsPath(taxiitest.ScratchCollectionID), "", nil, 405},
		{"bad limit", "GET", objectsPath(taxiitest.DemoCollectionID) + "?limit=0", "", nil, 400},
		{"bad added_after", "GET", objectsPath(taxiitest.DemoCollectionID) + "?added_after=yesterday", "", nil, 400},
		{"bad next", "GET", objectsPath(taxiitest.DemoCollectionID) + "?next=zzz", "", nil, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := do(t, srv, tt.method, tt.path, tt.body, tt.edit)
			if a.status != tt.want {
				t.Fatalf("got %d, want %d: %s", a.status, tt.want, a.body)
			}
			if ct := a.header.Get("Content-Type"); ct != media {
				t.Errorf("Content-Type %q, want %q", ct, media)
			}
			if tt.want == 401 && !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("401 without WWW-Authenticate: Basic: %q", a.header.Get("WWW-Authenticate"))
			}
			if tt.want >= 400 {
				var e struct {
					Title      string `json:"title"`
					HTTPStatus string `json:"http_status"`
				}
				if err := json.Unmarshal(a.body, &e); err != nil || e.Title == "" || e.HTTPStatus != fmt.Sprint(tt.want) {
					t.Errorf("not a TAXII error message: %s (%v)", a.body, err)
				}
			}
		})
	}
}

// TestTAXIIObjectsFilters checks added_after (exclusive), limit, next, match[type],
// match[id] and the date_added headers on the demo collection.
func TestTAXIIObjectsFilters(t *testing.T) {
	srv := taxiitest.NewServer(taxiitest.Options{SameDateAdded: 3})
	defer srv.Close()
	path := objectsPath(taxiitest.DemoCollectionID)

	var all page
	a := get(t, srv, path, &all)
	if len(all.Objects) != taxiitest.DefaultDemoObjects || all.More || all.Next != "" {
		t.Fatalf("all: %d objects, more %v, next %q", len(all.Objects), all.More, all.Next)
	}
	first, last := a.header.Get("X-TAXII-Date-Added-First"), a.header.Get("X-TAXII-Date-Added-Last")
	if len(first) != len("2006-01-02T15:04:05.000000Z") || !strings.HasSuffix(first, "Z") || last <= first {
		t.Errorf("headers first %q last %q: want microsecond timestamps, first < last", first, last)
	}

	// added_after is exclusive: after the first run of 3, 37 are left.
	var after page
	a = get(t, srv, path+"?added_after="+first, &after)
	if len(after.Objects) != taxiitest.DefaultDemoObjects-3 {
		t.Errorf("added_after=%s: %d objects, want %d", first, len(after.Objects), taxiitest.DefaultDemoObjects-3)
	}
	if got := a.header.Get("X-TAXII-Date-Added-First"); got <= first {
		t.Errorf("added_after=%s: first date_added %s is not after it", first, got)
	}
	var none page
	a = get(t, srv, path+"?added_after="+last, &none)
	if len(none.Objects) != 0 || none.More || a.header.Get("X-TAXII-Date-Added-Last") != "" || strings.TrimSpace(string(a.body)) != "{}" {
		t.Errorf("added_after the last: %s, headers %v", a.body, a.header)
	}

	// limit and next: pages of 7 in order, ties (runs of 3) across pages.
	var got []string
	next := ""
	for n := 0; ; n++ {
		var p page
		q := "?limit=7"
		if next != "" {
			q += "&next=" + next
		}
		get(t, srv, path+q, &p)
		if len(p.Objects) > 7 {
			t.Fatalf("page of %d over limit 7", len(p.Objects))
		}
		got = append(got, ids(t, p.Objects)...)
		if !p.More {
			break
		}
		next = p.Next
		if n > 10 {
			t.Fatal("paging does not end")
		}
	}
	if want := ids(t, all.Objects); !slices.Equal(got, want) {
		t.Errorf("paged ids differ from the whole list:\n got %v\nwant %v", got, want)
	}

	// limit above the page size is capped.
	small := taxiitest.NewServer(taxiitest.Options{PageSize: 5})
	defer small.Close()
	var capped page
	get(t, small, path+"?limit=1000", &capped)
	if len(capped.Objects) != 5 || !capped.More || capped.Next == "" {
		t.Errorf("limit 1000 with page size 5: %d objects, more %v", len(capped.Objects), capped.More)
	}

	// match[type] takes a comma list; match[id] one or more ids.
	srv.Add(taxiitest.DemoCollectionID, time.Time{}, json.RawMessage(`{"type":"malware","spec_version":"2.1","id":"malware--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","name":"x","is_family":false}`),
		json.RawMessage(`{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd","value":"198.51.100.99"}`))
	var typed page
	get(t, srv, path+"?match[type]=malware,ipv4-addr", &typed)
	if got := ids(t, typed.Objects); !slices.Equal(got, []string{"malware--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061", "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd"}) {
		t.Errorf("match[type]: %v", got)
	}
	var byID page
	want := ids(t, all.Objects)[4]
	get(t, srv, path+"?match[id]="+want, &byID)
	if got := ids(t, byID.Objects); !slices.Equal(got, []string{want}) {
		t.Errorf("match[id]=%s: %v", want, got)
	}
}

// TestTAXIIVersions checks that match[version] defaults to the last version.
func TestTAXIIVersions(t *testing.T) {
	srv := taxiitest.NewServer(taxiitest.Options{})
	defer srv.Close()
	obj := func(modified string) json.RawMessage {
		return json.RawMessage(`{"type":"indicator","spec_version":"2.1","id":"indicator--4f2a9b6e-0c7d-4e1f-9a3b-2d5c8e7f6a10","created":"2026-01-01T00:00:00Z","modified":"` + modified + `","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`)
	}
	srv.Add(taxiitest.ScratchCollectionID, time.Time{}, obj("2026-01-01T00:00:00Z"), obj("2026-01-02T00:00:00Z"), obj("2026-01-02T00:00:00Z"))
	path := objectsPath(taxiitest.ScratchCollectionID)
	for q, want := range map[string]int{"": 1, "?match[version]=all": 2, "?match[version]=first": 1, "?match[version]=2026-01-01T00:00:00Z": 1} {
		var p page
		get(t, srv, path+q, &p)
		if len(p.Objects) != want {
			t.Errorf("%q: %d objects, want %d", q, len(p.Objects), want)
		}
	}
}

// TestTAXIIAddAndReset checks POST to a writable collection, the control
// endpoint's date_added choices, and that reset empties scratch.
func TestTAXIIAddAndReset(t *testing.T) {
	srv := taxiitest.NewServer(taxiitest.Options{})
	defer srv.Close()
	bundle := func(n, from int) string {
		var objs []string
		for i := range n {
			objs = append(objs, fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-%012d","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`, from+i))
		}
		return `{"type":"bundle","id":"bundle--6b4f0e1c-8f7e-4b5a-9d3c-2a1e0f9b8c7d","objects":[` + strings.Join(objs, ",") + `]}`
	}
	a := do(t, srv, "POST", objectsPath(taxiitest.ScratchCollectionID), `{"objects":[{"type":"indicator","id":"indicator--00000000-0000-4000-8000-999999999999","created":"2026-01-01T00:00:00Z"}]}`, nil)
	var st struct {
		Status       string `json:"status"`
		SuccessCount int    `json:"success_count"`
		ID           string `json:"id"`
	}
	if json.Unmarshal(a.body, &st); a.status != http.StatusAccepted || st.Status != "complete" || st.SuccessCount != 1 {
		t.Fatalf("POST: %d %s", a.status, a.body)
	}
	var again struct{ ID string }
	get(t, srv, taxiitest.APIRootPath+"status/"+st.ID+"/", &again)
	if again.ID != st.ID {
		t.Errorf("status: %+v", again)
	}

	control := func(q, body string) map[string]any {
		t.Helper()
		resp, err := http.Post(srv.URL+"/_emulator/taxii/collections/"+taxiitest.ScratchCollectionID+"/objects"+q, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != 200 {
			t.Fatalf("control add %s: %d %v", q, resp.StatusCode, out)
		}
		return out
	}
	out := control("?date_added=same", bundle(5, 0))
	if out["added"] != 5.0 || out["date_added_first"] != out["date_added_last"] {
		t.Errorf("date_added=same: %v", out)
	}
	last := out["date_added_last"]
	out = control("?date_added=last", bundle(2, 10))
	if out["date_added_first"] != last {
		t.Errorf("date_added=last: %v, want %v", out, last)
	}
	out = control("", `{"objects":`+bundle(3, 20)[strings.Index(bundle(3, 20), "["):])
	if out["date_added_first"] == out["date_added_last"] {
		t.Errorf("no date_added: each should have its own: %v", out)
	}
	var p page
	get(t, srv, objectsPath(taxiitest.ScratchCollectionID), &p)
	if len(p.Objects) != 11 {
		t.Errorf("scratch holds %d objects, want 11", len(p.Objects))
	}

	resp, err := http.Post(srv.URL+"/_emulator/reset", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var empty page
	get(t, srv, objectsPath(taxiitest.ScratchCollectionID), &empty)
	var demo page
	get(t, srv, objectsPath(taxiitest.DemoCollectionID), &demo)
	if len(empty.Objects) != 0 || len(demo.Objects) != taxiitest.DefaultDemoObjects {
		t.Errorf("after reset: scratch %d objects (want 0), demo %d", len(empty.Objects), len(demo.Objects))
	}
}

// TestTAXIIDemoIsDeterministic checks that two emulators serve the same demo.
func TestTAXIIDemoIsDeterministic(t *testing.T) {
	a, b := taxiitest.NewServer(taxiitest.Options{}), taxiitest.NewServer(taxiitest.Options{})
	defer a.Close()
	defer b.Close()
	var pa, pb page
	get(t, a, objectsPath(taxiitest.DemoCollectionID), &pa)
	get(t, b, objectsPath(taxiitest.DemoCollectionID), &pb)
	if len(pa.Objects) != len(pb.Objects) {
		t.Fatal("different sizes")
	}
	types := map[string]bool{}
	for i := range pa.Objects {
		if string(pa.Objects[i]) != string(pb.Objects[i]) {
			t.Fatalf("object %d differs", i)
		}
		var o struct{ Pattern string }
		json.Unmarshal(pa.Objects[i], &o)
		types[strings.SplitN(strings.TrimPrefix(o.Pattern, "["), ":", 2)[0]] = true
	}
	if len(types) < 6 {
		t.Errorf("demo patterns cover %v: want varied types", types)
	}
}

// TestTAXIIFaults checks the 429 with Retry-After, injected 5xx and the two
// broken servers.
func TestTAXIIFaults(t *testing.T) {
	path := objectsPath(taxiitest.DemoCollectionID)
	t.Run("429", func(t *testing.T) {
		srv := taxiitest.NewServer(taxiitest.Options{RateLimitEvery: 2, RetryAfter: 1500 * time.Millisecond})
		defer srv.Close()
		codes := []int{}
		for range 4 {
			a := do(t, srv, "GET", path, "", nil)
			codes = append(codes, a.status)
			if a.status == 429 && a.header.Get("Retry-After") != "2" {
				t.Errorf("Retry-After %q, want 2", a.header.Get("Retry-After"))
			}
		}
		if !slices.Equal(codes, []int{200, 429, 200, 429}) {
			t.Errorf("statuses %v", codes)
		}
	})
	t.Run("5xx", func(t *testing.T) {
		srv := taxiitest.NewServer(taxiitest.Options{Faults: faults.Options{FailFirst: 1, FailStatus: 503}})
		defer srv.Close()
		if a := do(t, srv, "GET", path, "", nil); a.status != 503 {
			t.Errorf("first: %d", a.status)
		}
		if a := do(t, srv, "GET", path, "", nil); a.status != 200 {
			t.Errorf("second: %d", a.status)
		}
		if a := do(t, srv, "GET", "/taxii2/", "", nil); a.status != 200 {
			t.Errorf("faults reach discovery: %d", a.status)
		}
	})
	t.Run("repeat next", func(t *testing.T) {
		srv := taxiitest.NewServer(taxiitest.Options{RepeatNext: true, PageSize: 10})
		defer srv.Close()
		var p1, p2 page
		get(t, srv, path, &p1)
		get(t, srv, path+"?next="+p1.Next, &p2)
		if p1.Next == "" || p1.Next != p2.Next || !slices.Equal(ids(t, p1.Objects), ids(t, p2.Objects)) {
			t.Errorf("repeat next: %q then %q", p1.Next, p2.Next)
		}
	})
	t.Run("no next", func(t *testing.T) {
		srv := taxiitest.NewServer(taxiitest.Options{NoNext: true, PageSize: 10})
		defer srv.Close()
		var p page
		get(t, srv, path, &p)
		if !p.More || p.Next != "" || len(p.Objects) != 10 {
			t.Errorf("no next: more %v, next %q, %d objects", p.More, p.Next, len(p.Objects))
		}
	})
	t.Run("empty more", func(t *testing.T) {
		srv := taxiitest.NewServer(taxiitest.Options{EmptyMore: true, PageSize: 10})
		defer srv.Close()
		var p1, p2, p3 page
		get(t, srv, path, &p1)
		get(t, srv, path+"?next="+p1.Next, &p2)
		get(t, srv, path+"?next="+p2.Next, &p3)
		if !p2.More || len(p2.Objects) != 0 || p2.Next == p3.Next {
			t.Errorf("empty more: %+v then %+v", p2, p3)
		}
	})
}
