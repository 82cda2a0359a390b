package pipeline

// The formats the engine's tests read.
import (
	_ "github.com/iocpipe/iocpipe/pipeline/formats/csv"
	jsonfmt "github.com/iocpipe/iocpipe/pipeline/formats/json"
	mispfmt "github.com/iocpipe/iocpipe/pipeline/formats/misp"
	otxfmt "github.com/iocpipe/iocpipe/pipeline/formats/otx"
	stixfmt "github.com/iocpipe/iocpipe/pipeline/formats/stix"
)

// The format names the tests expect files to be read as.
const (
	FormatCSV   = "csv"
	FormatJSON  = jsonfmt.FormatJSON
	FormatJSONL = jsonfmt.FormatJSONL
	FormatSTIX  = stixfmt.Name
	FormatMISP  = mispfmt.Name
	FormatOTX   = otxfmt.Name
)
