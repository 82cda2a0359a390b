package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/pipeline"
)

// screenLines returns the lines a terminal shows after out, applying
// what the progress line uses: "\r" goes back to the line's start,
// "\x1b[K" erases to its end, "\n" ends it; other escape sequences are
// dropped. A character written over another replaces it.
func screenLines(out string) []string {
	var lines []string
	var cur []rune
	col := 0
	rs := []rune(out)
	for i := 0; i < len(rs); i++ {
		switch c := rs[i]; c {
		case '\r':
			col = 0
		case '\n':
			lines = append(lines, string(cur))
			cur, col = nil, 0
		case '\x1b':
			j := i + 1
			if j < len(rs) && rs[j] == '[' {
				for j++; j < len(rs) && (rs[j] < '@' || rs[j] > '~'); j++ {
				}
			}
			if j < len(rs) && rs[j] == 'K' && rs[i+1] == '[' {
				cur = cur[:min(col, len(cur))]
			}
			i = j
		default:
			if col < len(cur) {
				cur[col] = c
			} else {
				cur = append(cur, c)
			}
			col++
		}
	}
	if len(cur) > 0 {
		lines = append(lines, string(cur))
	}
	return lines
}

func TestScreenLines(t *testing.T) {
	tests := []struct{ name, out, want string }{
		{"plain", "a\nb\n", "a|b"},
		{"overwritten", "bar 10%\rlog\n", "log 10%"},
		{"cleared", "bar 10%\r\x1b[Klog\n", "log"},
		{"left showing", "log\nbar 10%", "log|bar 10%"},
		{"cleared at the end", "log\nbar 10%\r\x1b[K", "log"},
	}
	for _, tt := range tests {
		if got := strings.Join(screenLines(tt.out), "|"); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestProgressLineClearsBeforeWrites writes lines, a line in two parts
// and lines to a second writer of the same terminal past a progress line,
// and checks that each ends on a line of its own, the progress line drawn
// again after it and gone when cleared.
func TestProgressLineClearsBeforeWrites(t *testing.T) {
	var term bytes.Buffer
	l := &progressLine{w: &term}
	l.set("bar 1")
	l.Write([]byte("first message\n"))
	l.set("bar 2")
	l.Write([]byte("second "))
	l.set("bar 3") // not drawn in the middle of a line
	if strings.HasSuffix(term.String(), "bar 3") {
		t.Errorf("drawn on an unfinished line: %q", term.String())
	}
	l.Write([]byte("message\n"))
	var stdout bytes.Buffer
	l.writeTo(&stdout, []byte("to stdout\n"))
	if !strings.HasSuffix(term.String(), "bar 3") {
		t.Errorf("not drawn again after the line: %q", term.String())
	}
	l.set("")
	if got, want := strings.Join(screenLines(term.String()), "|"), "first message|second message"; got != want {
		t.Errorf("screen %q, want %q (raw %q)", got, want, term.String())
	}
	if stdout.String() != "to stdout\n" {
		t.Errorf("stdout %q", stdout.String())
	}
}

// TestProgressViewRates checks the progress line's estimates against an
// injected clock: no rate and no ETA before one second of data, however
// much was read in the first instant; then the delivery rate, the share
// of the indicators the input will yield, and the longer of the reading's
// and the delivery's time left.
func TestProgressViewRates(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	type step struct {
		at   time.Duration
		p    pipeline.Progress
		want string
	}
	tests := []struct {
		name  string
		total int64
		steps []step
	}{
		{"nothing before one second", 1000, []step{
			{0, pipeline.Progress{}, "importing    0%  rows 0  delivered 0/0"},
			{time.Millisecond, pipeline.Progress{Bytes: 900, Rows: 90, Batched: 90, Indicators: 90}, "importing    0%  rows 90  delivered 0/90"},
			{999 * time.Millisecond, pipeline.Progress{Bytes: 900, Rows: 90, Batched: 90, Indicators: 90, Answered: 10, Delivered: 10}, "importing   10%  rows 90  delivered 10/90"},
		}},
		{"delivery is the longer", 1000, []step{
			{0, pipeline.Progress{}, "importing    0%  rows 0  delivered 0/0"},
			// 500 of 1000 bytes in 1s: 1s left reading; 50 indicators
			// so far, 100 expected, 20 answered at 20/s: 4s left.
			{time.Second, pipeline.Progress{Bytes: 500, Rows: 50, Batched: 50, Indicators: 50, Answered: 20, Delivered: 18}, "importing   20%  ETA 4s  rows 50  delivered 18/50  18/s"},
		}},
		{"reading is the longer", 1000, []step{
			{0, pipeline.Progress{}, "importing    0%  rows 0  delivered 0/0"},
			// 100 bytes a second: 8s left reading; delivery keeps up.
			{2 * time.Second, pipeline.Progress{Bytes: 200, Rows: 20, Batched: 20, Indicators: 20, Answered: 20, Delivered: 20}, "importing   20%  ETA 8s  rows 20  delivered 20/20  10/s"},
		}},
		{"a stalled sink has no ETA", 1000, []step{
			{0, pipeline.Progress{}, "importing    0%  rows 0  delivered 0/0"},
			{time.Second, pipeline.Progress{Bytes: 1000, Rows: 100, Batched: 100, Indicators: 100}, "importing    0%  rows 100  delivered 0/100  0/s"},
		}},
		{"rates over the last ten seconds", 1000, []step{
			{0, pipeline.Progress{}, "importing    0%  rows 0  delivered 0/0"},
			{10 * time.Second, pipeline.Progress{Bytes: 1000, Rows: 1000, Batched: 1000, Indicators: 1000, Answered: 10, Delivered: 10}, "importing    1%  ETA 16m30s  rows 1,000  delivered 10/1,000  1/s"},
			{11 * time.Second, pipeline.Progress{Bytes: 1000, Rows: 1000, Batched: 1000, Indicators: 1000, Answered: 60, Delivered: 60}, "importing    6%  ETA 2m52s  rows 1,000  delivered 60/1,000  5/s"},
			// From 11s on: 100 in 10s.
			{21 * time.Second, pipeline.Progress{Bytes: 1000, Rows: 1000, Batched: 1000, Indicators: 1000, Answered: 160, Delivered: 160}, "importing   16%  ETA 1m24s  rows 1,000  delivered 160/1,000  10/s"},
		}},
		{"rows on their way to the batcher", 1000, []step{
			{0, pipeline.Progress{}, "importing    0%  rows 0  delivered 0/0"},
			// All read, 80 of 100 rows batched: 100 indicators expected.
			{time.Second, pipeline.Progress{Bytes: 1000, Rows: 100, Batched: 80, Indicators: 80, Answered: 40, Delivered: 40}, "importing   40%  ETA 2s  rows 100  delivered 40/80  40/s"},
		}},
		{"resumed rows are not expected", 1000, []step{
			{0, pipeline.Progress{}, "importing    0%  rows 0  delivered 0/0"},
			// 100 rows in all, 30 delivered before: 70 expected.
			{time.Second, pipeline.Progress{Bytes: 500, Rows: 50, Resumed: 30, Batched: 20, Indicators: 20, Answered: 10, Delivered: 10}, "importing   14%  ETA 6s  rows 50  delivered 10/20  10/s"},
		}},
		{"unknown size", 0, []step{
			{0, pipeline.Progress{}, "importing  rows 0  delivered 0/0"},
			{time.Second, pipeline.Progress{Bytes: 10, Rows: 3, Batched: 3, Indicators: 2, Answered: 2, Delivered: 2}, "importing  100%  rows 3  delivered 2/2  2/s"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &progressView{total: tt.total, verb: "importing", done: "delivered"}
			for _, s := range tt.steps {
				if got := v.line(t0.Add(s.at), s.p); got != s.want {
					t.Errorf("at %s: got %q, want %q", s.at, got, s.want)
				}
			}
		})
	}
}

func TestFit(t *testing.T) {
	tests := []struct {
		s     string
		width int
		want  string
	}{
		{"importing", 80, "importing"},
		{"importing", 9, "importin"},
		{"importing", 0, ""},
	}
	for _, tt := range tests {
		if got := fit(tt.s, tt.width); got != tt.want {
			t.Errorf("fit(%q, %d): got %q, want %q", tt.s, tt.width, got, tt.want)
		}
	}
}
