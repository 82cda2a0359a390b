package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/iocpipe/iocpipe/cmd/internal/cluster"
)

// clusterCommand is the subcommand of make cluster-demo.
const clusterCommand = "cluster"

// runCluster runs the cluster demo (package cluster): PostgreSQL, the
// TruSTAR emulator and several `iocpipe watch` instances on one inbox; it
// drops the files, kills one instance with SIGKILL half-way, and prints
// per instance what it imported and the emulator's count of distinct rows.
// A check that fails exits 1.
func runCluster(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("iocbench cluster", flag.ContinueOnError)
	var o cluster.Options
	fs.IntVar(&o.Instances, "instances", 3, "watch instances on the inbox")
	fs.IntVar(&o.Files, "files", 300, "files dropped into the inbox")
	fs.IntVar(&o.Rows, "rows", 100, "rows a file")
	fs.IntVar(&o.Limit, "limit", 60, "the emulator's rate limit: calls per client id in any --window")
	fs.DurationVar(&o.Window, "window", time.Minute, "the emulator's rate-limit window (the API's is a minute)")
	fs.IntVar(&o.BatchSize, "batch-size", 250, "rows a submission (250: 120 calls for the default 30,000 rows, two minutes of the API's quota)")
	fs.DurationVar(&o.Lease, "lease", 5*time.Second, "the instances' lease (ledger.postgres.lease)")
	fs.BoolVar(&o.Kill, "kill", true, "kill one instance with SIGKILL half-way, not restarted")
	fs.IntVar(&o.Restarts, "restarts", 0, "then kill and restart a survivor at random this many times")
	fs.DurationVar(&o.DBPause, "db-pause", 0, "stop PostgreSQL this long half-way")
	fs.DurationVar(&o.Pause, "pause", 0, "stop one instance with SIGSTOP this long half-way (longer than --lease: the others take its files over)")
	fs.Uint64Var(&o.Seed, "seed", 0, "seed of the random moments (0: the clock)")
	dirFlag := fs.String("dir", "", "folder for the inbox, config and logs (default: a temporary folder, removed at the end unless --keep)")
	keep := fs.Bool("keep", false, "keep the temporary folder")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, cleanup, err := workDir(options{dir: *dirFlag, keep: *keep})
	if err != nil {
		return err
	}
	defer cleanup()
	if o.Bin, err = buildIocpipe(ctx, dir); err != nil {
		return err
	}
	o.Dir, o.Log = dir, os.Stdout
	res, err := cluster.Run(ctx, o)
	if err != nil {
		return err
	}
	fmt.Println()
	res.Print(os.Stdout)
	if fs := res.Failures(); len(fs) > 0 {
		for _, f := range fs {
			fmt.Println("FAIL:", f)
		}
		return errors.New("the cluster demo failed its checks")
	}
	fmt.Println("ok: every row delivered, none acknowledged sent again, no 429")
	return nil
}
