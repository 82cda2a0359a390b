package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/iocpipe/iocpipe/pipeline"
	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/inbox"
	"github.com/iocpipe/iocpipe/pipeline/warninglist"
	"github.com/iocpipe/iocpipe/sinks"
)

// Config is the YAML configuration file. Secrets are never in it: it names
// the environment variables that hold them.
type Config struct {
	Sinks    SinksConfig       `yaml:"sinks"`
	Enclaves map[string]string `yaml:"enclaves"`
	Routes   []RouteConfig     `yaml:"routes"`
	// Workers is the number of validate and normalize workers; 0 means
	// one per CPU.
	Workers int `yaml:"workers"`
	// Ledger remembers imported files and acknowledged rows: a bbolt file,
	// relative to the config file's folder, or PostgreSQL (see
	// LedgerConfig). Empty means <inbox>/.iocpipe/ledger.db of the first
	// route with an inbox; with no inbox and no ledger, run keeps no
	// ledger.
	Ledger LedgerConfig `yaml:"ledger"`

	path string
	// dir is the absolute folder of path: relative paths in the file are
	// relative to it (see relPath).
	dir string
}

// relPath makes p, a path written in the config file, absolute: relative
// to the config file's folder, so that a config means the same folders
// whatever the working folder (under systemd: /). "" stays "".
func (c *Config) relPath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

// SinksConfig holds one section per kind of sink, each named by its kind
// (sinkKinds) and returned by the kind's section func.
type SinksConfig struct {
	TruSTAR     *TruSTARConfig     `yaml:"trustar"`
	ThreatWinds *ThreatWindsConfig `yaml:"threatwinds"`
}

// ThreatWindsConfig is sinks.threatwinds. Authentication is either an API
// key and secret (api_key_env and api_secret_env) or a bearer token
// (token_env).
type ThreatWindsConfig struct {
	URL            string `yaml:"url"`
	APIKeyEnv      string `yaml:"api_key_env"`
	APISecretEnv   string `yaml:"api_secret_env"`
	TokenEnv       string `yaml:"token_env"`
	DeliveryConfig `yaml:",inline"`
}

