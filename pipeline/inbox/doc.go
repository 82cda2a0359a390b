// Package inbox is watch mode: it watches an inbox folder, picks up the
// files that are complete, hands them to a pipeline.Pipeline, and files
// them away when they are imported, with a report.
//
// A file's life:
//
//	<inbox>/name                 written by someone; picked up when its size
//	                             and mtime stayed the same for the settle
//	                             period, or at once when it was renamed in
//	                             from name.part or name.tmp
//	<inbox>/.iocpipe/work/name   claimed by an atomic rename; hashed (SHA-256);
//	                             fed to the pipeline, whose acknowledgements
//	                             are written to the Ledger batch by batch
//	<inbox>/done/name            every row delivered or rejected, with
//	                             name.report.json, and when rows were
//	                             rejected name.rejects.jsonl (the reasons)
//	                             and name.rejects.<ext> (the rows themselves,
//	                             in the file's format, to correct and drop
//	                             back in; name.rejected-rows.jsonl for a
//	                             .jsonl file)
//	<inbox>/failed/name          the file could not be read as a whole, or
//	                             was not a regular file, with name.report.json
//
// Dotfiles, *.part and *.tmp are never picked up; symlinks are never
// followed. Nothing in done/ or failed/ is ever overwritten: a name that is
// taken gets -2, -3, ... before its extension.
//
// The Ledger (bbolt) remembers, by content hash, which files were imported
// and which rows of a file were acknowledged. It is what makes a restart
// resume a claimed file without sending an acknowledged row again, and
// what makes a file whose content was imported before a duplicate: it is
// moved to done/ without being sent.
//
// Use: create a Ledger with OpenLedger and an Inbox with New; build the
// route's pipeline with Options.KeepRejects and Options.OnReject set to
// the Inbox's Reject; run the pipeline over a channel and call Watch with
// that channel until it is time to stop; then stop the pipeline, wait for
// its Run, and Close the Inbox. `iocpipe run` uses the Ledger alone
// (Ledger.Track gives a pipeline.Input its Skip and Ack hooks).
package inbox
