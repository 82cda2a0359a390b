package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/iocpipe/iocpipe/pipeline"
)

// The progress line is drawn by hand, a "\r\x1b[K" line, rather than by a
// progress bar library: what it must get right is that it never shares a
// line with a log line or a reject, which means owning the writer
// everything else goes through, and that it shows two counts (rows read,
// indicators delivered) with an ETA from both, which a bar over one total
// does not.

const (
	// progressTick is how often the progress line is drawn again.
	progressTick = 200 * time.Millisecond
	// rateAfter is the data a rate or an ETA needs: none is shown
	// before the progress line has seen this much time go by.
	rateAfter = time.Second
	// rateWindow is the time rates are measured over: the last this
	// long, so that they follow a sink that slows down or recovers.
	rateWindow = 10 * time.Second
	// clearLine moves to the start of the line and erases it.
	clearLine = "\r\x1b[K"
)

// A progressLine is one line of progress at the bottom of a terminal,
// and the writer for everything else written to that terminal while it
// shows: each write clears the line, writes, and draws it again when the
// write ended its line. Safe for concurrent use; with no text set it only
// passes writes through.
type progressLine struct {
	mu    sync.Mutex
	w     io.Writer // the terminal
	text  string    // what to draw; "" for nothing
	shown bool      // text is on the screen
	open  bool      // the last write left its line unfinished
	buf   []byte
}

// Write writes p to the terminal, above the progress line.
func (l *progressLine) Write(p []byte) (int, error) { return l.writeTo(nil, p) }

// writeTo writes p to other, another writer to the same terminal (stdout
// beside stderr), or when it is nil to l's own, with the line cleared
// before and drawn again after. To l's own it is one write.
func (l *progressLine) writeTo(other io.Writer, p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.hide(l.buf[:0])
	if other == nil {
		b = append(b, p...)
	} else {
		if len(b) > 0 {
			if _, err := l.w.Write(b); err != nil {
				return 0, err
			}
		}
		if n, err := other.Write(p); err != nil {
			return n, err
		}
		b = b[:0]
	}
	if len(p) > 0 {
		l.open = p[len(p)-1] != '\n'
	}
	b = l.appendText(b)
	if l.buf = b[:0]; cap(b) > 64<<10 {
		l.buf = nil // keep no large write's buffer
	}
	if len(b) > 0 {
		if _, err := l.w.Write(b); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// hide appends what clears the line when it shows. l.mu is held.
func (l *progressLine) hide(b []byte) []byte {
	if !l.shown {
		return b
	}
	l.shown = false
	return append(b, clearLine...)
}

// set draws text in place of what the line shows; "" clears it.
func (l *progressLine) set(text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if text == l.text && (l.shown || l.open) {
		return
	}
	b := l.hide(l.buf[:0])
	l.text = text
	b = l.appendText(b)
	l.buf = b[:0]
	if len(b) > 0 {
		l.w.Write(b) // a terminal that fails to take the progress line loses only that
	}
}

// appendText appends the text, unless there is none or a line is open
// (it is drawn once that line ends). l.mu is held.
func (l *progressLine) appendText(b []byte) []byte {
	if l.text == "" || l.open {
		return b
	}
	l.shown = true
	return append(b, l.text...)
}

// A progressBar shows a run's progress on a terminal. A nil
// *progressBar shows nothing.
type progressBar struct {
	line  *progressLine
	width func() int
}

// withProgress returns the env a run writes through, and its progress
// bar: when stderr is a terminal and neither --no-progress nor -q was
// given, everything written to stderr — and to stdout, when it is the
// terminal too — goes through the bar's line, so that no line of the
// run's output shares the screen line with the bar. Otherwise it returns
// e and a nil bar.
func withProgress(e *env) (*env, *progressBar) {
	if !e.isTerminal || e.noProgress || e.quiet {
		return e, nil
	}
	bar := &progressBar{line: &progressLine{w: e.stderr}, width: termWidth(e.stderr)}
	c := *e
	c.stderr = bar.line
	if f, ok := e.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		c.stdout = writerFunc(func(p []byte) (int, error) { return bar.line.writeTo(e.stdout, p) })
	}
	return &c, bar
}

// writerFunc is a function as an io.Writer.
type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// termWidth returns a function reporting the width of the terminal w is
// (80 when it cannot tell).
func termWidth(w io.Writer) func() int {
	return func() int {
		if f, ok := w.(*os.File); ok {
			if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
				return cols
			}
		}
		return 80
	}
}

