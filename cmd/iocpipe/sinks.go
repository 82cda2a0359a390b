package main

import (
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/iocpipe/iocpipe/pipeline"
	"github.com/iocpipe/iocpipe/sinks"
	"github.com/iocpipe/iocpipe/sinks/file"
	"github.com/iocpipe/iocpipe/sinks/quota"
	"github.com/iocpipe/iocpipe/sinks/threatwinds"
	"github.com/iocpipe/iocpipe/sinks/trustar"
)

// sink is a pipeline.Sink that can say how often it retried.
type sink interface {
	pipeline.Sink
	Retries() int64
}

// A sinkKind is one kind of sink: everything the command knows about it.
// Every field is set; a row's funcs are called only for routes that went
// through validate (their sink's section is configured).
type sinkKind struct {
	// name is the kind's value of routes[].sink and its section's key
	// under sinks:.
	name string
	// title names the API in messages.
	title string
	// section returns the kind's section of the config (a field of
	// SinksConfig), or nil when the file has none.
	section func(*SinksConfig) sinkSection
	// defaults are the delivery defaults: each key of the section left out
	// (zero, nil for RateLimit) gets the value here; max_conns gets at
	// least in_flight. README.md documents them.
	defaults DeliveryConfig
	// maxBatch is the API's limit on batch_size; 0 means none.
	maxBatch int
	// route checks a route of this kind and fills its defaults; key names
	// the route in errors.
	route func(c *Config, r *RouteConfig, key string) error
	// build returns the sink a route delivers to, with its secrets from
	// the environment, its log, observer and quota from e.
	build func(c *Config, r *RouteConfig, e sinkEnv) (sink, error)
	// encoder returns how a route's batches become request bodies, for
	// dry runs (validate, --dump); it needs no secrets.
	encoder func(c *Config, r *RouteConfig) file.Encoder
	// associations reports whether a route takes associations (STIX
	// relationships between indicators).
	associations func(r *RouteConfig) bool
}

// sinkKinds are the kinds of sink, in the order messages list them and
// validate checks their sections.
//
// Adding a sink kind is one package plus one table row: the client under
// sinks/<name> (with its emulator beside it), and a row here whose
// section is a new field of SinksConfig (its struct embeds
// DeliveryConfig and implements sinkSection). Nothing else in the command
// names a kind of sink.
var sinkKinds = []sinkKind{
	{
		name:  "trustar",
		title: "TruSTAR",
		section: func(s *SinksConfig) sinkSection {
			if s.TruSTAR == nil {
				return nil
			}
			return s.TruSTAR
		},
		defaults: DeliveryConfig{
			RateLimit: new(60.0), Burst: 1, InFlight: 4, BatchSize: trustar.MaxIndicators, ByteBudget: 8 << 20,
			Linger: Duration(500 * time.Millisecond), Timeout: Duration(60 * time.Second),
			RetryDeadline: Duration(5 * time.Minute), UnhealthyAfter: Duration(30 * time.Second), MaxConns: 16,
		},
		maxBatch:     trustar.MaxIndicators,
		route:        trustarRoute,
		build:        buildTruSTAR,
		encoder:      func(*Config, *RouteConfig) file.Encoder { return trustar.Encoder },
		associations: func(*RouteConfig) bool { return false },
	},
	{
		name:  "threatwinds",
		title: "ThreatWinds",
		section: func(s *SinksConfig) sinkSection {
			if s.ThreatWinds == nil {
				return nil
			}
			return s.ThreatWinds
		},
		defaults: DeliveryConfig{
			RateLimit: new(0.0), Burst: 1, InFlight: 16, BatchSize: 500, ByteBudget: 8 << 20,
			Linger: Duration(500 * time.Millisecond), Timeout: Duration(60 * time.Second),
			RetryDeadline: Duration(5 * time.Minute), UnhealthyAfter: Duration(30 * time.Second), MaxConns: 16,
		},
		route: threatWindsRoute,
		build: buildThreatWinds,
		encoder: func(c *Config, r *RouteConfig) file.Encoder {
			tc, _ := threatWindsConfig(c, r, nil, false)
			return threatwinds.Encoder(tc)
		},
		associations: func(r *RouteConfig) bool { return r.Kind == threatwinds.KindEntities },
	},
}

// lookupSink returns the kind of sink named name, or nil.
func lookupSink(name string) *sinkKind {
	for i := range sinkKinds {
		if sinkKinds[i].name == name {
			return &sinkKinds[i]
		}
	}
	return nil
}

