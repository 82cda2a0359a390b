package threatwindstest

import (
	"crypto/sha3"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// An Entity is an entity as the emulator stored it.
type Entity struct {
	// ID is "<type>-<hex SHA3-256 of Value>".
	ID string `json:"id"`
	// Type is the entity type, like "ip" or "domain".
	Type string `json:"type"`
	// Value is the normalised main attribute.
	Value string `json:"value"`
	// Attributes holds the attributes last posted, merged over earlier
	// posts, with the main attribute replaced by Value.
	Attributes map[string]any `json:"attributes"`
	// Reputation is the last reputation posted (-3..3); a post to
	// /well-known leaves it alone.
	Reputation int `json:"reputation"`
	// Tags and Correlate are the union of those posted; VisibleBy is the
	// last non-empty list posted.
	Tags      []string `json:"tags,omitempty"`
	VisibleBy []string `json:"visibleBy,omitempty"`
	Correlate []string `json:"correlate,omitempty"`
	// WellKnown is set once the entity was posted to /well-known.
	WellKnown bool `json:"wellKnown"`
	// Posts counts how often the entity was received, as an entity, as an
	// association of another entity or as a well-known entity.
	Posts int `json:"posts"`
	// Links are the entity's associations, from nested associations and
	// from POST /association, each once.
	Links []Link `json:"links,omitempty"`
	// Comments are the comments posted to the entity, in order.
	Comments []Comment `json:"comments,omitempty"`
}

// A Link is an association from one entity to another.
type Link struct {
	// Mode is "aggregation" or "association".
	Mode string `json:"mode"`
	// ID is the id of the related entity.
	ID string `json:"id"`
}

// A Comment is a comment posted to an entity.
type Comment struct {
	// Text is the comment itself.
	Text string `json:"comment"`
	// ParentID and VisibleBy are as posted; ParentID is not checked.
	ParentID  string   `json:"parentID,omitempty"`
	VisibleBy []string `json:"visibleBy,omitempty"`
}

// Entity returns a copy of the stored entity with the given id. The copy
// shares only nested JSON values inside Attributes with the stored entity.
func (e *Emulator) Entity(id string) (Entity, bool) {
	e.entMu.Lock()
	defer e.entMu.Unlock()
	s, ok := e.entities[id]
	if !ok {
		return Entity{}, false
	}
	c := *s
	c.Attributes = maps.Clone(s.Attributes)
	c.Tags = slices.Clone(s.Tags)
	c.VisibleBy = slices.Clone(s.VisibleBy)
	c.Correlate = slices.Clone(s.Correlate)
	c.Links = slices.Clone(s.Links)
	c.Comments = slices.Clone(s.Comments)
	for i := range c.Comments {
		c.Comments[i].VisibleBy = slices.Clone(c.Comments[i].VisibleBy)
	}
	return c, true
}

// EntityID returns the id the API gives an entity of type typ whose
// normalised main attribute is value: "<type>-<hex SHA3-256 of value>".
func EntityID(typ, value string) string {
	sum := sha3.Sum256([]byte(value))
	return typ + "-" + hex.EncodeToString(sum[:])
}

// Normalize validates value as the main attribute of an entity of type typ
// and returns it normalised the way the API does before hashing it into the
// entity id. value is what JSON decoding gives: a string, or a float64 for
// the integer types.
func Normalize(typ string, value any) (string, error) {
	t, ok := entityTypes[typ]
	if !ok {
		return "", fmt.Errorf("unknown entity type %q", typ)
	}
	return t.kind.normalize(value)
}

// The JSON bodies, decoded with unknown fields refused.
type (
	entityBody struct {
		Type         string            `json:"type"`
		Attributes   map[string]any    `json:"attributes"`
		Associations []associationBody `json:"associations"`
		Reputation   int               `json:"reputation"`
		Correlate    []string          `json:"correlate"`
		Tags         []string          `json:"tags"`
		VisibleBy    []string          `json:"visibleBy"`
	}
	associationBody struct {
		Mode string `json:"mode"`
		entityBody
	}
	wellKnownBody struct {
		Type       string         `json:"type"`
		Attributes map[string]any `json:"attributes"`
	}
	linkBody struct {
		EntityID        string `json:"entityID"`
		RelatedEntityID string `json:"relatedEntityID"`
	}
	commentBody struct {
		EntityID  string   `json:"entityID"`
		Comment   string   `json:"comment"`
		ParentID  string   `json:"parentID"`
		VisibleBy []string `json:"visibleBy"`
	}
)

// maxDepth bounds the nesting of associations.
const maxDepth = 16

// checkEntity validates b (found at where, "" for the top level) and its
// associations, appending each as a normalised Entity to out, parents
// before children. It returns the id of b.
func checkEntity(b *entityBody, where string, depth int, out *[]*Entity) (string, error) {
	at := func(format string, args ...any) error {
		msg := fmt.Sprintf(format, args...)
		if where != "" {
			msg = where + ": " + msg
		}
		return errors.New(msg)
	}
	if depth > maxDepth {
		return "", at("associations nested deeper than %d levels", maxDepth)
	}
	if b.Type == "" {
		return "", at("type required")
	}
	t, ok := entityTypes[b.Type]
	if !ok {
		return "", at("unknown entity type %q", b.Type)
	}
	raw, ok := b.Attributes[b.Type]
	if !ok || raw == nil || raw == "" {
		return "", at("main attribute %s missing", b.Type)
	}
	value, err := t.kind.normalize(raw)
	if err != nil {
		return "", at("main attribute %s: %v", b.Type, err)
	}
	if b.Reputation < -3 || b.Reputation > 3 {
		return "", at("reputation %d out of range -3..3", b.Reputation)
	}
	ent := &Entity{
		ID:         EntityID(b.Type, value),
		Type:       b.Type,
		Value:      value,
		Attributes: maps.Clone(b.Attributes),
		Reputation: b.Reputation,
		Tags:       b.Tags,
		VisibleBy:  b.VisibleBy,
		Correlate:  b.Correlate,
	}
	ent.Attributes[b.Type] = value
	*out = append(*out, ent)
	for i := range b.Associations {
		a := &b.Associations[i]
		sub := fmt.Sprintf("associations[%d]", i)
		if where != "" {
			sub = where + "." + sub
		}
		if a.Mode != "aggregation" && a.Mode != "association" {
			return "", fmt.Errorf("%s: mode %q must be aggregation or association", sub, a.Mode)
		}
		id, err := checkEntity(&a.entityBody, sub, depth+1, out)
		if err != nil {
			return "", err
		}
		ent.Links = appendLink(ent.Links, Link{Mode: a.Mode, ID: id})
	}
	return ent.ID, nil
}

func appendLink(links []Link, l Link) []Link {
	if slices.Contains(links, l) {
		return links
	}
	return append(links, l)
}

func union(a, b []string) []string {
	for _, s := range b {
		if !slices.Contains(a, s) {
			a = append(a, s)
		}
	}
	return a
}

// storeLocked stores n, merging it into an entity already stored under its
// id. The caller holds entMu.
func (e *Emulator) storeLocked(n *Entity, wellKnown bool) {
	s, ok := e.entities[n.ID]
	if !ok {
		n.Posts = 1
		n.WellKnown = wellKnown
		e.entities[n.ID] = n
		return
	}
	s.Posts++
	s.WellKnown = s.WellKnown || wellKnown
	if s.Attributes == nil {
		s.Attributes = map[string]any{}
	}
	maps.Copy(s.Attributes, n.Attributes)
	if !wellKnown {
		s.Reputation = n.Reputation
	}
	s.Tags = union(s.Tags, n.Tags)
	s.Correlate = union(s.Correlate, n.Correlate)
	if len(n.VisibleBy) > 0 {
		s.VisibleBy = slices.Clone(n.VisibleBy)
	}
	for _, l := range n.Links {
		s.Links = appendLink(s.Links, l)
	}
}

// postEntity: POST /entity.
func (e *Emulator) postEntity(body []byte) (int, any, *apiError) {
	var b entityBody
	if err := decodeStrict(body, &b); err != nil {
		return 0, nil, err
	}
	var ents []*Entity
	if _, err := checkEntity(&b, "", 0, &ents); err != nil {
		return 0, nil, badRequest("%v", err)
	}
	e.entMu.Lock()
	for _, n := range ents {
		e.storeLocked(n, false)
	}
	e.entMu.Unlock()
	e.entityRequests.Add(1)
	return http.StatusAccepted, acknowledged, nil
}

// postWellKnown: POST /well-known.
func (e *Emulator) postWellKnown(body []byte) (int, any, *apiError) {
	var b wellKnownBody
	if err := decodeStrict(body, &b); err != nil {
		return 0, nil, err
	}
	var ents []*Entity
	if _, err := checkEntity(&entityBody{Type: b.Type, Attributes: b.Attributes}, "", 0, &ents); err != nil {
		return 0, nil, badRequest("%v", err)
	}
	e.entMu.Lock()
	e.storeLocked(ents[0], true)
	e.entMu.Unlock()
	e.wellKnown.Add(1)
	return http.StatusAccepted, acknowledged, nil
}

// postAssociation: POST /association.
func (e *Emulator) postAssociation(body []byte) (int, any, *apiError) {
	var b linkBody
	if err := decodeStrict(body, &b); err != nil {
		return 0, nil, err
	}
	if b.EntityID == "" || b.RelatedEntityID == "" {
		return 0, nil, badRequest("entityID and relatedEntityID are required")
	}
	e.entMu.Lock()
	defer e.entMu.Unlock()
	from, ok := e.entities[b.EntityID]
	if !ok {
		return 0, nil, badRequest("entity %s not found", b.EntityID)
	}
	if _, ok := e.entities[b.RelatedEntityID]; !ok {
		return 0, nil, badRequest("entity %s not found", b.RelatedEntityID)
	}
	from.Links = appendLink(from.Links, Link{Mode: "association", ID: b.RelatedEntityID})
	e.associations.Add(1)
	return http.StatusAccepted, acknowledged, nil
}

// postComment: POST /comment.
func (e *Emulator) postComment(body []byte) (int, any, *apiError) {
	var b commentBody
	if err := decodeStrict(body, &b); err != nil {
		return 0, nil, err
	}
	if b.EntityID == "" {
		return 0, nil, badRequest("entityID required")
	}
	if strings.TrimSpace(b.Comment) == "" {
		return 0, nil, badRequest("comment must not be empty")
	}
	e.entMu.Lock()
	defer e.entMu.Unlock()
	ent, ok := e.entities[b.EntityID]
	if !ok {
		return 0, nil, badRequest("entity %s not found", b.EntityID)
	}
	ent.Comments = append(ent.Comments, Comment{Text: b.Comment, ParentID: b.ParentID, VisibleBy: b.VisibleBy})
	e.comments.Add(1)
	return http.StatusAccepted, acknowledged, nil
}

// A Definition is one entry of GET /definitions, in the shape of the API
// documentation.
type Definition struct {
	// Type is the entity type.
	Type string `json:"type"`
	// Description says what the type holds.
	Description string `json:"description"`
	// Attributes names the attributes the type commonly carries.
	Attributes []string `json:"attributes"`
}

// Definitions returns the entity types the emulator knows, sorted by type.
func Definitions() []Definition {
	return slices.Clone(definitions)
}

// getDefinitions: GET /definitions.
func (e *Emulator) getDefinitions([]byte) (int, any, *apiError) {
	return http.StatusOK, definitions, nil
}

// A kind is how the main attribute of a type is validated and normalised.
type kind int

const (
	kString  kind = iota // case-sensitive string
	kIString             // case-insensitive string: lowercased
	kIP                  // public IP address
	kCIDR                // public network
	kFQDN                // domain or host name: lowercased
	kURL                 // URL with scheme and host: both lowercased
	kEmail               // email address: lowercased
	kMD5                 // 32 or 16 hex digits: lowercased
	kHex                 // hex digits: lowercased
	kHex40               // SHA-1
	kHex56               // SHA-224, SHA3-224, SHA512/224
	kHex64               // SHA-256, SHA3-256, SHA512/256
	kHex96               // SHA-384, SHA3-384
	kHex128              // SHA-512, SHA3-512
	kCVE                 // CVE-YYYY-NNNN...: upper-cased
	kMAC                 // AA-BB-CC-DD-EE-FF: upper-cased
	kPort                // <port>/<tcp|udp>: lowercased
	kInteger             // JSON integer
)

type entityType struct {
	kind        kind
	description string
	attributes  []string
}

var common = []string{"text", "value"}

// entityTypes are the types the emulator accepts, following the API's
// entity-types page and the vendor SDK's definitions.
var entityTypes = map[string]entityType{
	"ip":                      {kIP, "IP address", []string{"text", "value", "country"}},
	"cidr":                    {kCIDR, "A public network segment", []string{"text", "value", "country", "city", "asn", "aso"}},
	"domain":                  {kFQDN, "A domain name", []string{"text", "value", "whois-registrant", "whois-registrar"}},
	"hostname":                {kFQDN, "A host name", common},
	"url":                     {kURL, "A URL", common},
	"link":                    {kURL, "An external link for reference", common},
	"md5":                     {kMD5, "An MD5 checksum", common},
	"sha1":                    {kHex40, "A SHA-1 checksum", common},
	"sha224":                  {kHex56, "A SHA-224 checksum", common},
	"sha256":                  {kHex64, "A SHA-256 checksum", common},
	"sha384":                  {kHex96, "A SHA-384 checksum", common},
	"sha512":                  {kHex128, "A SHA-512 checksum", common},
	"sha3-224":                {kHex56, "A SHA3-224 checksum", common},
	"sha3-256":                {kHex64, "A SHA3-256 checksum", common},
	"sha3-384":                {kHex96, "A SHA3-384 checksum", common},
	"sha3-512":                {kHex128, "A SHA3-512 checksum", common},
	"sha512-224":              {kHex56, "A SHA512/224 checksum", common},
	"sha512-256":              {kHex64, "A SHA512/256 checksum", common},
	"email-address":           {kEmail, "An email address", common},
	"email":                   {kString, "An email message ID", []string{"text", "value", "email-address", "email-subject", "email-body", "email-display-name"}},
	"email-subject":           {kIString, "An email subject", common},
	"cve":                     {kCVE, "A CVE vulnerability identifier", common},
	"cpe":                     {kIString, "A platform enumeration (CPE)", common},
	"file":                    {kIString, "A file, identified by a UUID, MD5 or SHA3-256", []string{"text", "value", "md5", "sha1", "sha256", "sha3-256", "file-data"}},
	"filename":                {kIString, "A file or attachment name", common},
	"path":                    {kString, "A file system path", common},
	"malware":                 {kIString, "A malware name", []string{"text", "value", "malware-family", "malware-type"}},
	"malware-family":          {kIString, "A malware family", common},
	"malware-type":            {kIString, "A malware type", common},
	"adversary":               {kString, "A threat actor", common},
	"group":                   {kString, "A group of adversaries", common},
	"btc":                     {kString, "A bitcoin address", common},
	"xmr":                     {kString, "A Monero address", common},
	"ja3-fingerprint":         {kMD5, "A JA3 TLS client fingerprint", common},
	"jarm-fingerprint":        {kHex, "A JARM TLS server fingerprint", common},
	"certificate-fingerprint": {kHex, "A TLS certificate fingerprint", common},
	"asn":                     {kInteger, "An autonomous system number", common},
	"aso":                     {kIString, "An autonomous system organisation", common},
	"port":                    {kPort, "A port with its protocol, like 443/tcp", common},
	"regkey":                  {kString, "A Windows registry key", common},
	"mac-address":             {kMAC, "A network hardware address", common},
	"phone":                   {kString, "A phone number", common},
	"user-agent":              {kString, "An HTTP user agent", common},
	"mutex":                   {kString, "A mutex name", common},
	"text":                    {kIString, "A case-insensitive text value", nil},
	"value":                   {kString, "A case-sensitive text value", nil},
	"country":                 {kString, "A country name", nil},
	"city":                    {kString, "A city name", nil},
}

var definitions = func() []Definition {
	var defs []Definition
	for _, name := range slices.Sorted(maps.Keys(entityTypes)) {
		t := entityTypes[name]
		attrs := t.attributes
		if attrs == nil {
			attrs = []string{}
		}
		defs = append(defs, Definition{Type: name, Description: t.description, Attributes: attrs})
	}
	return defs
}()

var hexDigits = map[kind]int{kHex40: 40, kHex56: 56, kHex64: 64, kHex96: 96, kHex128: 128}

var (
	fqdnRE = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63}$`)
	cveRE  = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,}$`)
	macRE  = regexp.MustCompile(`^([0-9A-F]{2}-){5}[0-9A-F]{2}$`)
	portRE = regexp.MustCompile(`^([0-9]{1,5})/(tcp|udp)$`)
)