// DeliveryConfig are the keys every sink shares. Each field's zero value
// (nil for RateLimit) means the default of the sink's kind: its row in
// sinkKinds, documented in README.md. validate fills them in.
type DeliveryConfig struct {
	// RateLimit is calls per minute; 0 turns limiting off.
	RateLimit *float64 `yaml:"rate_limit"`
	// Burst lets this many calls go at once before the rate applies.
	Burst int `yaml:"burst"`
	// InFlight is the number of requests in flight.
	InFlight int `yaml:"in_flight"`
	// BatchSize is the most indicators per submission.
	BatchSize int `yaml:"batch_size"`
	// ByteBudget closes a batch when its body would exceed it.
	ByteBudget ByteSize `yaml:"byte_budget"`
	// Linger closes a batch that is not full after this long.
	Linger Duration `yaml:"linger"`
	// Timeout bounds one request.
	Timeout Duration `yaml:"timeout"`
	// RetryDeadline bounds the retries of one request.
	RetryDeadline Duration `yaml:"retry_deadline"`
	// UnhealthyAfter is how long the sink may keep failing before watch's
	// /healthz reports it degraded.
	UnhealthyAfter Duration `yaml:"unhealthy_after"`
	// MaxConns caps connections to the API; its default is the kind's or
	// InFlight, whichever is larger.
	MaxConns int `yaml:"max_conns"`
	// InsecureSkipVerify turns TLS verification off (a warning is logged
	// on every start).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// TruSTARConfig is sinks.trustar.
type TruSTARConfig struct {
	URL             string `yaml:"url"`
	ClientIDEnv     string `yaml:"client_id_env"`
	ClientSecretEnv string `yaml:"client_secret_env"`
	DeliveryConfig  `yaml:",inline"`
}

// RouteConfig is one entry of routes.
type RouteConfig struct {
	Name     string   `yaml:"name"`
	Sink     string   `yaml:"sink"`
	Enclaves []string `yaml:"enclaves"`
	Tags     []string `yaml:"tags"`
	Source   string   `yaml:"source"`
	// Format forces csv, json or jsonl; empty detects it.
	Format string `yaml:"format"`
	// Delimiter forces the CSV delimiter: one character, or "tab".
	Delimiter string `yaml:"delimiter"`
	// Columns maps fields (value, type, first_seen, last_seen, sightings,
	// source, notes, tags, enclaves, reputation) to the columns of CSV
	// files: a header name, a 1-based position, or a list of them (each of
	// several value columns yields an indicator). Fields left out are found
	// by the header aliases. Empty leaves every field to the aliases.
	Columns map[string]StringList `yaml:"columns"`
	// JSONFields maps the same fields to dotted paths in JSON items
	// ("ioc.value"; a path through an array collects from every element),
	// and items to the path of the array of items in a wrapper object
	// ("data"). Fields left out are found by the key aliases.
	JSONFields map[string]StringList `yaml:"json_fields"`
	// MaxLineBytes is the longest line, CSV record or JSON value read; a
	// longer row is rejected (a JSON document with such a value fails);
	// 0 means 1 MiB.
	MaxLineBytes int `yaml:"max_line_bytes"`
	// MISPToIDs says which MISP attributes are imported (MISP JSON, MISP
	// CSV, STIX from MISP's converter): required (the default) skips those
	// whose to_ids is false, any imports them all.
	MISPToIDs MISPToIDs `yaml:"misp_to_ids"`
	// Warninglists are MISP warninglists (files, folders of them, or
	// "builtin") an indicator must not be on to be sent; relative paths
	// are relative to the config file's folder. Empty checks none.
	Warninglists []string `yaml:"warninglists"`
	// warn is Warninglists loaded (validate).
	warn *warninglist.Set

	// Kind is what a ThreatWinds route sends: entities (default),
	// well-known, or scan.
	Kind string `yaml:"kind"`
	// Reputation is the default ThreatWinds reputation, -3..3; nil leaves
	// it out.
	Reputation *int `yaml:"reputation"`
	// Comments sends a row's notes as a comment on its ThreatWinds
	// entity; nil means true.
	Comments *bool `yaml:"comments"`
	// Webhook is sent with every scan of a scan route.
	Webhook *WebhookConfig `yaml:"webhook"`

	// Inbox is the folder watch mode imports from; relative to the config
	// file's folder. validate makes it absolute.
	Inbox string `yaml:"inbox"`
	// CreateInbox lets watch create a missing inbox folder; without it a
	// missing inbox is an error (a typo would watch a new, empty folder).
	CreateInbox bool `yaml:"create_inbox"`
	// WorkDir, DoneDir and FailedDir are relative to the inbox unless
	// absolute; defaults .iocpipe/work, done and failed.
	WorkDir   string `yaml:"work_dir"`
	DoneDir   string `yaml:"done_dir"`
	FailedDir string `yaml:"failed_dir"`
	// Settle is how long a file's size and mtime must stay unchanged
	// before it is picked up; 0 means 2s.
	Settle Duration `yaml:"settle"`
	// Rescan is the period of the full inbox rescan that backs up file
	// system events; 0 means 10s.
	Rescan Duration `yaml:"rescan"`
	// DeleteDone deletes imported files instead of moving them to done/
	// (their reports still go to done/).
	DeleteDone bool `yaml:"delete_done"`
	// GiveUpAfter is how long watch retries a file whose delivery keeps
	// failing before it moves it to failed/ with every reason; 0 means
	// 24h.
	GiveUpAfter Duration `yaml:"give_up_after"`
	// DedupWindow, when set, does not send again an indicator the route
	// delivered within it (by an earlier run or file), kept in the
	// ledger; 0 means off.
	DedupWindow Duration `yaml:"dedup_window"`

	// TAXII is a TAXII 2.1 collection the route polls (config_taxii.go);
	// nil means none.
	TAXII *TAXIIConfig `yaml:"taxii"`
}

// WebhookConfig is a scan route's webhook.
type WebhookConfig struct {
	URL string `yaml:"url"`
	// Headers are sent with the webhook call; values may name an
	// environment variable as ${NAME}, so secrets stay out of the file.
	Headers map[string]string `yaml:"headers"`
}

// Route defaults, documented in README.md. The delivery defaults are in
// each kind's row of sinkKinds.
const (
	defaultSettle = 2 * time.Second
	defaultRescan = 10 * time.Second
	// minLineBytes and maxLineBytes bound max_line_bytes (its default is
	// formats.DefaultMaxLine).
	minLineBytes = 1 << 10
	maxLineBytes = 1 << 30
	// defaultGiveUpAfter is how long a file may keep failing delivery.
	defaultGiveUpAfter = 24 * time.Hour
)

// A ConfigError is a problem with the configuration: exit code 2.
type ConfigError struct {
	File string
	Key  string
	Err  error
}

func (e *ConfigError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("config %s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("config %s: %s: %v", e.File, e.Key, e.Err)
}

func (e *ConfigError) Unwrap() error { return e.Err }

var yamlField = regexp.MustCompile(`line (\d+): field (\S+) not found in type \S+`)

// LoadConfig reads, checks and completes a configuration file.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &ConfigError{File: path, Err: err}
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, errEOF) || err.Error() == "EOF" {
			return nil, &ConfigError{File: path, Err: errors.New("the file is empty")}
		}
		msg := yamlField.ReplaceAllString(err.Error(), `line $1: unknown key "$2"`)
		msg = strings.ReplaceAll(strings.TrimPrefix(msg, "yaml: unmarshal errors:\n  "), "\n  ", "; ")
		return nil, &ConfigError{File: path, Err: errors.New(msg)}
	}
	c.path = path
	if c.dir, err = filepath.Abs(filepath.Dir(path)); err != nil {
		return nil, &ConfigError{File: path, Err: err}
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

var errEOF = errors.New("EOF")

func (c *Config) errorf(key, format string, args ...any) error {
	return &ConfigError{File: c.path, Key: key, Err: fmt.Errorf(format, args...)}
}

// validate checks every key and fills defaults: the one place that does.
func (c *Config) validate() error {
	for name, id := range c.Enclaves {
		if !pipeline.IsUUID(id) {
			return c.errorf("enclaves."+name, "%q is not an enclave UUID", id)
		}
		c.Enclaves[name] = strings.ToLower(id)
	}
	for i := range sinkKinds {
		if err := sinkKinds[i].validateSection(c); err != nil {
			return err
		}
	}
	if c.Workers < 0 {
		return c.errorf("workers", "must not be negative")
	}
	if err := c.Ledger.check(c); err != nil {
		return err
	}
	if len(c.Routes) == 0 {
		return c.errorf("routes", "no route is configured")
	}
	seen := map[string]bool{}
	for i := range c.Routes {
		if err := c.validateRoute(i); err != nil {
			return err
		}
		if seen[c.Routes[i].Name] {
			return c.errorf(fmt.Sprintf("routes[%d].name", i), "route %q is defined twice", c.Routes[i].Name)
		}
		seen[c.Routes[i].Name] = true
	}
	return nil
}

// A sinkSection is the section sinks.<kind> of the config.
type sinkSection interface {
	// check checks the section's own keys (url, credentials) and fills
	// their defaults; key is the section's key, sinks.<kind>.
	check(c *Config, key string) error
	// delivery returns the section's delivery keys (promoted from the
	// embedded DeliveryConfig).
	delivery() *DeliveryConfig
}

// delivery implements sinkSection for every section that embeds
// DeliveryConfig.
func (d *DeliveryConfig) delivery() *DeliveryConfig { return d }

// check implements sinkSection.
func (t *TruSTARConfig) check(c *Config, key string) error {
	if err := checkURL(t.URL); err != nil {
		return c.errorf(key+".url", "%v", err)
	}
	if t.ClientIDEnv == "" {
		t.ClientIDEnv = "TRUSTAR_API_KEY"
	}
	if t.ClientSecretEnv == "" {
		t.ClientSecretEnv = "TRUSTAR_API_SECRET"
	}
	return nil
}

// check implements sinkSection.
func (t *ThreatWindsConfig) check(c *Config, key string) error {
	if err := checkURL(t.URL); err != nil {
		return c.errorf(key+".url", "%v", err)
	}
	switch {
	case t.TokenEnv != "" && (t.APIKeyEnv != "" || t.APISecretEnv != ""):
		return c.errorf(key, "give either token_env or api_key_env and api_secret_env, not both")
	case t.TokenEnv == "" && t.APIKeyEnv == "" && t.APISecretEnv == "":
		t.APIKeyEnv, t.APISecretEnv = "THREATWINDS_API_KEY", "THREATWINDS_API_SECRET"
	case t.TokenEnv == "" && (t.APIKeyEnv == "" || t.APISecretEnv == ""):
		return c.errorf(key, "api_key_env and api_secret_env go together")
	}
	return nil
}

// fill checks d and fills each of its zero keys (a nil RateLimit) from
// def, a kind's defaults; key is the section's key, for errors.
func (d *DeliveryConfig) fill(c *Config, key string, def DeliveryConfig) error {
	if d.RateLimit == nil {
		rate := *def.RateLimit
		d.RateLimit = &rate
	}
	switch {
	case *d.RateLimit < 0:
		return c.errorf(key+".rate_limit", "must not be negative (0 turns it off)")
	case d.Burst < 0, d.InFlight < 0, d.BatchSize < 0, d.ByteBudget < 0, d.MaxConns < 0:
		return c.errorf(key, "burst, in_flight, batch_size, byte_budget and max_conns must not be negative")
	case d.Linger < 0, d.Timeout < 0, d.RetryDeadline < 0:
		return c.errorf(key, "linger, timeout and retry_deadline must not be negative")
	case d.UnhealthyAfter < 0:
		return c.errorf(key+".unhealthy_after", "must not be negative")
	}
	orDefault(&d.Burst, def.Burst)
	orDefault(&d.InFlight, def.InFlight)
	orDefault(&d.BatchSize, def.BatchSize)
	orDefault(&d.ByteBudget, def.ByteBudget)
	orDefault(&d.Linger, def.Linger)
	orDefault(&d.Timeout, def.Timeout)
	orDefault(&d.RetryDeadline, def.RetryDeadline)
	orDefault(&d.UnhealthyAfter, def.UnhealthyAfter)
	orDefault(&d.MaxConns, max(def.MaxConns, d.InFlight))
	return nil
}

// orDefault sets *v to def when *v is zero.
func orDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// httpOptions is the HTTP side of d, for a sink's client.
func (d *DeliveryConfig) httpOptions() sinks.HTTPOptions {
	return sinks.HTTPOptions{
		Timeout: time.Duration(d.Timeout), RetryDeadline: time.Duration(d.RetryDeadline),
		RatePerMinute: *d.RateLimit, Burst: d.Burst, MaxConns: d.MaxConns,
		InsecureSkipVerify: d.InsecureSkipVerify,
	}
}

// routeKey is how errors name route r: routes[i] (name).
func (c *Config) routeKey(r *RouteConfig) string {
	for i := range c.Routes {
		if &c.Routes[i] == r || c.Routes[i].Name == r.Name {
			return fmt.Sprintf("routes[%d] (%s)", i, r.Name)
		}
	}
	return fmt.Sprintf("routes (%s)", r.Name)
}

func (c *Config) validateRoute(i int) error {
	r := &c.Routes[i]
	key := fmt.Sprintf("routes[%d]", i)
	if r.Name == "" {
		return c.errorf(key+".name", "every route needs a name")
	}
	key = fmt.Sprintf("routes[%d] (%s)", i, r.Name)
	k := lookupSink(r.Sink)
	switch {
	case r.Sink == "":
		return c.errorf(key+".sink", "missing: name the sink (%s)", sinkNames(" or "))
	case k == nil:
		return c.errorf(key+".sink", "unknown sink %q (known: %s)", r.Sink, sinkNames(", "))
	case k.section(&c.Sinks) == nil:
		return c.errorf(key+".sink", "sink %s is not configured under sinks:", k.name)
	}
	if err := k.route(c, r, key); err != nil {
		return err
	}
	if r.Inbox == "" && (r.WorkDir != "" || r.DoneDir != "" || r.FailedDir != "" || r.DeleteDone || r.CreateInbox) {
		return c.errorf(key, "work_dir, done_dir, failed_dir, delete_done and create_inbox need an inbox")
	}
	if r.Inbox != "" {
		r.Inbox = c.relPath(r.Inbox)
		if err := inbox.CheckDirs(r.Inbox, r.WorkDir, r.DoneDir, r.FailedDir); err != nil {
			return c.errorf(key, "%v", err)
		}
	}
	if r.DedupWindow < 0 {
		return c.errorf(key+".dedup_window", "must not be negative (0 is off)")
	}
	if r.Settle < 0 || r.Rescan < 0 || r.GiveUpAfter < 0 {
		return c.errorf(key, "settle, rescan and give_up_after must not be negative")
	}
	if r.GiveUpAfter == 0 {
		r.GiveUpAfter = Duration(defaultGiveUpAfter)
	}
	if r.Settle == 0 {
		r.Settle = Duration(defaultSettle)
	}
	if r.Rescan == 0 {
		r.Rescan = Duration(defaultRescan)
	}
	for j, e := range r.Enclaves {
		if _, err := c.resolveEnclave(e); err != nil {
			return c.errorf(fmt.Sprintf("%s.enclaves[%d]", key, j), "%v", err)
		}
	}
	if _, ok := formats.Lookup(r.Format); r.Format != "" && !ok {
		return c.errorf(key+".format", "unknown format %q (%s; empty detects)", r.Format, strings.Join(formats.Names(), ", "))
	}
	if _, err := delimiter(r.Delimiter); err != nil {
		return c.errorf(key+".delimiter", "%v", err)
	}
	if r.MaxLineBytes == 0 {
		r.MaxLineBytes = formats.DefaultMaxLine
	}
	if r.MaxLineBytes < minLineBytes || r.MaxLineBytes > maxLineBytes {
		return c.errorf(key+".max_line_bytes", "%d is out of range: give %d to %d bytes (0 means %d)", r.MaxLineBytes, minLineBytes, maxLineBytes, formats.DefaultMaxLine)
	}
	if err := c.validateMapping(key+".columns", r.Columns, false); err != nil {
		return err
	}
	if err := c.validateMapping(key+".json_fields", r.JSONFields, true); err != nil {
		return err
	}
	if err := c.validateTAXII(r, key); err != nil {
		return err
	}
	return c.loadWarninglists(r, key+".warninglists")
}

// validateMapping checks a route's columns (json false) or json_fields
// mapping: known fields, and non-empty column names, 1-based positions or
// dotted paths.
func (c *Config) validateMapping(key string, m map[string]StringList, json bool) error {
	for field, refs := range m {
		k := key + "." + field
		switch {
		case slices.Contains(formats.Fields, field):
		case json && field == pipeline.JSONItems:
			if len(refs) != 1 {
				return c.errorf(k, "give one path to the array of items, such as data or response.results")
			}
		default:
			extra := ""
			if json {
				extra = ", items"
			}
			return c.errorf(k, "unknown field %q (known: %s%s)", field, strings.Join(formats.Fields, ", "), extra)
		}
		if len(refs) == 0 {
			return c.errorf(k, "empty: name a column or give a position, or leave the field out")
		}
		for _, ref := range refs {
			ref = strings.TrimSpace(ref)
			switch {
			case ref == "":
				return c.errorf(k, "an empty name")
			case json && slices.Contains(strings.Split(ref, "."), ""):
				return c.errorf(k, "%q is not a dotted path (such as ioc.value)", ref)
			case !json && strings.Trim(ref, "0123456789") == "" && strings.Trim(ref, "0") == "":
				return c.errorf(k, "column positions start at 1, not %s", ref)
			}
		}
	}
	return nil
}

// A StringList is a YAML scalar or a list of scalars (names, numbers).
type StringList []string

// UnmarshalYAML implements yaml.Unmarshaler.
func (l *StringList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*l = StringList{n.Value}
		return nil
	case yaml.SequenceNode:
		out := make(StringList, 0, len(n.Content))
		for _, e := range n.Content {
			if e.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: give column names, positions or paths, not a nested list or map", e.Line)
			}
			out = append(out, e.Value)
		}
		*l = out
		return nil
	}
	return fmt.Errorf("line %d: give a column name, a position or a path, or a list of them", n.Line)
}

