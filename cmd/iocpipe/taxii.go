package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/iocpipe/iocpipe/pipeline/taxii"
	"github.com/iocpipe/iocpipe/sinks"
)

// taxiiAuthFlags are how a taxii command authenticates: the secrets come
// from environment variables named by the flags, never from the command
// line.
type taxiiAuthFlags struct {
	username    string
	passwordEnv string
	tokenEnv    string
	insecure    bool
}

func (f *taxiiAuthFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.username, "username", "", "HTTP Basic user name (the password comes from --password-env)")
	fl.StringVar(&f.passwordEnv, "password-env", "TAXII_PASSWORD", "environment variable holding the HTTP Basic password")
	fl.StringVar(&f.tokenEnv, "token-env", "TAXII_TOKEN", "environment variable holding a bearer token (instead of HTTP Basic)")
	fl.BoolVar(&f.insecure, "insecure-skip-verify", false, "turn TLS certificate verification off (for tests only; a warning is logged)")
}

// options returns the client options of the flags, reading the secrets
// from the environment: Basic when --username is given or the password
// variable is set, a bearer token when the token variable is set; both
// is a usage error.
func (f *taxiiAuthFlags) options() (taxii.Options, error) {
	var o taxii.Options
	_, hasPass := os.LookupEnv(f.passwordEnv)
	_, hasToken := os.LookupEnv(f.tokenEnv)
	if hasToken && os.Getenv(f.tokenEnv) != "" {
		if f.username != "" || (hasPass && os.Getenv(f.passwordEnv) != "") {
			return o, usageErrorf("both a token (%s) and HTTP Basic credentials (--username, %s) are given: give one", f.tokenEnv, f.passwordEnv)
		}
		t, err := secretFromEnv(f.tokenEnv)
		if err != nil {
			return o, usageErrorf("--token-env: %v", err)
		}
		o.Token = t
		return o, nil
	}
	if f.username != "" || (hasPass && os.Getenv(f.passwordEnv) != "") {
		p, err := secretFromEnv(f.passwordEnv)
		if err != nil {
			return o, usageErrorf("--password-env: %v", err)
		}
		o.Username, o.Password = f.username, p
	}
	return o, nil
}

func newTAXIICmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "taxii",
		Short: "Look at TAXII 2.1 servers",
		Long: `Commands for TAXII 2.1 servers, the collections a taxii: route polls.
iocpipe reads TAXII 2.1 only; a TAXII 2.0 server is refused with a message
naming the version it offers.`,
		Args: noArgs,
	}
	cmd.AddCommand(newTAXIIDiscoverCmd(e))
	return cmd
}

// taxiiDiscoverFlags configure iocpipe taxii discover.
type taxiiDiscoverFlags struct {
	auth     taxiiAuthFlags
	json     bool
	timeout  time.Duration
	logLevel string
}

