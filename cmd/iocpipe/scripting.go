package main

import (
	"errors"
	"io"
	"os"
	"strings"

	"github.com/iocpipe/iocpipe/pipeline"
)

// stdoutOutputs returns the flag whose output is stdout ("-"), if any; two
// on stdout, or one beside --json, are a usage error.
func (f *importFlags) stdoutOutputs() (string, error) {
	var named []string
	for _, o := range []struct{ flag, path string }{{"--rejects", f.rejects}, {"--report", f.report}, {"--dump", f.dump}} {
		if o.path == "-" {
			named = append(named, o.flag)
		}
	}
	switch {
	case len(named) > 1:
		return "", usageErrorf("%s all write to stdout (-): give it to one", strings.Join(named, " and "))
	case len(named) == 1 && f.json:
		return "", usageErrorf("--json prints the summary on stdout: give %s a file", named[0])
	case len(named) == 1:
		return named[0], nil
	}
	return "", nil
}

// stdinName is how rejects and reports name the standard input.
const stdinName = "stdin"

// stdinInput replaces the path "-" by a private copy of the standard
// input (formats are told apart by their head, and the ledger sums the
// content, so the pipeline reads a file). The returned function removes
// the copy; the returned name maps an input's name to what reports call
// it.
func stdinInput(e *env, paths []string) ([]string, func(), func(string) string, error) {
	n := 0
	for _, p := range paths {
		if p == "-" {
			n++
		}
	}
	switch {
	case n == 0:
		return paths, func() {}, func(s string) string { return s }, nil
	case n > 1:
		return nil, nil, nil, usageErrorf("- (stdin) is named %d times: it can be read once", n)
	}
	in := e.stdin
	if in == nil {
		in = os.Stdin
	}
	dir, err := os.MkdirTemp("", "iocpipe-stdin-")
	if err != nil {
		return nil, nil, nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	path := dir + string(os.PathSeparator) + stdinName
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err == nil {
		_, err = io.Copy(f, in)
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		cleanup()
		return nil, nil, nil, &exitError{code: exitFailed, err: errors.New("reading stdin: " + err.Error())}
	}
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = p
		if p == "-" {
			out[i] = path
		}
	}
	name := func(s string) string {
		if s == path {
			return stdinName
		}
		return s
	}
	return out, cleanup, name, nil
}

// outcomeCounts are the outcomes of rows or of indicators: every one read
// ends in exactly one of the others.
type outcomeCounts struct {
	Read      int64 `json:"read"`
	Delivered int64 `json:"delivered"`
	Merged    int64 `json:"merged"`
	Rejected  int64 `json:"rejected"`
	Skipped   int64 `json:"skipped"`
	Failed    int64 `json:"failed"`
	Resumed   int64 `json:"resumed"`
	// Deduplicated were delivered within the route's dedup_window
	// before: not sent again.
	Deduplicated int64 `json:"deduplicated"`
}

// namedCount is one outcome and its count.
type namedCount struct {
	name string
	n    int64
}

// rowOutcomes are the outcomes a row ends in, each once (see
// pipeline.Counts), as the metrics and the summary name them.
func rowOutcomes(c pipeline.Counts) []namedCount {
	return []namedCount{{"delivered", c.RowsDelivered}, {"merged", c.RowsMerged}, {"rejected", c.RowsRejected},
		{"skipped", c.RowsSkipped}, {"failed", c.RowsFailed}, {"resumed", c.RowsResumed}, {"deduplicated", c.RowsDeduplicated}}
}

// fileCounts are the files of a run: read, failed as a whole, left out by
// the ledger (imported already, or repeating another's content) and left
// out of folders as not data.
type fileCounts struct {
	Read     int `json:"read"`
	Failed   int `json:"failed"`
	Imported int `json:"already_imported"`
	Repeated int `json:"same_content"`
	LeftOut  int `json:"left_out"`
}

// jsonSummary is what --json prints.
type jsonSummary struct {
	Route       string           `json:"route"`
	Sink        string           `json:"sink"`
	DryRun      bool             `json:"dry_run"`
	Exit        int              `json:"exit"`
	Files       fileCounts       `json:"files"`
	Rows        outcomeCounts    `json:"rows"`
	Indicators  outcomeCounts    `json:"indicators"`
	Submissions int64            `json:"submissions"`
	Extra       map[string]int64 `json:"extra,omitempty"`
	Skips       map[string]int64 `json:"skips,omitempty"`
	DurationMS  int64            `json:"duration_ms"`
	PerSecond   float64          `json:"indicators_per_second"`
	WouldSend   []string         `json:"would_send,omitempty"`
}

func jsonSummaryOf(rc *RouteConfig, dry bool, s pipeline.Summary, files fileCounts, exit int) jsonSummary {
	return jsonSummary{
		Route: rc.Name, Sink: rc.Sink, DryRun: dry, Exit: exit, Files: files,
		Rows: outcomeCounts{Read: s.Rows, Delivered: s.RowsDelivered, Merged: s.RowsMerged, Rejected: s.RowsRejected,
			Skipped: s.RowsSkipped, Failed: s.RowsFailed, Resumed: s.RowsResumed, Deduplicated: s.RowsDeduplicated},
		Indicators: outcomeCounts{Read: s.Indicators, Delivered: s.Delivered, Merged: s.Merged,
			Rejected: s.Rejected, Skipped: s.Skipped, Failed: s.Failed, Deduplicated: s.Deduplicated},
		Submissions: s.Submissions, Extra: s.Extra, Skips: s.Skips,
		DurationMS: s.Duration.Milliseconds(), PerSecond: perSecond(s),
	}
}

// exitCode is the exit code of a command's error.
func exitCode(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	}
	return exitFailed
}