func delimiter(s string) (rune, error) {
	switch s {
	case "":
		return 0, nil
	case "tab", `\t`, "\t":
		return '\t', nil
	}
	r, size := utf8.DecodeRuneInString(s)
	if size != len(s) || r == '"' || r == '\n' || r == '\r' || r == utf8.RuneError {
		return 0, fmt.Errorf("%q is not a usable delimiter: give one character, or tab", s)
	}
	return r, nil
}

func (c *Config) resolveEnclave(s string) (string, error) {
	r := pipeline.Route{EnclaveNames: c.Enclaves}
	return r.ResolveEnclave(s)
}

// Route returns the named route, or the only one when name is empty.
func (c *Config) Route(name string) (*RouteConfig, error) {
	if name == "" {
		if len(c.Routes) == 1 {
			return &c.Routes[0], nil
		}
		return nil, usageErrorf("the config has %d routes: choose one with --route (%s)", len(c.Routes), strings.Join(c.routeNames(), ", "))
	}
	for i := range c.Routes {
		if c.Routes[i].Name == name {
			return &c.Routes[i], nil
		}
	}
	return nil, usageErrorf("no route %q in %s (routes: %s)", name, c.path, strings.Join(c.routeNames(), ", "))
}

func (c *Config) routeNames() []string {
	var names []string
	for _, r := range c.Routes {
		names = append(names, r.Name)
	}
	return names
}

