package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/sinks/faults"
	"github.com/iocpipe/iocpipe/sinks/threatwinds"
	"github.com/iocpipe/iocpipe/sinks/threatwinds/threatwindstest"
)

// twConfig writes a configuration with one ThreatWinds route.
func twConfig(t *testing.T, url, route string) string {
	t.Helper()
	cfg := fmt.Sprintf(`sinks:
  threatwinds:
    url: %s
    api_key_env: TW_KEY
    api_secret_env: TW_SECRET
    retry_deadline: 10s
    # End of input flushes batches; a long linger keeps slow machines
    # (-race, load) from closing batches early and changing their count.
    linger: 1m
routes:
%s`, url, route)
	path := filepath.Join(t.TempDir(), "tw.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

type twRun struct {
	exit           int
	stdout, stderr string
	report         map[string]any
	rejects        []map[string]any
}

func runTW(t *testing.T, key string, args ...string) twRun {
	t.Helper()
	t.Setenv("TW_KEY", key)
	t.Setenv("TW_SECRET", key)
	dir := t.TempDir()
	rej, rep := filepath.Join(dir, "rejects.jsonl"), filepath.Join(dir, "report.json")
	var stdout, stderr bytes.Buffer
	full := append([]string{args[0], "--rejects", rej, "--report", rep}, args[1:]...)
	r := twRun{exit: run(context.Background(), &env{stdout: &stdout, stderr: &stderr}, full), stdout: stdout.String(), stderr: stderr.String()}
	if b, err := os.ReadFile(rep); err == nil {
		json.Unmarshal(b, &r.report)
	}
	if b, err := os.ReadFile(rej); err == nil {
		for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			var m map[string]any
			if json.Unmarshal(line, &m) == nil {
				r.rejects = append(r.rejects, m)
			}
		}
	}
	return r
}

func summaryOf(t *testing.T, r twRun) map[string]any {
	t.Helper()
	s, ok := r.report["summary"].(map[string]any)
	if !ok {
		t.Fatalf("no summary in the report; stderr: %s", r.stderr)
	}
	return s
}

// TestThreatWindsEntities imports 5,000 mixed indicators into ThreatWinds:
// every valid one becomes an entity of the right type and main attribute,
// with many requests in flight; the others are explained.
func TestThreatWindsEntities(t *testing.T) {
	srv := threatwindstest.NewServer(threatwindstest.Options{})
	t.Cleanup(srv.Close)
	cfg := twConfig(t, srv.URL, "  - name: tw\n    sink: threatwinds\n    reputation: -2\n    tags: [feed]\n")
	var b strings.Builder
	b.WriteString("value,type,notes\n")
	want := map[string]string{} // entity id → type
	bad := 0
	for i := range 5000 {
		var v, typ string
		switch i % 10 {
		case 0, 1:
			v, typ = fmt.Sprintf("%d.%d.%d.%d", 11+i%50, i/256%256, i%256, 1+i%250), "ip"
		case 2, 3:
			v, typ = fmt.Sprintf("host%d.example.com", i), "domain"
		case 4:
			v, typ = fmt.Sprintf("https://www.example.org/p/%d", i), "url"
		case 5:
			v, typ = fmt.Sprintf("user%d@example.net", i), "email-address"
		case 6:
			v, typ = fmt.Sprintf("%032x", i), "md5"
		case 7:
			v, typ = fmt.Sprintf("%064x", i), "sha256"
		case 8:
			v, typ = fmt.Sprintf("10.1.%d.%d", i/256%256, i%256), "" // private: rejected
		default:
			v, typ = fmt.Sprintf("CVE-2024-%05d", i), "cve"
		}
		fmt.Fprintf(&b, "%s,,note %d\n", v, i)
		if typ == "" {
			bad++
			continue
		}
		norm, err := threatwindstest.Normalize(typ, v)
		if err != nil {
			t.Fatalf("%s %s: %v", typ, v, err)
		}
		want[threatwindstest.EntityID(typ, norm)] = typ
	}
	input := filepath.Join(t.TempDir(), "mixed.csv")
	os.WriteFile(input, []byte(b.String()), 0o600)
	start := time.Now()
	r := runTW(t, "reporter", "run", "--config", cfg, input)
	elapsed := time.Since(start)
	if r.exit != exitRejected {
		t.Fatalf("exit %d, want 3 (private IPs rejected); stderr: %s", r.exit, r.stderr)
	}
	st := srv.Stats()
	if int(st.Entities) != len(want) {
		t.Errorf("entities: got %d, want %d", st.Entities, len(want))
	}
	for id, typ := range want {
		e, ok := srv.Entity(id)
		if !ok || e.Type != typ || e.Reputation != -2 || len(e.Comments) != 1 || !strings.HasPrefix(e.Comments[0].Text, "note ") {
			t.Fatalf("entity %s: got %+v (ok %v), want type %s, reputation -2, one comment", id, e, ok, typ)
		}
	}
	if len(r.rejects) != bad {
		t.Errorf("rejects: got %d, want %d", len(r.rejects), bad)
	}
	for _, rej := range r.rejects {
		if !strings.Contains(rej["reason"].(string), "private") {
			t.Errorf("reject %v does not say why", rej)
		}
	}
	t.Logf("%d entities in %s: %.0f entities/s", len(want), elapsed.Round(time.Millisecond), float64(len(want))/elapsed.Seconds())
}

// TestThreatWindsScan runs a scan route with 100 targets, some invalid:
// task ids for the valid ones in the report, and one webhook call each
// once the emulator's tasks are done.
func TestThreatWindsScan(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ ID, Target, Status string }
		json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		if r.Header.Get("X-Hook-Token") == "s3cret" && body.Status == "done" {
			calls[body.Target]++
		}
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)
	srv := threatwindstest.NewServer(threatwindstest.Options{ScanStep: 20 * time.Millisecond})
	t.Cleanup(srv.Close)
	t.Setenv("HOOK_TOKEN", "s3cret")
	cfg := twConfig(t, srv.URL, fmt.Sprintf("  - name: scans\n    sink: threatwinds\n    kind: scan\n    webhook:\n      url: %s\n      headers:\n        X-Hook-Token: ${HOOK_TOKEN}\n", hook.URL))
	var b strings.Builder
	b.WriteString("value\n")
	valid := map[string]bool{}
	for i := range 100 {
		switch i % 5 {
		case 0:
			fmt.Fprintf(&b, "https://site%d.example.com/x\n", i) // a URL is no scan target
		case 1:
			fmt.Fprintf(&b, "192.168.%d.1\n", i) // private
		default:
			v := fmt.Sprintf("scan%d.example.com", i)
			if i%5 == 2 {
				v = fmt.Sprintf("%d.1.2.3", 20+i)
			}
			fmt.Fprintln(&b, v)
			valid[v] = true
		}
	}
	input := filepath.Join(t.TempDir(), "targets.csv")
	os.WriteFile(input, []byte(b.String()), 0o600)
	r := runTW(t, "reporter", "run", "--config", cfg, input)
	if r.exit != exitRejected {
		t.Fatalf("exit %d, want 3; stderr: %s", r.exit, r.stderr)
	}
	s := summaryOf(t, r)
	ids, _ := s["sink_ids"].([]any)
	if len(ids) != len(valid) {
		t.Errorf("task ids in the report: got %d, want %d", len(ids), len(valid))
	}
	if extra, _ := s["extra"].(map[string]any); extra["scans_new"] != float64(len(valid)) {
		t.Errorf("extra: %v, want scans_new %d", extra, len(valid))
	}
	if len(r.rejects) != 100-len(valid) {
		t.Errorf("rejects: got %d, want %d", len(r.rejects), 100-len(valid))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(calls)
		mu.Unlock()
		if n == len(valid) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for v := range valid {
		if calls[v] != 1 {
			t.Errorf("webhook for %s called %d times, want once", v, calls[v])
		}
	}
	// The same targets again: existing tasks, answered 200.
	r = runTW(t, "reporter", "run", "--config", cfg, input)
	if extra, _ := summaryOf(t, r)["extra"].(map[string]any); extra["scans_existing"] != float64(len(valid)) {
		t.Errorf("second run: extra %v, want scans_existing %d", extra, len(valid))
	}
}

