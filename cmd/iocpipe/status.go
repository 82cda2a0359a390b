package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/iocpipe/iocpipe/pipeline"
	"github.com/iocpipe/iocpipe/pipeline/inbox"
	"github.com/iocpipe/iocpipe/pipeline/ledger"
)

// statusFlags configure iocpipe status.
type statusFlags struct {
	config   string
	json     bool
	timeout  time.Duration
	logLevel string
}

// staleAfter is how old a watch's status file may be before status calls
// it stale (the watch is stuck, or stopping).
const staleAfter = 5 * inbox.StatusEvery

func newStatusCmd(e *env) *cobra.Command {
	var f statusFlags
	cmd := &cobra.Command{
		Use:   "status [--json] [--config FILE]",
		Short: "Show the state of every route: inbox, files, last import, ledger, sink",
		Long: `Show, for every route: its inbox and whether a watch runs on it; the files
waiting there, in work, in failed/ and filed in done/ today; the file filed
last and how it ended; the ledger's entries and size; and whether the sink
answers (one cheap call with the route's credentials: a TruSTAR token, the
ThreatWinds definitions).

A running watch holds the ledger and the inbox's lock; it writes what status
needs to <inbox>/.iocpipe/status.json every few seconds, and status reads it
(and says how old it is). Without a watch, status reads the ledger itself.
--json prints {"routes": [{"name": ..., ...}]} and nothing else on stdout.

Exit codes: 0; 1 when a sink does not answer (or refuses the credentials) or
an inbox cannot be read; 2 a usage or configuration error. A sink whose
secrets are not in the environment is not checked, and says so.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return status(cmd.Context(), e, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", configHelp)
	fl.BoolVar(&f.json, "json", false, `print {"routes": [...]} as one JSON object on stdout`)
	fl.DurationVar(&f.timeout, "timeout", 5*time.Second, "how long each sink may take to answer, retries included")
	fl.StringVar(&f.logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	return cmd
}

// routeStatus is one route in status's output (--json prints it as is).
type routeStatus struct {
	Name  string `json:"name"`
	Sink  string `json:"sink"`
	Inbox string `json:"inbox,omitempty"`
	// Watch is the running watch's status; nil when none runs.
	Watch *watchState `json:"watch"`
	// Files is what the inbox's folders hold; nil without an inbox (or
	// when it cannot be read: see Error).
	Files *inbox.Listing `json:"files,omitempty"`
	// LastImport is the file filed last; nil when none was.
	LastImport *lastImport `json:"last_import"`
	Ledger     ledgerState `json:"ledger"`
	SinkCheck  sinkState   `json:"sink_check"`
	// Error is why the inbox could not be read.
	Error string `json:"error,omitempty"`
	// Note says what the inbox is when it is not there yet, and no error.
	Note string `json:"note,omitempty"`
}

// watchState is a running watch, from its status file.
type watchState struct {
	PID int `json:"pid"`
	// Instances are the instances sharing the inbox (a PostgreSQL
	// ledger) whose status file is fresh; PID and Status are then unset.
	Instances []string `json:"instances,omitempty"`
	// Age is how old its status file is, in seconds; Stale says it is
	// older than staleAfter.
	Age   float64 `json:"age_seconds"`
	Stale bool    `json:"stale"`
	// Status is what the watch wrote.
	Status *inbox.Status `json:"status,omitempty"`
	// Error is why its status file could not be read.
	Error string `json:"error,omitempty"`
}

// lastImport is the file filed last, from its report.
type lastImport struct {
	File   string    `json:"file"`
	Status string    `json:"status"`
	Folder string    `json:"folder"`
	At     time.Time `json:"at"`
	// The file's counts: each row in one outcome, each indicator too.
	pipeline.Counts
	Error string `json:"error,omitempty"`
}

// ledgerState is the ledger, as the watch or the file says.
type ledgerState struct {
	Path    string `json:"path,omitempty"`
	Entries int    `json:"entries"`
	Size    int64  `json:"size"`
	// From is "watch" (its status file), "file" or "database" (read by status), or
	// empty: no ledger is configured, or it could not be read (Error).
	From string `json:"from,omitempty"`
	// Missing says the ledger file does not exist yet: nothing was
	// imported with it.
	Missing bool   `json:"missing,omitempty"`
	Error   string `json:"error,omitempty"`
}

// sinkState is what the sink's cheap call found.
type sinkState struct {
	URL string `json:"url,omitempty"`
	// Checked says the call was made: false when the sink could not be
	// built (its secrets are not in this environment, say: Error).
	Checked   bool   `json:"checked"`
	Reachable bool   `json:"reachable"`
	Note      string `json:"note,omitempty"`
	Error     string `json:"error,omitempty"`
}

func status(ctx context.Context, e *env, f *statusFlags) error {
	log, err := newLogger(e, f.logLevel)
	if err != nil {
		return err
	}
	if f.timeout <= 0 {
		return usageErrorf("--timeout must be positive")
	}
	cfg, err := discoverConfig(f.config, log)
	if err != nil {
		return err
	}
	now := time.Now()
	routes := make([]routeStatus, len(cfg.Routes))
	for i := range cfg.Routes {
		routes[i] = inboxStatus(cfg, &cfg.Routes[i], now)
	}
	fillLedgers(ctx, cfg, routes, log)
	checkSinks(ctx, cfg, routes, f.timeout, log)
	instances, insErr := sharedInstances(ctx, cfg)
	if f.json {
		out := struct {
			Routes    []routeStatus   `json:"routes"`
			Instances []instanceState `json:"instances,omitempty"`
			// InstancesError is why the instances could not be read.
			InstancesError string `json:"instances_error,omitempty"`
		}{Routes: routes, Instances: instances}
		if insErr != nil {
			out.InstancesError = insErr.Error()
		}
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, string(b))
	} else {
		for i := range routes {
			printRouteStatus(e.stdout, &routes[i], now)
		}
		fmt.Fprintf(e.stdout, "ledger %s\n", ledgerText(routes[0].Ledger))
		if cfg.Ledger.Postgres != nil {
			printInstances(e.stdout, instances, insErr, now)
		}
	}
	for _, r := range routes {
		if r.Error != "" || r.SinkCheck.Checked && !r.SinkCheck.Reachable {
			return &exitError{code: exitFailed}
		}
	}
	return nil
}

// inboxOptions are the folders of a route's inbox.
func inboxOptions(rc *RouteConfig) inbox.Options {
	return inbox.Options{Dir: rc.Inbox, WorkDir: rc.WorkDir, DoneDir: rc.DoneDir, FailedDir: rc.FailedDir, Route: rc.Name, Sink: rc.Sink}
}

// inboxStatus lists a route's inbox and reads its watch's status.
func inboxStatus(cfg *Config, rc *RouteConfig, now time.Time) routeStatus {
	r := routeStatus{Name: rc.Name, Sink: rc.Sink, Inbox: rc.Inbox}
	if rc.Inbox == "" {
		return r
	}
	ls, err := inbox.List(inboxOptions(rc), now)
	if err != nil {
		_, serr := os.Stat(rc.Inbox)
		switch {
		case serr != nil && rc.CreateInbox:
			r.Note = "not created yet: watch creates it (create_inbox: true)"
			return r
		case serr != nil:
			err = missingInbox(cfg, rc, serr)
		}
		r.Error = err.Error()
		return r
	}
	r.Files = &ls
	if l := ls.Last; l != nil {
		r.LastImport = &lastImport{File: l.File, Status: l.Status, Folder: l.Folder, At: l.At, Counts: l.Counts, Error: l.Err}
		r.Files.Last = nil
	}
	pid, watched, err := inbox.Watched(rc.Inbox)
	switch {
	case err != nil:
		r.Watch = &watchState{Error: err.Error()}
	case watched && cfg.Ledger.Postgres != nil:
		r.Watch = sharedWatch(rc.Inbox, now)
	case watched:
		r.Watch = &watchState{PID: pid}
		st, err := inbox.ReadStatus(rc.Inbox)
		if err != nil {
			r.Watch.Error = err.Error()
			break
		}
		r.Watch.Status = &st
		age := now.Sub(st.Updated)
		r.Watch.Age, r.Watch.Stale = math.Round(age.Seconds()*10)/10, age > staleAfter
	}
	return r
}

// sharedWatch is the watch of an inbox shared by instances: the ids of
// those whose status file is fresh.
func sharedWatch(dir string, now time.Time) *watchState {
	sts, err := inbox.ReadInstanceStatuses(dir)
	if err != nil {
		return &watchState{Error: err.Error()}
	}
	w := &watchState{}
	for id, st := range sts {
		if now.Sub(st.Updated) <= staleAfter {
			w.Instances = append(w.Instances, id)
		}
	}
	slices.Sort(w.Instances)
	return w
}

// instanceState is an instance of a shared ledger, as status shows it:
// what the database knows, and the counts of each inbox it watches (from
// its status files).
type instanceState struct {
	ledger.InstanceInfo
	Inboxes map[string]inbox.Stats `json:"inboxes,omitempty"`
}

// sharedInstances reads the instances of a PostgreSQL ledger, with their
// counts from the status files of the routes' inboxes; nil for another
// ledger.
func sharedInstances(ctx context.Context, cfg *Config) ([]instanceState, error) {
	if cfg.Ledger.Postgres == nil {
		return nil, nil
	}
	dsn, err := cfg.postgresDSN()
	if err != nil {
		return nil, err
	}
	infos, err := ledger.InstancesPostgres(ctx, dsn)
	if err != nil {
		return nil, err
	}
	out := make([]instanceState, len(infos))
	for i, in := range infos {
		out[i].InstanceInfo = in
		for _, rc := range cfg.Routes {
			if rc.Inbox == "" {
				continue
			}
			sts, _ := inbox.ReadInstanceStatuses(rc.Inbox)
			if st, ok := sts[in.ID]; ok && in.Live {
				if out[i].Inboxes == nil {
					out[i].Inboxes = map[string]inbox.Stats{}
				}
				out[i].Inboxes[rc.Name] = st.Stats
			}
		}
	}
	return out, nil
}

// printInstances prints the instances of a shared ledger for a person.
func printInstances(w io.Writer, ins []instanceState, err error, now time.Time) {
	if err != nil {
		fmt.Fprintf(w, "instances: CANNOT BE READ: %s\n", printable(err.Error()))
		return
	}
	live := 0
	for _, in := range ins {
		if in.Live {
			live++
		}
	}
	fmt.Fprintf(w, "instances: %d live of %d known\n", live, len(ins))
	for _, in := range ins {
		state := fmt.Sprintf("live, lease until %s", in.LeaseUntil.Local().Format(time.TimeOnly))
		switch {
		case in.Stopped:
			state = "stopped " + in.LeaseUntil.Local().Format(time.DateTime)
		case !in.Live:
			state = fmt.Sprintf("GONE: lease expired %s ago", now.Sub(in.LeaseUntil).Round(time.Second))
		}
		fmt.Fprintf(w, "  %s  %s pid %d, %s; %s in hand", printable(in.ID), printable(in.Host), in.PID, state, plural(int64(len(in.Files)), "file", "files"))
		for i, f := range in.Files {
			if i == 5 {
				fmt.Fprintf(w, ", … %d more", len(in.Files)-5)
				break
			}
			sep := ", "
			if i == 0 {
				sep = ": "
			}
			fmt.Fprintf(w, "%s%s", sep, printable(f.Name))
		}
		fmt.Fprintln(w)
	}
}

// fillLedgers fills each route's ledger: from its watch's status file
// when one runs (it holds the ledger), else from the ledger file itself,
// opened read-only.
func fillLedgers(ctx context.Context, cfg *Config, routes []routeStatus, log *slog.Logger) {
	path := ledgerFile(cfg)
	if path == "" {
		return
	}
	var fromWatch *inbox.LedgerStatus
	for _, r := range routes {
		if w := r.Watch; w != nil && w.Status != nil && w.Status.Ledger != nil {
			fromWatch = w.Status.Ledger
			break
		}
	}
	st := ledgerState{Path: path}
	switch {
	case fromWatch != nil:
		st.Entries, st.Size, st.From = fromWatch.Entries, fromWatch.Size, "watch"
	case cfg.Ledger.Postgres != nil:
		st = readPostgresLedger(ctx, cfg, path)
	default:
		st = readLedger(ctx, path, log)
	}
	for i := range routes {
		routes[i].Ledger = st
	}
}

// readLedger opens the ledger at path read-only and counts it.
func readLedger(ctx context.Context, path string, log *slog.Logger) ledgerState {
	st := ledgerState{Path: path}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		st.From, st.Missing = "file", true
		return st
	}
	l, err := ledger.OpenBoltContext(ctx, path, ledger.BoltOptions{ReadOnly: true, Timeout: 500 * time.Millisecond, Logger: log})
	if err != nil {
		st.Error = err.Error()
		return st
	}
	defer l.Close()
	st.Entries, st.Size, st.From = l.Len(), l.Size(), "file"
	return st
}

// readPostgresLedger counts the PostgreSQL ledger, changing nothing.
func readPostgresLedger(ctx context.Context, cfg *Config, name string) ledgerState {
	st := ledgerState{Path: name}
	dsn, err := cfg.postgresDSN()
	if err == nil {
		st.Entries, st.Size, st.Missing, err = ledger.StatPostgres(ctx, dsn)
	}
	if err != nil {
		st.Error = err.Error()
		return st
	}
	st.From = "database"
	return st
}

// checkSinks makes each route's cheap sink call, all at once.
func checkSinks(ctx context.Context, cfg *Config, routes []routeStatus, timeout time.Duration, log *slog.Logger) {
	boundRetries(cfg, timeout)
	var wg sync.WaitGroup
	for i := range cfg.Routes {
		rc, r := &cfg.Routes[i], &routes[i]
		r.SinkCheck.URL = sinkURL(cfg, rc)
		wg.Go(func() {
			s, err := newSink(cfg, rc, log)
			if err != nil {
				r.SinkCheck.Error = err.Error()
				return
			}
			r.SinkCheck.Checked = true
			if r.SinkCheck.Note, err = probeSink(ctx, s, timeout); err != nil {
				r.SinkCheck.Error = err.Error()
				return
			}
			r.SinkCheck.Reachable = true
		})
	}
	wg.Wait()
}

// printRouteStatus prints one route's status for a person.
func printRouteStatus(w io.Writer, r *routeStatus, now time.Time) {
	fmt.Fprintf(w, "%s → %s\n", printable(r.Name), printable(r.Sink))
	switch {
	case r.Inbox != "" && r.Note != "":
		fmt.Fprintf(w, "  inbox   %s: %s\n", printable(r.Inbox), printable(r.Note))
	case r.Inbox != "":
		fmt.Fprintf(w, "  inbox   %s: %s\n", printable(r.Inbox), watchText(r.Watch, r.Error))
	}
	if fl := r.Files; fl != nil {
		fmt.Fprintf(w, "  files   %d waiting, %d being written, %d in work, %d failed, %d done today\n",
			fl.Waiting, fl.Writing, fl.InWork, fl.Failed, fl.DoneToday)
		fmt.Fprintf(w, "  last    %s\n", lastText(r.LastImport, now))
	}
	s := r.SinkCheck
	switch {
	case s.Reachable:
		fmt.Fprintf(w, "  sink    %s: reachable (%s)\n", printable(s.URL), printable(s.Note))
	case !s.Checked:
		fmt.Fprintf(w, "  sink    %s: not checked: %s\n", printable(s.URL), printable(s.Error))
	default:
		fmt.Fprintf(w, "  sink    %s: NOT REACHABLE: %s\n", printable(s.URL), printable(s.Error))
	}
}

// watchText says whether a watch runs on an inbox, and how fresh its
// status is; or why the inbox cannot be read (inboxErr).
func watchText(ws *watchState, inboxErr string) string {
	switch {
	case inboxErr != "":
		return "CANNOT BE READ: " + printable(inboxErr)
	case ws == nil:
		return "no watch runs"
	case ws.Error == "" && ws.Status == nil && len(ws.Instances) > 0:
		return fmt.Sprintf("shared by %s: %s (see instances)", plural(int64(len(ws.Instances)), "instance", "instances"), printable(strings.Join(ws.Instances, ", ")))
	case ws.Error == "" && ws.Status == nil:
		return "held by instances of the shared ledger, none of which published its status lately (see instances)"
	case ws.Error != "":
		return fmt.Sprintf("watched by process %d, whose status cannot be read: %s", ws.PID, printable(ws.Error))
	}
	st := ws.Status
	age := time.Duration(ws.Age * float64(time.Second)).Round(time.Second)
	text := fmt.Sprintf("watched by process %d since %s (its status is %s old", ws.PID, st.Started.Local().Format(time.DateTime), age)
	switch {
	case st.Stopping:
		text += ", stopping"
	case ws.Stale:
		text += ", stale: is the watch stuck?"
	}
	text += fmt.Sprintf("); %d queued, %d in progress, %d waiting to be retried", st.Stats.Queued, st.Stats.InProgress, st.Retrying)
	if st.Blocked != "" {
		text += "; CANNOT CLAIM FILES: " + printable(st.Blocked)
	}
	return text
}

// lastText describes the file filed last.
func lastText(l *lastImport, now time.Time) string {
	if l == nil {
		return "nothing filed yet"
	}
	ago := now.Sub(l.At).Round(time.Second)
	text := fmt.Sprintf("%s: %s %s (%s ago, in %s/)", printable(l.File), l.Status, l.At.Local().Format(time.DateTime), ago, l.Folder)
	if l.Error != "" {
		return text + ": " + printable(l.Error)
	}
	var parts []string
	for _, o := range rowOutcomes(l.Counts) {
		if o.n > 0 || o.name == "delivered" {
			parts = append(parts, fmt.Sprintf("%d %s", o.n, o.name))
		}
	}
	return text + fmt.Sprintf(": %s (%s); %s delivered", plural(l.Rows, "row", "rows"), strings.Join(parts, ", "), plural(l.Delivered, "indicator", "indicators"))
}

// ledgerText describes the ledger.
func ledgerText(l ledgerState) string {
	switch {
	case l.Path == "":
		return "none (no ledger: in the config, and no route has an inbox)"
	case l.Error != "":
		return printable(l.Path) + ": CANNOT BE READ: " + printable(l.Error)
	case l.Missing:
		return printable(l.Path) + ": not created yet (nothing was imported with it)"
	}
	src := "read from the " + l.From
	if l.From == "watch" {
		src = "as the watch reports"
	}
	return fmt.Sprintf("%s: %s, %s (%s)", printable(l.Path), plural(int64(l.Entries), "entry", "entries"), byteSize(l.Size), src)
}

// byteSize writes n bytes for a person: 512 B, 32.0 KiB, 1.5 MiB.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 3; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGT"[exp])
}
