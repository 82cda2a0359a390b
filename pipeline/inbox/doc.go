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
//	<inbox>/.iocpipe/work/name   claimed by an atomic rename; copied to a
//	                             private snapshot beside it, hashed (SHA-256)
//	                             as it is copied; the snapshot is fed to the
//	                             pipeline, whose reports hand the acknowledged
//	                             rows to the ledger as they come: what is sent
//	                             is what the hash names
//	<inbox>/done/name            every row delivered or rejected, with
//	                             name.report.json, and when rows were
//	                             rejected name.rejects.jsonl (the reasons)
//	                             and name.rejects.<ext> (the rows themselves,
//	                             in the file's format, to correct and drop
//	                             back in; name.rejected-rows.jsonl for a
//	                             .jsonl file)
//	<inbox>/failed/name          the file could not be read as a whole, was
//	                             not a regular file, or changed after its
//	                             claim (its content at the claim is what was
//	                             sent, and it is not recorded as imported),
//	                             with name.report.json
//
// Dotfiles, *.part and *.tmp are never picked up; symlinks are never
// followed. Nothing in done/ or failed/ is ever overwritten: a name that is
// taken gets -2, -3, ... before its extension. A name too long for its
// companions (report, rejects, and the temporary names they are written
// under) to fit the file system's limit of 255 bytes is filed shortened,
// with a hash of the whole name; the report gives both.
//
// The ledger (package ledger) remembers, by content hash, which files were
// imported and which rows of a file were acknowledged. It is what makes a
// restart resume a claimed file without sending an acknowledged row again,
// and what makes a file whose content was imported before, every row
// delivered, a duplicate: it is moved to done/ without being sent. A
// content imported with rows rejected, skipped or failed is not a
// duplicate: those rows are sent again, the delivered ones never.
//
// Filing is part of done: the ledger records a content as imported only
// once its report and rejects are written in done/ and the file is moved
// there (or deleted). A filing that fails (done/ not writable, say) is
// logged, counted (Stats.FilingErrors) and tried again after RetryDelay;
// the file stays in work/ meanwhile. A run stopped after the report was
// written and before the file was moved is filed, on restart, under the
// name its report gives.
//
// One pipeline.FileReport callback per file (Input.Report) tells the inbox
// everything: the rows acknowledged (recorded in the ledger), the rejects
// (streamed as they come to a dotfile in work/, which moves into done/ at
// filing: memory does not grow with a file's rejects), and, on the final
// report, the file's result, with which it is filed away in the background
// (writing rejected rows re-reads the file).
//
// While it watches, an Inbox publishes its state (Status: its counts, the
// ledger's size, why it cannot claim, if so) in <inbox>/.iocpipe/status.json,
// rewritten every StatusEvery: the watch holds the ledger and the inbox's
// lock, so `iocpipe status` reads that file (Watched, ReadStatus) beside
// what List finds in the folders. Requeue moves files from failed/ back
// into the inbox, safely while a watch runs.
//
// Use: open a ledger (ledger.OpenBolt) and create an Inbox with New;
// build the route's pipeline (Options.KeepRejects is not needed); run the pipeline
// over a channel and call Watch with that channel until it is time to
// stop; then stop the pipeline, wait for its Run, Close the Inbox, and
// close the ledger. `iocpipe run` uses the ledger the same way, without an
// inbox (ledger.Ledger.Begin, Record, Finish).
package inbox
