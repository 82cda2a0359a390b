package trustar

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/sinks/trustar/trustartest"
)

// Check gets a token; refused credentials are fatal, and say so.
func TestCheck(t *testing.T) {
	srv := trustartest.NewServer(trustartest.Options{Key: "k", Secret: "s"})
	t.Cleanup(srv.Close)
	if note, err := client(t, srv, "k", "s").Check(context.Background()); err != nil || note != "token issued" {
		t.Errorf("Check = %q, %v; want token issued", note, err)
	}
	_, err := client(t, srv, "k", "wrong").Check(context.Background())
	if !errors.Is(err, ioc.ErrFatal) || !strings.Contains(err.Error(), "refused the API key and secret") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("Check with a wrong secret: %v; want fatal, the secret not shown", err)
	}
}

// CheckEnclaves wants every enclave listed with the create permission; an
// account that lists none is not checked.
func TestCheckEnclaves(t *testing.T) {
	other := "11111111-2222-4333-8444-555555555555"
	srv := trustartest.NewServer(trustartest.Options{Enclaves: []string{enclave}})
	t.Cleanup(srv.Close)
	c := client(t, srv, "demo", "demo")
	tests := []struct {
		ids      []string
		want     string
		wantFail bool
	}{
		{[]string{enclave}, "1 of 1 listed, with the create permission", false},
		{[]string{strings.ToUpper(enclave)}, "1 of 1 listed, with the create permission", false},
		{[]string{enclave, other}, other + " is not among the 1 enclaves these credentials can see", true},
	}
	for _, tt := range tests {
		note, err := c.CheckEnclaves(context.Background(), tt.ids)
		got := note
		if err != nil {
			got = err.Error()
		}
		if (err != nil) != tt.wantFail || got != tt.want {
			t.Errorf("CheckEnclaves(%v) = %q, %v; want %q", tt.ids, note, err, tt.want)
		}
	}
	none := trustartest.NewServer(trustartest.Options{})
	t.Cleanup(none.Close)
	if note, err := client(t, none, "demo", "demo").CheckEnclaves(context.Background(), []string{other}); err != nil || !strings.Contains(note, "not checked") {
		t.Errorf("CheckEnclaves on an account listing none = %q, %v; want not checked", note, err)
	}
}
