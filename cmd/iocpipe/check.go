package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/iocpipe/iocpipe/pipeline/taxii"
)

// checkFlags configure iocpipe check.
type checkFlags struct {
	config   string
	timeout  time.Duration
	logLevel string
}

func newCheckCmd(e *env) *cobra.Command {
	var f checkFlags
	cmd := &cobra.Command{
		Use:   "check [--config FILE]",
		Short: "Check the configuration and reach every route's sink with its credentials",
		Long: `Load the configuration, resolve each route's enclaves, find each taxii:
route's collection (readable, with its credentials), and reach each route's
sink with its credentials from the environment: TruSTAR issues a token and
lists the enclaves the credentials may submit to (each route's must be among
them, unless the API lists none); ThreatWinds answers GET /definitions (a 403
there means the credentials lack the trusted role, which only well-known
routes need). One line per check, ok or FAILED with the reason, as Filebeat's
"test output" prints. Nothing is sent.

Exit codes: 0 every check passed; 1 one failed; 2 a usage error (no
configuration found).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return check(cmd.Context(), e, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", configHelp)
	fl.DurationVar(&f.timeout, "timeout", 10*time.Second, "how long each sink may take to answer, retries included")
	fl.StringVar(&f.logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	return cmd
}

// A checker is a sink that can tell, with one cheap call, whether it can
// deliver (trustar.Client, threatwinds.Client): the note says what it
// found.
type checker interface {
	Check(ctx context.Context) (note string, err error)
}

// An enclaveChecker is a sink that can tell whether its credentials may
// submit to the given enclaves (trustar.Client).
type enclaveChecker interface {
	CheckEnclaves(ctx context.Context, ids []string) (note string, err error)
}

// checkPrinter prints check lines and remembers whether one failed.
type checkPrinter struct {
	w      io.Writer
	failed bool
}

// line prints "what: ok (note)" or "what: FAILED: err".
func (p *checkPrinter) line(what, note string, err error) {
	switch {
	case err != nil:
		p.failed = true
		fmt.Fprintf(p.w, "%s: FAILED: %s\n", what, printable(err.Error()))
	case note != "":
		fmt.Fprintf(p.w, "%s: ok (%s)\n", what, printable(note))
	default:
		fmt.Fprintf(p.w, "%s: ok\n", what)
	}
}

func check(ctx context.Context, e *env, f *checkFlags) error {
	log, err := newLogger(e, f.logLevel)
	if err != nil {
		return err
	}
	if f.timeout <= 0 {
		return usageErrorf("--timeout must be positive")
	}
	path, from, err := findConfig(f.config)
	if err != nil {
		return err
	}
	p := &checkPrinter{w: e.stdout}
	cfg, err := LoadConfig(path)
	if err != nil {
		p.line("config "+path, "", err)
		return &exitError{code: exitFailed}
	}
	p.line("config "+path, fmt.Sprintf("from %s; %s", from, plural(int64(len(cfg.Routes)), "route", "routes")), nil)
	boundRetries(cfg, f.timeout)
	for i := range cfg.Routes {
		rc := &cfg.Routes[i]
		what := "route " + rc.Name
		if len(rc.Enclaves) > 0 {
			p.line(what+": enclaves", resolvedEnclaves(cfg, rc), nil)
		}
		if rc.TAXII != nil {
			note, err := checkTAXII(ctx, cfg, rc, f.timeout, log)
			p.line(what+": taxii "+rc.TAXII.URL+": collection", note, err)
		}
		s, err := newSink(cfg, rc, log)
		if err != nil {
			p.line(what+": "+sinkTitle(cfg, rc)+": credentials", "", err)
			continue
		}
		note, err := probeSink(ctx, s, f.timeout)
		p.line(what+": "+sinkTitle(cfg, rc)+": credentials", note, err)
		if ec, ok := s.(enclaveChecker); ok && err == nil {
			cctx, cancel := context.WithTimeout(ctx, f.timeout)
			note, err := ec.CheckEnclaves(cctx, cfg.PipelineRoute(rc).Enclaves)
			cancel()
			p.line(what+": "+rc.Sink+": enclaves", note, err)
		}
	}
	if p.failed {
		return &exitError{code: exitFailed}
	}
	return nil
}

// checkTAXII finds route rc's TAXII collection with its credentials,
// within timeout, as watch does at start: the note names it and its
// media types.
func checkTAXII(ctx context.Context, cfg *Config, rc *RouteConfig, timeout time.Duration, log *slog.Logger) (string, error) {
	opts, err := cfg.taxiiOptions(rc, log)
	if err != nil {
		return "", err
	}
	client, err := taxii.New(opts)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	col, err := client.Resolve(ctx, rc.TAXII.URL, rc.TAXII.Collection)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%q, id %s, readable, %s", col.Title, col.ID, strings.Join(col.MediaTypes, ", ")), nil
}

// probeSink makes a sink's cheap call (see checker), within timeout.
func probeSink(ctx context.Context, s sink, timeout time.Duration) (string, error) {
	c, ok := s.(checker)
	if !ok {
		return "not checked: this kind of sink has no check", nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return c.Check(ctx)
}

// boundRetries makes every sink of cfg give up after d, retries included:
// check and status ask once, and say what they found.
func boundRetries(cfg *Config, d time.Duration) {
	for i := range sinkKinds {
		if s := sinkKinds[i].section(&cfg.Sinks); s != nil {
			dc := s.delivery()
			dc.Timeout, dc.RetryDeadline = Duration(d), Duration(d)
		}
	}
}

// sinkTitle names a route's sink and the URL it reaches.
func sinkTitle(cfg *Config, rc *RouteConfig) string {
	if u := sinkURL(cfg, rc); u != "" {
		return rc.Sink + " " + u
	}
	return rc.Sink
}

// sinkURL returns the URL of a route's sink ("" when unknown).
func sinkURL(cfg *Config, rc *RouteConfig) string {
	if k := lookupSink(rc.Sink); k != nil {
		if u, ok := k.section(&cfg.Sinks).(interface{ apiURL() string }); ok {
			return u.apiURL()
		}
	}
	return ""
}

// resolvedEnclaves says what a route's enclaves resolved to.
func resolvedEnclaves(cfg *Config, rc *RouteConfig) string {
	parts := make([]string, len(rc.Enclaves))
	for i, e := range rc.Enclaves {
		id, _ := cfg.resolveEnclave(e) // validate resolved them all
		parts[i] = e
		if !strings.EqualFold(id, e) {
			parts[i] = e + " = " + id
		}
	}
	return strings.Join(parts, ", ")
}