// TestThreatWindsWellKnownNeedsTrusted: a reporter key on /well-known is
// a fatal 403 whose message carries the error id; the trusted key works.
func TestThreatWindsWellKnownNeedsTrusted(t *testing.T) {
	srv := threatwindstest.NewServer(threatwindstest.Options{})
	t.Cleanup(srv.Close)
	cfg := twConfig(t, srv.URL, "  - name: trusted\n    sink: threatwinds\n    kind: well-known\n")
	input := filepath.Join(t.TempDir(), "good.csv")
	os.WriteFile(input, []byte("value\n8.8.8.8\ndns.google\n"), 0o600)
	r := runTW(t, "reporter", "run", "--config", cfg, input)
	if r.exit != exitFailed {
		t.Fatalf("exit %d, want 1", r.exit)
	}
	if !strings.Contains(r.stderr, "403") || !strings.Contains(r.stderr, "error id ") || !strings.Contains(r.stderr, "trusted") {
		t.Errorf("stderr should explain the 403 with its error id: %s", r.stderr)
	}
	r = runTW(t, "trusted", "run", "--config", cfg, input)
	if r.exit != exitOK || srv.Stats().WellKnown != 2 {
		t.Errorf("trusted key: exit %d, well-known %d; stderr %s", r.exit, srv.Stats().WellKnown, r.stderr)
	}
}

