package trustartest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// errorBody is TruSTAR's generic error body.
type errorBody struct {
	Timestamp int64  `json:"timestamp"`
	Status    int    `json:"status"`
	Error     string `json:"error"`
	Message   string `json:"message"`
}

// oauthError is the OAuth2 error body of /oauth/token and of token checks.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// rateLimitBody is TruSTAR's 429 body; WaitTime is in milliseconds.
type rateLimitBody struct {
	Message  string `json:"message"`
	WaitTime int64  `json:"waitTime"`
}

// A statusError is a refusal with its HTTP status and message.
type statusError struct {
	status int
	msg    string
}

func (e *statusError) Error() string { return e.msg }

// badRequest returns a 400 statusError.
func badRequest(format string, args ...any) error {
	return &statusError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// tooLarge returns a 413 statusError.
func tooLarge(format string, args ...any) error {
	return &statusError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf(format, args...)}
}

// reason is the reason phrase TruSTAR's server (Spring) gives for status.
func reason(status int) string {
	if status == http.StatusRequestEntityTooLarge {
		return "Payload Too Large"
	}
	return http.StatusText(status)
}

// writeJSON writes v as the JSON body of a status answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // cannot happen: only the emulator's plain types come here
		http.Error(w, fmt.Sprintf("encoding %T: %v", v, err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b) // a failed write means the client has gone
}

// writeError writes TruSTAR's generic error body.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{
		Timestamp: time.Now().UnixMilli(),
		Status:    status,
		Error:     reason(status),
		Message:   msg,
	})
}

// writeRateLimited writes TruSTAR's 429 body asking to wait for wait.
func writeRateLimited(w http.ResponseWriter, wait time.Duration) {
	ms := int64((wait + time.Millisecond - 1) / time.Millisecond)
	ms = max(ms, 1)
	writeJSON(w, http.StatusTooManyRequests, rateLimitBody{
		Message:  fmt.Sprintf("Request limit exceeded. Please wait %d milliseconds before making another request.", ms),
		WaitTime: ms,
	})
}

// writeNotFound answers a request for an endpoint the emulator lacks.
func writeNotFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, fmt.Sprintf("No endpoint %s %s", r.Method, r.URL.Path))
}

// allowMethod reports whether r uses method, answering 405 when not.
func allowMethod(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method {
		return true
	}
	w.Header().Set("Allow", method)
	writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("Request method '%s' not supported", r.Method))
	return false
}

// setTraceID gives the answer a fresh Trace-Id header, as TruSTAR does.
func setTraceID(w http.ResponseWriter) {
	w.Header().Set("Trace-Id", randomHex(16))
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// isUUID reports whether s is a UUID in its canonical textual form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
