package ledger

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// A content imported again is a Duplicate only when every row was
// delivered the first time; otherwise it resumes, the acknowledged rows
// skipped and the rejected (or skipped, or failed) ones sent again.
func TestBeginRedrop(t *testing.T) {
	tests := []struct {
		name        string
		undelivered ioc.Ranges
		reimport    bool
		want        Status
		wantAcked   string
	}{
		{name: "all delivered", want: Duplicate, wantAcked: "[[0 4]]"},
		{name: "a row rejected", undelivered: ioc.Ranges{{4, 5}}, want: Resume, wantAcked: "[[0 4]]"},
		{name: "reimport", reimport: true, want: Fresh, wantAcked: "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			l := newRegistrar(newMemStore(), slog.New(slog.DiscardHandler))
			defer l.close()
			c := Content{Sum: "s1", Name: "a.csv", Size: 10}
			if _, err := l.begin(ctx, "k", c, false); err != nil {
				t.Fatal(err)
			}
			l.record("k", "s1", ioc.Ranges{{0, 4}})
			l.undelivered("k", "s1", tt.undelivered)
			if err := l.finish(ctx, "k", "s1", true); err != nil {
				t.Fatal(err)
			}
			st, err := l.begin(ctx, "k", c, tt.reimport)
			if err != nil {
				t.Fatal(err)
			}
			if st.Status != tt.want || fmt.Sprint(st.Entry.Acked) != tt.wantAcked {
				t.Errorf("got %v acked %v, want %v acked %s", st.Status, st.Entry.Acked, tt.want, tt.wantAcked)
			}
			if st.Status == Duplicate {
				return
			}
			// This time every row is delivered: from now on a Duplicate.
			l.record("k", "s1", ioc.Ranges{{0, 5}})
			if err := l.finish(ctx, "k", "s1", true); err != nil {
				t.Fatal(err)
			}
			if st, _ := l.begin(ctx, "k", c, false); st.Status != Duplicate {
				t.Errorf("after a full delivery: %v, want Duplicate", st.Status)
			}
		})
	}
}
