package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/normalize"
	"github.com/iocpipe/iocpipe/pipeline/taxii"
	"github.com/iocpipe/iocpipe/sinks"
)

// TAXIIConfig is a route's taxii: a TAXII 2.1 collection the route polls,
// instead of or beside its inbox. Authentication is HTTP Basic
// (username_env and password_env), a bearer token (token_env), or none;
// the secrets come from the environment only.
type TAXIIConfig struct {
	// URL is the API root, such as https://taxii.example.com/api1/
	// (iocpipe taxii discover lists a server's); required.
	URL string `yaml:"url"`
	// Collection is the collection's id, title or alias; required.
	Collection string `yaml:"collection"`
	// Poll is how often watch polls the collection; 0 means
	// defaultTAXIIPoll.
	Poll Duration `yaml:"poll"`
	// AddedAfter is where the first poll starts: the objects added after
	// it (RFC 3339, or any timestamp form the rows take, such as
	// 2024-01-31). Empty means the whole collection. Later polls start
	// from the route's cursor.
	AddedAfter string `yaml:"added_after"`
	// Limit is the page size asked for; 0 leaves the server's default.
	Limit int `yaml:"limit"`
	// UsernameEnv and PasswordEnv name the variables of HTTP Basic
	// credentials; TokenEnv that of a bearer token.
	UsernameEnv string `yaml:"username_env"`
	PasswordEnv string `yaml:"password_env"`
	TokenEnv    string `yaml:"token_env"`
	// Timeout bounds one request; 0 means the sinks' default (60s).
	Timeout Duration `yaml:"timeout"`
	// RetryDeadline bounds the retries of one request (429, 5xx, network
	// errors); 0 means the sinks' default (5m).
	RetryDeadline Duration `yaml:"retry_deadline"`
	// InsecureSkipVerify turns TLS verification off (a warning is logged
	// on every start), as for the sinks.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`

	// addedAfter is AddedAfter parsed (validateTAXII); zero when empty.
	addedAfter time.Time
}

// Defaults of a route's taxii:.
const (
	// defaultTAXIIPoll is how often watch polls a collection.
	defaultTAXIIPoll = 15 * time.Minute
	// minTAXIIPoll is the shortest poll period accepted.
	minTAXIIPoll = time.Second
)

// validateTAXII checks route r's taxii: and fills its defaults; key names
// the route in errors. A route without taxii: passes.
func (c *Config) validateTAXII(r *RouteConfig, key string) error {
	t := r.TAXII
	if t == nil {
		return nil
	}
	key += ".taxii"
	if err := checkURL(t.URL); err != nil {
		return c.errorf(key+".url", "%v (the API root, as iocpipe taxii discover lists it)", err)
	}
	if t.Collection == "" {
		return c.errorf(key+".collection", "missing: the collection's id, title or alias")
	}
	switch {
	case t.Poll < 0:
		return c.errorf(key+".poll", "must not be negative (0 means %s)", defaultTAXIIPoll)
	case t.Poll == 0:
		t.Poll = Duration(defaultTAXIIPoll)
	case time.Duration(t.Poll) < minTAXIIPoll:
		return c.errorf(key+".poll", "%s is too short: poll every %s at least", time.Duration(t.Poll), minTAXIIPoll)
	}
	if t.Limit < 0 {
		return c.errorf(key+".limit", "must not be negative (0 leaves the server's default)")
	}
	if t.Timeout < 0 || t.RetryDeadline < 0 {
		return c.errorf(key, "timeout and retry_deadline must not be negative")
	}
	switch {
	case t.TokenEnv != "" && (t.UsernameEnv != "" || t.PasswordEnv != ""):
		return c.errorf(key, "give either token_env or username_env and password_env, not both")
	case (t.UsernameEnv == "") != (t.PasswordEnv == ""):
		return c.errorf(key, "username_env and password_env go together")
	}
	if t.AddedAfter != "" {
		at, err := parseAddedAfter(t.AddedAfter)
		if err != nil {
			return c.errorf(key+".added_after", "%v", err)
		}
		t.addedAfter = at
	}
	if r.Format != "" && r.Format != "stix" {
		return c.errorf(key, "a TAXII collection holds STIX: the route's format must be stix or empty, not %q", r.Format)
	}
	return nil
}

// parseAddedAfter reads added_after: RFC 3339 to the nanosecond, else any
// timestamp form normalize takes (to the millisecond).
func parseAddedAfter(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	ms, err := normalize.ParseTime(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a timestamp (such as 2024-01-31 or 2024-01-31T00:00:00Z): %w", s, err)
	}
	return time.UnixMilli(ms).UTC(), nil
}

// startCursor is where the route's first poll starts, before the ledger
// holds a cursor: after added_after, or the whole collection.
func (t *TAXIIConfig) startCursor() taxii.Cursor {
	if t.addedAfter.IsZero() {
		return taxii.Cursor{}
	}
	return taxii.StartAfter(t.addedAfter)
}

// taxiiOptions returns the TAXII client options of route r's taxii:,
// reading its secrets from the environment (an unset one is a config
// error naming its key), and logs a warning when TLS verification is off.
func (c *Config) taxiiOptions(r *RouteConfig, log *slog.Logger) (taxii.Options, error) {
	t := r.TAXII
	key := c.routeKey(r) + ".taxii"
	o := taxii.Options{
		Limit:  t.Limit,
		Logger: log,
		HTTP: sinks.HTTPOptions{
			Timeout: time.Duration(t.Timeout), RetryDeadline: time.Duration(t.RetryDeadline),
			InsecureSkipVerify: t.InsecureSkipVerify, Logger: log,
		},
	}
	var err error
	switch {
	case t.TokenEnv != "":
		o.Token, err = c.secret(key+".token_env", t.TokenEnv)
	case t.UsernameEnv != "":
		if o.Username, err = c.secret(key+".username_env", t.UsernameEnv); err == nil {
			o.Password, err = c.secret(key+".password_env", t.PasswordEnv)
		}
	}
	if err != nil {
		return taxii.Options{}, err
	}
	if t.InsecureSkipVerify {
		log.Warn("TLS verification is OFF (taxii.insecure_skip_verify: true): anyone on the path can read and change what is received", "route", r.Name)
	}
	return o, nil
}
