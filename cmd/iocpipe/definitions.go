package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/iocpipe/iocpipe/sinks/threatwinds"
)

func newDefinitionsCmd(e *env) *cobra.Command {
	var config, logLevel string
	var raw bool
	cmd := &cobra.Command{
		Use:   "definitions [--config FILE] [--json]",
		Short: "Print the ThreatWinds entity definitions (GET /definitions)",
		Long: `Fetch the entity definitions from the ThreatWinds Ingest API (role trusted)
and print each type with its description; --json prints them as the API sent
them. The API's documentation and its SDK disagree on the shape, so they are
read loosely.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return definitions(cmd.Context(), e, config, logLevel, raw)
		},
	}
	cmd.Flags().StringVar(&config, "config", "", configHelp)
	cmd.Flags().BoolVar(&raw, "json", false, "print the definitions as JSON, as received")
	cmd.Flags().StringVar(&logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	return cmd
}

func definitions(ctx context.Context, e *env, config, logLevel string, raw bool) error {
	log, err := newLogger(e, logLevel)
	if err != nil {
		return err
	}
	cfg, err := discoverConfig(config, log)
	if err != nil {
		return err
	}
	if cfg.Sinks.ThreatWinds == nil {
		return cfg.errorf("sinks.threatwinds", "not configured: definitions come from the ThreatWinds API")
	}
	tc, err := threatWindsConfig(cfg, &RouteConfig{Name: "definitions", Kind: threatwinds.KindEntities}, log, true)
	if err != nil {
		return err
	}
	client, err := threatwinds.New(tc)
	if err != nil {
		return err
	}
	defs, err := client.Definitions(ctx)
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	if raw {
		out := make([]json.RawMessage, len(defs))
		for i, d := range defs {
			out[i] = d.Raw
		}
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, string(b))
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tDESCRIPTION")
	for _, d := range defs {
		fmt.Fprintf(tw, "%s\t%s\n", d.Type, d.Description)
	}
	return tw.Flush()
}
