package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/iocpipe/iocpipe/pipeline/ledger"
)

func newLedgerCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "ledger",
		Short: "Manage the ledger (migrate a PostgreSQL ledger's schema)",
		Args:  noArgs,
	}
	var config string
	migrate := &cobra.Command{
		Use:   "migrate [--config FILE]",
		Short: "Apply the PostgreSQL ledger's schema migrations and print its schema version",
		Long: `Apply the schema migrations the configuration's PostgreSQL ledger (ledger:
{postgres: {dsn_env: VAR}}) has not seen, alone, and print its schema version.
run and watch apply them too when they start; instances that start together
apply each once (pg_advisory_lock). A bbolt ledger has no migrations: migrate
says so and changes nothing.

Exit codes: 0 the schema is current; 1 the database could not be reached or
migrated (or it was migrated by a newer iocpipe); 2 a configuration error
(such as the DSN's variable not set).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return migrateLedger(cmd.Context(), e, config)
		},
	}
	migrate.Flags().StringVar(&config, "config", "", configHelp)
	root.AddCommand(migrate)
	return root
}

func migrateLedger(ctx context.Context, e *env, config string) error {
	cfg, err := discoverConfig(config, nil)
	if err != nil {
		return err
	}
	if cfg.Ledger.Postgres == nil {
		fmt.Fprintf(e.stdout, "ledger %s: bbolt, no migrations\n", orNone(ledgerFile(cfg)))
		return nil
	}
	dsn, err := cfg.postgresDSN()
	if err != nil {
		return err
	}
	v, err := ledger.MigratePostgres(ctx, dsn)
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	fmt.Fprintf(e.stdout, "ledger schema version %d\n", v)
	return nil
}

// orNone is s, or "none" when it is empty.
func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
