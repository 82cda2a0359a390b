package trustartest

import (
	"fmt"
	"net/http"
	"time"
)

// Quota figures answered by GET /api/1.3/request-quotas.
const (
	quotaMax    = 3000
	quotaWindow = 24 * time.Hour
)

// enclave is one element of GET /api/1.3/enclaves.
type enclave struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Type   string `json:"type"`
	Read   bool   `json:"read"`
	Create bool   `json:"create"`
	Update bool   `json:"update"`
}

// quota is one element of GET /api/1.3/request-quotas.
type quota struct {
	GUID          string `json:"guid"`
	MaxRequests   int64  `json:"maxRequests"`
	UsedRequests  int64  `json:"usedRequests"`
	TimeWindow    int64  `json:"timeWindow"`
	LastResetTime int64  `json:"lastResetTime"`
	NextResetTime int64  `json:"nextResetTime"`
}

// serveAPI serves /api/1.3/: the bearer token, the rate limit, then the
// endpoint. The fault injector runs before it.
func (e *Emulator) serveAPI(w http.ResponseWriter, r *http.Request) {
	user, ok := e.authenticate(w, r)
	if !ok || !e.admit(w, r, user) {
		return
	}
	switch r.URL.Path {
	case indicatorsPath:
		if allowMethod(w, r, http.MethodPost) {
			e.handleIndicators(w, r)
		}
	case enclavesPath:
		if allowMethod(w, r, http.MethodGet) {
			e.quotaUsed.Add(1)
			e.handleEnclaves(w)
		}
	case quotasPath:
		// Submissions and this call do not count against the quota.
		if allowMethod(w, r, http.MethodGet) {
			e.handleQuotas(w)
		}
	default:
		writeNotFound(w, r)
	}
}

// admit applies Options.RateLimit to a call of user (a client id),
// answering 429 when the user has no call left in the window, whatever
// token it calls with.
func (e *Emulator) admit(w http.ResponseWriter, r *http.Request, user string) bool {
	if e.limiter == nil {
		return true
	}
	wait, ok := e.limiter.allow(user, time.Now())
	if !ok {
		e.rateLimited.Add(1)
		e.log.Info("api call rate limited", "path", r.URL.Path, "wait", wait.String())
		writeRateLimited(w, wait)
	}
	return ok
}

// handleEnclaves lists Options.Enclaves, named enclave-1, enclave-2, ….
func (e *Emulator) handleEnclaves(w http.ResponseWriter) {
	list := make([]enclave, len(e.opts.Enclaves))
	for i, id := range e.opts.Enclaves {
		list[i] = enclave{ID: id, Name: fmt.Sprintf("enclave-%d", i+1), Type: "CLOSED", Read: true, Create: true, Update: true}
	}
	writeJSON(w, http.StatusOK, list)
}

// handleQuotas reports the daily quota, which resets at 00:00 UTC.
func (e *Emulator) handleQuotas(w http.ResponseWriter) {
	last := time.Now().UTC().Truncate(quotaWindow)
	writeJSON(w, http.StatusOK, []quota{{
		GUID:          e.quotaID,
		MaxRequests:   quotaMax,
		UsedRequests:  e.quotaUsed.Load(),
		TimeWindow:    quotaWindow.Milliseconds(),
		LastResetTime: last.UnixMilli(),
		NextResetTime: last.Add(quotaWindow).UnixMilli(),
	}})
}

// respondFault is the faults.Responder: it writes an injected failure in
// TruSTAR's shape and counts a refused submission as rejected.
func (e *Emulator) respondFault(w http.ResponseWriter, r *http.Request, status int, kind, msg string, wait time.Duration) {
	e.log.Debug("fault injected", "kind", kind, "status", status, "path", r.URL.Path)
	if kind == "reject" && r.URL.Path == indicatorsPath {
		e.rejected.Add(1)
	}
	if status == http.StatusTooManyRequests {
		writeRateLimited(w, wait)
		return
	}
	if kind == "reject" {
		// The contract for --reject-pattern in both emulators: the
		// refusal carries x-error and x-error-id, as a gateway would add.
		w.Header().Set("X-Error", msg)
		w.Header().Set("X-Error-Id", newUUID())
	}
	writeError(w, status, msg)
}
