package main

import (
	"bytes"
	"encoding/csv"
	"slices"
	"testing"
	"time"
)

func TestWriteCSV(t *testing.T) {
	const rows = 5000
	var a, b, c bytes.Buffer
	for _, g := range []struct {
		buf  *bytes.Buffer
		seed uint64
	}{{&a, 1}, {&b, 1}, {&c, 2}} {
		if err := writeCSV(g.buf, rows, g.seed); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two runs with one seed differ")
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Error("two seeds give the same file")
	}

	recs, err := csv.NewReader(&a).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(recs[0], csvHeader) {
		t.Fatalf("header %q, want %q", recs[0], csvHeader)
	}
	if got := len(recs) - 1; got != rows {
		t.Fatalf("%d rows, want %d", got, rows)
	}
	seen := map[string]bool{}
	tagged := 0
	for i, rec := range recs[1:] {
		if seen[rec[0]] {
			t.Errorf("row %d: value %q repeats", i, rec[0])
		}
		seen[rec[0]] = true
		first, err1 := time.Parse(time.RFC3339, rec[2])
		last, err2 := time.Parse(time.RFC3339, rec[3])
		if err1 != nil || err2 != nil {
			t.Fatalf("row %d: timestamps %q, %q: %v, %v", i, rec[2], rec[3], err1, err2)
		}
		if last.Before(first) {
			t.Errorf("row %d: last_seen %s before first_seen %s", i, rec[3], rec[2])
		}
		if rec[7] != "" {
			tagged++
		}
	}
	if share := float64(tagged) / rows; share < 0.4 || share > 0.6 {
		t.Errorf("%.0f%% of the rows have tags, want about half", 100*share)
	}
}
