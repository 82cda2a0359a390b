package stix_test

import (
	"flag"
	"testing"

	"github.com/iocpipe/iocpipe/pipeline/formats/formatstest"
	_ "github.com/iocpipe/iocpipe/pipeline/formats/json" // STIX in .json and .jsonl files comes through it
	_ "github.com/iocpipe/iocpipe/pipeline/formats/stix"
)

var update = flag.Bool("update", false, "rewrite testdata/*/want.jsonl")

// TestCases reads each testdata/<case>/ folder of STIX documents through
// formats.Open and formats.Describe and compares with its want.jsonl.
func TestCases(t *testing.T) { formatstest.Run(t, "testdata", *update) }
