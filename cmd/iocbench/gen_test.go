package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestWriteCSV(t *testing.T) {
	const rows = 20000
	var a, b, c bytes.Buffer
	var st genStats
	for _, g := range []struct {
		buf  *bytes.Buffer
		seed uint64
	}{{&a, 1}, {&b, 1}, {&c, 2}} {
		s, err := writeCSV(g.buf, rows, g.seed)
		if err != nil {
			t.Fatal(err)
		}
		if g.buf == &a {
			st = s
		}
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two runs with one seed differ")
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Error("two seeds give the same file")
	}
	if st.Bytes != int64(a.Len()) {
		t.Errorf("stats count %d bytes, the file has %d", st.Bytes, a.Len())
	}
	raw := a.String()

	recs, err := csv.NewReader(&a).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(recs[0], csvHeader) {
		t.Fatalf("header %q, want %q", recs[0], csvHeader)
	}
	if got := len(recs) - 1; got != rows || st.Rows != rows {
		t.Fatalf("%d rows (stats: %d), want %d", got, st.Rows, rows)
	}
	share := func(n, of int) float64 { return float64(n) / float64(of) }
	near := func(what string, got, want float64) {
		t.Helper()
		if got < want-0.03 || got > want+0.03 {
			t.Errorf("%s: %.3f, want about %.3f", what, got, want)
		}
	}

	seen := map[string]bool{}
	var kinds [numKinds]int
	var tagCounts [4]int
	offsets := 0
	for i, rec := range recs[1:] {
		if seen[rec[0]] {
			t.Errorf("row %d: value %q repeats", i, rec[0])
		}
		seen[rec[0]] = true
		kinds[kindOf(t, rec[0])]++
		var stamps [2]time.Time
		for j, s := range rec[2:4] {
			ts, err := time.Parse(time.RFC3339, s)
			if err != nil {
				t.Fatalf("row %d: timestamp %q: %v", i, s, err)
			}
			if !strings.HasSuffix(s, "Z") {
				offsets++
			}
			stamps[j] = ts
		}
		if stamps[1].Before(stamps[0]) {
			t.Errorf("row %d: last_seen %s before first_seen %s", i, rec[3], rec[2])
		}
		tags := strings.FieldsFunc(rec[7], isTagSep)
		for k := range tags {
			tags[k] = strings.TrimSpace(tags[k])
		}
		if len(tags) > 3 || len(slices.Compact(slices.Sorted(slices.Values(tags)))) != len(tags) {
			t.Errorf("row %d: tags %q: want 0 to 3 distinct", i, rec[7])
		}
		tagCounts[len(tags)]++
	}
	if kinds != st.Kinds || tagCounts != st.Tags || offsets != st.Offsets || st.Stamps != 2*rows {
		t.Errorf("stats %+v disagree with the file: kinds %v, tags %v, offsets %d", st, kinds, tagCounts, offsets)
	}
	for k, n := range kinds {
		near(kindNames[k]+" share", share(n, rows), 0.25)
	}
	for n, c := range tagCounts {
		near("share of rows with "+string(rune('0'+n))+" tags", share(c, rows), 0.25)
	}
	near("share of timestamps with an offset", share(offsets, 2*rows), 1.0/3)
	if share(st.CommaRows, rows) < 0.4 || share(st.QuotedRows, rows) < 0.2 {
		t.Errorf("%d rows with a comma and %d with a quote: want at least 40%% and 20%%", st.CommaRows, st.QuotedRows)
	}
	if got := strings.Count(raw, `""`); got < rows/5 {
		t.Errorf("%d doubled quotes in the file, want at least %d", got, rows/5)
	}
	t.Log(st)
}

// kindOf tells the kind of a generated value, and fails when it is none.
func kindOf(t *testing.T, v string) int {
	switch {
	case strings.HasPrefix(v, "http://") || strings.HasPrefix(v, "https://"):
		return kindURL
	case len(v) == 64 && strings.Trim(v, "0123456789abcdef") == "":
		return kindSHA256
	case strings.Trim(v, "0123456789.") == "" && strings.Count(v, ".") == 3:
		return kindIP
	case strings.Count(v, ".") >= 1 && strings.Trim(v, "abcdefghijklmnopqrstuvwxyz0123456789.-") == "":
		return kindDomain
	}
	t.Fatalf("value %q is none of the generated kinds", v)
	return -1
}

// TestBareMatchesIocpipe checks that the bare loop does iocpipe's job on
// the generated rows: iocpipe validate --dump must accept every row and
// produce, indicator for indicator, what the bare loop would send.
func TestBareMatchesIocpipe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds iocpipe")
	}
	const rows = 20000
	dir := t.TempDir()
	path := filepath.Join(dir, "rows.csv")
	if _, err := generateFile(path, rows, 7); err != nil {
		t.Fatal(err)
	}
	bin, err := buildIocpipe(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "bench.yaml")
	if err := writeConfig(cfg, "http://127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	dump := filepath.Join(dir, "dump.ndjson")
	out, err := exec.Command(bin, "validate", "--config", cfg, "--dump", dump, path).CombinedOutput()
	if err != nil {
		t.Fatalf("iocpipe validate: %v\n%s", err, out)
	}

	got := map[string]bareIndicator{}
	df, err := os.Open(dump)
	if err != nil {
		t.Fatal(err)
	}
	defer df.Close()
	sc := bufio.NewScanner(df)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var sub bareSubmission
		if err := json.Unmarshal(sc.Bytes(), &sub); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(sub.EnclaveIDs, []string{benchEnclave}) || !reflect.DeepEqual(sub.Tags, []bareTag{{Name: "bench", EnclaveID: benchEnclave}}) {
			t.Fatalf("iocpipe's submission goes to %v with tags %v", sub.EnclaveIDs, sub.Tags)
		}
		for _, in := range sub.Content {
			got[in.Value] = in
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != rows {
		t.Fatalf("iocpipe would send %d indicators of %d rows:\n%s", len(got), rows, out)
	}

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	batches := make(chan []bareIndicator, rows)
	n, err := readBatches(context.Background(), f, bareOptions{enclave: benchEnclave, batch: 1000}, batches)
	close(batches)
	if err != nil || n != rows {
		t.Fatalf("the bare loop read %d rows: %v", n, err)
	}
	diffs := 0
	for b := range batches {
		for _, want := range b {
			if g := got[want.Value]; !reflect.DeepEqual(g, want) && diffs < 10 {
				diffs++
				t.Errorf("iocpipe sends %+v, the bare loop %+v", g, want)
			}
		}
	}
}
