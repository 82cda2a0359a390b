package main

// The input formats iocpipe reads: each registers itself with
// pipeline/formats. Adding a format is one folder under pipeline/formats
// and one line here.
import (
	_ "github.com/iocpipe/iocpipe/pipeline/formats/csv"
	_ "github.com/iocpipe/iocpipe/pipeline/formats/json"
	_ "github.com/iocpipe/iocpipe/pipeline/formats/misp"
	_ "github.com/iocpipe/iocpipe/pipeline/formats/mispcsv"
	_ "github.com/iocpipe/iocpipe/pipeline/formats/otx"
	_ "github.com/iocpipe/iocpipe/pipeline/formats/stix"
	_ "github.com/iocpipe/iocpipe/pipeline/formats/text"
)
