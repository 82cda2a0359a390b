package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/iocpipe/iocpipe/pipeline"
	"github.com/iocpipe/iocpipe/sinks/file"
	"github.com/iocpipe/iocpipe/sinks/quota"
)

// importFlags are the flags run and validate share.
type importFlags struct {
	config   string
	route    string
	rejects  string
	report   string
	dump     string
	logLevel string
	reimport bool
	include  []string
	exclude  []string
	json     bool
}

func (f *importFlags) register(cmd *cobra.Command, dry bool) {
	cmd.Flags().StringVar(&f.config, "config", "", configHelp)
	cmd.Flags().StringVar(&f.route, "route", "", "route to use (default: the only route in the config)")
	cmd.Flags().StringVar(&f.rejects, "rejects", "", "write rejected rows to FILE (- for stdout) as JSONL: {file, line, field, value, reason}")
	cmd.Flags().StringVar(&f.report, "report", "", "write the run's JSON report to FILE (- for stdout)")
	cmd.Flags().BoolVar(&f.json, "json", false, "print the summary as one JSON object on stdout, and nothing else there")
	cmd.Flags().StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	cmd.Flags().StringArrayVar(&f.include, "include", nil, "in folders, take only files whose name (or path inside the folder) matches GLOB (repeatable)")
	cmd.Flags().StringArrayVar(&f.exclude, "exclude", nil, "in folders, leave out files whose name (or path inside the folder) matches GLOB (repeatable)")
	if dry {
		cmd.Flags().StringVar(&f.dump, "dump", "", "write the exact request bodies to FILE (- for stdout), as NDJSON")
	} else {
		cmd.Flags().BoolVar(&f.reimport, "reimport", false, "import files whose content the ledger has as imported already")
	}
}

func newRunCmd(e *env) *cobra.Command {
	var f importFlags
	cmd := &cobra.Command{
		Use:   "run [--config FILE] [--route NAME] [--rejects FILE] [--report FILE] PATH...|--route NAME",
		Short: "Import files and folders (recursively) once",
		Long: `Import the named files, and every file in the named folders (recursively;
dotfiles, *.part, *.tmp and what is not data -- documentation, licences,
configuration and code: README*, LICENSE*, *.md, *.yaml, *.py, ... in any
case -- are left out; --include and --exclude choose), through one route, and exit. A path that does not exist is a
usage error (exit 2), before anything is sent; an input with no
indicators is said on stderr.

With --route NAME and no PATH, a route with taxii: polls its TAXII 2.1
collection once to the end, from the cursor the ledger keeps (else from
added_after), each page a unit of input like a file, named
taxii:<route>:<collection id>:<date_added range> in reports and rejects; the
cursor advances as pages are delivered (--reimport starts from added_after
again). Given PATHs, a taxii: route imports them and does not poll.

Exit codes: 0 everything valid was delivered and nothing was rejected;
3 everything valid was delivered, but some rows or files were rejected;
1 some valid row could not be delivered, or a fatal error; 2 usage or
configuration error.`,
		Args: pathsOrRoute(&f),
		RunE: func(cmd *cobra.Command, args []string) error {
			return importFiles(cmd.Context(), e, &f, args, false)
		},
	}
	f.register(cmd, false)
	return cmd
}

func newValidateCmd(e *env) *cobra.Command {
	var f importFlags
	cmd := &cobra.Command{
		Use:   "validate [--config FILE] [--route NAME] [--dump FILE] PATH...",
		Short: "Run the pipeline up to the sink, sending nothing",
		Long: `Read, validate, normalize and batch the named files exactly as run would,
but send nothing and need no secrets. Prints the rejects and what would be
sent per submission key; --dump writes the exact request bodies as NDJSON.
With --route NAME and no PATH, a taxii: route reads its collection from
added_after (keeping no cursor). Exit codes as for run.`,
		Args: pathsOrRoute(&f),
		RunE: func(cmd *cobra.Command, args []string) error {
			return importFiles(cmd.Context(), e, &f, args, true)
		},
	}
	f.register(cmd, true)
	return cmd
}