// normalize validates v as a main attribute of kind k.
func (k kind) normalize(v any) (string, error) {
	if k == kInteger {
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return "", fmt.Errorf("value %v is not an integer", v)
		}
		return strconv.FormatInt(int64(f), 10), nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("value %v is not a string", v)
	}
	switch k {
	case kIP, kCIDR, kFQDN, kURL, kEmail:
		return k.network(s)
	case kMD5, kHex, kHex40, kHex56, kHex64, kHex96, kHex128:
		return k.hex(s)
	case kCVE, kMAC, kPort:
		return k.code(s)
	}
	return text(s, k == kIString)
}

// network validates the network kinds: addresses, names, URLs.
func (k kind) network(s string) (string, error) {
	switch k {
	case kIP:
		return publicIP(s)
	case kCIDR:
		ip, n, err := net.ParseCIDR(strings.ToLower(s))
		if err != nil {
			return "", fmt.Errorf("invalid CIDR %q", s)
		}
		if _, err := publicIP(ip.String()); err != nil {
			return "", err
		}
		return n.String(), nil
	case kFQDN:
		return fqdn(s)
	case kURL:
		u, err := url.ParseRequestURI(s)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return "", fmt.Errorf("invalid URL %q: want scheme and host", s)
		}
		u.Scheme = strings.ToLower(u.Scheme)
		u.Host = strings.ToLower(u.Host)
		return u.String(), nil
	}
	a, err := mail.ParseAddress(strings.ToLower(s))
	if err != nil {
		return "", fmt.Errorf("invalid email address %q", s)
	}
	return a.Address, nil
}

