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
	"github.com/iocpipe/iocpipe/sinks/threatwinds"
	"github.com/iocpipe/iocpipe/sinks/trustar"
)

// sink is a pipeline.Sink that can say how often it retried.
type sink interface {
	pipeline.Sink
	Retries() int64
}

// newSink builds the sink a route delivers to, with its secrets from the
// environment.
func newSink(cfg *Config, rc *RouteConfig, log *slog.Logger) (sink, error) {
	d := cfg.Delivery(rc)
	if d.InsecureSkipVerify {
		log.Warn("TLS verification is OFF (insecure_skip_verify: true): anyone on the path can read and change what is sent", "sink", rc.Sink)
	}
	switch rc.Sink {
	case "trustar":
		t := cfg.Sinks.TruSTAR
		key, err := cfg.secret("sinks.trustar.client_id_env", t.ClientIDEnv)
		if err != nil {
			return nil, err
		}
		secret, err := cfg.secret("sinks.trustar.client_secret_env", t.ClientSecretEnv)
		if err != nil {
			return nil, err
		}
		return trustar.New(trustar.Config{URL: t.URL, Key: key, Secret: secret, Logger: log, HTTP: httpOptions(d)})
	case "threatwinds":
		tc, err := threatWindsConfig(cfg, rc, log, true)
		if err != nil {
			return nil, err
		}
		return threatwinds.New(tc)
	}
	return nil, fmt.Errorf("route %s: sink %q is not available", rc.Name, rc.Sink)
}

// threatWindsConfig builds the ThreatWinds client's configuration; with
// secrets false it leaves them out (a dry run needs none).
func threatWindsConfig(cfg *Config, rc *RouteConfig, log *slog.Logger, secrets bool) (threatwinds.Config, error) {
	t := cfg.Sinks.ThreatWinds
	d := t.DeliveryConfig
	tc := threatwinds.Config{
		URL: t.URL, Kind: rc.Kind, Reputation: rc.Reputation, InFlight: d.InFlight,
		Comments: rc.Kind == threatwinds.KindEntities && (rc.Comments == nil || *rc.Comments),
		HTTP:     httpOptions(d), Logger: log,
	}
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

// encoderFor returns how a route's batches become request bodies, for
// validate --dump.
func encoderFor(cfg *Config, rc *RouteConfig) file.Encoder {
	if rc.Sink == "threatwinds" {
		tc, _ := threatWindsConfig(cfg, rc, nil, false)
		return threatwinds.Encoder(tc)
	}
	return trustar.Encoder
}

// takesAssociations reports whether a route's sink takes associations.
func takesAssociations(rc *RouteConfig) bool {
	return rc.Sink == "threatwinds" && rc.Kind == threatwinds.KindEntities
}

func httpOptions(d DeliveryConfig) sinks.HTTPOptions {
	return sinks.HTTPOptions{
		Timeout: time.Duration(d.Timeout), RetryDeadline: time.Duration(d.RetryDeadline),
		RatePerMinute: *d.RateLimit, Burst: d.Burst, MaxConns: d.MaxConns,
		InsecureSkipVerify: d.InsecureSkipVerify,
	}
}
