package otx_test

import (
	"flag"
	"testing"

	"github.com/iocpipe/iocpipe/pipeline/formats/formatstest"
	_ "github.com/iocpipe/iocpipe/pipeline/formats/json" // OTX pulses come through it
	_ "github.com/iocpipe/iocpipe/pipeline/formats/otx"
)

var update = flag.Bool("update", false, "rewrite testdata/*/want.jsonl")

// TestCases reads each testdata/<case>/ folder of OTX pulses through
// formats.Open and formats.Describe and compares with its want.jsonl.
func TestCases(t *testing.T) { formatstest.Run(t, "testdata", *update) }
