package faults

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

func respond(w http.ResponseWriter, r *http.Request, status int, kind, msg string, wait time.Duration) {
	w.Header().Set("X-Kind", kind)
	w.WriteHeader(status)
	io.WriteString(w, msg)
}

var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })

func get(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		return -1, err.Error()
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Kind")
}

func TestInjector(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		body     string
		wantCode int
		wantKind string
	}{
		{"none", Options{}, "", 200, ""},
		{"fail", Options{FailRate: 1}, "", 500, "fail"},
		{"fail 429", Options{FailRate: 1, FailStatus: 429}, "", 429, "fail"},
		{"outage", Options{Outage: time.Hour}, "", 503, "outage"},
		{"reject match", Options{RejectPattern: regexp.MustCompile(`evil`)}, `{"value":"evil.com"}`, 400, "reject"},
		{"reject no match", Options{RejectPattern: regexp.MustCompile(`evil`)}, `{"value":"good.com"}`, 200, ""},
		{"drop", Options{DropRate: 1}, "", -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := New(tt.opts, respond)
			srv := httptest.NewServer(in.Wrap(ok))
			defer srv.Close()
			code, kind := get(t, srv.URL, tt.body)
			if code != tt.wantCode || code > 0 && kind != tt.wantKind {
				t.Errorf("got %d %q, want %d %q", code, kind, tt.wantCode, tt.wantKind)
			}
		})
	}
}

func TestFailRateIsAShare(t *testing.T) {
	in := New(Options{FailRate: 0.3, Seed: 1}, respond)
	srv := httptest.NewServer(in.Wrap(ok))
	defer srv.Close()
	for range 1000 {
		get(t, srv.URL, "")
	}
	if n := in.Counts().Failed; n < 230 || n > 370 {
		t.Errorf("fail-rate 0.3 failed %d of 1000", n)
	}
	in.Reset()
	if in.Counts() != (Counts{}) {
		t.Errorf("Reset left %+v", in.Counts())
	}
}

func TestLatency(t *testing.T) {
	in := New(Options{Latency: 50 * time.Millisecond}, respond)
	srv := httptest.NewServer(in.Wrap(ok))
	defer srv.Close()
	start := time.Now()
	if code, _ := get(t, srv.URL, ""); code != 200 || time.Since(start) < 50*time.Millisecond {
		t.Errorf("code %d after %s", code, time.Since(start))
	}
}
