package csv_test

import (
	"flag"
	"testing"

	_ "github.com/iocpipe/iocpipe/pipeline/formats/csv"
	"github.com/iocpipe/iocpipe/pipeline/formats/formatstest"
)

var update = flag.Bool("update", false, "rewrite testdata/*/want.jsonl")

// TestCases reads each testdata/<case>/ folder of delimited text through
// formats.Open and formats.Describe and compares with its want.jsonl.
func TestCases(t *testing.T) { formatstest.Run(t, "testdata", *update) }
