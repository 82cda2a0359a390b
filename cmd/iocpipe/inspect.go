package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/iocpipe/iocpipe/pipeline"
	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// inspectFlags are the flags of inspect.
type inspectFlags struct {
	config  string
	route   string
	rows    int
	maxRows int64
	json    bool
	format  string
}

func newInspectCmd(e *env) *cobra.Command {
	var f inspectFlags
	cmd := &cobra.Command{
		Use:   "inspect [--config FILE --route NAME] FILE",
		Short: "Show how a file will be read: format, header, mapping, first rows, rejects",
		Long: `Show how FILE will be read under a route: the detected format, the delimiter
and the header (and on which line it was found), which columns or keys feed
which fields, the first indicators as they will be sent (value, type,
first and last seen, tags), and what will be rejected or skipped, and why:
enough to fix a route's columns or json_fields in one try.

Nothing is sent and no secrets are needed. Without --config, a built-in
route with no enclaves and no default tags is used.

Exit codes: 0 the file can be read; 1 it cannot be read as a whole (the
reason is shown); 2 a usage or configuration error.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("inspect takes one file, got %d arguments (see %s --help)", len(args), cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return inspect(cmd.Context(), e, &f, args[0])
		},
	}
	cmd.Flags().StringVar(&f.config, "config", "", "configuration file whose route to use (default: a built-in route)")
	cmd.Flags().StringVar(&f.route, "route", "", "route to use (default: the only route in the config)")
	cmd.Flags().IntVar(&f.rows, "rows", 10, "how many indicators to show")
	cmd.Flags().Int64Var(&f.maxRows, "max-rows", 100000, "stop reading after this many rows (0: read the whole file)")
	cmd.Flags().BoolVar(&f.json, "json", false, "print the inspection as JSON")
	cmd.Flags().StringVar(&f.format, "format", "", "read the file in this format (csv, json, jsonl, stix, text), as a route's format: does (default: the route's, else detected)")
	return cmd
}

// inspection is what inspect shows.
type inspection struct {
	File        string                `json:"file"`
	Route       string                `json:"route"`
	Description *pipeline.Description `json:"description,omitempty"`
	Error       string                `json:"error,omitempty"`
	Counts      pipeline.Counts       `json:"counts"`
	// Skips counts the skipped rows a route setting decides
	// (pipeline.Summary.Skips).
	Skips      map[string]int64 `json:"skips,omitempty"`
	Stopped    bool             `json:"stopped,omitempty"`
	Indicators []shownIndicator `json:"indicators"`
	Reasons    []reasonCount    `json:"reasons"`
}

type shownIndicator struct {
	Line      int      `json:"line,omitempty"`
	Ref       string   `json:"ref,omitempty"`
	Value     string   `json:"value"`
	Type      string   `json:"type"`
	FirstSeen string   `json:"first_seen,omitempty"`
	LastSeen  string   `json:"last_seen,omitempty"`
	Sightings int64    `json:"sightings,omitempty"`
	Tags      []string `json:"tags,omitempty"`
	TagLevel  string   `json:"tag_level"`
	Notes     string   `json:"notes,omitempty"`
	Source    string   `json:"source,omitempty"`

	row int
}

type reasonCount struct {
	Skipped bool   `json:"skipped"`
	Reason  string `json:"reason"`
	Count   int    `json:"count"`
	// Example is the first row with this reason: where and its value.
	Example string `json:"example"`
}

// captureSink keeps the indicators it is sent, in place of an API.
type captureSink struct {
	mu    sync.Mutex
	inds  []shownIndicator
	limit int
}

func (s *captureSink) Send(ctx context.Context, b *ioc.Batch) (ioc.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, in := range b.Items {
		si := shownIndicator{
			Line: in.Origin.Line, Ref: in.Origin.Ref, Value: in.Value, Type: string(in.Type),
			FirstSeen: showTime(in.FirstSeen), LastSeen: showTime(in.LastSeen), Sightings: in.Sightings,
			Notes: in.Notes, Source: in.Source, row: in.Origin.Row,
		}
		level := in.TagLevel
		tags := b.TagsOf(in)
		if in.TagLevel != ioc.LevelRow {
			level = b.Sub.TagLevel
		}
		si.TagLevel = level.String()
		for _, t := range tags {
			si.Tags = append(si.Tags, t.Name)
		}
		s.inds = append(s.inds, si)
	}
	// Keep the earliest rows only: batches may arrive out of order.
	slices.SortStableFunc(s.inds, func(a, b shownIndicator) int { return a.row - b.row })
	if len(s.inds) > s.limit {
		s.inds = s.inds[:s.limit]
	}
	return ioc.Result{Requests: 1}, nil
}

func showTime(ms int64) string {
	if ms == 0 {
		return ""
	}
	return time.UnixMilli(ms).UTC().Format(time.RFC3339)
}

// inspect describes the file, then runs it through the pipeline into a
// capturing sink.
func inspect(ctx context.Context, e *env, f *inspectFlags, path string) error {
	route, err := inspectRoute(f)
	if err != nil {
		return err
	}
	out := inspection{File: path, Route: route.Name}
	d, err := pipeline.Describe(path, route)
	if err != nil {
		out.Error = err.Error()
	}
	out.Description = d

	sink := &captureSink{limit: max(f.rows, 0)}
	tally := &reasonTally{counts: map[string]*reasonCount{}}
	p, err := pipeline.New(pipeline.Options{
		Route: route, Sink: sink, Workers: 2, InFlight: 1, Linger: 20 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	in := make(chan pipeline.Input, 1)
	in <- pipeline.Input{Path: path, Name: path, Report: func(rep pipeline.FileReport) {
		for _, r := range rep.Rejects {
			if r.Row < 0 && out.Error == "" {
				out.Error = r.Reason // the file as a whole
			}
			tally.add(r)
		}
	}}
	close(in)
	var stopped atomic.Bool
	stop := stopAfter(p, f.maxRows, &stopped)
	sum, runErr := p.Run(ctx, in)
	stop()
	if runErr != nil {
		return &exitError{code: exitFailed, err: runErr}
	}
	out.Stopped = stopped.Load()
	out.Counts, out.Skips = sum.Counts, sum.Skips
	out.Indicators = sink.inds
	out.Reasons = tally.list()
	if f.json {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		printInspection(e.stdout, &out)
	}
	if out.Error != "" {
		return &exitError{code: exitFailed} // the file cannot be read as a whole
	}
	return nil
}

// inspectRoute is the route inspect reads with: the configured one, or
// the built-in defaults.
func inspectRoute(f *inspectFlags) (*pipeline.Route, error) {
	r, err := inspectConfigRoute(f)
	if err != nil || f.format == "" {
		return r, err
	}
	if _, ok := formats.Lookup(f.format); !ok {
		return nil, usageErrorf("--format: unknown format %q (%s)", f.format, strings.Join(formats.Names(), ", "))
	}
	r.Format = f.format
	return r, nil
}

// inspectConfigRoute is the configured route, or the built-in defaults.
func inspectConfigRoute(f *inspectFlags) (*pipeline.Route, error) {
	if f.config == "" {
		if f.route != "" {
			return nil, usageErrorf("--route needs --config")
		}
		return &pipeline.Route{Name: "(built-in)", Sink: "inspect"}, nil
	}
	cfg, err := LoadConfig(f.config)
	if err != nil {
		return nil, err
	}
	rc, err := cfg.Route(f.route)
	if err != nil {
		return nil, err
	}
	return cfg.PipelineRoute(rc), nil
}

// stopAfter stops p once it read maxRows rows (0: never), setting
// stopped; the returned func ends the watch.
func stopAfter(p *pipeline.Pipeline, maxRows int64, stopped *atomic.Bool) func() {
	done := make(chan struct{})
	if maxRows <= 0 {
		return func() { close(done) }
	}
	go func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if p.Summary().Rows >= maxRows {
					stopped.Store(true)
					p.Stop()
					return
				}
			}
		}
	}()
	return func() { close(done) }
}

// A reasonTally counts rejects by reason, keeping the first example of
// each.
type reasonTally struct {
	counts map[string]*reasonCount
	order  []string
}

func (t *reasonTally) add(r ioc.Reject) {
	key := fmt.Sprintf("%v\x00%s", r.Skipped, r.Reason)
	rc := t.counts[key]
	if rc == nil {
		where := r.File
		switch {
		case r.ID != "":
			where = "id " + r.ID
		case r.Line > 0:
			where = fmt.Sprintf("line %d", r.Line)
		}
		ex := where
		if r.Value != "" {
			ex += ": " + r.Value
		}
		rc = &reasonCount{Skipped: r.Skipped, Reason: r.Reason, Example: ex}
		t.counts[key] = rc
		t.order = append(t.order, key)
	}
	rc.Count++
}

// list returns the reasons, the most frequent first.
func (t *reasonTally) list() []reasonCount {
	var out []reasonCount
	for _, k := range t.order {
		out = append(out, *t.counts[k])
	}
	slices.SortStableFunc(out, func(a, b reasonCount) int { return b.Count - a.Count })
	return out
}

func printInspection(w io.Writer, in *inspection) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "file\t%s\n", printable(in.File))
	fmt.Fprintf(tw, "route\t%s\n", printable(in.Route))
	if in.Description != nil {
		printDescription(tw, in.Description)
	}
	if in.Error != "" {
		fmt.Fprintf(tw, "error\t%s\n", printable(in.Error))
	}
	c := in.Counts
	stopped := ""
	if in.Stopped {
		stopped = " (stopped early: --max-rows)"
	}
	fmt.Fprintf(tw, "rows\t%d read: %d yielding indicators, %d rejected, %d skipped%s\n", c.Rows, c.RowsYielding, c.RowsRejected, c.RowsSkipped, stopped)
	for _, l := range skipLines(in.Skips) {
		fmt.Fprintf(tw, "\t%s\n", printable(l))
	}
	fmt.Fprintf(tw, "indicators\t%d: %d to send, %d merged duplicates, %d rejected\n", c.Indicators, c.Delivered, c.Merged, c.Rejected)
	tw.Flush()

	printIndicators(w, in.Indicators)
	printReasons(w, in.Reasons)
}

// printDescription prints how the file is read: format, layout, header,
// mapping.
func printDescription(tw io.Writer, d *formats.Description) {
	format := d.Format
	if d.Delimiter != "" {
		format += fmt.Sprintf(", delimiter %q", d.Delimiter)
		if d.Padding > 0 {
			format += fmt.Sprintf(" padded with %d+ spaces", d.Padding)
		}
		if d.LineByLine {
			format += ", read line by line (no CSV quoting)"
		}
	}
	fmt.Fprintf(tw, "format\t%s\n", format)
	if d.Why != "" {
		fmt.Fprintf(tw, "why\t%s: read as %s\n", printable(d.Why), d.Format)
	}
	if d.Shape != "" {
		shape := d.Shape
		if d.Truncated {
			shape += " (judged from the first 64 KiB)"
		}
		fmt.Fprintf(tw, "layout\t%s\n", shape)
	}
	switch {
	case d.HeaderLine > 0 && d.HeaderComment:
		fmt.Fprintf(tw, "header\tline %d (a comment line): %s\n", d.HeaderLine, printable(strings.Join(d.Header, " | ")))
	case d.HeaderLine > 0:
		fmt.Fprintf(tw, "header\tline %d: %s\n", d.HeaderLine, printable(strings.Join(d.Header, " | ")))
	case d.Format == "csv" && len(d.Mapping) > 0:
		fmt.Fprintf(tw, "header\tnone: the first record holds an indicator\n")
	}
	label := "mapping"
	for _, m := range d.Mapping {
		how := ""
		if m.Explicit {
			how = "   (route)"
		}
		fmt.Fprintf(tw, "%s\t%-11s ← %s%s\n", label, m.Field, printable(strings.Join(m.From, ", ")), how)
		label = ""
	}
	if len(d.Unused) > 0 {
		fmt.Fprintf(tw, "%s\tnot used: %s\n", label, printable(strings.Join(d.Unused, ", ")))
	}
	for _, s := range d.Inherited {
		fmt.Fprintf(tw, "inherited\t%s\n", printable(s))
	}
	label = "read"
	for _, s := range d.Samples {
		fmt.Fprintf(tw, "%s\t%s\n", label, cut(s, 120))
		label = ""
	}
}

// printIndicators prints the first indicators, as a table.
func printIndicators(w io.Writer, inds []shownIndicator) {
	if len(inds) == 0 {
		return
	}
	fmt.Fprintf(w, "\nfirst indicators\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  LINE\tTYPE\tVALUE\tFIRST SEEN\tLAST SEEN\tTAGS\tNOTES\n")
	for _, s := range inds {
		where := fmt.Sprint(s.Line)
		if s.Line == 0 {
			where = s.Ref
		}
		tags := strings.Join(s.Tags, ",")
		if tags != "" && s.TagLevel != "row" {
			tags = "(" + s.TagLevel + ") " + tags
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", printable(where), s.Type, cut(s.Value, 60), dash(s.FirstSeen), dash(s.LastSeen), dash(cut(tags, 40)), cut(s.Notes, 50))
	}
	tw.Flush()
}

// printReasons prints the rejects and skipped rows, by reason.
func printReasons(w io.Writer, reasons []reasonCount) {
	if len(reasons) == 0 {
		return
	}
	fmt.Fprintf(w, "\nrejected and skipped, by reason\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range reasons {
		what := "rejected"
		if r.Skipped {
			what = "skipped"
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\n", r.Count, what, printable(r.Reason))
		fmt.Fprintf(tw, "  \t\te.g. %s\n", cut(r.Example, 100))
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// cut shortens s for a table cell, on a rune boundary, puts its tabs and
// newlines on one line and escapes the other control characters.
func cut(s string, n int) string {
	s = printable(strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s))
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
