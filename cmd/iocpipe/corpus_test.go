package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

// The corpus: real files copied from public repositories (kept outside
// this repository, so they may be absent), and files written here to
// mimic other real feeds. Each file's expectations are committed in
// testdata/corpus/<dir>__<file>.expect.json; an optional
// <dir>__<file>.route.yaml holds a route named "case" to import it with
// (a columns or json_fields mapping).
const (
	sharedCorpus = "../../../shared/realworld"
	likeCorpus   = "../../testdata/realworld-like"
	corpusExpect = "../../testdata/corpus"
	corpusSample = 10
)

// corpusResult is what a corpus file must keep producing.
type corpusResult struct {
	File   string `json:"file"`
	Format string `json:"format"`
	// The report's counts: every row ends in one outcome (see
	// pipeline.Counts); every indicator is delivered, merged, rejected or
	// failed.
	Rows          int64 `json:"rows"`
	RowsYielding  int64 `json:"rows_yielding"`
	RowsDelivered int64 `json:"rows_delivered"`
	RowsMerged    int64 `json:"rows_merged"`
	RowsRejected  int64 `json:"rows_rejected"`
	RowsSkipped   int64 `json:"rows_skipped"`
	RowsFailed    int64 `json:"rows_failed"`
	RowsResumed   int64 `json:"rows_resumed"`
	Indicators    int64 `json:"indicators"`
	Delivered     int64 `json:"delivered"`
	Merged        int64 `json:"merged"`
	Rejected      int64 `json:"rejected"`
	Failed        int64 `json:"failed"`
	// Sample holds delivered values (the first ones in sorted order).
	Sample []string `json:"sample"`
	// Reasons counts the reject report's entries by "rejected: reason"
	// or "skipped: reason".
	Reasons map[string]int `json:"reasons"`
}

// corpusFiles lists the files of a corpus folder: directly in it, or one
// level down (shared/realworld/<source>/<file>), named <dir>__<file>.
func corpusFiles(t *testing.T, root, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		p := filepath.Join(root, e.Name())
		if !e.IsDir() {
			if e.Name() != "README.md" {
				out[prefix+"__"+e.Name()] = p
			}
			continue
		}
		sub, err := os.ReadDir(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sub {
			if !s.IsDir() && s.Name() != "README.md" {
				out[e.Name()+"__"+s.Name()] = filepath.Join(p, s.Name())
			}
		}
	}
	return out
}

// TestCorpus imports every corpus file into the TruSTAR emulator and
// compares what happened with the file's committed expectations: the
// counts, a sample of the delivered values, and the reject report's
// reasons. Run with -update to rewrite the expectations (and review the
// diff).
func TestCorpus(t *testing.T) {
	srv := newEmulator(t, trustartest.Options{})
	t.Run("realworld", func(t *testing.T) {
		if _, err := os.Stat(sharedCorpus); err != nil {
			t.Skipf("%s is not present (it lives outside the repository): %v", sharedCorpus, err)
		}
		runCorpus(t, srv, corpusFiles(t, sharedCorpus, "realworld"))
	})
	t.Run("realworld-like", func(t *testing.T) {
		runCorpus(t, srv, corpusFiles(t, likeCorpus, "realworld-like"))
	})
}

func runCorpus(t *testing.T, srv *trustartest.Server, files map[string]string) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		path := files[name]
		t.Run(name, func(t *testing.T) {
			extra, _ := os.ReadFile(filepath.Join(corpusExpect, name+".route.yaml"))
			args := []string{"run", "--config", testConfig(t, srv.URL, string(extra))}
			if len(extra) > 0 {
				args = append(args, "--route", "case")
			}
			got := importCorpusFile(t, srv, append(args, path)...)
			got.File = name
			gap, _ := os.ReadFile(filepath.Join(corpusExpect, name+".gap"))
			checkAccounting(t, got, string(gap))
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(got); err != nil {
				t.Fatal(err)
			}
			compareGolden(t, filepath.Join(corpusExpect, name+".expect.json"), b.Bytes())
			checkDelivered(t, name, path, string(extra), got)
		})
	}
}

// checkDelivered compares every indicator a corpus file delivers, with
// its type and line, with the committed <dir>__<file>.delivered.txt
// (-update writes it): what inspect shows is what run sends, so inspect
// lists them.
func checkDelivered(t *testing.T, name, path, route string, got corpusResult) {
	t.Helper()
	want := filepath.Join(corpusExpect, name+".delivered.txt")
	if _, err := os.Stat(want); err != nil && !*update && got.Delivered > 0 {
		t.Errorf("%s: no list of the indicators delivered: run go test ./cmd/iocpipe -run TestCorpus -update and check it", want)
		return
	}
	args := []string{"inspect", "--json", "--rows", "100000"}
	if route != "" {
		args = append(args, "--config", testConfig(t, "http://127.0.0.1:1", route), "--route", "case")
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), &env{stdout: &stdout, stderr: &stderr}, append(args, path)); code != exitOK {
		t.Fatalf("inspect: exit %d: %s", code, stderr.String())
	}
	var in inspection
	if err := json.Unmarshal(stdout.Bytes(), &in); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, s := range in.Indicators {
		fmt.Fprintf(&b, "%d\t%s\t%s\n", s.Line, s.Type, s.Value)
	}
	if int64(len(in.Indicators)) != got.Delivered {
		t.Errorf("inspect shows %d indicators, run delivered %d", len(in.Indicators), got.Delivered)
	}
	compareGolden(t, want, []byte(b.String()))
}

