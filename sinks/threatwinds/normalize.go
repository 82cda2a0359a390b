package threatwinds

import (
	"crypto/sha3"
	"encoding/hex"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"unicode"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// entityTypes maps iocpipe's types to ThreatWinds entity types. An email
// address is "email-address": "email" is a message id in ThreatWinds.
var entityTypes = map[ioc.Type]string{
	ioc.IP:          "ip",
	ioc.IPv6:        "ip",
	ioc.CIDR:        "cidr",
	ioc.Domain:      "domain",
	ioc.URL:         "url",
	ioc.Email:       "email-address",
	ioc.MD5:         "md5",
	ioc.SHA1:        "sha1",
	ioc.SHA256:      "sha256",
	ioc.SHA512:      "sha512",
	ioc.CVE:         "cve",
	ioc.Bitcoin:     "btc",
	ioc.RegistryKey: "regkey",
	ioc.Malware:     "malware",
}

// EntityType returns the ThreatWinds entity type for an iocpipe type, and
// false when ThreatWinds has none (software, or an unknown type).
func EntityType(t ioc.Type) (string, bool) {
	et, ok := entityTypes[t]
	return et, ok
}

// A rule is how the main attribute of an entity type is validated and
// normalised, following the vendor SDK's validators.
type rule uint8

const (
	rIP      rule = iota + 1 // public IP address
	rCIDR                    // network whose given address is public
	rFQDN                    // domain or host name, lower-cased
	rURL                     // URL with scheme and host, both lower-cased
	rEmail                   // email address, lower-cased
	rMD5                     // 32 or 16 hex digits, lower-cased
	rHex40                   // SHA-1
	rHex56                   // SHA-224 and kin
	rHex64                   // SHA-256 and kin
	rHex96                   // SHA-384 and kin
	rHex128                  // SHA-512 and kin
	rCVE                     // CVE-YYYY-NNNN, upper-cased
	rString                  // case-sensitive text
	rIString                 // case-insensitive text, lower-cased
)

// typeInfo is what this package knows of an entity type: its rule, and a
// small number that stands for the type in dedup keys.
type typeInfo struct {
	rule rule
	id   uint8
}

// known are the entity types Normalize handles: those EntityType yields,
// and a few close kin. Their rules follow the vendor SDK
// (threatwinds/go-sdk entities/definitions.go), except cve: the SDK
// treats it as case-insensitive text and lower-cases it, but iocpipe's
// specification and the emulator upper-case it and check its form.
var known = func() map[string]typeInfo {
	rules := []struct {
		name string
		rule rule
	}{
		{"ip", rIP}, {"cidr", rCIDR}, {"domain", rFQDN}, {"hostname", rFQDN},
		{"url", rURL}, {"email-address", rEmail}, {"md5", rMD5},
		{"sha1", rHex40}, {"sha224", rHex56}, {"sha256", rHex64}, {"sha384", rHex96}, {"sha512", rHex128},
		{"sha3-224", rHex56}, {"sha3-256", rHex64}, {"sha3-384", rHex96}, {"sha3-512", rHex128},
		{"sha512-224", rHex56}, {"sha512-256", rHex64},
		{"cve", rCVE}, {"btc", rString}, {"xmr", rString},
		{"regkey", rIString}, {"malware", rIString}, {"malware-family", rIString},
	}
	m := make(map[string]typeInfo, len(rules))
	for i, r := range rules {
		m[r.name] = typeInfo{rule: r.rule, id: uint8(i + 1)}
	}
	return m
}()

var hexLen = map[rule]int{rHex40: 40, rHex56: 56, rHex64: 64, rHex96: 96, rHex128: 128}

var (
	// fqdnRE is the SDK's FQDN check (entities/fqdn.go), written without
	// its nested stars: labels of letters and digits joined by dots or by
	// one or two hyphens, and a top-level domain of 2 to 20 letters.
	fqdnRE = regexp.MustCompile(`^[a-z0-9]+(?:-{1,2}[a-z0-9]+|\.[a-z0-9]+)*\.[a-z]{2,20}$`)
	cveRE  = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,}$`)
)

// Normalize validates value as the main attribute of an entity of the
// given ThreatWinds type and returns it the way the API normalises it
// before hashing it into the entity id, following the vendor SDK:
//
//   - ip: net.ParseIP of the lower-cased value, in its String form;
//     private, loopback, link-local (unicast and multicast), multicast and
//     unspecified addresses are refused, as the API refuses them.
//   - cidr: the network of net.ParseCIDR; the address given and the
//     network's address must both be ones the ip rule accepts (the SDK
//     checks only the first, and would store 8.8.8.8/0 as 0.0.0.0/0).
//   - domain, hostname: lower-cased, then the SDK's FQDN check, and at
//     most 253 characters (as DNS has it; the SDK has no limit).
//   - url: url.ParseRequestURI, which must yield a scheme and a host; both
//     are lower-cased.
//   - email-address: the Address of mail.ParseAddress of the lower-cased
//     value.
//   - md5: lower-cased, 32 or 16 hex digits; sha1, sha256, sha512 (and
//     the other SHA-2 and SHA-3 types): lower-cased hex of the right
//     length.
//   - cve: upper-cased, CVE-YYYY-NNNN with four or more digits at the end.
//   - btc, xmr: text, case kept; regkey, malware, malware-family: text,
//     lower-cased. Characters that are not letters, digits, punctuation,
//     symbols or spaces become spaces, and a blank value is refused.
//
// A value whose normalised form would not normalise to itself is refused
// (the SDK turns "quoted name"@x.com into quoted name@x.com), since the
// normalised form is what is sent. Any other type is an error.
func Normalize(entityType, value string) (string, error) {
	ti, ok := known[entityType]
	if !ok {
		return "", fmt.Errorf("entity type %q is not one iocpipe sends to ThreatWinds", entityType)
	}
	v, err := ti.rule.normalize(value)
	if err != nil || v == value {
		return v, err
	}
	// What is sent is the normalised value, and the API normalises it
	// again: it must come back unchanged, or the entity would be refused
	// or stored under another id. ("quoted name"@x.com normalises to
	// quoted name@x.com, which is no address.)
	if again, err := ti.rule.normalize(v); err != nil || again != v {
		return "", fmt.Errorf("%q normalises to %q, which ThreatWinds would not take back unchanged", value, v)
	}
	return v, nil
}

// EntityID returns the id ThreatWinds gives the entity of the given type
// whose main attribute is value: "<type>-<hex SHA3-256 of the normalised
// value>". It fails when Normalize does.
func EntityID(entityType, value string) (string, error) {
	v, err := Normalize(entityType, value)
	if err != nil {
		return "", err
	}
	sum := sha3.Sum256([]byte(v))
	return idOf(entityType, sum), nil
}

func idOf(entityType string, sum [32]byte) string {
	b := make([]byte, 0, len(entityType)+1+64)
	b = append(b, entityType...)
	b = append(b, '-')
	return string(hex.AppendEncode(b, sum[:]))
}

// An entityKey identifies an entity in this package's dedup sets: its type
// and the hash of its normalised main attribute.
type entityKey struct {
	typ uint8
	sum [32]byte
}

// An entity is an indicator ready for ThreatWinds: type, normalised main
// attribute, id and key.
type entity struct {
	typ, value, id string
	key            entityKey
}

// resolve maps an iocpipe type and value to a ThreatWinds entity. An IP
// value with a prefix length (a network given as an IP) goes as a cidr.
// The error says why the value cannot be sent.
func resolve(t ioc.Type, value string) (entity, error) {
	et, ok := EntityType(t)
	if !ok {
		if t == "" {
			return entity{}, fmt.Errorf("the indicator has no type, and ThreatWinds needs one")
		}
		return entity{}, fmt.Errorf("type %s has no ThreatWinds entity type", t)
	}
	if et == "ip" && strings.Contains(value, "/") {
		et = "cidr"
	}
	v, err := Normalize(et, value)
	if err != nil {
		return entity{}, err
	}
	sum := sha3.Sum256([]byte(v))
	return entity{typ: et, value: v, id: idOf(et, sum), key: entityKey{known[et].id, sum}}, nil
}

func (r rule) normalize(s string) (string, error) {
	switch r {
	case rIP:
		return publicIP(s)
	case rCIDR:
		ip, n, err := net.ParseCIDR(strings.ToLower(s))
		if err != nil {
			return "", fmt.Errorf("%q is not a CIDR block", s)
		}
		if _, err := publicIP(ip.String()); err != nil {
			return "", err
		}
		// The SDK checks only the address given, but stores the network;
		// a network that its own rule would refuse (8.8.8.8/0 is
		// 0.0.0.0/0) could not be sent as normalised, nor linked.
		if _, err := publicIP(n.IP.String()); err != nil {
			return "", fmt.Errorf("%s is the network %s, and %w", s, n, err)
		}
		return n.String(), nil
	case rFQDN:
		v := strings.ToLower(s)
		if len(v) > 253 || !fqdnRE.MatchString(v) {
			return "", fmt.Errorf("%q is not a fully qualified domain name as ThreatWinds checks them (at most 253 letters, digits, dots and hyphens, no more than two hyphens in a row, a top-level domain of 2 to 20 letters)", s)
		}
		return v, nil
	case rURL:
		u, err := url.ParseRequestURI(s)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return "", fmt.Errorf("%q is not a URL with a scheme and a host", s)
		}
		u.Scheme = strings.ToLower(u.Scheme)
		u.Host = strings.ToLower(u.Host)
		return u.String(), nil
	case rEmail:
		a, err := mail.ParseAddress(strings.ToLower(s))
		if err != nil {
			return "", fmt.Errorf("%q is not an email address: %v", s, err)
		}
		return a.Address, nil
	case rMD5:
		v := strings.ToLower(s)
		if (len(v) != 32 && len(v) != 16) || !isHex(v) {
			return "", fmt.Errorf("%q is not an MD5 hash: want 32 (or 16) hex digits", s)
		}
		return v, nil
	case rHex40, rHex56, rHex64, rHex96, rHex128:
		n := hexLen[r]
		v := strings.ToLower(s)
		if len(v) != n || !isHex(v) {
			return "", fmt.Errorf("%q is not a hash of %d hex digits", s, n)
		}
		return v, nil
	case rCVE:
		v := strings.ToUpper(s)
		if !cveRE.MatchString(v) {
			return "", fmt.Errorf("%q is not a CVE id (CVE-YYYY-NNNN)", s)
		}
		return v, nil
	}
	return text(s, r == rIString)
}

// publicIP normalises an IP address and refuses those the API refuses, in
// the order the SDK checks them.
func publicIP(s string) (string, error) {
	ip := net.ParseIP(strings.ToLower(s))
	var what string
	switch {
	case ip == nil:
		return "", fmt.Errorf("%q is not an IP address", s)
	case ip.IsPrivate():
		what = "private"
	case ip.IsInterfaceLocalMulticast():
		what = "interface-local multicast"
	case ip.IsLinkLocalMulticast():
		what = "link-local multicast"
	case ip.IsLinkLocalUnicast():
		what = "link-local"
	case ip.IsLoopback():
		what = "loopback"
	case ip.IsMulticast():
		what = "multicast"
	case ip.IsUnspecified():
		what = "unspecified"
	default:
		return ip.String(), nil
	}
	article := "a"
	if strings.ContainsRune("aeiou", rune(what[0])) {
		article = "an"
	}
	return "", fmt.Errorf("%s is %s %s address: ThreatWinds takes public IP addresses only", s, article, what)
}

// text is the SDK's string rule: characters that are not letters, digits,
// punctuation, symbols or spaces become spaces. An invalid UTF-8 byte
// becomes U+FFFD (a symbol, so kept), as it does on its way through JSON.
func text(s string, insensitive bool) (string, error) {
	v := strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsPunct(r) || unicode.IsSpace(r) || unicode.IsSymbol(r) {
			return r
		}
		return ' '
	}, s)
	if strings.TrimSpace(v) == "" {
		return "", fmt.Errorf("the value is blank")
	}
	if insensitive {
		v = strings.ToLower(v)
	}
	return v, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
