package taxiitest

import (
	"crypto/md5"  //nolint:gosec // demo indicator values, not security
	"crypto/sha1" //nolint:gosec // demo indicator values, not security
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// demoEpoch is when the demo indicators were made and added.
var demoEpoch = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// demoDateAdded is the date_added of the i-th demo indicator: runs of
// same share one, a second apart, with microseconds to show the
// precision.
func demoDateAdded(i, same int) time.Time {
	return demoEpoch.Add(time.Duration(i/same)*time.Second + 123456*time.Microsecond)
}

// demoObjects returns n STIX 2.1 indicators, the same on every call:
// IPv4 and IPv6 addresses, domain names, URLs, email addresses and
// MD5, SHA-1 and SHA-256 file hashes, in turn.
func demoObjects(n int) []object {
	out := make([]object, 0, n)
	for i := range n {
		pattern, name := demoPattern(i)
		created := demoEpoch.Add(-time.Duration(n-i) * time.Hour)
		doc := map[string]any{
			"type":            "indicator",
			"spec_version":    "2.1",
			"id":              "indicator--" + uuidOf(fmt.Sprintf("iocpipe taxii demo %d", i)),
			"created":         created.Format("2006-01-02T15:04:05.000Z"),
			"modified":        created.Format("2006-01-02T15:04:05.000Z"),
			"name":            name,
			"indicator_types": []string{"malicious-activity"},
			"pattern":         pattern,
			"pattern_type":    "stix",
			"valid_from":      created.Format("2006-01-02T15:04:05Z"),
			"labels":          []string{"demo"},
		}
		raw, _ := json.Marshal(doc)
		o, err := parseObject(raw)
		if err != nil {
			panic(err) // the demo is made here: a bug, not an input
		}
		out = append(out, o)
	}
	return out
}

// demoPattern is the i-th demo indicator's pattern and name.
func demoPattern(i int) (pattern, name string) {
	seed := []byte(fmt.Sprintf("iocpipe demo value %d", i))
	n := i/8 + 1
	switch i % 8 {
	case 0:
		return fmt.Sprintf("[ipv4-addr:value = '198.51.100.%d']", n), "Demo C2 address"
	case 1:
		return fmt.Sprintf("[ipv6-addr:value = '2001:db8::%x']", n), "Demo IPv6 C2 address"
	case 2:
		return fmt.Sprintf("[domain-name:value = 'c2-%d.example.com']", n), "Demo C2 domain"
	case 3:
		return fmt.Sprintf("[url:value = 'http://payload-%d.example.net/drop.bin']", n), "Demo payload URL"
	case 4:
		return fmt.Sprintf("[email-addr:value = 'phish-%d@example.org']", n), "Demo phishing sender"
	case 5:
		h := md5.Sum(seed) //nolint:gosec // a demo value
		return "[file:hashes.MD5 = '" + hex.EncodeToString(h[:]) + "']", "Demo dropper (MD5)"
	case 6:
		h := sha1.Sum(seed) //nolint:gosec // a demo value
		return "[file:hashes.'SHA-1' = '" + hex.EncodeToString(h[:]) + "']", "Demo dropper (SHA-1)"
	default:
		h := sha256.Sum256(seed)
		return "[file:hashes.'SHA-256' = '" + hex.EncodeToString(h[:]) + "']", "Demo dropper (SHA-256)"
	}
}
