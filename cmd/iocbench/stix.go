package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// stixCommand is the subcommand that measures a large STIX bundle.
const stixCommand = "stix"

// runSTIX generates a STIX 2.1 bundle of about --mb megabytes (indicators
// with OR patterns, observables, sightings that point back, relationships
// that point forward), imports it with `iocpipe run` into the emulator,
// and prints iocpipe's wall time, CPU and peak RSS. The reader streams the
// bundle in two passes, so memory must stay flat: target < 150 MiB.
func runSTIX(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("iocbench stix", flag.ContinueOnError)
	mb := fs.Int("mb", 200, "size of the generated bundle, in MB")
	dirFlag := fs.String("dir", "", "folder for the bundle and binary (default: a temporary folder, removed at the end)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, cleanup, err := workDir(options{dir: *dirFlag})
	if err != nil {
		return err
	}
	defer cleanup()
	path := filepath.Join(dir, "bundle.json")
	start := time.Now()
	groups, err := generateBundle(path, int64(*mb)<<20)
	if err != nil {
		return err
	}
	fi, _ := os.Stat(path)
	logf("generated %s (%.0f MB, %d indicators) in %.1fs", path, float64(fi.Size())/1e6, groups, time.Since(start).Seconds())
	bin, err := buildIocpipe(ctx, dir)
	if err != nil {
		return err
	}
	emu, err := startEmulator(bin)
	if err != nil {
		return err
	}
	defer emu.stop()
	cfg := filepath.Join(dir, "bench.yaml")
	if err := writeConfig(cfg, emu.url); err != nil {
		return err
	}
	// Three distinct indicators per group: two from the pattern, one URL
	// observable.
	res, err := runOne(ctx, emu, "iocpipe (STIX)", 3*groups, exec.CommandContext(ctx, bin, "run", "--config", cfg, path))
	if err != nil {
		return err
	}
	verdict := "PASS"
	if mib(res.MaxRSS) >= maxRSSMiB {
		verdict = "FAIL"
	}
	fmt.Printf("\nSTIX bundle %.0f MB, %d objects: %.2fs wall, %.2fs CPU, peak RSS %.1f MiB (target < %.0f MiB) %s\n",
		float64(fi.Size())/1e6, groups*4+groups/5, res.Wall.Seconds(), res.CPU.Seconds(), mib(res.MaxRSS), maxRSSMiB, verdict)
	return nil
}

// generateBundle writes a bundle of about size bytes and returns how many
// indicator groups it holds.
func generateBundle(path string, size int64) (int, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	cw := &countWriter{w: w}
	fmt.Fprint(cw, `{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000000","objects":[`)
	fmt.Fprint(cw, `{"type":"identity","spec_version":"2.1","id":"identity--00000000-0000-4000-8000-000000000001","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","name":"iocbench","identity_class":"organization"}`)
	g := 0
	for ; cw.n < size; g++ {
		ind := fmt.Sprintf("indicator--%08x-0000-4000-8000-%012x", g, g)
		// A sighting before its indicator and a relationship to the next
		// one: both kinds of reference the index pass must resolve.
		if g%10 == 0 {
			fmt.Fprintf(cw, `,{"type":"sighting","spec_version":"2.1","id":"sighting--%08x-0000-4000-8000-%012x","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","sighting_of_ref":"%s","count":3,"first_seen":"2019-06-01T00:00:00Z","last_seen":"2021-06-01T00:00:00Z"}`, g, g, ind)
		}
		fmt.Fprintf(cw, `,{"type":"indicator","spec_version":"2.1","id":"%s","created_by_ref":"identity--00000000-0000-4000-8000-000000000001","created":"2020-01-01T00:00:00.000Z","modified":"2020-02-01T00:00:00.000Z","name":"Generated indicator %d","description":"A generated indicator with a description long enough to look like the ones real feeds carry, so that the bundle has a realistic size per object.","indicator_types":["malicious-activity"],"pattern":"[ipv4-addr:value = '%d.%d.%d.%d' OR domain-name:value = 'host-%d.example.com']","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z","x_iocbench_seq":%d}`,
			ind, g, 11+g>>24&63, g>>16&255, g>>8&255, g&255, g, g)
		fmt.Fprintf(cw, `,{"type":"url","spec_version":"2.1","id":"url--%08x-0000-4000-8000-%012x","value":"http://site-%d.example.net/path/%d"}`, g, g, g, g)
		fmt.Fprintf(cw, `,{"type":"malware","spec_version":"2.1","id":"malware--%08x-0000-4000-8000-%012x","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","name":"family-%d","is_family":true}`, g, g, g%100)
		if g%5 == 0 {
			fmt.Fprintf(cw, `,{"type":"relationship","spec_version":"2.1","id":"relationship--%08x-0000-4000-8000-%012x","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","relationship_type":"related-to","source_ref":"%s","target_ref":"indicator--%08x-0000-4000-8000-%012x"}`, g, g, ind, g+1, g+1)
		}
	}
	fmt.Fprint(cw, "]}\n")
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	return g, f.Close()
}

type countWriter struct {
	w *bufio.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