// importFiles is run and validate: one pipeline over the named paths.
func importFiles(ctx context.Context, e *env, f *importFlags, paths []string, dry bool) error {
	e, bar := withProgress(e)
	st, err := setUpRun(e, f, paths)
	if err != nil {
		return err
	}
	defer st.cleanup()
	log, cfg, rc := st.log, st.cfg, st.rc
	out, err := openOutputs(ctx, cfg, rc, f, dry, e.stdout, log)
	if err != nil {
		return err
	}
	defer out.close()
	rejects, err := newRejectWriter(e, f.rejects, dry)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	defer rejects.Close()

	inputs, total, leftOut := expand(st.paths, st.filter, log)
	results, report := reportInto(inputs, st.nameOf, rejects, log)
	led, err := runLedgerOf(ctx, cfg, rc, f.reimport, dry, log)
	if err != nil {
		return err
	}
	defer led.close()
	inputs = led.prepare(ctx, inputs)
	src, err := runSource(ctx, st, led, f.reimport, dry, report)
	if err != nil {
		return err
	}
	p, err := runPipeline(cfg, rc, out, led, dry, log)
	if err != nil {
		return err
	}
	ch, polled := runFeed(ctx, src, inputs)

	stopBar := bar.start(total, dry, p.Progress)
	started := time.Now()
	sum, runErr := p.Run(ctx, ch)
	if err := polled(); runErr == nil {
		runErr = err
	}
	stopBar()
	led.finish(ctx, sum, runErr)
	if err := rejects.Close(); err != nil {
		log.Error("writing rejects", "error", err)
	}
	if err := out.flush(); err != nil {
		return err
	}
	imported, repeated := led.skipped()
	files := fileCounts{Read: sum.Files, Failed: sum.FilesFailed, Imported: imported, Repeated: repeated, LeftOut: leftOut}
	interrupted := errors.Is(runErr, context.Canceled)
	text := st.text
	if interrupted {
		text = io.Discard // one line says it, below
	}
	printSummary(text, sum, files, dry)
	if runErr == nil && sum.Delivered+sum.Merged+sum.Failed+sum.Deduplicated == 0 && sum.RowsResumed == 0 && imported+repeated == 0 {
		nothing := nothingIn(sum, len(inputs), leftOut)
		if src != nil {
			nothing = nothingPolled(src)
		}
		fmt.Fprintln(e.stderr, "iocpipe: nothing to import: "+nothing)
	}
	out.printDump(text)
	if f.report != "" {
		printReport(e, log, f.report, rc, started, sum, *results, out.retries(), dry)
	}
	exit := runExit(cfg, sum, runErr, interrupted, dry)
	if f.json {
		printJSONSummary(e, log, rc, dry, sum, files, exit, out)
	}
	return exit
}

// runPipeline builds the pipeline of a run: one run, so a duplicate in
// another file is not sent again; dedup_window with a ledger.
func runPipeline(cfg *Config, rc *RouteConfig, out *outputs, led *runLedger, dry bool, log *slog.Logger) (*pipeline.Pipeline, error) {
	opts := pipelineOptions(cfg, rc, out.sink, log)
	opts.DedupAcrossFiles = true
	if led != nil && !dry {
		dedupWindow(&opts, rc, led.l)
	}
	return pipeline.New(opts)
}

// runExit is the exit of a run that ended with sum and runErr: an
// interrupted one says how far it got.
func runExit(cfg *Config, sum pipeline.Summary, runErr error, interrupted, dry bool) error {
	if interrupted {
		return &exitError{code: exitInterrupted, err: errors.New(interruptedLine(sum.RowsDelivered+sum.RowsMerged+sum.RowsResumed+sum.RowsDeduplicated, sum.Rows, ledgerFile(cfg), dry))}
	}
	return exitOf(sum, runErr)
}

