package trustartest

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/http"
)

// handleIndicators serves POST /api/1.3/indicators once the token and the
// rate limit have passed: it checks the body and records it when accepted.
func (e *Emulator) handleIndicators(w http.ResponseWriter, r *http.Request) {
	body, err := readJSONBody(r)
	var rows int
	if err == nil {
		rows, err = e.checkSubmission(body)
	}
	if err == nil {
		err = e.record(body, rows)
	}
	if err != nil {
		e.refuse(w, err)
		return
	}
	e.log.Debug("submission accepted", "rows", rows, "bytes", len(body))
	w.WriteHeader(http.StatusOK)
}

// refuse answers a refused submission with err's status (400 unless err is
// a statusError) and counts it.
func (e *Emulator) refuse(w http.ResponseWriter, err error) {
	status := http.StatusBadRequest
	if se, ok := errors.AsType[*statusError](err); ok {
		status = se.status
	}
	e.rejected.Add(1)
	e.log.Info("submission refused", "status", status, "reason", err.Error())
	writeError(w, status, err.Error())
}

// readJSONBody returns r's body, refusing a content type other than JSON
// (415) and a body over MaxBodyBytes (413).
func readJSONBody(r *http.Request) ([]byte, error) {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return nil, &statusError{
			status: http.StatusUnsupportedMediaType,
			msg:    fmt.Sprintf("Content type '%s' not supported: use application/json", ct),
		}
	}
	var buf bytes.Buffer
	if n := r.ContentLength; n > 0 && n <= MaxBodyBytes {
		buf.Grow(int(n))
	}
	if _, err := buf.ReadFrom(r.Body); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge("Payload too large: a request body may hold at most %d bytes", MaxBodyBytes)
		}
		return nil, badRequest("unreadable request body: %v", err)
	}
	return buf.Bytes(), nil
}
