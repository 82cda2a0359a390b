// Package threatwindstest is an in-process emulator of the ThreatWinds
// Ingest API (https://intelligence.threatwinds.com/api/ingest/v1), in the
// spirit of net/http/httptest: a real HTTP server that tests, benchmarks and
// `iocpipe emulate` point the ThreatWinds sink at.
//
// The emulator serves the documented endpoints under /api/ingest/v1:
// POST /entity, /association, /comment, /well-known and /scan, and
// GET /definitions. It checks what the gateway checks (Bearer token or
// api-key and api-secret, the role of each endpoint, no client-sent user-id
// or groups headers) and what the service checks (strict JSON bodies, known
// entity types, the main attribute validated and normalised the way the
// vendor's Go SDK does, reputation in -3..3, associations that name stored
// entities). Every answer other than 200 or 202 carries the x-error and
// x-error-id headers and a JSON body {"error","id"} with the same text and id.
//
// Entities are stored under the id the API documents,
// "<type>-<hex SHA3-256 of the normalised main attribute>", so a client that
// computes ids for POST /association can be checked against the ids the
// emulator computed independently. Scan tasks move from new through queued
// and running to done on timers, and call their webhook when done.
//
// The emulator imports neither the ThreatWinds client nor the pipeline: it
// decodes requests with its own types, so a bug in the client's types cannot
// hide in the emulator too. Faults (error statuses, dropped connections,
// latency, an outage window, refused values) come from package
// github.com/iocpipe/iocpipe/sinks/faults.
//
// For inspection, without authentication:
//
//	GET /_emulator/threatwinds/requests  NDJSON, one line per accepted request
//	GET /_emulator/threatwinds/tasks     JSON array of scan tasks
//
// A Server adds GET /_emulator/stats and POST /_emulator/reset.
package threatwindstest
