package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/iocpipe/iocpipe/pipeline"
	"github.com/iocpipe/iocpipe/sinks"
	"github.com/iocpipe/iocpipe/sinks/file"
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
	}
	return nil, fmt.Errorf("route %s: sink %q is not available", rc.Name, rc.Sink)
}

// encoderFor returns how a route's batches become request bodies, for
// validate --dump.
func encoderFor(rc *RouteConfig) file.Encoder {
	return trustar.Encoder
}

func httpOptions(d DeliveryConfig) sinks.HTTPOptions {
	return sinks.HTTPOptions{
		Timeout: time.Duration(d.Timeout), RetryDeadline: time.Duration(d.RetryDeadline),
		RatePerMinute: *d.RateLimit, Burst: d.Burst, MaxConns: d.MaxConns,
		InsecureSkipVerify: d.InsecureSkipVerify,
	}
}
