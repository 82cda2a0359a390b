package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/iocpipe/iocpipe/pipeline"
	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// newLogger logs to stderr: text on a terminal, JSON otherwise, unless
// --log-format says; -q logs warnings and errors only, -v everything.
func newLogger(e *env, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageErrorf("--log-level %q: use debug, info, warn or error", level)
	}
	switch {
	case e.quiet && l < slog.LevelWarn:
		l = slog.LevelWarn
	case e.verbose:
		l = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: l, ReplaceAttr: durationText}
	if e.logFormat == "text" || e.logFormat == "" && e.isTerminal {
		return slog.New(slog.NewTextHandler(e.stderr, opts)), nil
	}
	return slog.New(slog.NewJSONHandler(e.stderr, opts)), nil
}

// durationText writes durations as Go duration strings ("1.5s"), in JSON
// logs too, where slog would write nanoseconds.
func durationText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

// pathFilter chooses the files a folder run takes: --include globs (when
// given, only matching files are taken, the defaults aside), --exclude
// globs (always left out), else formats.IsNotData. Globs match the
// file's name or its path inside the folder named.
type pathFilter struct {
	include, exclude []string
}

// check returns a usage error for a malformed glob.
func (pf pathFilter) check() error {
	for _, g := range append(slices.Clone(pf.include), pf.exclude...) {
		if _, err := filepath.Match(g, ""); err != nil {
			return usageErrorf("glob %q: %v", g, err)
		}
	}
	return nil
}

func matchAny(globs []string, name, rel string) bool {
	for _, g := range globs {
		if ok, _ := filepath.Match(g, name); ok {
			return true
		}
		if ok, _ := filepath.Match(g, rel); ok {
			return true
		}
	}
	return false
}

// takes reports whether a file found in a folder is imported, and if not
// why.
func (pf pathFilter) takes(name, rel string) (bool, string) {
	switch {
	case matchAny(pf.exclude, name, rel):
		return false, "--exclude"
	case len(pf.include) > 0:
		if matchAny(pf.include, name, rel) {
			return true, ""
		}
		return false, "not in --include"
	case formats.IsNotData(name):
		return false, "not data (documentation or code; take it with --include)"
	}
	return true, ""
}

// missingPaths returns a usage error naming the paths that do not exist.
func missingPaths(paths []string) error {
	var missing []string
	for _, p := range paths {
		if p == "-" {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return usageErrorf("no such file or folder: %s (nothing was sent)", strings.Join(missing, ", "))
}

// expand turns the named paths into inputs: files as named, folders walked
// recursively in lexical order, leaving out dotfiles, *.part, *.tmp,
// symlinks found inside folders and what pf does not take (counted in
// leftOut, each listed at debug level). A path that cannot be read stays
// in the list: reading it fails, and it is reported as a rejected file.
func expand(paths []string, pf pathFilter, log *slog.Logger) (out []pipeline.Input, total int64, leftOut int) {
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil || !fi.IsDir() {
			in := pipeline.Input{Path: p, Name: p}
			if err == nil {
				total += fi.Size()
				if real, err := filepath.EvalSymlinks(p); err == nil {
					in.Path = real
				}
			}
			out = append(out, in)
			continue
		}
		filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				log.Warn("cannot read folder", "path", path, "error", err)
				out = append(out, pipeline.Input{Path: path, Name: path})
				return nil
			}
			name := d.Name()
			if path != p && strings.HasPrefix(name, ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				leftOut++
				log.Debug("left out", "file", path, "reason", "dotfile")
				return nil
			}
			if d.IsDir() {
				return nil
			}
			if strings.HasSuffix(name, ".part") || strings.HasSuffix(name, ".tmp") {
				log.Info("skipping a file still being written", "file", path)
				return nil
			}
			if d.Type()&fs.ModeSymlink != 0 {
				log.Warn("skipping a symlink inside a folder (name the file itself to import it)", "file", path)
				return nil
			}
			rel, _ := filepath.Rel(p, path)
			if ok, why := pf.takes(name, filepath.ToSlash(rel)); !ok {
				leftOut++
				log.Debug("left out", "file", path, "reason", why)
				return nil
			}
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
			out = append(out, pipeline.Input{Path: path, Name: path})
			return nil
		})
	}
	if leftOut > 0 {
		log.Info(fmt.Sprintf("left out %s found in folders that %s not data (list them with --log-level debug; choose with --include, --exclude)",
			plural(int64(leftOut), "file", "files"), verbFor(int64(leftOut), "is", "are")))
	}
	out, repeated := once(out, log)
	return out, total - repeated, leftOut
}

