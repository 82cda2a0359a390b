// Package misptype is MISP's attribute vocabulary as iocpipe reads it:
// which MISP types are indicators and of which type, how a composite
// value splits, which attributes are references rather than indicators,
// and what to_ids decides. It is the one table the MISP readers share:
// MISP JSON (package misp), MISP's CSV export (package mispcsv) and STIX
// written by MISP's converter (package stix, through its misp:type and
// misp:to_ids labels).
package misptype

import (
	"fmt"
	"strings"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/pipeline/normalize"
)

// types maps MISP attribute types to iocpipe's; MISP's vocabulary is
// closed, so a type not here (nor an indicator type by name) is skipped.
var types = map[string]ioc.Type{
	"ip-dst": ioc.IP, "ip-src": ioc.IP, "domain": ioc.Domain, "hostname": ioc.Domain, "url": ioc.URL, "uri": ioc.URL,
	"email": ioc.Email, "email-src": ioc.Email, "email-dst": ioc.Email, "email-reply-to": ioc.Email,
	"md5": ioc.MD5, "sha1": ioc.SHA1, "sha256": ioc.SHA256, "sha512": ioc.SHA512,
	"vulnerability": ioc.CVE, "btc": ioc.Bitcoin, "regkey": ioc.RegistryKey,
}

// not names MISP types that share a name with an indicator type, or
// would be taken for one, but are none.
var not = map[string]string{
	"link": "a reference link", "port": "a port", "text": "free text", "comment": "free text", "other": "free text",
	"threat-actor": "a threat actor's name", "campaign-name": "a campaign name",
}

// Resolve resolves one MISP attribute type (one part of a composite
// type): the indicator type, or what it is when it is none; port says it
// is a port.
func Resolve(t string) (typ ioc.Type, what string, port bool) {
	t = strings.ToLower(strings.TrimSpace(t))
	if it, ok := types[t]; ok {
		return it, "", false
	}
	if t == "port" {
		return "", "a port", true
	}
	if w, ok := not[t]; ok {
		return "", w, false
	}
	it, w, ok := normalize.LookupType(t)
	switch {
	case w != "":
		return "", w, false
	case ok && it != "" && it != normalize.FileType && !normalize.IsContext(it):
		return it, "", false
	}
	return "", "a MISP type iocpipe does not send", false
}

// Split splits a value by its (composite) MISP type ("filename|sha256",
// "ip-dst|port", "domain|ip"; "malware-sample" is filename|md5): the
// indicator parts, each written with its type hint (type +
// formats.TypeHintSep + value); the other parts, as notes ("port 443",
// "filename a.exe"); and what the first part that is no indicator is.
func Split(typ, value string) (parts, notes []string, what string, err error) {
	kinds := strings.Split(typ, "|")
	if strings.EqualFold(strings.TrimSpace(typ), "malware-sample") {
		kinds = []string{"filename", "md5"}
	}
	values := []string{value}
	if len(kinds) > 1 {
		values = strings.SplitN(value, "|", len(kinds))
		if len(values) != len(kinds) {
			return nil, nil, "", fmt.Errorf("MISP composite type %q needs %d values separated by '|'", typ, len(kinds))
		}
	}
	for i, t := range kinds {
		it, w, port := Resolve(t)
		v := normalize.CleanText(values[i])
		switch {
		case v == "":
		case port:
			notes = append(notes, "port "+v)
		case it != "":
			parts = append(parts, string(it)+formats.TypeHintSep+v)
		default:
			notes = append(notes, t+" "+v)
			if what == "" {
				what = w
			}
		}
	}
	return parts, notes, what, nil
}

// NotIndicator is the skip reason of an attribute of MISP type typ that
// is what (Split's third result), not an indicator.
func NotIndicator(typ, what string) string {
	return fmt.Sprintf("MISP type %q is %s, not an indicator", typ, what)
}

// Reference returns the skip reason of an attribute that is a reference
// to a report rather than an indicator: a link, or a URL in the category
// "External analysis" (the vendor's own blog post); empty otherwise.
func Reference(category, typ string) string {
	t := strings.ToLower(strings.TrimSpace(typ))
	if strings.EqualFold(strings.TrimSpace(category), "External analysis") && (t == "url" || t == "uri" || t == "link") {
		return fmt.Sprintf("MISP %s in category External analysis: a reference to a report, not an indicator", t)
	}
	return ""
}

// Skip says why an attribute of MISP type typ in category is skipped when
// read with opts: its type is what, no indicator (Split found no part of
// one: indicator false), it is a reference to a report, or its to_ids
// keeps it out; key is the summary count it adds to (formats.Row.SkipKey).
// Both are empty when the attribute is read. MISP JSON and MISP CSV
// decide with it alike.
func Skip(typ, category, what string, indicator, toIDs bool, opts formats.Options) (reason, key string) {
	switch {
	case !indicator && what != "":
		return NotIndicator(typ, what), ""
	case Reference(category, typ) != "":
		return Reference(category, typ), ""
	case ToIDsSkip(toIDs, opts) != "":
		return ToIDsReason, formats.SkipMISPToIDs
	}
	return "", ""
}

// ToIDsSkip is the skip reason of an attribute whose to_ids is toIDs when
// read with opts (formats.Options.MISPToIDs): empty when it is read.
func ToIDsSkip(toIDs bool, opts formats.Options) string {
	if toIDs || opts.MISPToIDs == formats.MISPToIDsAny {
		return ""
	}
	return ToIDsReason
}

// ToIDsReason is the skip reason of an attribute whose to_ids is false; a
// skipped row carries formats.SkipMISPToIDs as its SkipKey.
const ToIDsReason = "to_ids is false: MISP marks it as not for detection (misp_to_ids: any imports it)"

// Truth reads a MISP boolean as MISP's exports write it (true, 1, "1",
// "true", "True"); def when empty.
func Truth(s string, def bool) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return def
	case "1", "true", "yes":
		return true
	}
	return false
}

// Rules says, for inspect, what a MISP reader with opts skips, and how
// the route's misp_to_ids decides it; more are the reader's own skips
// ("deleted").
func Rules(opts formats.Options, more ...string) []string {
	skipped := append(more, "types that are no indicator", "references (links, External analysis URLs)")
	if opts.MISPToIDs == formats.MISPToIDsAny {
		return []string{"skipped: " + strings.Join(skipped, ", "), "to_ids false: read all the same (misp_to_ids: any)"}
	}
	return []string{"skipped: to_ids false (misp_to_ids: required; misp_to_ids: any imports them), " + strings.Join(skipped, ", ")}
}