// runLedgerOf attaches the configuration's ledger to a run; a dry run
// (validate) and a configuration without a ledger get a nil *runLedger,
// which changes nothing.
func runLedgerOf(ctx context.Context, cfg *Config, rc *RouteConfig, reimport, dry bool, log *slog.Logger) (*runLedger, error) {
	if dry {
		return nil, nil
	}
	led, err := attachLedger(ctx, cfg, rc, reimport, log)
	if ce := (*ConfigError)(nil); err != nil && !errors.As(err, &ce) {
		err = &exitError{code: exitFailed, err: err}
	}
	return led, err
}

// A runSetup is what a run knows before it opens anything: its logger,
// configuration and route, where its summary text goes, and its inputs
// (stdin copied to a file).
type runSetup struct {
	log     *slog.Logger
	cfg     *Config
	rc      *RouteConfig
	filter  pathFilter
	text    io.Writer
	paths   []string
	nameOf  func(string) string
	cleanup func()
}

// setUpRun checks the flags and paths, finds and loads the configuration
// and picks the route: every usage error comes before anything is sent.
func setUpRun(e *env, f *importFlags, paths []string) (*runSetup, error) {
	log, err := newLogger(e, f.logLevel)
	if err != nil {
		return nil, err
	}
	st := &runSetup{log: log, filter: pathFilter{include: f.include, exclude: f.exclude}, cleanup: func() {}}
	if err := st.filter.check(); err != nil {
		return nil, err
	}
	if err := missingPaths(paths); err != nil {
		return nil, err
	}
	toStdout, err := f.stdoutOutputs()
	if err != nil {
		return nil, err
	}
	// The summary text goes to stdout unless an output does (then it
	// goes to stderr), or --json prints there instead, or -q.
	st.text = e.stdout
	switch {
	case f.json || e.quiet:
		st.text = io.Discard
	case toStdout != "":
		st.text = e.stderr
	}
	if st.cfg, err = discoverConfig(f.config, log); err != nil {
		return nil, err
	}
	if st.rc, err = st.cfg.Route(f.route); err != nil {
		return nil, err
	}
	if err := checkPoll(st.rc, paths); err != nil {
		return nil, err
	}
	if st.paths, st.cleanup, st.nameOf, err = stdinInput(e, paths); err != nil {
		return nil, err
	}
	return st, nil
}

// reportInto names the inputs as reports name them and has each file's
// reports write its rejects and collect its result and row outcomes
// (reports are serialized); it returns the results and that Report, for
// inputs that come later (TAXII pages).
func reportInto(inputs []pipeline.Input, nameOf func(string) string, rejects *rejectWriter, log *slog.Logger) (*[]pipeline.FileResult, func(pipeline.FileReport)) {
	results := new([]pipeline.FileResult)
	report := func(r pipeline.FileReport) {
		for _, rej := range r.Rejects {
			rejects.Write(rej, rej.Failed)
		}
		if r.Final {
			res := r.Result
			*results = append(*results, res)
			log.Debug("file done", "file", res.File, "rows", res.Rows, "rows_rejected", res.RowsRejected,
				"delivered", res.Delivered, "rejected", res.Rejected)
		}
	}
	for i := range inputs {
		inputs[i].Name = nameOf(inputs[i].Name)
		inputs[i].Report = report
	}
	return results, report
}

// printReport writes --report (to stdout for "-").
func printReport(e *env, log *slog.Logger, path string, rc *RouteConfig, started time.Time, sum pipeline.Summary, results []pipeline.FileResult, retries int64, dry bool) {
	w := io.Writer(nil)
	if path == "-" {
		w = e.stdout
	}
	if err := writeReport(path, w, rc, started, sum, results, retries, dry); err != nil {
		log.Error("writing the report", "error", err)
	}
}