// once leaves out the inputs that name a file named before (the same path
// twice, a folder and a file in it, a link and its target): each file is
// read once. It returns the size of those left out.
func once(inputs []pipeline.Input, log *slog.Logger) (out []pipeline.Input, size int64) {
	seen := make(map[string]bool, len(inputs))
	out = inputs[:0]
	for _, in := range inputs {
		key := in.Path
		if real, err := filepath.EvalSymlinks(in.Path); err == nil {
			key = real
		}
		if abs, err := filepath.Abs(key); err == nil {
			key = abs
		}
		if seen[key] {
			log.Info("named more than once: read once", "file", in.Name)
			if fi, err := os.Stat(in.Path); err == nil {
				size += fi.Size()
			}
			continue
		}
		seen[key] = true
		out = append(out, in)
	}
	return out, size
}

// rejectWriter writes rejects as JSONL to a file, or the first few to
// stderr when no file was named.
type rejectWriter struct {
	e      *env
	f      *os.File
	w      *bufio.Writer
	enc    *json.Encoder
	shown  int
	hidden int
	// failed counts the rows not delivered that were not shown: they go
	// to a --rejects file only, never on the terminal.
	failed int
	dry    bool
	once   sync.Once
	err    error
}

const rejectsShown = 20

func newRejectWriter(e *env, path string, dry bool) (*rejectWriter, error) {
	rw := &rejectWriter{e: e, dry: dry}
	if path == "-" {
		rw.w = bufio.NewWriter(e.stdout)
		rw.enc = json.NewEncoder(rw.w)
		rw.enc.SetEscapeHTML(false)
		return rw, nil
	}
	if path != "" {
		f, err := createPrivate(path)
		if err != nil {
			return nil, fmt.Errorf("--rejects: %w", err)
		}
		rw.f, rw.w = f, bufio.NewWriter(f)
		rw.enc = json.NewEncoder(rw.w)
		rw.enc.SetEscapeHTML(false)
	}
	return rw, nil
}

// Write records one reject; failed says it is about a row that was not
// delivered rather than rejected. The pipeline serializes the calls.
func (rw *rejectWriter) Write(r ioc.Reject, failed bool) {
	if rw.enc != nil {
		if err := rw.enc.Encode(r); err != nil && rw.err == nil {
			rw.err = err
		}
		return
	}
	if failed {
		rw.failed++
		return
	}
	if r.Skipped && !rw.dry {
		return
	}
	if rw.shown >= rejectsShown && !rw.dry {
		rw.hidden++
		return
	}
	rw.shown++
	fmt.Fprintln(rw.e.stderr, printable(formatReject(r)))
}

// formatReject is a reject's line on stderr, before printable.
func formatReject(r ioc.Reject) string {
	var b strings.Builder
	b.WriteString(r.File)
	switch {
	case r.ID != "":
		b.WriteString("#" + r.ID)
	case r.Line > 0:
		fmt.Fprintf(&b, ":%d", r.Line)
	case r.Index != nil:
		fmt.Fprintf(&b, "[%d]", *r.Index)
	}
	b.WriteString(": ")
	if r.Skipped {
		b.WriteString("skipped: ")
	}
	if r.Field != "" {
		b.WriteString(r.Field)
		if r.Value != "" {
			fmt.Fprintf(&b, " %q", r.Value)
		}
		b.WriteString(": ")
	}
	b.WriteString(r.Reason)
	if r.ErrorID != "" {
		b.WriteString(" (error id " + r.ErrorID + ")")
	}
	return b.String()
}

// Close flushes the file and says how many rejects were not shown.
func (rw *rejectWriter) Close() error {
	rw.once.Do(func() {
		if rw.hidden > 0 {
			fmt.Fprintf(rw.e.stderr, "… and %s (write them all with --rejects FILE)\n", plural(int64(rw.hidden), "more reject", "more rejects"))
		}
		if rw.w != nil {
			if err := rw.w.Flush(); err != nil && rw.err == nil {
				rw.err = err
			}
			if rw.f != nil {
				if err := rw.f.Close(); err != nil && rw.err == nil {
					rw.err = err
				}
			}
		}
	})
	return rw.err
}