func newTAXIIDiscoverCmd(e *env) *cobra.Command {
	var f taxiiDiscoverFlags
	cmd := &cobra.Command{
		Use:   "discover URL",
		Short: "List a TAXII 2.1 server's API roots and collections",
		Long: `Ask a TAXII 2.1 server's discovery endpoint (URL, or URL/taxii2/ when URL
has no path) for its API roots, and list each root's collections: id, title,
alias, can_read, can_write and media types — what a taxii: route's url (an
API root) and collection (an id, title or alias) take. URL may also be an
API root itself.

Credentials come from the environment: HTTP Basic with --username and the
password in the variable named by --password-env (TAXII_PASSWORD), or a
bearer token in the variable named by --token-env (TAXII_TOKEN).
Against iocpipe emulate:

  TAXII_PASSWORD=demo iocpipe taxii discover --username demo http://127.0.0.1:8080/taxii2/

Exit codes: 0 listed; 1 the server could not be reached, refused the
credentials, or is not a TAXII 2.1 server (an API root that fails is listed
with its error); 2 a usage error.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("%s takes one URL, got %d arguments (see --help)", cmd.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return taxiiDiscover(cmd.Context(), e, &f, args[0])
		},
	}
	f.auth.register(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&f.json, "json", false, "print the listing as JSON on stdout")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "how long each request may take, retries included")
	fl.StringVar(&f.logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	return cmd
}

// taxiiListing is what taxii discover prints (--json prints it as is).
type taxiiListing struct {
	// Discovery is nil when the URL was an API root.
	Discovery *taxii.Discovery `json:"discovery"`
	APIRoots  []taxiiRootInfo  `json:"api_roots"`
}

// taxiiRootInfo is one API root with its collections, or its error.
type taxiiRootInfo struct {
	taxii.APIRoot
	Default     bool               `json:"default,omitempty"`
	Collections []taxii.Collection `json:"collections"`
	Error       string             `json:"error,omitempty"`
}

func taxiiDiscover(ctx context.Context, e *env, f *taxiiDiscoverFlags, u string) error {
	log, err := newLogger(e, f.logLevel)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return usageErrorf("%q: give an http:// or https:// URL", u)
	}
	opts, err := f.auth.options()
	if err != nil {
		return err
	}
	if f.auth.insecure {
		log.Warn("TLS verification is OFF (--insecure-skip-verify): anyone on the path can read and change what is received", "url", u)
	}
	opts.Logger = log
	opts.HTTP = sinks.HTTPOptions{Timeout: f.timeout, RetryDeadline: f.timeout, InsecureSkipVerify: f.auth.insecure, MaxConns: 2}
	c, err := taxii.New(opts)
	if err != nil {
		return usageErrorf("%v", err)
	}
	listing, err := discoverListing(ctx, c, u)
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	if f.json {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(listing); err != nil {
			return err
		}
	} else {
		printListing(e.stdout, listing)
	}
	for _, r := range listing.APIRoots {
		if r.Error != "" {
			return &exitError{code: exitFailed, err: fmt.Errorf("API root %s: %s", r.URL, r.Error)}
		}
	}
	return nil
}

// discoverListing reads discovery at u, or takes u as an API root when it
// answers one (or discovery is not found there), and lists each root.
func discoverListing(ctx context.Context, c *taxii.Client, u string) (taxiiListing, error) {
	var l taxiiListing
	roots := []string{u}
	d, err := c.Discover(ctx, u)
	switch {
	case err == nil:
		l.Discovery, roots = &d, d.APIRoots
	case errors.Is(err, taxii.ErrNotDiscovery) || errors.Is(err, taxii.ErrNotFound):
		// u is an API root, or a server without discovery at that path.
	default:
		return l, err
	}
	for _, r := range roots {
		info := taxiiRootInfo{APIRoot: taxii.APIRoot{URL: r}, Default: l.Discovery != nil && r == l.Discovery.Default}
		root, err := c.APIRoot(ctx, r)
		if err == nil {
			info.APIRoot = root
			info.Collections, err = c.Collections(ctx, r)
		}
		if err != nil {
			if l.Discovery == nil {
				return l, err // the one URL given is neither
			}
			info.Error = err.Error()
		}
		if info.Collections == nil {
			info.Collections = []taxii.Collection{}
		}
		l.APIRoots = append(l.APIRoots, info)
	}
	return l, nil
}

// printListing prints a listing as text: each API root, then a table of
// its collections.
func printListing(w io.Writer, l taxiiListing) {
	if d := l.Discovery; d != nil {
		fmt.Fprintf(w, "TAXII server %s: %s; API roots: %d\n", d.URL, printable(d.Title), len(d.APIRoots))
	}
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	for _, r := range l.APIRoots {
		def := ""
		if r.Default {
			def = " (default)"
		}
		fmt.Fprintf(w, "\nAPI root %s%s", r.URL, def)
		if r.Error != "" {
			fmt.Fprintf(w, ": FAILED: %s\n", printable(r.Error))
			continue
		}
		fmt.Fprintf(w, ": %s; versions %s\n", printable(r.Title), strings.Join(r.Versions, ", "))
		if len(r.Collections) == 0 {
			fmt.Fprintln(w, "  no collections")
			continue
		}
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  ID\tTITLE\tALIAS\tCAN_READ\tCAN_WRITE\tMEDIA TYPES")
		for _, c := range r.Collections {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", printable(c.ID), printable(c.Title), printable(c.Alias),
				yes(c.CanRead), yes(c.CanWrite), printable(strings.Join(c.MediaTypes, ", ")))
		}
		tw.Flush()
	}
}