// TestSTIXIntoBothSinks imports the STIX 2.1 sample into ThreatWinds,
// where its relationships between indicators become associations sent
// after both entities, and checks they are not applicable for TruSTAR.
func TestSTIXIntoBothSinks(t *testing.T) {
	srv := threatwindstest.NewServer(threatwindstest.Options{})
	t.Cleanup(srv.Close)
	cfg := twConfig(t, srv.URL, "  - name: tw\n    sink: threatwinds\n")
	r := runTW(t, "reporter", "run", "--config", cfg, "../../testdata/inputs/stix21-bundle.json")
	if r.exit != exitRejected {
		t.Fatalf("exit %d; stderr %s", r.exit, r.stderr)
	}
	st := srv.Stats()
	if st.Associations != 7 {
		t.Errorf("associations: got %d, want 7 (3×2 + 1)", st.Associations)
	}
	// Every association came after both of its entities.
	seen := map[string]bool{}
	for _, req := range srv.Requests() {
		var body struct {
			Type          string            `json:"type"`
			Attributes    map[string]string `json:"attributes"`
			EntityID      string            `json:"entityID"`
			RelatedEntity string            `json:"relatedEntityID"`
		}
		json.Unmarshal(req.Body, &body)
		switch req.Path {
		case "/api/ingest/v1/entity":
			id, _ := threatwinds.EntityID(body.Type, body.Attributes[body.Type])
			seen[id] = true
		case "/api/ingest/v1/association":
			if !seen[body.EntityID] || !seen[body.RelatedEntity] {
				t.Errorf("association %s → %s sent before its entities", body.EntityID, body.RelatedEntity)
			}
		}
	}
	// The sighted indicator's entities carry the source's reputation
	// default, and the C2 domain exists.
	if _, ok := srv.Entity(threatwindstest.EntityID("domain", "c2.example.com")); !ok {
		t.Error("c2.example.com is not an entity")
	}
}

// TestThreatWindsRefusalsExplained: entities the API refuses (400 with
// x-error and x-error-id) are in the reject report with the server's
// message and error id; the others are delivered.
func TestThreatWindsRefusalsExplained(t *testing.T) {
	srv := threatwindstest.NewServer(threatwindstest.Options{Faults: faults.Options{RejectPattern: regexp.MustCompile(`refused-[0-9]+\.example\.com`)}})
	t.Cleanup(srv.Close)
	cfg := twConfig(t, srv.URL, "  - name: tw\n    sink: threatwinds\n    comments: false\n")
	input := filepath.Join(t.TempDir(), "in.csv")
	os.WriteFile(input, []byte("value\nok-1.example.com\nrefused-2.example.com\nok-3.example.com\nrefused-4.example.com\n"), 0o600)
	r := runTW(t, "reporter", "run", "--config", cfg, input)
	if r.exit != exitRejected {
		t.Fatalf("exit %d; stderr %s", r.exit, r.stderr)
	}
	if len(r.rejects) != 2 {
		t.Fatalf("rejects: %v", r.rejects)
	}
	for _, rej := range r.rejects {
		if !strings.HasPrefix(rej["value"].(string), "refused-") || rej["status"] != float64(400) || rej["error_id"] == nil ||
			!strings.Contains(rej["reason"].(string), "refused value") || rej["line"] == nil {
			t.Errorf("reject %v: want the value, status 400, the x-error text, the error id and the line", rej)
		}
	}
	if st := srv.Stats(); st.Entities != 2 || st.Comments != 0 {
		t.Errorf("entities %d comments %d, want 2 and 0", st.Entities, st.Comments)
	}
}