// start draws the run's progress until the returned function is called,
// which clears it; total is the input's size in bytes (0 if unknown) and
// dry says the run is validate's. The function may be called more than
// once.
func (b *progressBar) start(total int64, dry bool, progress func() pipeline.Progress) func() {
	if b == nil {
		return func() {}
	}
	v := &progressView{total: total, verb: "importing", done: "delivered"}
	if dry {
		v.verb, v.done = "validating", "checked"
	}
	draw := func() { b.line.set(fit(v.line(time.Now(), progress()), b.width())) }
	draw()
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(progressTick)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				draw()
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-stopped
			b.line.set("")
		})
	}
}

// fit cuts s to fit a terminal width columns wide, leaving the last
// column free (a character there wraps the line on some terminals).
func fit(s string, width int) string {
	if r := []rune(s); len(r) >= width {
		return string(r[:max(width-1, 0)])
	}
	return s
}

// A progressView turns a run's progress into the line shown, keeping the
// samples that its rates and ETA are measured over.
type progressView struct {
	total      int64  // the input's size in bytes; 0 unknown
	verb, done string // "importing", "delivered"
	samples    []progressSample
}

// A progressSample is the progress at one moment.
type progressSample struct {
	at time.Time
	p  pipeline.Progress
}

// line returns the line for progress p at now: the share done, the ETA,
// the rows read, the indicators delivered of those known so far, and the
// delivery rate. The first call starts the clock; rate and ETA are left
// out until rateAfter has gone by.
func (v *progressView) line(now time.Time, p pipeline.Progress) string {
	v.samples = append(v.samples, progressSample{at: now, p: p})
	for len(v.samples) > 2 && now.Sub(v.samples[1].at) >= rateWindow {
		v.samples = v.samples[1:]
	}
	parts := []string{v.verb}
	est := v.estimate(now, p)
	if est.share >= 0 {
		parts = append(parts, fmt.Sprintf("%3d%%", int(est.share*100)))
	}
	if est.eta >= 0 {
		parts = append(parts, "ETA "+est.eta.Round(time.Second).String())
	}
	parts = append(parts, "rows "+thousands(p.Rows),
		fmt.Sprintf("%s %s/%s", v.done, thousands(p.Delivered), thousands(p.Indicators)))
	if est.rate >= 0 {
		parts = append(parts, thousands(int64(est.rate+0.5))+"/s")
	}
	return strings.Join(parts, "  ")
}

// expected estimates the indicators the input will yield: as many per row
// as the rows batched so far yielded, for the rows the input holds (the
// rows read, in proportion to the bytes read) but those the ledger
// skipped. It is at least the indicators batched already.
func (v *progressView) expected(p pipeline.Progress) float64 {
	if p.Batched == 0 {
		return float64(p.Indicators)
	}
	rows := float64(p.Rows)
	if v.total > 0 && p.Bytes > 0 && p.Bytes < v.total {
		rows = rows * float64(v.total) / float64(p.Bytes)
	}
	perRow := float64(p.Indicators) / float64(p.Batched)
	return max(perRow*(rows-float64(p.Resumed)), float64(p.Indicators))
}

// A progressEstimate is what a progress line estimates; a negative field
// is not known.
type progressEstimate struct {
	share float64       // of the work done, 0..1
	eta   time.Duration // until the end
	rate  float64       // indicators delivered per second
}

// estimate estimates the share done, the delivery rate and the time
// left: the reading's time left (bytes read against the total, at the
// rate bytes were read), or the delivery's (indicators answered against
// those the input will yield, at the rate they were answered), whichever
// is longer.
func (v *progressView) estimate(now time.Time, p pipeline.Progress) progressEstimate {
	est := progressEstimate{share: -1, eta: -1, rate: -1}
	expected := v.expected(p)
	switch {
	case expected > 0:
		est.share = min(float64(p.Answered)/expected, 1)
	case v.total > 0:
		est.share = min(float64(p.Bytes)/float64(v.total), 1)
	}
	old := v.samples[0]
	span := now.Sub(old.at)
	if span < rateAfter {
		return est
	}
	perSec := func(n, was int64) float64 { return float64(n-was) / span.Seconds() }
	est.rate = perSec(p.Delivered, old.p.Delivered)
	if v.total <= 0 {
		return est
	}
	var readLeft, deliverLeft float64
	if left := v.total - p.Bytes; left > 0 {
		r := perSec(p.Bytes, old.p.Bytes)
		if r <= 0 {
			return est
		}
		readLeft = float64(left) / r
	}
	if left := expected - float64(p.Answered); left > 0 {
		r := perSec(p.Answered, old.p.Answered)
		if r <= 0 {
			return est
		}
		deliverLeft = left / r
	}
	est.eta = time.Duration(max(readLeft, deliverLeft) * float64(time.Second))
	return est
}
