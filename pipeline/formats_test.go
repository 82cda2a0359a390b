package pipeline

// The formats the engine's tests read.
import (
	_ "github.com/iocpipe/iocpipe/pipeline/formats/csv"
	jsonfmt "github.com/iocpipe/iocpipe/pipeline/formats/json"
)

// The format names the tests expect files to be read as.
const (
	FormatCSV   = "csv"
	FormatJSON  = jsonfmt.FormatJSON
	FormatJSONL = jsonfmt.FormatJSONL
	FormatSTIX  = jsonfmt.FormatSTIX
	FormatMISP  = jsonfmt.FormatMISP
	FormatOTX   = jsonfmt.FormatOTX
)