// PipelineRoute turns a route's config into the pipeline's Route.
func (c *Config) PipelineRoute(r *RouteConfig) *pipeline.Route {
	pr := &pipeline.Route{
		Name: r.Name, Sink: r.Sink, Tags: slices.Clone(r.Tags), Source: r.Source,
		EnclaveNames: c.Enclaves, Format: r.Format,
	}
	pr.Delimiter, _ = delimiter(r.Delimiter)
	pr.MaxLineBytes = r.MaxLineBytes
	pr.MISPToIDs = string(r.MISPToIDs)
	pr.Warninglists = r.warn
	pr.Reputation = r.Reputation
	pr.Columns, pr.JSONFields = mapping(r.Columns), mapping(r.JSONFields)
	for _, e := range r.Enclaves {
		id, _ := c.resolveEnclave(e)
		if !slices.Contains(pr.Enclaves, id) {
			pr.Enclaves = append(pr.Enclaves, id)
		}
	}
	return pr
}

func mapping(m map[string]StringList) map[string][]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string][]string, len(m))
	for k, v := range m {
		for _, s := range v {
			out[k] = append(out[k], strings.TrimSpace(s))
		}
	}
	return out
}

// Delivery returns the delivery settings of a route's sink; the zero
// DeliveryConfig when the sink is unknown or not configured.
func (c *Config) Delivery(r *RouteConfig) DeliveryConfig {
	if k := lookupSink(r.Sink); k != nil {
		if s := k.section(&c.Sinks); s != nil {
			return *s.delivery()
		}
	}
	return DeliveryConfig{}
}

