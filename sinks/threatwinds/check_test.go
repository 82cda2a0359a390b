package threatwinds

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/sinks/threatwinds/threatwindstest"
)

// Check accepts a 403 on GET /definitions (no role trusted) for the kinds
// that need only reporter, not for well-known; refused credentials are
// fatal.
func TestCheck(t *testing.T) {
	srv := newServer(t, threatwindstest.Options{})
	tests := []struct {
		name, user, kind string
		want             string // the note, or the error's start
		wantFail         bool
	}{
		{"reporter entities", "reporter", KindEntities, "credentials accepted, without the role trusted", false},
		{"reporter scan", "reporter", KindScan, "credentials accepted, without the role trusted", false},
		{"reporter well-known", "reporter", KindWellKnown, "ThreatWinds refused GET /api/ingest/v1/definitions: 403", true},
		{"trusted well-known", "trusted", KindWellKnown, "credentials accepted, role trusted granted", false},
		{"wrong key", "nobody", KindEntities, "ThreatWinds refused GET /api/ingest/v1/definitions: 401", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, srv.URL, Config{APIKey: tt.user, APISecret: tt.user, Kind: tt.kind})
			note, err := c.Check(context.Background())
			got := note
			if err != nil {
				got = err.Error()
				if !errors.Is(err, ioc.ErrFatal) {
					t.Errorf("error %v does not wrap ErrFatal", err)
				}
			}
			if (err != nil) != tt.wantFail || !strings.HasPrefix(got, tt.want) {
				t.Errorf("Check = %q, %v; want %q", note, err, tt.want)
			}
		})
	}
}
