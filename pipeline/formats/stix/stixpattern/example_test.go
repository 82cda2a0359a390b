package stixpattern_test

import (
	"errors"
	"fmt"

	"github.com/iocpipe/iocpipe/pipeline/formats/stix/stixpattern"
)

func ExampleParse() {
	obs, err := stixpattern.Parse(`[domain-name:value = 'example.com' OR ipv4-addr:value = '198.51.100.0/24'] OR [file:hashes.'SHA-256' IN ('aec0', 'bf07')]`)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range obs {
		fmt.Printf("%-11s %-22s %s\n", o.Kind, o.Path, o.Value)
	}
	// Output:
	// domain-name domain-name:value      example.com
	// ipv4-addr   ipv4-addr:value        198.51.100.0/24
	// sha256      file:hashes.'SHA-256'  aec0
	// sha256      file:hashes.'SHA-256'  bf07
}

func ExampleParse_refused() {
	for _, p := range []string{
		`[ipv4-addr:value = '198.51.100.1' AND network-traffic:dst_port = 443]`,
		`[url:value = 'http://example.com/'] WITHIN 300 SECONDS`,
		`[ipv4-addr:value = '198.51.100.1'`,
	} {
		_, err := stixpattern.Parse(p)
		var ne *stixpattern.NotExpressibleError
		var se *stixpattern.SyntaxError
		switch {
		case errors.As(err, &ne):
			fmt.Println("skip:", ne.Reason)
		case errors.As(err, &se):
			fmt.Println("reject:", se.Offset, se.Msg)
		}
	}
	// Output:
	// skip: uses AND
	// skip: uses qualifier WITHIN
	// reject: 33 expected AND, OR or ']' to close '[' at offset 0, found end of pattern
}
