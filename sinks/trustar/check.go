package trustar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/iocpipe/iocpipe/sinks"
)

// Check makes the cheapest authenticated call, a fresh OAuth2 token
// (POST /oauth/token, which does not count against the API's rate
// limit), and reports whether the API key and secret are accepted. The
// note says what was found, for a person to read. Check retries as every
// request does (Config.HTTP); bound it with ctx.
func (c *Client) Check(ctx context.Context) (note string, err error) {
	if _, err := c.token.get(ctx, c, true); err != nil {
		return "", err
	}
	return "token issued", nil
}

// An Enclave is one entry of GET /api/1.3/enclaves: an enclave the
// credentials can see, and what they may do in it.
type Enclave struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Type   string `json:"type"`
	Read   bool   `json:"read"`
	Create bool   `json:"create"`
	Update bool   `json:"update"`
}

// Enclaves lists the enclaves the credentials can see (GET
// /api/1.3/enclaves: one call of the rate limit and the daily quota).
func (c *Client) Enclaves(ctx context.Context) ([]Enclave, error) {
	tok, err := c.token.get(ctx, c, false)
	if err != nil {
		return nil, err
	}
	_, body, err := c.doer.Do(ctx, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/1.3/enclaves", nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Client-Type", "iocpipe")
		return req, nil
	}, decodeError)
	if err != nil {
		return nil, fmt.Errorf("listing TruSTAR enclaves: %w", fatalCert(err))
	}
	var list []Enclave
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("listing TruSTAR enclaves: GET /api/1.3/enclaves answered something other than a JSON array: %q",
			sinks.Excerpt(sinks.Scrub(body, []string{c.cfg.Key, c.cfg.Secret})))
	}
	return list, nil
}

// CheckEnclaves reports whether the credentials may submit indicators to
// every enclave of ids (UUIDs): each must be listed by GET
// /api/1.3/enclaves with the create permission. An account that lists no
// enclave at all is not checked (the emulator's default, which takes any
// UUID); the note says so.
func (c *Client) CheckEnclaves(ctx context.Context, ids []string) (note string, err error) {
	list, err := c.Enclaves(ctx)
	if err != nil {
		return "", err
	}
	if len(list) == 0 {
		return "the API lists no enclave for these credentials: not checked", nil
	}
	var problems []string
	for _, id := range ids {
		i := slices.IndexFunc(list, func(e Enclave) bool { return strings.EqualFold(e.ID, id) })
		switch {
		case i < 0:
			problems = append(problems, fmt.Sprintf("%s is not among the %d enclaves these credentials can see", id, len(list)))
		case !list[i].Create:
			problems = append(problems, fmt.Sprintf("%s (%s) is listed without the create permission", id, list[i].Name))
		}
	}
	if len(problems) > 0 {
		return "", errors.New(strings.Join(problems, "; "))
	}
	return fmt.Sprintf("%d of %d listed, with the create permission", len(ids), len(list)), nil
}