// printJSONSummary prints --json's one object on stdout.
func printJSONSummary(e *env, log *slog.Logger, rc *RouteConfig, dry bool, sum pipeline.Summary, files fileCounts, exit error, out *outputs) {
	js := jsonSummaryOf(rc, dry, sum, files, exitCode(exit))
	if dry {
		js.WouldSend = out.wouldSend()
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(js); err != nil {
		log.Error("writing the JSON summary", "error", err)
	}
}

// pipelineOptions are the pipeline's options for route rc delivering to
// sink: the route, and the delivery settings of its sink kind.
func pipelineOptions(cfg *Config, rc *RouteConfig, sink pipeline.Sink, log *slog.Logger) pipeline.Options {
	d := cfg.Delivery(rc)
	return pipeline.Options{
		Route: cfg.PipelineRoute(rc), Sink: sink, Logger: log, Workers: cfg.Workers,
		InFlight: d.InFlight, MaxBatch: d.BatchSize, MaxBytes: int(d.ByteBudget), Linger: time.Duration(d.Linger),
		Associations: takesAssociations(rc),
	}
}

// exitOf is the exit of a run: 1 when something valid was not
// delivered, 3 when rows were rejected, else 0.
func exitOf(sum pipeline.Summary, runErr error) error {
	switch {
	case runErr != nil && !errors.Is(runErr, context.Canceled):
		return &exitError{code: exitFailed, err: runErr}
	case runErr != nil:
		return &exitError{code: exitFailed, err: errors.New("interrupted: some rows were not delivered")}
	case sum.Failed > 0:
		return &exitError{code: exitFailed, err: fmt.Errorf("%s could not be delivered (--rejects FILE lists their rows)", plural(sum.Failed, "indicator", "indicators"))}
	case !sum.OK():
		return &exitError{code: exitRejected, err: nil}
	}
	return nil
}

// interruptedLine is what an interrupted run says: how far it got, and
// how to go on (the config key ledger).
func interruptedLine(delivered, read int64, ledger string, dry bool) string {
	if dry {
		return fmt.Sprintf("interrupted: %s of %s rows checked", thousands(delivered), thousands(read))
	}
	line := fmt.Sprintf("interrupted: %s of %s rows delivered; ", thousands(delivered), thousands(read))
	if ledger != "" {
		return line + "run again to resume (the ledger " + ledger + " holds what was delivered)"
	}
	return line + "run again with a ledger to resume (config key ledger: FILE; without one a run sends everything again)"
}

// thousands writes n with commas between groups of three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// outputs is where a run delivers: the route's sink, or for a dry run
// (validate) the file sink that counts and may --dump the request bodies.
type outputs struct {
	sink     pipeline.Sink
	dump     *file.Sink
	dumpFile *os.File
	retrier  interface{ Retries() int64 }
	quota    *quota.Store // nil: none
}

// openOutputs builds the sink of rc, drawing from the shared quota when
// the ledger is PostgreSQL, or the dry run's.
func openOutputs(ctx context.Context, cfg *Config, rc *RouteConfig, f *importFlags, dry bool, stdout io.Writer, log *slog.Logger) (*outputs, error) {
	if !dry {
		q := openQuota(ctx, cfg, log)
		s, err := buildSink(cfg, rc, sinkEnv{log: log, quota: q})
		if err != nil {
			if q != nil {
				q.Close()
			}
			return nil, err
		}
		return &outputs{sink: s, retrier: s, quota: q}, nil
	}
	o := &outputs{}
	var w io.Writer
	if f.dump == "-" {
		w = stdout
	} else if f.dump != "" {
		df, err := createPrivate(f.dump)
		if err != nil {
			return nil, &exitError{code: exitUsage, err: err}
		}
		o.dumpFile, w = df, df
	}
	o.dump = file.New(encoderFor(cfg, rc), w)
	o.sink = o.dump
	return o, nil
}

// flush writes what the dry run's dump holds.
func (o *outputs) flush() error {
	if o.dump == nil {
		return nil
	}
	if err := o.dump.Flush(); err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("--dump: %w", err)}
	}
	return nil
}

