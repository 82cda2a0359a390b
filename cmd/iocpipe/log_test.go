package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestLogDurations: durations in the log are Go duration strings, in
// JSON logs (where slog writes nanoseconds) and in groups too.
func TestLogDurations(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		var buf bytes.Buffer
		log, err := newLogger(&env{stderr: &buf, logFormat: format}, "info")
		if err != nil {
			t.Fatal(err)
		}
		log.WithGroup("retry").Info("waiting", "wait", 1500*time.Millisecond, "left", 4*time.Minute)
		for _, want := range []string{"1.5s", "4m0s"} {
			if !strings.Contains(buf.String(), want) {
				t.Errorf("%s log %q: no %q", format, buf.String(), want)
			}
		}
		if strings.Contains(buf.String(), "1500000000") {
			t.Errorf("%s log %q: nanoseconds", format, buf.String())
		}
	}
}