func checkURL(s string) error {
	if s == "" {
		return errors.New("missing")
	}
	if !strings.HasPrefix(s, "http://") && !strings.HasPrefix(s, "https://") {
		return fmt.Errorf("%q must start with http:// or https://", s)
	}
	return nil
}

// secret reads an environment variable named by the config (see
// secretFromEnv); its error is a config error naming key.
func (c *Config) secret(key, env string) (string, error) {
	v, err := secretFromEnv(env)
	if err != nil {
		return "", &ConfigError{File: c.path, Key: key, Err: err}
	}
	return v, nil
}

// secretFromEnv reads a secret from the environment variable env: unset,
// empty, or holding a value an HTTP header cannot carry (a control
// character) is an error that does not show the value.
func secretFromEnv(env string) (string, error) {
	v, ok := os.LookupEnv(env)
	if !ok || v == "" {
		return "", fmt.Errorf("environment variable %s is not set (secrets come from the environment only)", env)
	}
	if i := strings.IndexFunc(v, func(r rune) bool { return (r < 0x20 && r != '\t') || r == 0x7f }); i >= 0 {
		return "", fmt.Errorf("environment variable %s holds a control character at byte %d, such as a newline, that an HTTP header cannot carry; its value is not shown", env, i+1)
	}
	return v, nil
}

