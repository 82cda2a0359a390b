package sinks

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestTLSVerifiedUnlessTurnedOff(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer srv.Close()
	build := func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	}
	decode := func(*http.Response, []byte) *HTTPError { return nil }

	start := time.Now()
	_, _, err := NewDoer(HTTPOptions{RetryDeadline: time.Minute}).Do(context.Background(), build, decode)
	var ce *CertError
	if !errors.As(err, &ce) {
		t.Fatalf("a self-signed certificate: got %v, want a *CertError", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("a certificate error was retried for %s", time.Since(start))
	}
	if _, _, err := NewDoer(HTTPOptions{InsecureSkipVerify: true}).Do(context.Background(), build, decode); err != nil {
		t.Errorf("insecure_skip_verify: %v", err)
	}
}