// sinkNames lists the kinds' names for a message, the last one after
// last: "trustar, threatwinds" with ", ", "trustar or threatwinds" with
// " or ".
func sinkNames(last string) string {
	names := make([]string, len(sinkKinds))
	for i, k := range sinkKinds {
		names[i] = k.name
	}
	return joinNames(names, last)
}

// joinNames joins names with ", ", the last one with last.
func joinNames(names []string, last string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + last + names[len(names)-1]
}

// validateSection checks the kind's section of c, when c has one, and
// fills its defaults.
func (k *sinkKind) validateSection(c *Config) error {
	s := k.section(&c.Sinks)
	if s == nil {
		return nil
	}
	key := "sinks." + k.name
	if err := s.check(c, key); err != nil {
		return err
	}
	d := s.delivery()
	if err := d.fill(c, key, k.defaults); err != nil {
		return err
	}
	if k.maxBatch > 0 && d.BatchSize > k.maxBatch {
		return c.errorf(key+".batch_size", "%d is over %s's limit of %d indicators per submission", d.BatchSize, k.title, k.maxBatch)
	}
	return nil
}

// A sinkEnv is what building a sink takes besides the configuration.
type sinkEnv struct {
	log *slog.Logger
	// obs learns whether the API is reachable; nil for no one.
	obs sinks.Observer
	// quota is the shared quota (PostgreSQL ledgers); nil: each sink
	// limits its calls in-process.
	quota *quota.Store
}

// limit makes h draw its calls from the shared bucket of the credential
// (url, id) when there is a shared quota and h has a rate limit.
func (e sinkEnv) limit(h *sinks.HTTPOptions, url, id string) {
	if e.quota != nil && h.RatePerMinute > 0 {
		h.Limiter = e.quota.Limiter(quota.Key(url, id), h.RatePerMinute, h.Burst)
	}
}

// newSink builds the sink a route delivers to, with its secrets from the
// environment, limiting its calls in-process.
func newSink(cfg *Config, rc *RouteConfig, log *slog.Logger) (sink, error) {
	return buildSink(cfg, rc, sinkEnv{log: log})
}

// buildSink is newSink with e's observer and quota.
func buildSink(cfg *Config, rc *RouteConfig, e sinkEnv) (sink, error) {
	k := lookupSink(rc.Sink)
	if k == nil || k.section(&cfg.Sinks) == nil {
		return nil, fmt.Errorf("route %s: sink %q is not available", rc.Name, rc.Sink)
	}
	if cfg.Delivery(rc).InsecureSkipVerify {
		e.log.Warn("TLS verification is OFF (insecure_skip_verify: true): anyone on the path can read and change what is sent", "sink", rc.Sink)
	}
	return k.build(cfg, rc, e)
}

// encoderFor returns how a route's batches become request bodies, for
// validate --dump. rc must come from a validated cfg.
func encoderFor(cfg *Config, rc *RouteConfig) file.Encoder {
	return lookupSink(rc.Sink).encoder(cfg, rc)
}

// takesAssociations reports whether a route's sink takes associations.
func takesAssociations(rc *RouteConfig) bool {
	k := lookupSink(rc.Sink)
	return k != nil && k.associations(rc)
}

// trustarRoute checks a TruSTAR route.
func trustarRoute(c *Config, r *RouteConfig, key string) error {
	if len(r.Enclaves) == 0 {
		return c.errorf(key+".enclaves", "a TruSTAR route needs at least one enclave")
	}
	if r.Kind != "" || r.Reputation != nil || r.Comments != nil || r.Webhook != nil {
		return c.errorf(key, "kind, reputation, comments and webhook are ThreatWinds keys; this route goes to trustar")
	}
	return nil
}

// buildTruSTAR returns a TruSTAR client.
func buildTruSTAR(cfg *Config, rc *RouteConfig, e sinkEnv) (sink, error) {
	t := cfg.Sinks.TruSTAR
	key, err := cfg.secret("sinks.trustar.client_id_env", t.ClientIDEnv)
	if err != nil {
		return nil, err
	}
	secret, err := cfg.secret("sinks.trustar.client_secret_env", t.ClientSecretEnv)
	if err != nil {
		return nil, err
	}
	h := t.httpOptions()
	h.Sink, h.Observer = "trustar", e.obs
	e.limit(&h, t.URL, key) // TruSTAR counts calls per client id
	return trustar.New(trustar.Config{URL: t.URL, Key: key, Secret: secret, Logger: e.log, HTTP: h})
}