// printDump says what a dry run would have sent.
func (o *outputs) printDump(w io.Writer) {
	if o.dump == nil {
		return
	}
	fmt.Fprintln(w, "would send:")
	for _, kc := range o.dump.Counts() {
		fmt.Fprintln(w, "  "+printable(kc.String()))
	}
}

// wouldSend lists what a dry run would have sent, per submission key.
func (o *outputs) wouldSend() []string {
	if o.dump == nil {
		return nil
	}
	var out []string
	for _, kc := range o.dump.Counts() {
		out = append(out, kc.String())
	}
	return out
}

// retries returns how many requests the sink retried.
func (o *outputs) retries() int64 {
	if o.retrier == nil {
		return 0
	}
	return o.retrier.Retries()
}

func (o *outputs) close() {
	if o.dumpFile != nil {
		o.dumpFile.Close()
	}
	if o.quota != nil {
		o.quota.Close()
	}
}

// report is the --report document.
type report struct {
	Route      string                `json:"route"`
	Sink       string                `json:"sink"`
	DryRun     bool                  `json:"dry_run,omitempty"`
	Started    time.Time             `json:"started"`
	DurationMS int64                 `json:"duration_ms"`
	PerSecond  float64               `json:"indicators_per_second"`
	Retries    int64                 `json:"retries"`
	Summary    pipeline.Summary      `json:"summary"`
	Files      []pipeline.FileResult `json:"files"`
}

// writeReport writes the report to w, or when w is nil to the file path.
func writeReport(path string, w io.Writer, rc *RouteConfig, started time.Time, sum pipeline.Summary, files []pipeline.FileResult, retries int64, dry bool) error {
	r := report{
		Route: rc.Name, Sink: rc.Sink, DryRun: dry, Started: started.UTC(),
		DurationMS: sum.Duration.Milliseconds(), PerSecond: perSecond(sum), Retries: retries,
		Summary: sum, Files: files,
	}
	if r.Files == nil {
		r.Files = []pipeline.FileResult{}
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if w != nil {
		_, err := w.Write(append(b, '\n'))
		return err
	}
	return writePrivate(path, append(b, '\n'))
}

func perSecond(s pipeline.Summary) float64 {
	if s.Duration <= 0 {
		return 0
	}
	return float64(s.Delivered) / s.Duration.Seconds()
}

// createPrivate creates (or truncates) a file only its owner can read:
// rejects and reports quote the data. A path that exists and is not a
// regular file (a device such as /dev/null, a named pipe, /dev/stdout) is
// opened for writing as it is: never truncated unless it leads to a
// regular file, never chmod'ed; a named pipe nobody reads is an error
// after a bounded wait for one.
func createPrivate(path string) (*os.File, error) {
	fi, err := os.Lstat(path)
	if err == nil && !fi.Mode().IsRegular() {
		return openExisting(path)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// openExisting opens a path that is not a regular file for writing,
// leaving its mode alone.
func openExisting(path string) (*os.File, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	flags := os.O_WRONLY
	switch m := fi.Mode(); {
	case m.IsRegular(): // a symlink to a file
		flags |= os.O_TRUNC
	case m.IsDir():
		return nil, fmt.Errorf("%s is a folder", path)
	case m&fs.ModeNamedPipe != 0:
		flags |= syscall.O_NONBLOCK
	}
	// A named pipe opens once it has a reader: wait for one, polling,
	// for a bounded time rather than blocking where no signal ends it.
	for deadline := time.Now().Add(pipeReaderWait); ; time.Sleep(20 * time.Millisecond) {
		f, err := os.OpenFile(path, flags, 0)
		if !errors.Is(err, syscall.ENXIO) {
			return f, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s: a named pipe that nobody reads (waited %s)", path, pipeReaderWait)
		}
	}
}

// pipeReaderWait is how long createPrivate waits for a named pipe's
// reader.
const pipeReaderWait = 10 * time.Second

func writePrivate(path string, data []byte) error {
	f, err := createPrivate(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
