// Package taxiitest is an in-process TAXII 2.1 server, in the spirit of
// net/http/httptest: a real HTTP server that the TAXII client's tests and
// `iocpipe emulate` serve, built from the OASIS TAXII 2.1 specification
// (Committee Specification, 2021), not from the client's code. It imports
// neither the client (pipeline/taxii) nor anything under pipeline/: it
// decodes requests and objects with its own types, so a bug in the
// client's types cannot hide in the emulator too.
//
// It serves, with HTTP Basic authentication (demo/demo unless told
// otherwise; 401 with WWW-Authenticate when missing or wrong):
//
//	GET  /taxii2/                                    discovery: title, default, api_roots
//	GET  /taxii2/api1/                               the API root: versions, max_content_length
//	GET  /taxii2/api1/collections/                   the collections
//	GET  /taxii2/api1/collections/{id}/              one collection
//	GET  /taxii2/api1/collections/{id}/objects/      objects: added_after, limit, next,
//	                                                 match[type], match[id], match[version],
//	                                                 match[spec_version]
//	POST /taxii2/api1/collections/{id}/objects/      add an envelope (can_write collections)
//	GET  /taxii2/api1/status/{id}/                   the status of an addition
//
// Every answer is application/taxii+json;version=2.1. A request whose
// Accept header does not admit it is answered 406 (a missing Accept too:
// the specification requires clients to send one; */* is accepted); a
// POST whose Content-Type is not it, 415; a collection with can_read
// false, 403 on reading; can_write false, 403 on adding. Errors are TAXII
// error messages {"title","description","http_status"}.
//
// Each stored object version has a server date_added with microsecond
// precision, as the specification shows it. Objects are served in order
// of date_added, then of arrival; added_after is exclusive; limit is
// capped at the page size (Options.PageSize); match[version] defaults to
// "last", as the specification says. The envelope is
// {"more":bool,"next":"...","objects":[...]} (an empty one is {}), with
// the X-TAXII-Date-Added-First and X-TAXII-Date-Added-Last headers
// naming the first and last object's date_added. A next value is the
// position after the page's last object, so a page stays right while
// objects are added.
//
// The default collections (DefaultCollections): "Demo indicators"
// (DemoCollectionID, readable, a few dozen STIX 2.1 indicators made
// deterministically), "scratch" (ScratchCollectionID, readable and
// writable, empty) and "Locked" (LockedCollectionID, can_read false).
//
// Faults, on the objects endpoint only: a smaller page size; demo objects
// in runs that share one date_added across page boundaries
// (Options.SameDateAdded); a 429 with Retry-After on every n-th request
// (Options.RateLimitEvery); error statuses, latency (slow pages) and
// dropped connections from package github.com/iocpipe/iocpipe/sinks/faults;
// a server that gives no next, so that clients page by added_after alone
// (Options.NoNext); and two broken servers: one that ignores next and
// answers the same next again (Options.RepeatNext), one that answers
// more:true with no objects (Options.EmptyMore). A method an endpoint
// does not serve is answered 405.
//
// For tests and demos, without authentication:
//
//	POST /_emulator/taxii/collections/{id}/objects   add a STIX bundle or a TAXII envelope
//	                                                 {"objects":[...]}; ?date_added=same gives
//	                                                 them all one new date_added, =last the
//	                                                 collection's latest one, =RFC 3339 that one
//	POST /_emulator/taxii/reset                      back to the initial content (scratch empty)
//	GET  /_emulator/taxii/stats                      counts
//
// A Server adds GET /_emulator/stats and POST /_emulator/reset.
package taxiitest
