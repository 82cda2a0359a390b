package formats

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/iocpipe/iocpipe/schemas"
)

// DescribeViolations renders schema violations of a row or object for its
// reject, the one way every format and the engine word them: the field of
// the first violation, its value as the report shows it, that
// violation's message (with the sub-path in brackets: "[1].name must be
// ..."), and the others ("; tags[2] must be ...").
func DescribeViolations(obj schemas.Value, v []schemas.Violation) (field, value, first, rest string) {
	field, sub, _ := strings.Cut(v[0].Field, ".")
	first = v[0].Message
	if sub != "" {
		first = bracket(sub) + " " + first
	}
	var b strings.Builder
	for _, more := range v[1:] {
		f, sub, _ := strings.Cut(more.Field, ".")
		b.WriteString("; " + f + bracket(sub) + " " + more.Message)
	}
	return field, Display(obj.Get(field)), first, b.String()
}

// bracket renders a sub-path such as "1.name" as "[1].name".
func bracket(sub string) string {
	if sub == "" {
		return ""
	}
	var b strings.Builder
	for part := range strings.SplitSeq(sub, ".") {
		if _, err := strconv.Atoi(part); err == nil {
			b.WriteString("[" + part + "]")
		} else {
			b.WriteString("." + part)
		}
	}
	return b.String()
}

// Display renders a field for a reject report: a scalar as written, a
// compound value as JSON.
func Display(v schemas.Value) string {
	switch v.Kind {
	case schemas.String, schemas.Number, schemas.Bool:
		return v.Str
	case schemas.Missing:
		return ""
	}
	b, err := json.Marshal(v.Any())
	if err != nil {
		return v.Kind.String()
	}
	return string(b)
}