// printSummary writes the run's summary for a person; files are the
// files of the run, with those left out.
func printSummary(w io.Writer, s pipeline.Summary, files fileCounts, dry bool) {
	verb := "delivered"
	if dry {
		verb = "would send"
	}
	n := func(n int64, one, many string) string { return plural(n, one, many) }
	fileParts := []string{fmt.Sprintf("%d failed", s.FilesFailed)}
	if files.Imported > 0 {
		fileParts = append(fileParts, fmt.Sprintf("%d skipped as already imported", files.Imported))
	}
	if files.Repeated > 0 {
		fileParts = append(fileParts, fmt.Sprintf("%d skipped as repeating another's content", files.Repeated))
	}
	if files.LeftOut > 0 {
		fileParts = append(fileParts, fmt.Sprintf("%d left out as not data", files.LeftOut))
	}
	fmt.Fprintf(w, "files        %d read (%s)\n", s.Files, strings.Join(fileParts, ", "))
	var rowParts []string
	for _, o := range rowOutcomes(s.Counts) {
		switch {
		case o.name == "resumed" && o.n > 0:
			rowParts = append(rowParts, fmt.Sprintf("%d already delivered earlier", o.n))
		case o.name == "deduplicated" && o.n > 0:
			rowParts = append(rowParts, fmt.Sprintf("%d delivered within the dedup window", o.n))
		case o.name == "delivered":
			rowParts = append(rowParts, fmt.Sprintf("%d %s", o.n, verb))
		case o.name != "resumed" && o.name != "deduplicated":
			rowParts = append(rowParts, fmt.Sprintf("%d %s", o.n, o.name))
		}
	}
	fmt.Fprintf(w, "rows read    %d (%s)\n", s.Rows, strings.Join(rowParts, ", "))
	for _, l := range skipLines(s.Skips) {
		fmt.Fprintf(w, "skipped      %s\n", l)
	}
	dedup := ""
	if s.Deduplicated > 0 {
		dedup = fmt.Sprintf(", %d deduplicated (delivered within the dedup window)", s.Deduplicated)
	}
	fmt.Fprintf(w, "indicators   %d (%d %s, %s, %d rejected, %d failed%s)\n", s.Indicators, s.Delivered, verb,
		n(s.Merged, "merged duplicate", "merged duplicates"), s.Rejected, s.Failed, dedup)
	fmt.Fprintf(w, "rejected     %s, %s, %s\n", n(s.RowsRejected, "row", "rows"), n(s.Rejected, "indicator", "indicators"),
		n(int64(s.FilesFailed), "file", "files"))
	fmt.Fprintf(w, "%-12s %s in %s\n", verb, n(s.Delivered, "indicator", "indicators"), n(s.Submissions, "submission", "submissions"))
	keys := make([]string, 0, len(s.Extra))
	for k := range s.Extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) > 0 {
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s %d", printable(strings.ReplaceAll(k, "_", " ")), s.Extra[k])
		}
		fmt.Fprintf(w, "sink         %s\n", strings.Join(parts, ", "))
	}
	fmt.Fprintf(w, "duration     %s\n", s.Duration.Round(time.Millisecond))
	fmt.Fprintf(w, "rate         %.0f indicators/s\n", perSecond(s))
}

// skipNotes say what the rows counted under a formats.Row.SkipKey are,
// and which route setting imports them.
var skipNotes = map[string][2]string{
	formats.SkipMISPToIDs:     {"MISP attribute", "with to_ids false (misp_to_ids: required; set misp_to_ids: any on the route to import them)"},
	pipeline.SkipWarninglists: {"indicator", "on a warninglist (the route's warninglists; the rejects file names the list)"},
}

// skipLines are the lines the summary and inspect give the skipped rows a
// route setting decided (pipeline.Summary.Skips), by key.
func skipLines(skips map[string]int64) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(skips)) {
		n, ok := skipNotes[k]
		if !ok {
			n = [2]string{"row", "by " + k}
		}
		out = append(out, plural(skips[k], n[0], n[0]+"s")+" "+n[1])
	}
	return out
}

// plural returns n and the noun, singular for 1.
func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// verbFor returns the form of a verb for n things.
func verbFor(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// nothingIn says why a run found no indicator: no file, empty files, or
// rows that yielded none.
func nothingIn(s pipeline.Summary, inputs, leftOut int) string {
	switch {
	case inputs == 0 && leftOut > 0:
		return fmt.Sprintf("no data file in the folders (%s left out; choose with --include)", plural(int64(leftOut), "file", "files"))
	case inputs == 0:
		return "the folders hold no file"
	case s.Rows == 0 && s.FilesFailed > 0:
		return fmt.Sprintf("%s, no rows (%d could not be read, see above)", plural(int64(inputs), "file", "files"), s.FilesFailed)
	case s.Rows == 0:
		return fmt.Sprintf("%s, no rows", plural(int64(inputs), "file", "files"))
	}
	msg := fmt.Sprintf("%s read, no valid indicators", plural(s.Rows, "row", "rows"))
	if lines := skipLines(s.Skips); len(lines) > 0 {
		msg += "; skipped: " + strings.Join(lines, "; ")
	}
	return msg
}
