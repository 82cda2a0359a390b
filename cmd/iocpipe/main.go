package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK       = 0
	exitFailed   = 1
	exitUsage    = 2
	exitRejected = 3
	// exitInterrupted is a run stopped by a signal (128 + SIGINT).
	exitInterrupted = 130
)

// exitError carries an exit code up to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// env is what a command runs with: its streams and environment, so tests
// can run the whole command in-process.
type env struct {
	stdout, stderr io.Writer
	// stdin is read for the input path "-"; nil is os.Stdin.
	stdin io.Reader
	// isTerminal reports whether stderr is a terminal (progress bar, text
	// logs).
	isTerminal bool
	// stopProfile ends a --cpuprofile.
	stopProfile func()

	// The root's flags: -q, -v, --no-progress, --log-format.
	quiet, verbose, noProgress bool
	logFormat                  string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	e := &env{stdout: os.Stdout, stderr: os.Stderr, isTerminal: isTerminal(os.Stderr)}
	code := run(ctx, e, os.Args[1:])
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the exit code.
func run(ctx context.Context, e *env, args []string) int {
	root := newRoot(e)
	root.SetArgs(args)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	err := root.ExecuteContext(ctx)
	if e.stopProfile != nil {
		e.stopProfile()
	}
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(e.stderr, "iocpipe:", printable(ee.err.Error()))
		}
		return ee.code
	}
	var ce *ConfigError
	if errors.As(err, &ce) {
		fmt.Fprintln(e.stderr, "iocpipe:", printable(err.Error()))
		return exitUsage
	}
	fmt.Fprintln(e.stderr, "iocpipe:", printable(err.Error()))
	if strings.HasPrefix(err.Error(), "required flag") || strings.HasPrefix(err.Error(), "unknown command") {
		return exitUsage
	}
	return exitFailed
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "iocpipe",
		Short: "Bulk-import threat-intelligence indicators into TruSTAR or ThreatWinds",
		Long: `iocpipe reads indicator files (CSV and other delimited text, JSON, JSON Lines,
STIX 2.x, MISP events, OTX pulses), validates and normalizes every row,
batches them, and delivers them to the TruSTAR indicator API or the
ThreatWinds Ingest API.
Every row it cannot deliver is explained: file, line, field and reason.

Exit codes: 0 all delivered; 3 delivered, but some rows or files were
rejected; 1 something valid could not be delivered, or a fatal error;
2 a usage or configuration error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErrorf("%v (see %s --help)", err, c.CommandPath())
	})
	root.Version = versionString()
	root.SetVersionTemplate("iocpipe {{.Version}}\n")
	var cpuProfile string
	root.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile to FILE (for measuring)")
	_ = root.PersistentFlags().MarkHidden("cpuprofile")
	root.PersistentFlags().BoolVarP(&e.quiet, "quiet", "q", false, "print only warnings and errors: no summary text, no progress bar")
	root.PersistentFlags().BoolVarP(&e.verbose, "verbose", "v", false, "log at debug level (as --log-level debug)")
	root.PersistentFlags().BoolVar(&e.noProgress, "no-progress", false, "no progress bar, even on a terminal")
	root.PersistentFlags().StringVar(&e.logFormat, "log-format", "", "log format: text or json (default: text on a terminal, json otherwise)")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if e.quiet && e.verbose {
			return usageErrorf("-q and -v say opposite things: give one")
		}
		switch e.logFormat {
		case "", "text", "json":
		default:
			return usageErrorf("--log-format %q: use text or json", e.logFormat)
		}
		if cpuProfile == "" {
			return nil
		}
		f, err := os.Create(cpuProfile)
		if err != nil {
			return usageErrorf("--cpuprofile: %v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return usageErrorf("--cpuprofile: %v", err)
		}
		e.stopProfile = func() {
			pprof.StopCPUProfile()
			f.Close()
		}
		return nil
	}
	root.AddCommand(newRunCmd(e), newValidateCmd(e), newEmulateCmd(e), newVersionCmd(e), newDefinitionsCmd(e))
	root.AddCommand(newWatchCmd(e))
	root.AddCommand(newInspectCmd(e))
	root.AddCommand(newStatusCmd(e), newRequeueCmd(e), newCheckCmd(e))
	root.AddCommand(newLedgerCmd(e))
	root.AddCommand(newTAXIICmd(e))
	return root
}

// minArgs wraps cobra's argument checks so that their errors exit 2.
func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.MinimumNArgs(n)(cmd, args); err != nil {
			return usageErrorf("%v (see %s --help)", err, cmd.CommandPath())
		}
		return nil
	}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%s takes no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}
