package normalize

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// Timestamp bounds: earlier is surely a mistake (epoch 0 means unknown and
// is handled before), later is a far-future value no feed means.
var (
	minTime = time.Date(1970, 1, 1, 0, 0, 0, 1e6, time.UTC).UnixMilli()
	maxTime = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
)

var (
	errTimeForm   = errors.New("not a timestamp: use RFC 3339, YYYY-MM-DD, 'YYYY-MM-DD HH:MM:SS' or epoch seconds/ms/µs/ns")
	errTimeRange  = errors.New("no such date or time (check the month, day, hour and minute)")
	errTimeHuge   = errors.New("number too large for a timestamp")
	errTimeBefore = errors.New("timestamp before 1970-01-01")
	errTimeFuture = errors.New("timestamp after 2100-01-01")
)

// ParseTime converts every timestamp form iocpipe accepts into epoch
// milliseconds:
//
//   - RFC 3339, with 'T' or a space between date and time, with or
//     without fractional seconds, with a zone (Z, ±hh:mm, ±hhmm, ±hh, UTC,
//     GMT) or without one, which means UTC; seconds may be left out;
//   - a date alone, YYYY-MM-DD, meaning midnight UTC;
//   - a whole or fractional number: epoch seconds, milliseconds,
//     microseconds or nanoseconds, told apart by magnitude (below 1e11 is
//     seconds — up to the year 5138 —, below 1e14 ms, below 1e17 µs).
//
// "0" (and an empty string) mean unknown and yield 0 with no error. A
// time before 1970 or after 2100 is an error.
func ParseTime(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	var ms int64
	var err error
	if c := s[0]; (c >= '0' && c <= '9' && !looksLikeDate(s)) || c == '-' || c == '+' {
		ms, err = parseEpoch(s)
	} else {
		ms, err = parseDate(s)
	}
	if err != nil {
		return 0, err
	}
	switch {
	case ms < minTime:
		return 0, errTimeBefore
	case ms >= maxTime:
		return 0, errTimeFuture
	}
	return ms, nil
}

func looksLikeDate(s string) bool { return len(s) >= 10 && s[4] == '-' && s[7] == '-' }

func parseEpoch(s string) (int64, error) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return scaleEpoch(float64(i), i)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && f > 1 { // out of float range
		return 0, errTimeHuge
	}
	if err != nil || f != f { // NaN
		return 0, errTimeForm
	}
	return scaleEpoch(f, 0)
}

// scaleEpoch picks the unit by magnitude. i carries the exact integer when
// the input was whole, so nanoseconds keep their precision.
func scaleEpoch(f float64, i int64) (int64, error) {
	if f < 0 {
		return 0, errTimeBefore
	}
	switch {
	case f < 1e11:
		return int64(f * 1000), nil
	case f < 1e14:
		return int64(f), nil
	case f < 1e17:
		if i != 0 {
			return i / 1000, nil
		}
		return int64(f / 1e3), nil
	case f < 9.3e18:
		if i != 0 {
			return i / 1e6, nil
		}
		return int64(f / 1e6), nil
	}
	return 0, errTimeHuge
}

// parseDate parses the calendar forms by hand: this runs for every row, and
// time.Parse with a list of layouts costs several times more.
func parseDate(s string) (int64, error) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return 0, errTimeForm
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 {
		return 0, errTimeForm
	}
	rest := s[10:]
	var hour, minute, sec, nsec int
	if rest != "" {
		if rest[0] != 'T' && rest[0] != 't' && rest[0] != ' ' || len(rest) < 6 || rest[3] != ':' {
			return 0, errTimeForm
		}
		var ok bool
		if hour, ok = digits(rest[1:3]); !ok {
			return 0, errTimeForm
		}
		if minute, ok = digits(rest[4:6]); !ok {
			return 0, errTimeForm
		}
		rest = rest[6:]
		if len(rest) >= 3 && rest[0] == ':' {
			if sec, ok = digits(rest[1:3]); !ok {
				return 0, errTimeForm
			}
			rest = rest[3:]
			if len(rest) > 1 && (rest[0] == '.' || rest[0] == ',') {
				n := 1
				for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
					n++
				}
				frac := rest[1:n]
				if frac == "" {
					return 0, errTimeForm
				}
				if len(frac) > 9 {
					frac = frac[:9]
				}
				f, _ := strconv.Atoi(frac)
				for i := len(frac); i < 9; i++ {
					f *= 10
				}
				nsec = f
				rest = rest[n:]
			}
		}
	}
	offset, err := parseZone(rest)
	if err != nil {
		return 0, err
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 60 {
		return 0, errTimeRange
	}
	if sec == 60 { // a leap second: the instant after :59
		sec = 59
		nsec = 999999999
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	return t.UnixMilli() - int64(offset)*1000, nil
}

// parseZone returns the zone's offset east of UTC in seconds.
func parseZone(z string) (int, error) {
	z = strings.TrimSpace(z)
	switch z {
	case "", "Z", "z", "UTC", "GMT", "utc":
		return 0, nil
	}
	if z[0] != '+' && z[0] != '-' {
		return 0, errTimeForm
	}
	sign := 1
	if z[0] == '-' {
		sign = -1
	}
	z = strings.ReplaceAll(z[1:], ":", "")
	var h, m int
	var ok bool
	switch len(z) {
	case 2:
		h, ok = digits(z)
	case 4:
		var ok2 bool
		h, ok = digits(z[:2])
		m, ok2 = digits(z[2:])
		ok = ok && ok2
	}
	if !ok || h > 23 || m > 59 {
		return 0, errTimeForm
	}
	return sign * (h*3600 + m*60), nil
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(s) > 0
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