// importCorpusFile runs iocpipe on one file and collects the result.
func importCorpusFile(t *testing.T, srv *trustartest.Server, args ...string) corpusResult {
	t.Helper()
	srv.Reset()
	dir := t.TempDir()
	rejects, report := filepath.Join(dir, "rejects.jsonl"), filepath.Join(dir, "report.json")
	full := append([]string{args[0], "--rejects", rejects, "--report", report}, args[1:]...)
	t.Setenv("TRUSTAR_API_KEY", "demo")
	t.Setenv("TRUSTAR_API_SECRET", "demo")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), &env{stdout: &stdout, stderr: &stderr}, full)
	if code != exitOK && code != exitRejected {
		t.Fatalf("exit %d: %s%s", code, stdout.String(), stderr.String())
	}
	var rep struct {
		Summary corpusResult `json:"summary"`
		Files   []struct {
			Format string `json:"format"`
		} `json:"files"`
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("report: %v", err)
	}
	got := rep.Summary
	if len(rep.Files) == 1 {
		got.Format = rep.Files[0].Format
	}
	got.Reasons = map[string]int{}
	if b, err := os.ReadFile(rejects); err == nil {
		for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			var r struct {
				Reason  string `json:"reason"`
				Skipped bool   `json:"skipped"`
			}
			if err := json.Unmarshal(line, &r); err != nil {
				t.Fatalf("rejects file: %v: %s", err, line)
			}
			what := "rejected: "
			if r.Skipped {
				what = "skipped: "
			}
			got.Reasons[what+r.Reason]++
		}
	}
	var values []string
	for _, body := range srv.Submissions() {
		var sub struct {
			Content []struct {
				Value string `json:"value"`
			} `json:"content"`
		}
		if err := json.Unmarshal(body, &sub); err != nil {
			t.Fatal(err)
		}
		for _, c := range sub.Content {
			values = append(values, c.Value)
		}
	}
	checkBodies(t, srv.Submissions())
	if int64(len(values)) != got.Delivered {
		t.Errorf("the emulator holds %d indicators, the report says %d delivered", len(values), got.Delivered)
	}
	slices.Sort(values)
	got.Sample = values[:min(len(values), corpusSample)]
	if got.Sample == nil {
		got.Sample = []string{}
	}
	return got
}

// checkAccounting checks that no row and no indicator is unaccounted for.
// gap, when not empty, is the committed note (<file>.gap) of a file that is
// known to deliver nothing today and of the issue that will change it; only
// then may a file read no rows.
func checkAccounting(t *testing.T, r corpusResult, gap string) {
	t.Helper()
	if sum := r.RowsDelivered + r.RowsMerged + r.RowsRejected + r.RowsSkipped + r.RowsFailed + r.RowsResumed; r.Rows != sum {
		t.Errorf("rows: %d read, but %d delivered + %d merged + %d rejected + %d skipped + %d failed + %d resumed = %d",
			r.Rows, r.RowsDelivered, r.RowsMerged, r.RowsRejected, r.RowsSkipped, r.RowsFailed, r.RowsResumed, sum)
	}
	if r.Indicators != r.Delivered+r.Merged+r.Rejected+r.Failed {
		t.Errorf("indicators: %d yielded, but %d delivered + %d merged + %d rejected + %d failed", r.Indicators, r.Delivered, r.Merged, r.Rejected, r.Failed)
	}
	if r.Failed != 0 {
		t.Errorf("%d indicators failed: the emulator takes every valid indicator", r.Failed)
	}
	reported := 0
	for _, n := range r.Reasons {
		reported += n
	}
	// Every rejected or skipped row, and every rejected indicator, has its
	// entry (a rejected row's only value is both).
	if want := max(r.RowsRejected+r.RowsSkipped, r.Rejected); int64(reported) < want {
		t.Errorf("%d rejected or skipped rows and %d rejected values, but only %d entries in the reject report", r.RowsRejected+r.RowsSkipped, r.Rejected, reported)
	}
	switch {
	case r.Rows == 0 && gap == "":
		t.Error("no rows read")
	case r.Rows == 0:
		t.Logf("no rows read: a known gap: %s", strings.TrimSpace(gap))
	case gap != "":
		t.Errorf("rows are read now, but a .gap note says none are: remove it (%s)", strings.TrimSpace(gap))
	}
}

