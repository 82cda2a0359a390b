package file

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

func TestSink(t *testing.T) {
	var out bytes.Buffer
	enc := func(b *ioc.Batch) [][]byte {
		var bodies [][]byte
		for _, in := range b.Items {
			bodies = append(bodies, []byte(`{"v":"`+in.Value+`"}`))
		}
		return bodies
	}
	s := New(enc, &out)
	sub := &ioc.Submission{Key: "k", Enclaves: []string{"e"}, Tags: []ioc.Tag{{Name: "t"}}}
	b := &ioc.Batch{Sub: sub, Items: []*ioc.Indicator{{Value: "a"}, {Value: "b"}}}
	res, err := s.Send(context.Background(), b)
	if err != nil || res.Requests != 2 {
		t.Fatalf("Send: %+v %v", res, err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "{\"v\":\"a\"}\n{\"v\":\"b\"}\n" {
		t.Errorf("dump: %q", got)
	}
	c := s.Counts()
	if len(c) != 1 || c[0].Indicators != 2 || c[0].Submissions != 2 || !strings.Contains(c[0].String(), "submission tags t") {
		t.Errorf("counts: %+v %s", c, c[0])
	}
}
