package sinks_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/sinks"
	"github.com/iocpipe/iocpipe/sinks/faults"
	"github.com/iocpipe/iocpipe/sinks/threatwinds/threatwindstest"
)

// entityRequest returns a Request posting one entity to the ThreatWinds
// emulator at url with the reporter's key and secret.
func entityRequest(url string) sinks.Request {
	return func(ctx context.Context) (*http.Request, error) {
		body := `{"type":"ip","attributes":{"ip":"8.8.8.8"},"reputation":-1,"tags":[]}`
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/api/ingest/v1/entity", bytes.NewReader([]byte(body)))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Api-Key", "reporter")
		req.Header.Set("Api-Secret", "reporter")
		return req, nil
	}
}

func noDecoder(*http.Response, []byte) *sinks.HTTPError { return nil }

// TestTimeoutOutcomeUnknown runs against an API that processes every
// request but answers later than the timeout: the timeout doubles after
// each timeout, up to 8×, and a failure says the request may have been
// delivered.
func TestTimeoutOutcomeUnknown(t *testing.T) {
	tests := []struct {
		name      string
		slow      time.Duration
		timeout   time.Duration
		deadline  time.Duration
		wantErr   bool
		wantInErr []string
	}{
		{"in time once the timeout doubled", 250 * time.Millisecond, 150 * time.Millisecond, 3 * time.Second, false, nil},
		{"never in time", 5 * time.Second, 20 * time.Millisecond, 700 * time.Millisecond, true,
			[]string{"may have been delivered", "timed out after 160ms", "gave up after"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := threatwindstest.NewServer(threatwindstest.Options{Faults: faults.Options{SlowAnswer: tt.slow}})
			defer s.Close()
			d := sinks.NewDoer(sinks.HTTPOptions{Timeout: tt.timeout, RetryDeadline: tt.deadline, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond})
			_, _, err := d.Do(context.Background(), entityRequest(s.URL), noDecoder)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Do: %v, want error %v", err, tt.wantErr)
			}
			if st := s.Stats(); st.EntityRequests < 2 {
				t.Errorf("the emulator processed %d requests, want at least 2 (each attempt is processed)", st.EntityRequests)
			}
			if !tt.wantErr {
				return
			}
			if !errors.Is(err, sinks.ErrMaybeDelivered) || !strings.HasPrefix(err.Error(), "may have been delivered: ") {
				t.Errorf("error %q: want it to wrap ErrMaybeDelivered and to start with \"may have been delivered: \"", err)
			}
			for _, w := range tt.wantInErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q: want it to contain %q", err, w)
				}
			}
		})
	}
}