// A Duration is a YAML duration: "500ms", "2s", "5m", or a number of
// seconds.
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a duration must be a scalar such as 2s", n.Line)
	}
	if secs, err := strconv.ParseFloat(n.Value, 64); err == nil {
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (such as 500ms, 2s, 5m)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// A ByteSize is a YAML size: a number of bytes, or with a unit (KiB, MiB,
// GiB, KB, MB, GB).
type ByteSize int64

// UnmarshalYAML implements yaml.Unmarshaler.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	s := strings.TrimSpace(n.Value)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: %q is not a size (such as 8MiB or 1048576)", n.Line, n.Value)
	}
	*b = ByteSize(v * mult)
	return nil
}

// configHelp is the help of the --config flag of every command that
// finds its configuration with findConfig.
const configHelp = "configuration file (YAML; default: $IOCPIPE_CONFIG, else ./iocpipe.yaml, else $XDG_CONFIG_HOME/iocpipe/config.yaml)"

// discoverConfig finds the configuration file (findConfig), logs which
// one it is and where from (unless log is nil), and loads it.
func discoverConfig(flag string, log *slog.Logger) (*Config, error) {
	path, from, err := findConfig(flag)
	if err != nil {
		return nil, err
	}
	if log != nil {
		log.Info("configuration", "file", path, "from", from)
	}
	return LoadConfig(path)
}

// findConfig returns the configuration file to load: flag (--config),
// else $IOCPIPE_CONFIG, else ./iocpipe.yaml, else
// $XDG_CONFIG_HOME/iocpipe/config.yaml (~/.config/iocpipe/config.yaml),
// the first two as given, the others only if they exist; and where it
// came from, for the log.
func findConfig(flag string) (path, from string, err error) {
	if flag != "" {
		return flag, "--config", nil
	}
	if p := os.Getenv("IOCPIPE_CONFIG"); p != "" {
		return p, "$IOCPIPE_CONFIG", nil
	}
	tried := []string{"./iocpipe.yaml"}
	if fi, err := os.Stat("iocpipe.yaml"); err == nil && !fi.IsDir() {
		return "iocpipe.yaml", "the working folder", nil
	}
	if dir, err := os.UserConfigDir(); err == nil {
		p := filepath.Join(dir, "iocpipe", "config.yaml")
		tried = append(tried, p)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, "the user's config folder", nil
		}
	}
	return "", "", usageErrorf("no configuration: give --config FILE, or set IOCPIPE_CONFIG, or create one of %s", strings.Join(tried, ", "))
}
