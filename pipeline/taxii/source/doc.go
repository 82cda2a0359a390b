// Package source is the taxii: source of a route: it polls a TAXII 2.1
// collection (package taxii) and feeds each page to the route's pipeline
// as a unit of input like a file, keeping the poll's cursor in the ledger
// so that a crash resumes from the last page delivered.
//
// Each page a poll yields is spooled to a private file as a STIX bundle,
// {"type":"bundle","id":"bundle--…","objects":[…]} (the id derived from
// the objects, so the same page spools to the same content), named by its
// origin taxii:<route>:<collection id>:<first>/<last date_added> in
// reports, rejects and the log, begun in the ledger by its content's
// SHA-256 (a page fetched again after a crash resumes, skipping the rows
// acknowledged), and fed to the pipeline. The cursor advances to a page's
// Cursor, in the ledger and durably, only once that page and every
// earlier one of the poll settled with nothing failed (every object
// acknowledged by the sink, or rejected); pages that settle out of order
// advance it to the last page settled in order. A page with a row not
// delivered holds the cursor and stops the poll: the next poll starts
// from the cursor. At most Options.Window objects are fed past the
// cursor, which bounds what a crash or a failed delivery sends again.
//
// Final reports are settled by one goroutine of the Source (ending the
// page's import in the ledger waits for a commit, writing the cursor
// too), never on the pipeline's.
package source
