package normalize

import (
	"errors"
	"testing"
)

func TestParseTime(t *testing.T) {
	const day = int64(1709251200000) // 2024-03-01T00:00:00Z
	tests := []struct {
		in      string
		want    int64
		wantErr error
	}{
		{"", 0, nil},
		{"0", 0, nil},
		{"2024-03-01", day, nil},
		{"2024-03-01T00:00:00Z", day, nil},
		{"2024-03-01T00:00:00", day, nil},
		{"2024-03-01 00:00:00", day, nil},
		{"2024-03-01 00:00:00 UTC", day, nil},
		{"2024-03-01T02:00:00+02:00", day, nil},
		{"2024-03-01T02:00:00+0200", day, nil},
		{"2024-02-29T19:00:00-05", day, nil},
		{"2024-03-01T00:00:00.250Z", day + 250, nil},
		{"2024-03-01T00:00:00.123456789Z", day + 123, nil},
		{"2015-09-02T09:21:53.093000", 1441185713093, nil},
		{"2024-03-01T00:00", day, nil},
		{" 2024-03-01 ", day, nil},
		{"1709251200", day, nil},
		{"1709251200.5", day + 500, nil},
		{"1709251200000", day, nil},
		{"1709251200000000", day, nil},
		{"1709251200000000000", day, nil},
		{"2016-12-31T23:59:60Z", 1483228799999, nil},
		{"yesterday", 0, errTimeForm},
		{"2024-13-01", 0, errTimeRange},
		{"2024-02-30", 0, errTimeRange},
		{"2023-02-29", 0, errTimeRange},
		{"2024-03-01T25:00:00Z", 0, errTimeRange},
		{"2024-03-01T00:00:00+25:00", 0, errTimeForm},
		{"2024-03-01T00:00:00 PST", 0, errTimeForm},
		{"-1", 0, errTimeBefore},
		{"1969-12-31", 0, errTimeBefore},
		{"2100-01-01", 0, errTimeFuture},
		{"99999999999999999999", 0, errTimeHuge},
		{"1e999", 0, errTimeHuge},
		{"NaN", 0, errTimeForm},
		{"2024-03-01T", 0, errTimeForm},
		{"2024-03-01x", 0, errTimeForm},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in)
		if got != tt.want || !errors.Is(err, tt.wantErr) {
			t.Errorf("ParseTime(%q) = %d, %v; want %d, %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2024-03-01", "2024-03-01T00:00:00.5+01:00", "1709251200", "1e9", "2024-03-01 00:00:00 UTC", "-0", "+1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := ParseTime(s)
		if err == nil && ms != 0 && (ms < minTime || ms >= maxTime) {
			t.Fatalf("ParseTime(%q) = %d, outside the accepted range", s, ms)
		}
	})
}

func BenchmarkParseTimeRFC3339(b *testing.B) {
	for b.Loop() {
		if _, err := ParseTime("2024-03-01T10:20:30Z"); err != nil {
			b.Fatal(err)
		}
	}
}