// apiURL is the URL check and status name for the API they reach.
func (t *TruSTARConfig) apiURL() string { return t.URL }

// threatWindsRoute checks a ThreatWinds route and fills its kind.
func threatWindsRoute(c *Config, r *RouteConfig, key string) error {
	switch r.Kind {
	case "":
		r.Kind = threatwinds.KindEntities
	case threatwinds.KindEntities, threatwinds.KindWellKnown, threatwinds.KindScan:
	default:
		return c.errorf(key+".kind", "unknown kind %q (entities, well-known or scan)", r.Kind)
	}
	if r.Reputation != nil && (*r.Reputation < -3 || *r.Reputation > 3) {
		return c.errorf(key+".reputation", "%d is out of range: ThreatWinds reputations go from -3 to 3", *r.Reputation)
	}
	if r.Webhook != nil {
		if r.Kind != threatwinds.KindScan {
			return c.errorf(key+".webhook", "only scan routes send a webhook")
		}
		if err := checkURL(r.Webhook.URL); err != nil {
			return c.errorf(key+".webhook.url", "%v", err)
		}
	}
	return nil
}

// apiURL is the URL check and status name for the API they reach.
func (t *ThreatWindsConfig) apiURL() string { return t.URL }

// buildThreatWinds returns a ThreatWinds client.
func buildThreatWinds(cfg *Config, rc *RouteConfig, e sinkEnv) (sink, error) {
	tc, err := threatWindsConfig(cfg, rc, e.log, true)
	if err != nil {
		return nil, err
	}
	tc.HTTP.Observer = e.obs
	e.limit(&tc.HTTP, tc.URL, tc.APIKey) // with a token: one bucket per URL
	return threatwinds.New(tc)
}

// threatWindsConfig builds the ThreatWinds client's configuration; with
// secrets false it leaves them out (a dry run needs none).
func threatWindsConfig(cfg *Config, rc *RouteConfig, log *slog.Logger, secrets bool) (threatwinds.Config, error) {
	t := cfg.Sinks.ThreatWinds
	d := t.DeliveryConfig
	tc := threatwinds.Config{
		URL: t.URL, Kind: rc.Kind, Reputation: rc.Reputation, InFlight: d.InFlight,
		Comments: rc.Kind == threatwinds.KindEntities && (rc.Comments == nil || *rc.Comments),
		HTTP:     d.httpOptions(), Logger: log,
	}
	tc.HTTP.Sink = "threatwinds"
	if rc.Webhook != nil {
		wh := &threatwinds.Webhook{URL: rc.Webhook.URL}
		keys := make([]string, 0, len(rc.Webhook.Headers))
		for k := range rc.Webhook.Headers {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			v, err := expandEnv(rc.Webhook.Headers[k], secrets)
			if err != nil {
				return tc, cfg.errorf(fmt.Sprintf("routes (%s).webhook.headers.%s", rc.Name, k), "%v", err)
			}
			wh.Headers = append(wh.Headers, threatwinds.Header{Key: k, Value: v})
		}
		tc.Webhook = wh
	}
	if !secrets {
		return tc, nil
	}
	var err error
	if t.TokenEnv != "" {
		tc.Token, err = cfg.secret("sinks.threatwinds.token_env", t.TokenEnv)
		return tc, err
	}
	if tc.APIKey, err = cfg.secret("sinks.threatwinds.api_key_env", t.APIKeyEnv); err != nil {
		return tc, err
	}
	tc.APISecret, err = cfg.secret("sinks.threatwinds.api_secret_env", t.APISecretEnv)
	return tc, err
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces ${NAME} with the environment variable NAME, so that
// webhook secrets stay out of the config file. Without secrets (a dry
// run) the reference is kept.
func expandEnv(s string, secrets bool) (string, error) {
	var missing []string
	out := envRef.ReplaceAllStringFunc(s, func(m string) string {
		name := envRef.FindStringSubmatch(m)[1]
		v, ok := os.LookupEnv(name)
		if !ok {
			missing = append(missing, name)
			return m
		}
		if !secrets {
			return m
		}
		return v
	})
	if len(missing) > 0 && secrets {
		return "", fmt.Errorf("environment variable %s is not set", strings.Join(missing, ", "))
	}
	return out, nil
}
