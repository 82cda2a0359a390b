package pipeline

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/warninglist"
)

// A Route says how files are read and normalized: the route section of the
// configuration, with enclave names already checked. The zero Route has no
// enclaves and cannot build submissions; cmd fills it from the config.
type Route struct {
	// Name is the route's name, for logs and reports.
	Name string
	// Sink names the sink the route delivers to ("trustar", "threatwinds").
	Sink string
	// Enclaves are the default enclaves, as UUIDs.
	Enclaves []string
	// Tags are the default (route-level) tags, as written in the config.
	Tags []string
	// Source is the default source of indicators.
	Source string
	// EnclaveNames maps enclave names (as configured) to UUIDs, for
	// resolving names given in rows and files.
	EnclaveNames map[string]string
	// Format forces a format ("csv", "json", "jsonl"); empty detects.
	Format string
	// Delimiter forces the CSV delimiter; 0 detects it.
	Delimiter rune
	// Reputation is the default ThreatWinds reputation; nil leaves it to
	// the sink's default.
	Reputation *int
	// Columns maps canonical fields (formats.FieldValue, formats.FieldType, ...) to the
	// columns of a CSV file that feed them: header names, or 1-based
	// positions written as numbers ("3"). Each of several value columns
	// yields its own indicator; several columns of another field are
	// joined (notes, tags) or the first non-empty one wins. Fields not
	// listed are found by the header aliases, among the columns not
	// listed. Nil leaves every field to the aliases.
	Columns map[string][]string
	// JSONFields maps canonical fields to dotted paths in JSON items
	// ("ioc.value", "attributes.tags"; a path through an array collects
	// from every element). The key "items" names the path to the array of
	// items inside a wrapper object ("data"). Fields not listed are found
	// by the key aliases. Nil leaves everything to the defaults.
	JSONFields map[string][]string
	// MaxLineBytes is the longest line, delimited record or JSON value
	// read; 0 means formats.DefaultMaxLine.
	MaxLineBytes int
	// Warninglists are the lists an indicator must not be on to be sent:
	// one that is, is skipped with the list's name (SkipWarninglists);
	// nil checks none.
	Warninglists *warninglist.Set
	// MISPToIDs is formats.MISPToIDsRequired or formats.MISPToIDsAny
	// (see formats.Options.MISPToIDs); empty means required.
	MISPToIDs string
}

// SkipWarninglists is the Summary.Skips key of the rows and indicators
// skipped for being on one of the route's warninglists.
const SkipWarninglists = "warninglists"

// ReadOptions returns what the formats need of the route.
func (r *Route) ReadOptions() formats.Options {
	return formats.Options{Format: r.Format, Delimiter: r.Delimiter, Columns: r.Columns, JSONFields: r.JSONFields, MaxLineBytes: r.MaxLineBytes, MISPToIDs: r.MISPToIDs}
}

// JSONItems is the key of Route.JSONFields that names the path to the
// array of items in a wrapper object.
const JSONItems = "items"

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// IsUUID reports whether s has the form of a UUID.
func IsUUID(s string) bool { return len(s) == 36 && uuidRE.MatchString(s) }

// ResolveEnclave returns the UUID for an enclave given by name or UUID:
// names are matched exactly, then without regard to case.
func (r *Route) ResolveEnclave(s string) (string, error) {
	s = strings.TrimSpace(s)
	if IsUUID(s) {
		return strings.ToLower(s), nil
	}
	if id, ok := r.EnclaveNames[s]; ok {
		return id, nil
	}
	for name, id := range r.EnclaveNames {
		if strings.EqualFold(name, s) {
			return id, nil
		}
	}
	names := make([]string, 0, len(r.EnclaveNames))
	for name := range r.EnclaveNames {
		names = append(names, name)
	}
	slices.Sort(names)
	if len(names) == 0 {
		return "", fmt.Errorf("unknown enclave %q: no enclave names are configured (give a UUID, or name it under enclaves:)", s)
	}
	return "", fmt.Errorf("unknown enclave %q (configured: %s)", s, strings.Join(names, ", "))
}