// TestInspect runs inspect on corpus files and checks what it says about
// them: the header found in a comment, the mapping, the first indicators
// and the reasons of rejects.
func TestInspect(t *testing.T) {
	tests := []struct {
		name, file string
		args       []string
		want       []string
	}{
		{"commented header", "abusech_threatfox_recent.csv", nil, []string{
			"header      line 9 (a comment line): first_seen_utc | ioc_id | ioc_value",
			"mapping     value       ← ioc_value",
			"185.196.10.45",
			"rows        8 read: 8 yielding indicators, 0 rejected, 0 skipped",
		}},
		{"MISP", "misp_event_asyncrat.json", nil, []string{
			"format      misp",
			"tags ← the event's tags, as the file's tags",
			`skipped  MISP type "link" is a reference link, not an indicator`,
		}},
		{"route mapping", "vendor_api_page.json", []string{"--config", "", "--route", "case"}, []string{
			"mapping     value       ← attributes.observable   (route)",
			"rejected  is before first_seen (1700200000)",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"inspect"}, tt.args...)
			if len(tt.args) > 0 {
				extra, err := os.ReadFile(filepath.Join(corpusExpect, "realworld-like__"+tt.file+".route.yaml"))
				if err != nil {
					t.Fatal(err)
				}
				args[2] = testConfig(t, "http://127.0.0.1:1", string(extra))
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), &env{stdout: &stdout, stderr: &stderr}, append(args, filepath.Join(likeCorpus, tt.file)))
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			for _, w := range tt.want {
				if !bytes.Contains(stdout.Bytes(), []byte(w)) {
					t.Errorf("output lacks %q:\n%s", w, stdout.String())
				}
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), &env{stdout: &stdout, stderr: &stderr}, []string{"inspect", "--json", "--rows", "3", filepath.Join(likeCorpus, "spamhaus_drop.txt")})
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		var got inspection
		if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if got.Description.Format != "csv" || got.Description.Delimiter != ";" || got.Description.Padding != 1 || len(got.Indicators) != 3 || got.Counts.Rows != 7 {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("a file that cannot be read", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "x.csv")
		os.WriteFile(path, []byte("a,b\nc,d\n"), 0o600)
		var stdout, stderr bytes.Buffer
		run(context.Background(), &env{stdout: &stdout, stderr: &stderr}, []string{"inspect", path})
		if !bytes.Contains(stdout.Bytes(), []byte("error       line 1: no indicator column")) {
			t.Errorf("output:\n%s", stdout.String())
		}
	})
	t.Run("text", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), &env{stdout: &stdout, stderr: &stderr}, []string{"inspect", filepath.Join(sharedCorpus, "withsecure-iocs", "keeloader_iocs.csv")})
		if _, err := os.Stat(sharedCorpus); err != nil {
			t.Skipf("%s is not present: %v", sharedCorpus, err)
		}
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		for _, w := range []string{
			"format      text",
			`why         csv: line 1: no header and no column of indicators (the first line is "Ransomware Incident IOCs,Other context"), but indicators in the text: read as text`,
			"read        line 2: url https://lvshilc.com/KeePass-2.56-Setup.exe (notes: Ransomware Incident IOCs: Final redirect",
			"  7     domain  keepass-info.aenys.com                                        -           -          -     Ransomware Incident IOCs: Malvertised domain",
			"skipped   a section title, no indicator",
		} {
			if !bytes.Contains(stdout.Bytes(), []byte(w)) {
				t.Errorf("output lacks %q:\n%s", w, stdout.String())
			}
		}
	})
}

// TestMappingConfig checks the validation of a route's columns and
// json_fields.
func TestMappingConfig(t *testing.T) {
	tests := []struct{ name, route, want string }{
		{"unknown field", "columns: {ip: 1}", `columns.ip: unknown field "ip"`},
		{"position zero", "columns: {value: 0}", "column positions start at 1"},
		{"empty list", "columns: {value: []}", "empty: name a column"},
		{"items in columns", "columns: {items: data}", `unknown field "items"`},
		{"bad path", "json_fields: {value: a..b}", `"a..b" is not a dotted path`},
		{"several items paths", "json_fields: {items: [a, b]}", "give one path to the array of items"},
		{"nested list", "columns: {value: [[a]]}", "not a nested list or map"},
		{"ok", "columns: {value: [url, 3], notes: Threat}\n    json_fields: {items: data, value: ioc.value, tags: [tags, labels.name]}", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			extra := "  - name: case\n    sink: trustar\n    enclaves: [Community]\n    " + tt.route + "\n"
			_, err := LoadConfig(testConfig(t, "http://127.0.0.1:1", extra))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !bytes.Contains([]byte(err.Error()), []byte(tt.want))):
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	cfg, err := LoadConfig(testConfig(t, "http://127.0.0.1:1", "  - name: case\n    sink: trustar\n    enclaves: [Community]\n    columns: {value: [url, 3]}\n    json_fields: {items: data}\n"))
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := cfg.Route("case")
	r := cfg.PipelineRoute(rc)
	if !slices.Equal(r.Columns["value"], []string{"url", "3"}) || !slices.Equal(r.JSONFields["items"], []string{"data"}) {
		t.Errorf("PipelineRoute: columns %v, json_fields %v", r.Columns, r.JSONFields)
	}
}
