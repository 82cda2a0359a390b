package main

import (
	"fmt"
	"os"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/iocpipe/iocpipe/pipeline/ledger"
)

// defaultDSNEnv is the environment variable of the PostgreSQL ledger's
// DSN when ledger.postgres.dsn_env is left out.
const defaultDSNEnv = "IOCPIPE_POSTGRES_DSN"

// LedgerConfig is the ledger key: a bbolt file's path (a YAML string,
// relative to the config file's folder), or a mapping naming a shared
// store, {postgres: {dsn_env: IOCPIPE_POSTGRES_DSN}}. The zero value is
// the default bbolt file (see ledgerPath).
type LedgerConfig struct {
	// Path is the bbolt file; "" means the default.
	Path string `yaml:"-"`
	// Postgres, when set, keeps the ledger in PostgreSQL instead.
	Postgres *PostgresLedgerConfig `yaml:"postgres"`
}

// PostgresLedgerConfig is ledger.postgres.
type PostgresLedgerConfig struct {
	// DSNEnv names the environment variable holding the DSN (a
	// postgres:// URL or key=value string, password included); empty
	// means IOCPIPE_POSTGRES_DSN.
	DSNEnv string `yaml:"dsn_env"`
	// Lease is how long the claims of a watch outlive its last renewal
	// (several instances on one inbox): another instance takes the files
	// of one that died over that long after; 0 means 30s.
	Lease Duration `yaml:"lease"`
}

// UnmarshalYAML implements yaml.Unmarshaler: a string is a bbolt path, a
// mapping may hold postgres and nothing else.
func (l *LedgerConfig) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		return n.Decode(&l.Path)
	case yaml.MappingNode:
	default:
		return fmt.Errorf("line %d: ledger is a file path or a mapping such as {postgres: {dsn_env: %s}}", n.Line, defaultDSNEnv)
	}
	if err := knownKeys(n, "postgres"); err != nil {
		return err
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		v := n.Content[i+1]
		l.Postgres = &PostgresLedgerConfig{}
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			continue // postgres: with nothing under it: the defaults
		}
		if v.Kind != yaml.MappingNode {
			return fmt.Errorf("line %d: ledger.postgres is a mapping such as {dsn_env: %s}", v.Line, defaultDSNEnv)
		}
		if err := knownKeys(v, "dsn_env", "lease"); err != nil {
			return err
		}
		if err := v.Decode(l.Postgres); err != nil {
			return err
		}
	}
	return nil
}

// knownKeys returns an error naming the first key of the mapping n that
// is not one of keys, as the strict decoder would.
func knownKeys(n *yaml.Node, keys ...string) error {
	for i := 0; i < len(n.Content); i += 2 {
		k := n.Content[i]
		known := false
		for _, want := range keys {
			known = known || k.Value == want
		}
		if !known {
			return fmt.Errorf("line %d: unknown key %q", k.Line, k.Value)
		}
	}
	return nil
}

// check fills the ledger's defaults; the DSN itself is read only when the
// ledger is opened (validate needs no secret).
func (l *LedgerConfig) check(c *Config) error {
	if l.Postgres == nil {
		l.Path = c.relPath(l.Path)
		return nil
	}
	if l.Path != "" {
		return c.errorf("ledger", "a file path or postgres, not both")
	}
	if l.Postgres.DSNEnv == "" {
		l.Postgres.DSNEnv = defaultDSNEnv
	}
	switch lease := time.Duration(l.Postgres.Lease); {
	case lease == 0:
		l.Postgres.Lease = Duration(ledger.DefaultLease)
	case lease < time.Second:
		return c.errorf("ledger.postgres.lease", "%s is too short: at least 1s (a third of it is the renewal period)", lease)
	}
	return nil
}

// postgresDSN reads the PostgreSQL ledger's DSN from the environment: a
// missing variable is a configuration error naming it.
func (c *Config) postgresDSN() (string, error) {
	env := c.Ledger.Postgres.DSNEnv
	if v := os.Getenv(env); v != "" {
		return v, nil
	}
	return "", c.errorf("ledger.postgres.dsn_env", "environment variable %s is not set (the DSN, like every secret, comes from the environment only)", env)
}
