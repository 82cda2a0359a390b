package mispcsv_test

import (
	"flag"
	"testing"

	_ "github.com/iocpipe/iocpipe/pipeline/formats/csv" // the generic CSV it must win over
	"github.com/iocpipe/iocpipe/pipeline/formats/formatstest"
	_ "github.com/iocpipe/iocpipe/pipeline/formats/mispcsv"
)

var update = flag.Bool("update", false, "rewrite testdata/*/want.jsonl")

// TestCases reads each testdata/<case>/ folder through formats.Open and
// formats.Describe and compares with its want.jsonl.
func TestCases(t *testing.T) { formatstest.Run(t, "testdata", *update) }
