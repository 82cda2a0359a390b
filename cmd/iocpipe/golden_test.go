package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/iocpipe/iocpipe/schemas"
	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

var update = flag.Bool("update", false, "rewrite the golden files from what the pipeline does now")

// The enclaves of the test configuration; the emulator accepts only these.
const (
	testEnclave  = "c04caa4e-4d1b-47fc-b9e2-c9ce11396b44"
	otherEnclave = "9f0c1a52-3b7e-4c1d-8e2f-5a6b7c8d9e01"
)

// testConfig is the configuration every golden case runs with.
func testConfig(t *testing.T, url string, extra string) string {
	t.Helper()
	cfg := fmt.Sprintf(`sinks:
  trustar:
    url: %s
    rate_limit: 0
    # End of input flushes batches; a long linger keeps slow machines
    # (-race, load) from closing batches early and changing their count.
    linger: 1m
    retry_deadline: 10s
enclaves:
  Community: %s
  Partners: %s
routes:
  - name: feeds
    sink: trustar
    enclaves: [Community]
    tags: [feed]
    source: my-feed
%s`, url, testEnclave, otherEnclave, extra)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func newEmulator(t *testing.T, opts trustartest.Options) *trustartest.Server {
	t.Helper()
	if opts.Enclaves == nil {
		opts.Enclaves = []string{testEnclave, otherEnclave}
	}
	s := trustartest.NewServer(opts)
	t.Cleanup(s.Close)
	return s
}

// outcome is what one run produced: the bodies the emulator accepted,
// the rejects file and the summary counts.
type outcome struct {
	exit    int
	stdout  string
	stderr  string
	bodies  []json.RawMessage
	rejects []map[string]any
	summary map[string]any
	// results are the report's per-file results.
	results []map[string]any
	// json is what --json printed.
	json jsonSummary
}

// runImport runs iocpipe in-process and collects its outcome.
func runImport(t *testing.T, srv *trustartest.Server, args ...string) outcome {
	t.Helper()
	srv.Reset()
	dir := t.TempDir()
	rejects, report := filepath.Join(dir, "rejects.jsonl"), filepath.Join(dir, "report.json")
	var stdout, stderr bytes.Buffer
	full := append([]string{args[0], "--json", "--rejects", rejects, "--report", report}, args[1:]...)
	t.Setenv("TRUSTAR_API_KEY", "demo")
	t.Setenv("TRUSTAR_API_SECRET", "demo")
	code := run(context.Background(), &env{stdout: &stdout, stderr: &stderr}, full)
	o := outcome{exit: code, stdout: stdout.String(), stderr: stderr.String(), bodies: srv.Submissions()}
	if b, err := os.ReadFile(rejects); err == nil {
		for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatalf("rejects file: %v: %s", err, line)
			}
			o.rejects = append(o.rejects, m)
		}
	}
	if b, err := os.ReadFile(report); err == nil {
		var r struct {
			Summary map[string]any   `json:"summary"`
			Files   []map[string]any `json:"files"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("report: %v", err)
		}
		o.summary, o.results = r.Summary, r.Files
	}
	if err := json.Unmarshal(stdout.Bytes(), &o.json); err != nil {
		t.Fatalf("--json: %v: %q", err, stdout.String())
	}
	checkCounts(t, o)
	return o
}

// checkCounts checks that the numbers of a run agree: every row read ends
// in exactly one outcome, and every indicator; the --json summary, the
// report's summary and the sum of its per-file results say the same; and
// the rejects file holds one skipped line per skipped row, the rejected
// rows and the failed ones.
func checkCounts(t *testing.T, o outcome) {
	t.Helper()
	r, i := o.json.Rows, o.json.Indicators
	if sum := r.Delivered + r.Merged + r.Rejected + r.Skipped + r.Failed + r.Resumed + r.Deduplicated; sum != r.Read {
		t.Errorf("rows: %d read, but %d delivered + %d merged + %d rejected + %d skipped + %d failed + %d resumed + %d deduplicated = %d",
			r.Read, r.Delivered, r.Merged, r.Rejected, r.Skipped, r.Failed, r.Resumed, r.Deduplicated, sum)
	}
	if sum := i.Delivered + i.Merged + i.Rejected + i.Failed + i.Skipped + i.Deduplicated; sum != i.Read || i.Resumed != 0 {
		t.Errorf("indicators: %d read, but %d delivered + %d merged + %d rejected + %d failed + %d skipped + %d deduplicated = %d (resumed %d)",
			i.Read, i.Delivered, i.Merged, i.Rejected, i.Failed, i.Skipped, i.Deduplicated, sum, i.Resumed)
	}
	want := map[string]int64{"rows": r.Read, "rows_delivered": r.Delivered, "rows_merged": r.Merged, "rows_rejected": r.Rejected,
		"rows_skipped": r.Skipped, "rows_failed": r.Failed, "indicators": i.Read, "delivered": i.Delivered, "merged": i.Merged,
		"rejected": i.Rejected, "failed": i.Failed, "skipped": i.Skipped, "rows_deduplicated": r.Deduplicated,
		"deduplicated": i.Deduplicated, "files": int64(o.json.Files.Read), "files_failed": int64(o.json.Files.Failed)}
	for k, n := range want {
		if got := number(o.summary[k]); got != n {
			t.Errorf("report summary %s = %d, --json says %d", k, got, n)
		}
		if k == "files" || k == "files_failed" {
			continue
		}
		var files int64
		for _, f := range o.results {
			files += number(f[k])
		}
		if files != n {
			t.Errorf("report files: %s adds up to %d, the summary says %d", k, files, n)
		}
	}
	skips := map[string]int64{}
	for _, f := range o.results {
		fs, _ := f["skips"].(map[string]any)
		for k, v := range fs {
			skips[k] += number(v)
		}
	}
	for k, n := range o.json.Skips {
		if skips[k] != n {
			t.Errorf("report files: skips %s add up to %d, the summary says %d", k, skips[k], n)
		}
	}
	if got := number(o.summary["rows_resumed"]); got != r.Resumed {
		t.Errorf("report summary rows_resumed = %d, --json says %d", got, r.Resumed)
	}
	skipped, rejected, failed := int64(0), map[string]bool{}, map[string]bool{}
	for _, rej := range o.rejects {
		key := fmt.Sprint(rej["file"], ":", rej["line"], ":", rej["index"], ":", rej["id"])
		switch {
		case rej["field"] == "relationship": // an association's, not a row's
		case rej["skipped"] == true:
			skipped++
		case rej["failed"] == true:
			failed[key] = true
		default:
			rejected[key] = true
		}
	}
	for key := range rejected {
		delete(failed, key)
	}
	if skipped != r.Skipped+i.Skipped {
		t.Errorf("rejects file: %d skipped lines, %d rows and %d indicators skipped", skipped, r.Skipped, i.Skipped)
	}
	if n := int64(len(rejected)); n != r.Rejected+int64(o.json.Files.Failed) {
		t.Errorf("rejects file: %d rows (or files) with a reject, %d rows rejected and %d files failed", n, r.Rejected, o.json.Files.Failed)
	}
	if n := int64(len(failed)); n != r.Failed {
		t.Errorf("rejects file: %d rows not delivered, %d rows failed", n, r.Failed)
	}
}

// number is a JSON number as an int64 (0 when absent).
func number(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

// checkBodies validates every body against the TruSTAR submission schema
// with gojsonschema, the reference validator.
func checkBodies(t *testing.T, bodies []json.RawMessage) {
	t.Helper()
	s := schemas.MustLoad("trustar-submission")
	for i, b := range bodies {
		v, err := s.ValidateJSON(b)
		if err != nil {
			t.Fatal(err)
		}
		if v != nil {
			t.Errorf("body %d breaks trustar-submission.schema.json: %v", i, v)
		}
	}
}

// goldenBodies renders bodies one per line, sorted (batches travel
// concurrently, so their arrival order is not fixed; the content of each
// is); a large body is rendered as a digest with its size and ends, so
// the golden file stays small.
func goldenBodies(bodies []json.RawMessage) []byte {
	var lines []string
	for _, b := range bodies {
		if len(b) < 16<<10 {
			lines = append(lines, string(b))
			continue
		}
		var body struct {
			Content []struct {
				Value string `json:"value"`
			} `json:"content"`
		}
		json.Unmarshal(b, &body)
		sum := sha256.Sum256(b)
		d, _ := json.Marshal(map[string]any{
			"sha256": hex.EncodeToString(sum[:]), "indicators": len(body.Content),
			"first": body.Content[0].Value, "last": body.Content[len(body.Content)-1].Value,
		})
		lines = append(lines, string(d))
	}
	slices.Sort(lines)
	var out bytes.Buffer
	for _, l := range lines {
		out.WriteString(l + "\n")
	}
	return out.Bytes()
}

// goldenRejects renders rejects one per line, with file names reduced to
// their base so the golden does not depend on where the test runs.
func goldenRejects(rejects []map[string]any) []byte {
	var out bytes.Buffer
	for _, r := range rejects {
		if f, ok := r["file"].(string); ok {
			r["file"] = filepath.Base(f)
		}
		for _, volatile := range []string{"trace_id", "error_id"} {
			if _, ok := r[volatile]; ok {
				r[volatile] = "…"
			}
		}
		b, _ := json.Marshal(r)
		out.Write(b)
		out.WriteByte('\n')
	}
	return out.Bytes()
}

// goldenSummary keeps the counts and the exit code: what must not change.
func goldenSummary(o outcome) []byte {
	keep := map[string]any{"exit": o.exit}
	for k, v := range o.summary {
		switch k {
		case "sink_ids":
			continue
		}
		keep[k] = v
	}
	b, _ := json.MarshalIndent(keep, "", "  ")
	return append(b, '\n')
}

// compareGolden compares got with the golden file, or rewrites it with
// -update. An empty want is an absent file.
func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if len(got) == 0 {
			os.Remove(path)
			return
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test ./cmd/iocpipe -run %s -update to accept):\n%s", path, t.Name(), lineDiff(string(want), string(got)))
	}
}

// lineDiff shows the lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for _, l := range w {
		if !slices.Contains(g, l) {
			b.WriteString("- " + trim(l) + "\n")
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			b.WriteString("+ " + trim(l) + "\n")
		}
	}
	if b.Len() == 0 {
		return "(same lines, different order)"
	}
	return b.String()
}

func trim(s string) string {
	if len(s) > 400 {
		return s[:400] + "…"
	}
	return s
}

// TestGoldenInputs replays every file of testdata/inputs through the real
// pipeline into the TruSTAR emulator and compares the request bodies, the
// reject report and the counts with testdata/golden.
func TestGoldenInputs(t *testing.T) {
	srv := newEmulator(t, trustartest.Options{})
	cfg := testConfig(t, srv.URL, "")
	inputs, err := filepath.Glob("../../testdata/inputs/*")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, in := range inputs {
		name := filepath.Base(in)
		t.Run(name, func(t *testing.T) {
			o := runImport(t, srv, "run", "--config", cfg, in)
			if o.exit != exitOK && o.exit != exitRejected {
				t.Fatalf("exit %d: %s", o.exit, o.stderr)
			}
			checkBodies(t, o.bodies)
			golden := filepath.Join("../../testdata/golden", name)
			compareGolden(t, golden+".jsonl", goldenBodies(o.bodies))
			compareGolden(t, golden+".rejects.jsonl", goldenRejects(o.rejects))
			compareGolden(t, golden+".summary.json", goldenSummary(o))
		})
	}
}

// TestGoldenBad runs each case of testdata/bad (one folder per case, with
// an input file and optionally a route.yaml fragment) and compares the
// rejects, bodies and counts with the case's want.* files.
func TestGoldenBad(t *testing.T) {
	srv := newEmulator(t, trustartest.Options{})
	cases, err := os.ReadDir("../../testdata/bad")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if !c.IsDir() {
			continue
		}
		dir := filepath.Join("../../testdata/bad", c.Name())
		t.Run(c.Name(), func(t *testing.T) {
			inputs, _ := filepath.Glob(filepath.Join(dir, "input*"))
			if len(inputs) != 1 {
				t.Fatalf("want one input* file in %s, found %v", dir, inputs)
			}
			extra, _ := os.ReadFile(filepath.Join(dir, "route.yaml"))
			cfg := testConfig(t, srv.URL, string(extra))
			args := []string{"run", "--config", cfg}
			if len(extra) > 0 {
				args = append(args, "--route", "case")
			}
			o := runImport(t, srv, append(args, inputs[0])...)
			checkBodies(t, o.bodies)
			compareGolden(t, filepath.Join(dir, "want.jsonl"), goldenBodies(o.bodies))
			compareGolden(t, filepath.Join(dir, "want.rejects.jsonl"), goldenRejects(o.rejects))
			compareGolden(t, filepath.Join(dir, "want.summary.json"), goldenSummary(o))
		})
	}
}
