// Command iocbench benchmarks `iocpipe run` against a bare import loop.
//
// It generates CSV indicator files of N and 2N rows as demanding as real
// feeds (a quarter each IPv4, domains, URLs and SHA-256s; 0 to 3 tags a
// row; a third of the timestamps with ±hh:mm offsets; quoted fields with
// commas and doubled quotes; see writeCSV), builds iocpipe,
// starts `iocpipe emulate`, and imports each file twice through the
// emulator's TruSTAR API: once with `iocpipe run`, once with a minimal
// loop (encoding/csv, encoding/json, four concurrent POSTs) that iocbench
// runs by re-executing itself with the hidden "bare" subcommand. Both are
// child processes, measured alike: wall time, user+system CPU and peak
// RSS. After every run the emulator must have accepted exactly the file's
// rows.
//
// It prints a table and checks three targets: iocpipe's CPU at most 3×
// the bare loop's, iocpipe's peak RSS under 150 MiB, and iocpipe's wall
// time growing linearly (time(2N)/time(N) ≈ 2). Failed targets exit 1
// only with --strict; a failed run always exits 1.
//
// Usage, from inside the module:
//
//	go run ./cmd/iocbench [--rows N] [--linearity=false] [--dir DIR] [--keep] [--strict] [--iocpipe-args "..."]
//	go run ./cmd/iocbench stix [--mb 200]   # a large STIX bundle: memory must stay flat
//	go run ./cmd/iocbench cluster [--files 300] [--instances 3]   # make cluster-demo: a shared inbox, one instance killed
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// benchEnclave is the enclave every benchmark submission goes to.
const benchEnclave = "11111111-2222-4333-8444-555555555555"

// Targets.
const (
	maxCPURatio     = 3.0
	maxRSSMiB       = 150.0
	linearRatio     = 2.0
	linearTolerance = 0.4 // time(2N)/time(N) within 2 ± this passes
)

// options are iocbench's flags.
type options struct {
	rows        int
	dir         string
	keep        bool
	linearity   bool
	strict      bool
	iocpipeArgs string
	seed        uint64
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// run runs iocbench with the command-line args and returns the exit code.
func run(ctx context.Context, args []string) int {
	if len(args) > 0 && args[0] == stixCommand {
		if err := runSTIX(ctx, args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "iocbench:", err)
			return 1
		}
		return 0
	}
	if len(args) > 0 && args[0] == clusterCommand {
		if err := runCluster(ctx, args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "iocbench:", err)
			return 1
		}
		return 0
	}
	if len(args) > 0 && args[0] == bareCommand {
		if err := runBare(ctx, args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "iocbench:", err)
			return 1
		}
		return 0
	}
	var o options
	fs := flag.NewFlagSet("iocbench", flag.ContinueOnError)
	fs.IntVar(&o.rows, "rows", 1_000_000, "rows of the benchmark file (N)")
	fs.StringVar(&o.dir, "dir", "", "folder for the generated files, binary and config (default: a new temporary folder, removed at the end)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary folder")
	fs.BoolVar(&o.linearity, "linearity", true, "also run 2N rows, to check that time grows linearly")
	fs.BoolVar(&o.strict, "strict", false, "exit 1 when a target is missed")
	fs.StringVar(&o.iocpipeArgs, "iocpipe-args", "", "extra flags for `iocpipe run`, space-separated")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the generated files")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || o.rows < 1 {
		fmt.Fprintln(os.Stderr, "iocbench: takes no arguments, and --rows must be positive")
		return 2
	}
	passed, err := bench(ctx, o)
	switch {
	case err != nil:
		fmt.Fprintln(os.Stderr, "iocbench:", err)
		return 1
	case !passed && o.strict:
		return 1
	}
	return 0
}

