package pipeline

import (
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/schemas"
)

// A Row is one input record on its way through the pipeline: the reader
// fills Origin and Fields, validation and normalization fill the rest.
type Row struct {
	ioc.Origin
	// Fields is an Object Value of the canonical fields present.
	Fields schemas.Value

	// skip, when set, says why the row is not an indicator at all (a
	// pseudo-row, a STIX object of another kind): it is accounted as
	// skipped, with the reason, and not rejected.
	skip string
	// skipKey names the summary count a skipped row adds to
	// (Summary.Skips), when the reader gave one.
	skipKey string
	// rejects are the problems found with the row or with some of its
	// values; a row with no indicators and rejects is a rejected row.
	rejects []ioc.Reject
	// rowRejected says the row failed as a whole (parse error, schema,
	// a bad field), as opposed to some of its values.
	rowRejected bool
	inds        []*ioc.Indicator
	// warned are the skipped-value reports of indicators of the row that
	// are on a warninglist, when others of the row are not.
	warned []ioc.Reject
	// sub overrides the file's submission for this row (row enclaves).
	sub *ioc.Submission
}

// Get returns the row's field named name (Missing when absent).
func (r *Row) Get(name string) schemas.Value { return r.Fields.Get(name) }
