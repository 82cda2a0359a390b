// Package trustartest is an in-process emulator of the TruSTAR API 1.3
// (https://api.trustar.co), in the spirit of net/http/httptest: a real HTTP
// server that tests, benchmarks and `iocpipe emulate` point the TruSTAR sink
// at.
//
// The emulator serves:
//
//	POST /oauth/token              client_credentials grant (HTTP Basic or
//	                               client_id/client_secret form fields)
//	POST /api/1.3/indicators       submit indicators
//	GET  /api/1.3/enclaves         the allowed enclaves
//	GET  /api/1.3/request-quotas   the daily quota
//
// It behaves the way TruSTAR does where a client can tell: a token is valid
// for 599 seconds and asking again before it expires returns the same token;
// an unknown or expired token is a 400 whose error_description is "Invalid
// oauth2 access token" or "Expired oauth2 access token" (not a 401); a
// submission of more than 10,000 indicators is a 413; a rate-limited call is
// a 429 whose body gives waitTime in milliseconds; every answer carries a
// Trace-Id header. Submission bodies are checked strictly against the
// documented contract (enclave ids rather than names, at least one row,
// numeric integer timestamps and sightings, tag names and tag enclaves), and
// every refusal names the offending field, such as "content[3].firstSeen
// must be a number", in TruSTAR's generic error body
// {"timestamp","status","error","message"}.
//
// The emulator imports neither the TruSTAR client nor the pipeline: it
// decodes requests with its own generic values, so a bug in the client's
// types cannot hide in the emulator too. Faults (error statuses, dropped
// connections, latency, an outage window, refused values) come from package
// github.com/iocpipe/iocpipe/sinks/faults and apply to /api/1.3/ only.
//
// For inspection, without authentication:
//
//	GET  /_emulator/trustar/submissions    NDJSON, one accepted body a line
//	POST /_emulator/trustar/expire-tokens  expire every issued token
//
// A Server adds GET /_emulator/stats and POST /_emulator/reset.
package trustartest
