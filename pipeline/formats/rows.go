package formats

import (
	"errors"
	"fmt"
	"io"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// ErrRowsFormat is returned by WriteRejected for a format whose rows it
// cannot write back (STIX, OTX pulses, MISP events): the reject report
// (file, line, reason) is all there is for those.
var ErrRowsFormat = errors.New("rejected rows cannot be written in this format")

// WriteRejected writes to w the rows of the file at path that rejects
// name (by Reject.Row), in the file's own format, so that a corrected copy
// can be imported again: what that is, each format's RowWriter says (for
// delimited text, the header and the rejected records byte for byte; for
// JSON Lines, the rejected lines; for a JSON array or an object holding
// the items, the same shape holding only the rejected items). Skipped rows
// (Reject.Skipped) and file-level rejects (Row -1) are left out; with none
// left, nothing is written.
//
// format is the format the file was read as (FileResult.Format) and opts
// the options it was read with: the file is read again the same way, so
// that row numbers match. It is streamed, never loaded whole.
func WriteRejected(path, format string, opts Options, rejects []ioc.Reject, w io.Writer) error {
	var rows ioc.Ranges
	for _, r := range rejects {
		if r.Row >= 0 && !r.Skipped {
			rows.Add(r.Row)
		}
	}
	return WriteRows(path, format, opts, rows, w)
}

// WriteRows is WriteRejected given the rows to write (data rows, by
// sequence number) rather than the rejects naming them, for a caller that
// streamed its rejects away and kept only their rows.
func WriteRows(path, format string, opts Options, rows ioc.Ranges, w io.Writer) error {
	if len(rows) == 0 {
		return nil
	}
	f, ok := ByName(format)
	rw, writes := f.(RowWriter)
	if !ok || !writes {
		return fmt.Errorf("%s (%s): %w", path, format, ErrRowsFormat)
	}
	src, err := openSource(path, path, nil)
	if err != nil {
		return err
	}
	defer src.file.Close()
	return rw.WriteRows(src, opts, rows, w)
}
