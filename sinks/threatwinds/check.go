package threatwinds

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/iocpipe/iocpipe/sinks"
)

// Check makes one cheap authenticated call, GET /definitions, and reports
// whether the Client can deliver: nil when the credentials are accepted
// and carry the role the Client's kind needs. GET /definitions needs the
// trusted role, so a 403 says the credentials were accepted without it:
// enough for entities and scans (role reporter), not for well-known
// entities. The note says what was found, for a person to read. Check
// retries as every request does (Config.HTTP); bound it with ctx.
func (c *Client) Check(ctx context.Context) (note string, err error) {
	_, _, err = c.do(ctx, http.MethodGet, "/definitions", nil)
	if err == nil {
		return "credentials accepted, role trusted granted", nil
	}
	var he *sinks.HTTPError
	if errors.As(err, &he) && he.Status == http.StatusForbidden && c.cfg.Kind != KindWellKnown {
		return fmt.Sprintf("credentials accepted, without the role trusted (GET /definitions answered 403): kind %s needs only reporter", c.cfg.Kind), nil
	}
	if ferr := c.fatal(err); ferr != nil {
		return "", ferr
	}
	return "", fmt.Errorf("threatwinds: GET %s/definitions: %w", c.path, err)
}
