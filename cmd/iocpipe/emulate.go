package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/iocpipe/iocpipe/pipeline/taxii/taxiitest"
	"github.com/iocpipe/iocpipe/sinks/faults"
	"github.com/iocpipe/iocpipe/sinks/threatwinds/threatwindstest"
	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

// emulateFlags configure iocpipe emulate.
type emulateFlags struct {
	addr          string
	key, secret   string
	enclaves      []string
	rateLimit     int
	record        bool
	tokenTTL      time.Duration
	scanStep      time.Duration
	failRate      float64
	failStatus    int
	dropRate      float64
	latency       time.Duration
	outage        time.Duration
	rejectPattern string
	seed          uint64
	logLevel      string
	taxii         taxiiEmulateFlags
}

// taxiiEmulateFlags configure the TAXII emulator of iocpipe emulate.
type taxiiEmulateFlags struct {
	username, password string
	pageSize           int
	demoObjects        int
	sameDateAdded      int
	rateLimitEvery     int
	retryAfter         time.Duration
	failRate           float64
	failStatus         int
	latency            time.Duration
	noNext             bool
}

func newEmulateCmd(e *env) *cobra.Command {
	var f emulateFlags
	cmd := &cobra.Command{
		Use:   "emulate --addr HOST:PORT",
		Short: "Serve the TruSTAR, ThreatWinds and TAXII 2.1 emulators until SIGINT or SIGTERM",
		Long: `Serve real HTTP emulators of the TruSTAR API 1.3 (/oauth/token, /api/1.3/...),
the ThreatWinds Ingest API (/api/ingest/v1/...) and a TAXII 2.1 server
(/taxii2/) on one address, for tests, benchmarks and trying iocpipe out. They
check credentials, roles, media types and bodies as the APIs do, and can
inject faults.

TAXII 2.1: HTTP Basic demo/demo; discovery GET /taxii2/; one API root,
/taxii2/api1/, with the collections "Demo indicators" (alias demo, id
` + taxiitest.DemoCollectionID + `, a few dozen STIX 2.1
indicators, the same on every start), "scratch" (empty, writable) and
"Locked" (can_read false). The --taxii-* flags inject its faults, on the
objects endpoint only (--fail-rate and the other faults apply to TruSTAR and
ThreatWinds). POST /_emulator/taxii/collections/{id}/objects adds a STIX
bundle or a TAXII envelope {"objects": [...]} while a client polls
(?date_added=same gives them one date_added, =last the collection's latest).

Inspection: GET /_emulator/trustar/submissions (accepted bodies, NDJSON),
GET /_emulator/threatwinds/requests (accepted requests, NDJSON),
GET /_emulator/stats (counts), POST /_emulator/reset (clears all three: the
TAXII collections go back to their first content, scratch empty).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return emulate(cmd.Context(), e, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free one)")
	fl.StringVar(&f.key, "trustar-key", "demo", "TruSTAR API key the emulator accepts")
	fl.StringVar(&f.secret, "trustar-secret", "demo", "TruSTAR API secret the emulator accepts")
	fl.StringSliceVar(&f.enclaves, "enclaves", nil, "TruSTAR enclave UUIDs accepted (default: any UUID)")
	fl.IntVar(&f.rateLimit, "rate-limit", 0, "TruSTAR calls per minute per user (client id, whatever its token) before 429 (0 = off)")
	fl.BoolVar(&f.record, "record", true, "keep accepted bodies for /_emulator/... (turn off for benchmarks)")
	fl.DurationVar(&f.tokenTTL, "token-ttl", trustartest.DefaultTokenTTL, "TruSTAR token lifetime")
	fl.DurationVar(&f.scanStep, "scan-step", threatwindstest.DefaultScanStep, "time a ThreatWinds scan spends in each state")
	fl.Float64Var(&f.failRate, "fail-rate", 0, "share of API requests answered with --fail-status")
	fl.IntVar(&f.failStatus, "fail-status", 500, "status of injected failures (429 carries a wait hint)")
	fl.Float64Var(&f.dropRate, "drop-rate", 0, "share of API requests whose connection is closed with no answer")
	fl.DurationVar(&f.latency, "latency", 0, "delay added to every API request")
	fl.DurationVar(&f.outage, "outage", 0, "answer every API request with 503 for this long after start")
	fl.StringVar(&f.rejectPattern, "reject-pattern", "", "answer 400 to any request whose body matches this regular expression")
	fl.Uint64Var(&f.seed, "seed", 0, "seed of the injected faults (0 = fixed default)")
	fl.StringVar(&f.logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	t := &f.taxii
	fl.StringVar(&t.username, "taxii-username", "demo", "TAXII HTTP Basic user name the emulator accepts")
	fl.StringVar(&t.password, "taxii-password", "demo", "TAXII HTTP Basic password the emulator accepts")
	fl.IntVar(&t.pageSize, "taxii-page-size", taxiitest.DefaultPageSize, "TAXII: the most objects a page holds, whatever limit the client asks for")
	fl.IntVar(&t.demoObjects, "taxii-demo-objects", taxiitest.DefaultDemoObjects, "TAXII: how many indicators the demo collection holds")
	fl.IntVar(&t.sameDateAdded, "taxii-same-date-added", 1, "TAXII: demo indicators come in runs of this many sharing one date_added, across page boundaries")
	fl.IntVar(&t.rateLimitEvery, "taxii-429-every", 0, "TAXII: answer 429 with Retry-After to every n-th objects request (0 = off)")
	fl.DurationVar(&t.retryAfter, "taxii-retry-after", time.Second, "TAXII: the Retry-After of those 429s (whole seconds, rounded up)")
	fl.Float64Var(&t.failRate, "taxii-fail-rate", 0, "TAXII: share of objects requests answered with --taxii-fail-status")
	fl.IntVar(&t.failStatus, "taxii-fail-status", 503, "TAXII: status of injected failures")
	fl.DurationVar(&t.latency, "taxii-latency", 0, "TAXII: delay added to every objects page (slow pages)")
	fl.BoolVar(&t.noNext, "taxii-no-next", false, "TAXII: leave next out of the envelopes (clients page by added_after alone)")
	return cmd
}

func emulate(ctx context.Context, e *env, f *emulateFlags) error {
	log, err := newLogger(e, f.logLevel)
	if err != nil {
		return err
	}
	fo := faults.Options{FailRate: f.failRate, FailStatus: f.failStatus, DropRate: f.dropRate, Latency: f.latency, Outage: f.outage, Seed: f.seed}
	if f.failRate < 0 || f.failRate > 1 || f.dropRate < 0 || f.dropRate > 1 {
		return usageErrorf("--fail-rate and --drop-rate are shares from 0 to 1")
	}
	if f.rejectPattern != "" {
		re, err := regexp.Compile(f.rejectPattern)
		if err != nil {
			return usageErrorf("--reject-pattern: %v", err)
		}
		fo.RejectPattern = re
	}
	ts := trustartest.New(trustartest.Options{
		Key: f.key, Secret: f.secret, Enclaves: f.enclaves, TokenTTL: f.tokenTTL,
		RateLimit: f.rateLimit, NoRecord: !f.record, Faults: fo, Logger: log,
	})
	tw := threatwindstest.New(threatwindstest.Options{ScanStep: f.scanStep, NoRecord: !f.record, Faults: fo, Logger: log})
	defer tw.Close()
	t := f.taxii
	if t.failRate < 0 || t.failRate > 1 {
		return usageErrorf("--taxii-fail-rate is a share from 0 to 1")
	}
	if t.pageSize < 1 || t.demoObjects < 1 || t.sameDateAdded < 1 || t.rateLimitEvery < 0 {
		return usageErrorf("--taxii-page-size, --taxii-demo-objects and --taxii-same-date-added are at least 1, --taxii-429-every at least 0")
	}
	tx := taxiitest.New(taxiitest.Options{
		Username: t.username, Password: t.password, PageSize: t.pageSize, DemoObjects: t.demoObjects,
		SameDateAdded: t.sameDateAdded, RateLimitEvery: t.rateLimitEvery, RetryAfter: t.retryAfter, NoNext: t.noNext,
		Faults: faults.Options{FailRate: t.failRate, FailStatus: t.failStatus, Latency: t.latency, Seed: f.seed},
		Logger: log,
	})

	l, err := net.Listen("tcp", f.addr)
	if err != nil {
		return usageErrorf("--addr %s: %v", f.addr, err)
	}
	srv := &http.Server{Handler: emulatorMux(ts, tw, tx), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	fmt.Fprintf(e.stdout, "listening on http://%s\n", l.Addr())
	fmt.Fprintf(e.stdout, "TruSTAR:     key %q, secret %q (POST /oauth/token, /api/1.3/indicators)\n", f.key, f.secret)
	fmt.Fprintf(e.stdout, "ThreatWinds: api-key/api-secret reporter/reporter (role reporter), trusted/trusted (reporter and trusted); or Bearer reporter / Bearer trusted\n")
	fmt.Fprintf(e.stdout, "TAXII 2.1:   Basic %q/%q; discovery /taxii2/, API root %s, collections %q (%s), %q, %q\n",
		t.username, t.password, taxiitest.APIRootPath, taxiitest.DemoTitle, taxiitest.DemoCollectionID, taxiitest.ScratchTitle, taxiitest.LockedTitle)
	fmt.Fprintf(e.stdout, "inspect:     GET /_emulator/stats, /_emulator/trustar/submissions, /_emulator/threatwinds/requests; POST /_emulator/reset\n")

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// emulatorMux serves the three emulators on one address, plus the
// combined /_emulator/stats and /_emulator/reset.
func emulatorMux(ts *trustartest.Emulator, tw *threatwindstest.Emulator, tx *taxiitest.Emulator) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/oauth/", ts)
	mux.Handle("/api/1.3/", ts)
	mux.Handle("/_emulator/trustar/", ts)
	mux.Handle("/api/ingest/", tw)
	mux.Handle("/_emulator/threatwinds/", tw)
	mux.Handle(taxiitest.DiscoveryPath, tx)
	mux.Handle("/_emulator/taxii/", tx)
	mux.HandleFunc("GET /_emulator/stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"trustar": ts.Stats(), "threatwinds": tw.Stats(), "taxii": tx.Stats()})
	})
	mux.HandleFunc("POST /_emulator/reset", func(w http.ResponseWriter, r *http.Request) {
		ts.Reset()
		tw.Reset()
		tx.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error":"no such endpoint: %s %s"}`+"\n", r.Method, strings.ReplaceAll(r.URL.Path, `"`, ""))
	})
	return mux
}
