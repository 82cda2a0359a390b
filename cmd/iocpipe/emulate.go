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
}

func newEmulateCmd(e *env) *cobra.Command {
	var f emulateFlags
	cmd := &cobra.Command{
		Use:   "emulate --addr HOST:PORT",
		Short: "Serve the TruSTAR and ThreatWinds emulators until SIGINT or SIGTERM",
		Long: `Serve real HTTP emulators of the TruSTAR API 1.3 (/oauth/token, /api/1.3/...)
and the ThreatWinds Ingest API (/api/ingest/v1/...) on one address, for tests,
benchmarks and trying iocpipe out. They check credentials, roles and bodies as
the APIs do, and can inject faults.

Inspection: GET /_emulator/trustar/submissions (accepted bodies, NDJSON),
GET /_emulator/threatwinds/requests (accepted requests, NDJSON),
GET /_emulator/stats (counts), POST /_emulator/reset (clears both).`,
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

	l, err := net.Listen("tcp", f.addr)
	if err != nil {
		return usageErrorf("--addr %s: %v", f.addr, err)
	}
	srv := &http.Server{Handler: emulatorMux(ts, tw), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	fmt.Fprintf(e.stdout, "listening on http://%s\n", l.Addr())
	fmt.Fprintf(e.stdout, "TruSTAR:     key %q, secret %q (POST /oauth/token, /api/1.3/indicators)\n", f.key, f.secret)
	fmt.Fprintf(e.stdout, "ThreatWinds: api-key/api-secret reporter/reporter (role reporter), trusted/trusted (reporter and trusted); or Bearer reporter / Bearer trusted\n")
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

// emulatorMux serves both emulators on one address, plus the combined
// /_emulator/stats and /_emulator/reset.
func emulatorMux(ts *trustartest.Emulator, tw *threatwindstest.Emulator) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/oauth/", ts)
	mux.Handle("/api/1.3/", ts)
	mux.Handle("/_emulator/trustar/", ts)
	mux.Handle("/api/ingest/", tw)
	mux.Handle("/_emulator/threatwinds/", tw)
	mux.HandleFunc("GET /_emulator/stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"trustar": ts.Stats(), "threatwinds": tw.Stats()})
	})
	mux.HandleFunc("POST /_emulator/reset", func(w http.ResponseWriter, r *http.Request) {
		ts.Reset()
		tw.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error":"no such endpoint: %s %s"}`+"\n", r.Method, strings.ReplaceAll(r.URL.Path, `"`, ""))
	})
	return mux
}
