package inbox

// The formats the engine's tests read.
import (
	_ "github.com/iocpipe/iocpipe/pipeline/formats/csv"
	_ "github.com/iocpipe/iocpipe/pipeline/formats/json"
	_ "github.com/iocpipe/iocpipe/pipeline/formats/misp"
	_ "github.com/iocpipe/iocpipe/pipeline/formats/otx"
	_ "github.com/iocpipe/iocpipe/pipeline/formats/stix"
)