// hex validates the hexadecimal kinds: hashes and raw hex.
func (k kind) hex(s string) (string, error) {
	s = strings.ToLower(s)
	switch k {
	case kMD5:
		if (len(s) != 32 && len(s) != 16) || !isHex(s) {
			return "", fmt.Errorf("invalid MD5 %q: want 32 or 16 hex digits", s)
		}
	case kHex:
		if len(s)%2 != 0 || !isHex(s) {
			return "", fmt.Errorf("invalid hexadecimal value %q", s)
		}
	default:
		if n := hexDigits[k]; len(s) != n || !isHex(s) {
			return "", fmt.Errorf("invalid hash %q: want %d hex digits", s, n)
		}
	}
	return s, nil
}

// code validates the kinds with a fixed shape: CVE ids, MAC addresses,
// ports.
func (k kind) code(s string) (string, error) {
	switch k {
	case kCVE:
		s = strings.ToUpper(s)
		if !cveRE.MatchString(s) {
			return "", fmt.Errorf("invalid CVE %q: want CVE-YYYY-NNNN", s)
		}
	case kMAC:
		s = strings.ToUpper(s)
		if !macRE.MatchString(s) {
			return "", fmt.Errorf("invalid MAC address %q: want AA-BB-CC-DD-EE-FF", s)
		}
	default:
		s = strings.ToLower(s)
		m := portRE.FindStringSubmatch(s)
		if m == nil {
			return "", fmt.Errorf("invalid port %q: want <port>/tcp or <port>/udp", s)
		}
		if p, _ := strconv.Atoi(m[1]); p < 1 || p > 65535 || m[1][0] == '0' {
			return "", fmt.Errorf("invalid port %q: want 1..65535", s)
		}
	}
	return s, nil
}

