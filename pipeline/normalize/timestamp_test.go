package normalize

import (
	"errors"
	"strconv"
	"testing"
	"time"
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
		// YYYYMMDD is a date, never epoch seconds (which would be 1970).
		{"20240301", day, nil},
		{"20161108", 1478563200000, nil},
		{"20241301", 0, errTimeRange},
		{"20230229", 0, errTimeRange},
		{"19691231", 0, errTimeBefore},
		// Month and year: the first of the month.
		{"Mar-24", day, nil},
		{"March 2024", day, nil},
		{"mar 2024", day, nil},
		{"Mar, 2024", day, nil},
		{"MAR/2024", day, nil},
		{"2024-03", day, nil},
		{"Jun-22", 1654041600000, nil},
		{"Sept 2021", 1630454400000, nil},
		{"Dec-99", 944006400000, nil},
		{"Jun-2", 0, errTimeForm},
		{"Juno 2022", 0, errTimeForm},
		{"June", 0, errTimeForm},
		{"2024-13", 0, errTimeRange},
		// Numbers outside 1990-01-01 .. now+10y in every unit are errors.
		{"1", 0, errEpochRange},
		{"12345", 0, errEpochRange},
		{"123456789", 0, errEpochRange},   // 1973 as seconds
		{"631152000", 631152000000, nil},  // 1990-01-01 as seconds
		{"631151999", 0, errEpochRange},   // a second before
		{"4102444800", 0, errEpochRange},  // 2100 as seconds
		{"99999999999", 0, errEpochRange}, // 1973 as ms
		{"1709251200000000001", day, nil}, // ns
		{"9000000000000000000", 0, errEpochRange},
		{"1969-12-31", 0, errTimeBefore},
		{"2100-01-01", 0, errTimeFuture},
		{"99999999999999999999", 0, errTimeHuge},
		{"1.5", 0, errEpochRange},
		{"1e999", 0, errTimeHuge},
		{"NaN", 0, errTimeForm},
		{"2024-03-01T", 0, errTimeForm},
		{"2024-03-01x", 0, errTimeForm},
	}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		got, err := ParseTimeAt(tt.in, now)
		if got != tt.want || !errors.Is(err, tt.wantErr) {
			t.Errorf("ParseTime(%q) = %d, %v; want %d, %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestParseTimeEpochBound checks the upper bound of epoch times: ten years
// from now.
func TestParseTimeEpochBound(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	in := now.Add(epochAhead)
	if got, err := ParseTimeAt(strconv.FormatInt(in.Unix(), 10), now); err != nil || got != in.UnixMilli() {
		t.Errorf("ten years ahead: got %d, %v; want %d", got, err, in.UnixMilli())
	}
	_, err := ParseTimeAt(strconv.FormatInt(in.Unix()+1, 10), now)
	if !errors.Is(err, errEpochRange) {
		t.Errorf("a second later: got %v; want %v", err, errEpochRange)
	}
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2024-03-01", "2024-03-01T00:00:00.5+01:00", "1709251200", "1e9", "2024-03-01 00:00:00 UTC", "-0", "+1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := ParseTime(s)
		if len(s) == 8 && err == nil && ms != 0 && allDigits(s) && time.UnixMilli(ms).UTC().Format("20060102") != s {
			t.Fatalf("ParseTime(%q) = %d, not the date it spells", s, ms)
		}
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

func BenchmarkParseTimeEpoch(b *testing.B) {
	for b.Loop() {
		if _, err := ParseTime("1709251200"); err != nil {
			b.Fatal(err)
		}
	}
}