// bench runs the whole benchmark and prints its results; passed reports
// whether every target was met.
func bench(ctx context.Context, o options) (passed bool, err error) {
	dir, cleanup, err := workDir(o)
	if err != nil {
		return false, err
	}
	defer cleanup()

	sizes := []int{o.rows}
	if o.linearity {
		sizes = append(sizes, 2*o.rows)
	}
	files := map[int]string{}
	var mix genStats
	for _, n := range sizes {
		path := filepath.Join(dir, fmt.Sprintf("indicators-%d.csv", n))
		start := time.Now()
		st, err := generateFile(path, n, o.seed)
		if err != nil {
			return false, err
		}
		logf("generated %s in %.1fs", path, time.Since(start).Seconds())
		if n == o.rows {
			mix = st
		}
		files[n] = path
	}

	bin, err := buildIocpipe(ctx, dir)
	if err != nil {
		return false, err
	}
	emu, err := startEmulator(bin)
	if err != nil {
		return false, err
	}
	defer emu.stop()
	logf("emulator at %s", emu.url)
	cfg := filepath.Join(dir, "bench.yaml")
	if err := writeConfig(cfg, emu.url); err != nil {
		return false, err
	}
	self, err := os.Executable()
	if err != nil {
		return false, fmt.Errorf("finding iocbench's own binary: %w", err)
	}

	var results []pair
	for _, n := range sizes {
		args := append([]string{"run", "--config", cfg}, strings.Fields(o.iocpipeArgs)...)
		args = append(args, files[n])
		ioc, err := runOne(ctx, emu, "iocpipe", n, exec.CommandContext(ctx, bin, args...))
		if err != nil {
			return false, err
		}
		bare, err := runOne(ctx, emu, "bare loop", n,
			exec.CommandContext(ctx, self, bareCommand, "--url", emu.url, "--file", files[n], "--enclave", benchEnclave))
		if err != nil {
			return false, err
		}
		results = append(results, pair{iocpipe: ioc, bare: bare})
	}

	fmt.Printf("\niocbench: %s/%s, %d CPUs, %s\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	fmt.Printf("rows (seed %d): %s\n\n", o.seed, mix)
	printTable(os.Stdout, results)
	fmt.Println()
	return printVerdicts(os.Stdout, results), nil
}

// workDir returns the folder to work in and a function that removes it
// if iocbench created it and --keep is off. A folder given with --dir is
// never removed.
func workDir(o options) (string, func(), error) {
	if o.dir != "" {
		if err := os.MkdirAll(o.dir, 0o755); err != nil {
			return "", nil, fmt.Errorf("--dir: %w", err)
		}
		return o.dir, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "iocbench-")
	if err != nil {
		return "", nil, fmt.Errorf("creating a temporary folder: %w", err)
	}
	if o.keep {
		return dir, func() { logf("kept %s", dir) }, nil
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// buildIocpipe builds ./cmd/iocpipe of the module iocbench runs in into
// dir and returns the binary's path.
func buildIocpipe(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside a Go module: run iocbench from the iocpipe module")
	}
	bin := filepath.Join(dir, "iocpipe")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/iocpipe")
	cmd.Dir = filepath.Dir(gomod)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building iocpipe in %s: %w", cmd.Dir, err)
	}
	logf("built %s in %.1fs", bin, time.Since(start).Seconds())
	return bin, nil
}

// writeConfig writes the benchmark's iocpipe configuration: the emulator
// as TruSTAR sink, no rate limit, four requests in flight, one route.
func writeConfig(path, url string) error {
	cfg := fmt.Sprintf(`sinks:
  trustar:
    url: %s
    rate_limit: 0
    in_flight: 4
enclaves:
  Bench: %s
routes:
  - name: bench
    sink: trustar
    enclaves: [Bench]
    tags: [bench]
    source: iocbench
`, url, benchEnclave)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return fmt.Errorf("writing the config: %w", err)
	}
	return nil
}

