// Package taxii is a TAXII 2.1 client that polls a collection to the end,
// page by page, and resumes where it stopped without losing or repeating
// an object.
//
// Discovery (Client.Discover, GET /taxii2/), the API root
// (Client.APIRoot) and its collections (Client.Collections) resolve a
// collection given by id, title or alias (Client.Resolve), and say
// clearly when it cannot be read (can_read false, ErrNotReadable), when
// the credentials are refused (ErrUnauthorized, ErrForbidden) and when
// the server does not speak TAXII 2.1 (ErrMediaType, ErrTAXII20).
//
// Client.Poll reads GET {api_root}/collections/{id}/objects/ with
// Accept: application/taxii+json;version=2.1, added_after and limit, and
// pages by the envelope's more and next: within one poll added_after
// stays what it was on the first request and next carries the position.
// Each page is a unit the caller processes and acknowledges: Poll yields
// a Page with its objects, its X-TAXII-Date-Added-First and -Last, and
// the Cursor to persist once that page (and every earlier one) has been
// delivered. A Cursor is a plain value that marshals to JSON:
//
//	{"added_after":"2026-01-05T09:00:39.123456Z",
//	 "seen":[{"id":"indicator--…","version":"2025-12-…Z"}, …]}
//
// added_after is the last page's X-TAXII-Date-Added-Last; seen lists the
// (id, version) pairs delivered that may have that very date_added. The
// next poll asks from one microsecond (the specification's precision)
// before added_after and leaves the seen pairs out, so an object that
// shares the bound's date_added — even one a server makes visible after
// the poll — is neither lost nor delivered twice. Which pairs share the
// bound cannot be told from the envelope (it carries no date_added), so
// seen holds every pair of the pages that end at the bound: at most a
// page or a run of pages of equal date_added.
//
// A broken server never makes a poll loop: the same next twice, more:true
// with no objects, the same page again, or no progress when paging by
// added_after alone end the poll with a WARN (log/slog) and no error; the
// cursor stays at the last page delivered.
//
// 429 and 5xx answers are retried with backoff, a 429's Retry-After is
// honoured, within a bounded time and selecting on the context, by the
// HTTP client the sinks share (package sinks, which also holds the TLS
// settings).
//
// TAXII 2.0 is refused, not read: a 2.0 server (media type
// application/vnd.oasis.taxii+json;version=2.0, paging by Range: items
// and Content-Range) is answered with an error wrapping ErrTAXII20 that
// names the version it offers.
package taxii
