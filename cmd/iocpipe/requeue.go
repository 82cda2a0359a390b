package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/iocpipe/iocpipe/pipeline/inbox"
)

func newRequeueCmd(e *env) *cobra.Command {
	var config string
	cmd := &cobra.Command{
		Use:   "requeue ROUTE [FILE...] [--config FILE]",
		Short: "Move files from a route's failed/ folder back into its inbox",
		Long: `Move the named files (names as listed in failed/), or every file there, from
the route's failed/ folder back into its inbox, printing why each had
failed, and remove their reports. A running watch picks each up as a new
drop (one that is not running imports them when it starts). The ledger does
not take a failed file for a duplicate: it is imported again, skipping only
the rows acknowledged before it failed. To correct a file first, edit it in
failed/ and requeue it.

A file of the same name in the inbox is never replaced: that file stays in
failed/, and requeue exits 1.

Exit codes: 0 every file was moved; 1 one could not be; 2 an unknown route
or file (then nothing is moved), or a configuration error.`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return requeue(e, config, args[0], args[1:])
		},
	}
	cmd.Flags().StringVar(&config, "config", "", configHelp)
	return cmd
}

func requeue(e *env, config, route string, files []string) error {
	cfg, err := discoverConfig(config, nil)
	if err != nil {
		return err
	}
	rc, err := cfg.Route(route)
	if err != nil {
		return err
	}
	if rc.Inbox == "" {
		return usageErrorf("route %q has no inbox: requeue moves files from an inbox's failed/ folder", rc.Name)
	}
	moved, err := inbox.Requeue(inboxOptions(rc), files)
	if errors.Is(err, inbox.ErrNotFailed) {
		return &exitError{code: exitUsage, err: fmt.Errorf("route %s: %w", rc.Name, err)}
	}
	for _, r := range moved {
		fmt.Fprintf(e.stdout, "requeued %s\n", printable(r.Name))
		switch {
		case r.Reason != "":
			fmt.Fprintf(e.stdout, "  it had %s: %s\n", orFailed(r.Status), printable(r.Reason))
		case r.Status == "":
			fmt.Fprintf(e.stdout, "  it had no report: the reason is not known\n")
		}
	}
	if len(moved) == 0 && err == nil {
		fmt.Fprintf(e.stdout, "nothing to requeue: route %s's failed/ folder holds no file\n", rc.Name)
		return nil
	}
	if len(moved) > 0 && !e.quiet {
		fmt.Fprintln(e.stdout, pickedUpBy(rc.Inbox, len(moved)))
	}
	if err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("route %s: %w", rc.Name, err)}
	}
	return nil
}

// orFailed returns a report's status, "failed" when it has none.
func orFailed(status string) string {
	if status == "" {
		return inbox.StatusFailed
	}
	return status
}

// pickedUpBy says who imports the n files requeued into the inbox dir.
func pickedUpBy(dir string, n int) string {
	them := verbFor(int64(n), "it", "them")
	pid, watched, err := inbox.Watched(dir)
	switch {
	case err != nil:
		return "a watch on " + printable(dir) + " picks " + them + " up (whether one runs is not known: " + printable(err.Error()) + ")"
	case watched:
		return fmt.Sprintf("the watch running on %s (process %d) picks %s up", printable(dir), pid, them)
	}
	return "no watch runs on " + printable(dir) + ": " + verbFor(int64(n), "it is", "they are") + " imported when one starts (iocpipe watch)"
}