// runOne resets the emulator, runs cmd with the emulator's credentials,
// measures it, and checks that the emulator received exactly rows
// indicators.
func runOne(ctx context.Context, emu *emulator, name string, rows int, cmd *exec.Cmd) (result, error) {
	if err := emu.reset(ctx); err != nil {
		return result{}, err
	}
	cmd.Env = append(os.Environ(), "TRUSTAR_API_KEY=demo", "TRUSTAR_API_SECRET=demo")
	res, err := measure(name, rows, cmd)
	if err != nil {
		return res, err
	}
	if err := emu.checkDelivered(ctx, name, rows); err != nil {
		return res, err
	}
	logf("%s, %d rows: %.2fs wall, %.2fs CPU, %.1f MiB peak RSS", name, rows, res.Wall.Seconds(), res.CPU.Seconds(), mib(res.MaxRSS))
	return res, nil
}

// A pair is the iocpipe run and the bare loop's run of one file.
type pair struct{ iocpipe, bare result }

// printTable prints one line per run.
func printTable(w io.Writer, results []pair) {
	fmt.Fprintf(w, "%-10s %10s %8s %8s %14s %10s\n", "run", "rows", "wall s", "CPU s", "peak RSS MiB", "rows/s")
	for _, p := range results {
		for _, r := range []result{p.iocpipe, p.bare} {
			fmt.Fprintf(w, "%-10s %10d %8.2f %8.2f %14.1f %10.0f\n", r.Name, r.Rows, r.Wall.Seconds(), r.CPU.Seconds(), mib(r.MaxRSS), r.RowsPerSec())
		}
	}
}

// printVerdicts prints the ratios and whether each target is met, and
// reports whether all are. results holds N's runs, then 2N's if
// linearity was checked.
func printVerdicts(w io.Writer, results []pair) bool {
	all := true
	verdict := func(label, value, target string, ok bool) {
		v := "PASS"
		if !ok {
			v, all = "FAIL", false
		}
		fmt.Fprintf(w, "%-36s %10s   target %-12s %s\n", label, value, target, v)
	}
	info := func(label, value string) { fmt.Fprintf(w, "%-36s %10s\n", label, value) }

	worstCPU, worstRSS := 0.0, 0.0
	for _, p := range results {
		ratio := p.iocpipe.CPU.Seconds() / p.bare.CPU.Seconds()
		info(fmt.Sprintf("iocpipe CPU / bare CPU (%d rows)", p.iocpipe.Rows), fmt.Sprintf("%.2f", ratio))
		info(fmt.Sprintf("iocpipe rows/s (%d rows)", p.iocpipe.Rows), fmt.Sprintf("%.0f", p.iocpipe.RowsPerSec()))
		worstCPU = max(worstCPU, ratio)
		worstRSS = max(worstRSS, mib(p.iocpipe.MaxRSS))
	}
	verdict("iocpipe CPU / bare CPU (worst)", fmt.Sprintf("%.2f", worstCPU), fmt.Sprintf("<= %.0f", maxCPURatio), worstCPU <= maxCPURatio)
	verdict("iocpipe peak RSS (worst)", fmt.Sprintf("%.1f MiB", worstRSS), fmt.Sprintf("< %.0f MiB", maxRSSMiB), worstRSS < maxRSSMiB)
	if len(results) == 2 {
		n, n2 := results[0], results[1]
		lin := n2.iocpipe.Wall.Seconds() / n.iocpipe.Wall.Seconds()
		verdict("iocpipe wall time(2N) / time(N)", fmt.Sprintf("%.2f", lin), fmt.Sprintf("%.0f ± %.1f", linearRatio, linearTolerance),
			lin >= linearRatio-linearTolerance && lin <= linearRatio+linearTolerance)
		info("iocpipe CPU time(2N) / time(N)", fmt.Sprintf("%.2f", n2.iocpipe.CPU.Seconds()/n.iocpipe.CPU.Seconds()))
		info("bare loop wall time(2N) / time(N)", fmt.Sprintf("%.2f", n2.bare.Wall.Seconds()/n.bare.Wall.Seconds()))
	}
	return all
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "iocbench: "+format+"\n", args...)
}
