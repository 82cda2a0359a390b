package pipeline

import (
	"io"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// ErrRowsFormat is returned by WriteRejectedRows for a format whose rows it
// cannot write back (see formats.ErrRowsFormat).
var ErrRowsFormat = formats.ErrRowsFormat

// WriteRejectedRows writes to w the rows of the file at path that rejects
// name, in the file's own format (see formats.WriteRejected); route is
// the route it was read with (nil means the defaults).
func WriteRejectedRows(path, format string, route *Route, rejects []ioc.Reject, w io.Writer) error {
	if route == nil {
		route = &Route{}
	}
	return formats.WriteRejected(path, format, route.ReadOptions(), rejects, w)
}

// WriteRows writes to w the given data rows of the file at path, in its
// own format (see formats.WriteRows): WriteRejectedRows for a caller that
// kept the rows of the rejects rather than the rejects.
func WriteRows(path, format string, route *Route, rows ioc.Ranges, w io.Writer) error {
	if route == nil {
		route = &Route{}
	}
	return formats.WriteRows(path, format, route.ReadOptions(), rows, w)
}
