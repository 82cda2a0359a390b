package normalize

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Timestamp bounds: earlier is surely a mistake (epoch 0 means unknown and
// is handled before), later is a far-future value no feed means.
var (
	minTime = time.Date(1970, 1, 1, 0, 0, 0, 1e6, time.UTC).UnixMilli()
	maxTime = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	// minEpoch is the earliest date a bare number is read as: below it, a
	// number is more likely an id, a count or a date in another form.
	minEpoch = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	// surelyNear is ten years after this code was written: an epoch time
	// before it is within ten years of any now, so the clock (a system
	// call on some machines) is read only for later ones.
	surelyNear = time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
)

// epochAhead is how far past now a bare number may fall and still be read
// as an epoch time: ten years, leap days included.
const epochAhead = (10*365 + 3) * 24 * time.Hour

var (
	errTimeForm   = errors.New("not a timestamp: use RFC 3339, YYYY-MM-DD, YYYYMMDD, 'YYYY-MM-DD HH:MM:SS', a month and year (Jun-22, June 2022) or epoch seconds/ms/µs/ns")
	errTimeRange  = errors.New("no such date or time (check the month, day, hour and minute)")
	errTimeHuge   = errors.New("number too large for a timestamp")
	errTimeBefore = errors.New("timestamp before 1970-01-01")
	errTimeFuture = errors.New("timestamp after 2100-01-01")
	errEpochRange = errors.New("a number is read as epoch seconds, ms, µs or ns only when that gives a date between 1990-01-01 and 10 years from now")
)

// ParseTime converts every timestamp form iocpipe accepts into epoch
// milliseconds:
//
//   - RFC 3339, with 'T' or a space between date and time, with or
//     without fractional seconds, with a zone (Z, ±hh:mm, ±hhmm, ±hh, UTC,
//     GMT) or without one, which means UTC; seconds may be left out;
//   - a date alone, YYYY-MM-DD or YYYYMMDD (eight digits are always a
//     date, never epoch seconds), meaning midnight UTC;
//   - a month and year (Jun-22, June 2022, Sep 2021, 2022-06), meaning
//     the first of the month, midnight UTC; a two-digit year below 69 is
//     20yy, else 19yy;
//   - a whole or fractional number: epoch seconds, milliseconds,
//     microseconds or nanoseconds, whichever of them gives a time between
//     1990-01-01 and ten years from now (the ranges do not overlap); a
//     number none of them places there is an error, never a wrong date.
//
// "0" (and an empty string) mean unknown and yield 0 with no error. A
// date before 1970 or after 2100 is an error. ParseTime reads the clock
// for the epoch bound; ParseTimeAt is the same function of a given now.
func ParseTime(s string) (int64, error) { return parseTime(s, time.Now) }

// ParseTimeAt is ParseTime with now as the present, for the upper bound of
// epoch times.
func ParseTimeAt(s string, now time.Time) (int64, error) {
	return parseTime(s, func() time.Time { return now })
}

func parseTime(s string, now func() time.Time) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	var ms int64
	var err error
	switch c := s[0]; {
	case len(s) == 8 && allDigits(s):
		ms, err = parseCompactDate(s)
	case len(s) == 7 && s[4] == '-' && allDigits(s[:4]) && allDigits(s[5:]):
		ms, err = monthStart(s[:4], s[5:])
	case c >= '0' && c <= '9' && !looksLikeDate(s), c == '-', c == '+', c == '.':
		return parseEpoch(s, now)
	case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		ms, err = parseMonthYear(s)
	default:
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

func allDigits(s string) bool {
	_, ok := digits(s)
	return ok
}

// parseCompactDate parses YYYYMMDD.
func parseCompactDate(s string) (int64, error) {
	year, _ := digits(s[:4])
	month, _ := digits(s[4:6])
	day, _ := digits(s[6:8])
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) {
		return 0, fmt.Errorf("%w: %s read as YYYYMMDD", errTimeRange, s)
	}
	return time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC).UnixMilli(), nil
}

// monthStart returns the first of month (1-12, as digits) of year (two
// or four digits).
func monthStart(year, month string) (int64, error) {
	y, ok1 := digits(year)
	m, ok2 := digits(month)
	if !ok1 || !ok2 || len(year) != 2 && len(year) != 4 {
		return 0, errTimeForm
	}
	if len(year) == 2 {
		y += 2000
		if y >= 2069 {
			y -= 100
		}
	}
	if m < 1 || m > 12 {
		return 0, errTimeRange
	}
	return time.Date(y, time.Month(m), 1, 0, 0, 0, 0, time.UTC).UnixMilli(), nil
}

// months are the month names a month-year form may use: full, three
// letters, and Sept.
var months = map[string]int{
	"jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
	"may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8,
	"sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
}

// parseMonthYear parses a month name and a year: Jun-22, June 2022,
// Sep, 2021, jun/2022.
func parseMonthYear(s string) (int64, error) {
	name, year, ok := strings.Cut(strings.Map(func(r rune) rune {
		switch r {
		case '-', '/', ',', '.', '\t':
			return ' '
		}
		return r
	}, s), " ")
	year = strings.TrimSpace(year)
	m, known := months[strings.ToLower(name)]
	if !ok || !known {
		return 0, errTimeForm
	}
	return monthStart(year, strconv.Itoa(m))
}

// parseEpoch reads a number as epoch seconds, ms, µs or ns: the unit that
// places it between 1990-01-01 and epochAhead years from now.
func parseEpoch(s string, now func() time.Time) (int64, error) {
	ms, err := epochMillis(s)
	if err != nil {
		return 0, err
	}
	if ms < minEpoch || ms >= surelyNear && ms > now().Add(epochAhead).UnixMilli() {
		return 0, errEpochRange
	}
	return ms, nil
}

// epochMillis scales a number to milliseconds by the first unit that
// reaches minEpoch; a number no unit fits yields a value out of range.
func epochMillis(s string) (int64, error) {
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