// publicIP normalises an IP address, refusing the ones the API refuses.
func publicIP(s string) (string, error) {
	ip := net.ParseIP(strings.ToLower(s))
	var why string
	switch {
	case ip == nil:
		return "", fmt.Errorf("invalid IP %q", s)
	case ip.IsPrivate():
		why = "private"
	case ip.IsLoopback():
		why = "loopback"
	case ip.IsLinkLocalUnicast():
		why = "link-local unicast"
	case ip.IsLinkLocalMulticast():
		why = "link-local multicast"
	case ip.IsInterfaceLocalMulticast():
		why = "interface-local multicast"
	case ip.IsMulticast():
		why = "multicast"
	case ip.IsUnspecified():
		why = "unspecified"
	default:
		return ip.String(), nil
	}
	return "", fmt.Errorf("cannot accept %s IP %s", why, s)
}

// fqdn normalises a domain or host name.
func fqdn(s string) (string, error) {
	s = strings.ToLower(s)
	if len(s) > 253 || !fqdnRE.MatchString(s) {
		return "", fmt.Errorf("invalid FQDN %q", s)
	}
	return s, nil
}

// text normalises a string the way the SDK does: characters that are not
// letters, digits, punctuation, symbols or spaces become spaces; a blank
// value is refused; a case-insensitive value is lowercased.
func text(s string, insensitive bool) (string, error) {
	s = strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsPunct(r) || unicode.IsSpace(r) || unicode.IsSymbol(r) {
			return r
		}
		return ' '
	}, strings.ToValidUTF8(s, " "))
	if strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("value must not be blank")
	}
	if insensitive {
		s = strings.ToLower(s)
	}
	return s, nil
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
