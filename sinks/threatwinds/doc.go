// Package threatwinds delivers indicators to the ThreatWinds Ingest API
// (https://intelligence.threatwinds.com/api/ingest/v1).
//
// The API has no batch endpoint, so a Client turns each batch into one
// request per indicator, many at once: a Client-wide limit
// (Config.InFlight) bounds the requests in flight across every batch the
// pipeline sends concurrently, and each request goes through the shared
// sinks.Doer, which retries 429, 5xx and network errors with jittered
// backoff, honours Retry-After and applies the rate limit.
//
// What a batch becomes depends on the route's kind:
//
//   - entities: POST /entity {"type","attributes":{type:value},
//     "reputation","tags"} per indicator. visibleBy and correlate are left
//     out, so the API applies its defaults (the user's groups). An entity
//     acknowledged once with a body is not posted again with the same
//     body by the same Client: later copies count as delivered (Extra
//     "entities_deduplicated"), and a copy whose entity is in flight waits
//     for that request's outcome. A copy with another body (another
//     reputation or tags: a correction) is posted again. The Client
//     remembers the last Config.Remember entities (DefaultRemember) and
//     as many comments, forgetting the least recently used.
//     With Config.Comments, an indicator's notes follow as POST /comment
//     once its entity is acknowledged; a failed comment is logged and
//     counted, never a reject.
//   - well-known: POST /well-known {"type","attributes"} per indicator
//     (role trusted).
//   - scan: POST /scan {"target","webhook"} per IP address or host name;
//     the task ids are the Result's IDs, and new (202) and existing (200)
//     tasks are counted apart.
//
// A batch of associations becomes one POST /association per association,
// linking the entity ids computed on both ends.
//
// Values are normalised before they are sent, the way the vendor's Go SDK
// (threatwinds/go-sdk, entities/) validates them on the server — see
// Normalize — because the entity id is "<type>-<hex SHA3-256 of the
// normalised main attribute>" (EntityID), and associations name entities
// by that id. A value the API would refuse (a private IP, a URL without a
// host) is rejected here with the reason, and never sent.
//
// Outcomes: a 2xx delivers an item; a 400 (or another 4xx that retrying
// cannot mend) rejects it with the API's x-error message and x-error-id;
// retries running out fail it; a 401 or 403 stops the batch with an error
// wrapping ioc.ErrFatal. The user-id and groups headers are never
// sent: the API gateway sets them.
//
// Its emulator is the package threatwindstest beside it.
package threatwinds
