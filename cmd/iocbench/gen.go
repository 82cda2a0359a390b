package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// csvHeader is the header of the generated indicator files.
var csvHeader = []string{"value", "type", "first_seen", "last_seen", "sightings", "source", "notes", "tags"}

// The four kinds of indicator the generated rows hold, a quarter each.
const (
	kindIP = iota
	kindDomain
	kindURL
	kindSHA256
	numKinds
)

// kindNames name the kinds in genStats' summary.
var kindNames = [numKinds]string{"IPv4", "domain", "URL", "SHA-256"}

// Word lists the generated rows draw from.
var (
	// typeSpellings are the type column's spellings of each kind, as feeds
	// write them (plain, OTX, MISP).
	typeSpellings = [numKinds][]string{
		kindIP:     {"ip", "IPv4", "ip-dst"},
		kindDomain: {"domain", "hostname"},
		kindURL:    {"url", "URL"},
		kindSHA256: {"sha256", "FileHash-SHA256"},
	}
	publicOctets = []int{23, 31, 45, 62, 77, 91, 104, 138, 176, 185, 193, 212}
	words        = []string{"secure", "login", "update", "cdn", "mail", "account", "verify", "cloud", "portal", "files", "support", "billing", "office", "docs", "share", "auth"}
	subdomains   = []string{"www", "mail", "login", "api", "cdn", "app"}
	tlds         = []string{"com", "net", "org", "info", "ru", "xyz", "top", "io", "biz", "co", "online", "site", "shop", "su"}
	paths        = []string{"admin", "wp-content/uploads", "gate", "panel", "download", "api/v1", "static/js", "invoice", "bins", "images"}
	pages        = []string{"index.php", "login.php", "gate.php", "update.exe", "invoice.doc", "payload.bin", "mozi.m", "setup.msi", "verify.html"}
	ports        = []string{"8080", "8000", "443", "4444", "81", "3000"}
	sources      = []string{"abuse.ch", "AlienVault OTX", "internal-honeypot", "CIRCL MISP", "PhishTank", "Spamhaus", "abuse.ch, ThreatFox"}
	// notes mixes no notes, plain notes and notes that hold commas, double
	// quotes (doubled once written as CSV) or both: with the sources and
	// the tags, about 60 % of the rows get a quoted comma and a quarter
	// doubled quotes.
	notes = []string{
		"", "", "",
		"reported by partner CERT",
		"seen in phishing campaign",
		"hosted payload (zip)",
		"C2 beacon, port 443",
		"scanning SSH, telnet, RDP",
		"dropped by loader stage 2, then deleted",
		`phishing kit "Office 365", credential harvest`,
		`dropped by "stage 2" loader`,
		`beacon "sleep 60, jitter 10%"`,
	}
	// tagNames clean to themselves (lower case, letters, digits, '-'), so
	// iocpipe and the bare loop send the same tags.
	tagNames = []string{
		"malware", "c2", "phishing", "botnet", "ransomware", "apt", "scanner", "loader",
		"emotet", "qakbot", "cobalt-strike", "asyncrat", "redline", "mirai", "lockbit", "icedid",
		"agent-tesla", "cryptominer", "exploit-kit", "tor-exit", "malspam", "apt28", "bruteforce", "stealer",
	}
	// tagSeps join a row's tags: ';' as most CSV exports write it, or ','
	// (with or without a space) in a quoted field as ThreatFox does.
	tagSeps = []string{";", ";", ",", ", "}
	// zones are the non-Z offsets a third of the timestamps carry.
	zones = func() []*time.Location {
		var out []*time.Location
		for _, m := range []int{60, 120, 180, 330, 480, 540, 600, -180, -240, -300, -360, -420} {
			out = append(out, time.FixedZone("", m*60))
		}
		return out
	}()
)

// genEpoch is the earliest first_seen of the generated rows; all times fall
// in the year after it.
var genEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// genStats count what a generated file holds, for the benchmark's report
// and the generator's test.
type genStats struct {
	Rows       int
	Bytes      int64
	Kinds      [numKinds]int
	Tags       [4]int // rows with 0, 1, 2 and 3 tags
	Stamps     int    // timestamps written
	Offsets    int    // of which with a non-Z offset
	CommaRows  int    // rows with a quoted field holding a comma
	QuotedRows int    // rows with a field holding a doubled quote
}

// String summarises the row mix in one line.
func (s genStats) String() string {
	pct := func(n int) float64 { return 100 * float64(n) / float64(max(s.Rows, 1)) }
	var b strings.Builder
	fmt.Fprintf(&b, "%d rows, %.0f MB:", s.Rows, float64(s.Bytes)/1e6)
	for k, n := range s.Kinds {
		fmt.Fprintf(&b, " %.1f%% %s", pct(n), kindNames[k])
		if k < numKinds-1 {
			b.WriteByte(',')
		}
	}
	fmt.Fprintf(&b, "; 0/1/2/3 tags %.0f/%.0f/%.0f/%.0f%%", pct(s.Tags[0]), pct(s.Tags[1]), pct(s.Tags[2]), pct(s.Tags[3]))
	fmt.Fprintf(&b, "; %.1f%% of timestamps with a non-Z offset", 100*float64(s.Offsets)/float64(max(s.Stamps, 1)))
	fmt.Fprintf(&b, "; %.0f%% of rows with a quoted comma, %.0f%% with doubled quotes", pct(s.CommaRows), pct(s.QuotedRows))
	return b.String()
}

// generateFile writes a CSV of rows generated indicators to path; see
// writeCSV.
func generateFile(path string, rows int, seed uint64) (genStats, error) {
	f, err := os.Create(path)
	if err != nil {
		return genStats{}, fmt.Errorf("creating %s: %w", path, err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	st, err := writeCSV(bw, rows, seed)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		f.Close()
		return st, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return st, fmt.Errorf("closing %s: %w", path, err)
	}
	return st, nil
}

// writeCSV writes csvHeader and rows indicator rows to w, one row at a
// time (memory stays flat), and returns what it wrote. The output depends
// only on rows and seed. Every value is unique (it encodes its row
// number) and valid as written, in canonical form: a quarter each of IPv4
// addresses, domains (some with a subdomain), URLs (on a domain or on an
// address and port) and SHA-256 hashes, under the type spellings feeds
// use. first_seen ≤ last_seen are RFC 3339, a third of them with a
// ±hh:mm offset other than Z; 0 to 3 distinct tags a row (a quarter
// each), joined by ';' or ','; sources and notes with commas and double
// quotes, so that encoding/csv quotes them and doubles the quotes.
func writeCSV(w io.Writer, rows int, seed uint64) (genStats, error) {
	cw := &countingWriter{w: w}
	csvw := csv.NewWriter(cw)
	st := genStats{}
	if err := csvw.Write(csvHeader); err != nil {
		return st, err
	}
	g := newRowGen(seed)
	rec := make([]string, len(csvHeader))
	for i := range rows {
		g.row(uint64(i), rec, &st)
		if err := csvw.Write(rec); err != nil {
			return st, err
		}
	}
	csvw.Flush()
	st.Bytes = cw.n
	return st, csvw.Error()
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// rowGen generates rows from a seeded random source.
type rowGen struct {
	rng  *rand.Rand
	seed uint64
	buf  []byte
	tags []string
}

func newRowGen(seed uint64) *rowGen {
	return &rowGen{rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)), seed: seed}
}

// row fills rec with row i, in csvHeader's order, and counts it in st.
func (g *rowGen) row(i uint64, rec []string, st *genStats) {
	r := g.rng
	k := r.IntN(numKinds)
	switch k {
	case kindIP:
		rec[0] = g.ipv4(i)
	case kindDomain:
		rec[0] = g.domain(i)
	case kindURL:
		rec[0] = g.url(i)
	case kindSHA256:
		sum := sha256.Sum256(g.key(i))
		rec[0] = hex.EncodeToString(sum[:])
	}
	rec[1] = pick(r, typeSpellings[k])
	first := genEpoch.Add(time.Duration(r.Int64N(365*24*3600)) * time.Second)
	last := first.Add(time.Duration(r.Int64N(90*24*3600)) * time.Second)
	rec[2] = g.stamp(first, st)
	rec[3] = g.stamp(last, st)
	rec[4] = strconv.Itoa(1 + r.IntN(20))
	rec[5] = pick(r, sources)
	rec[6] = pick(r, notes)
	rec[7] = g.tagField()

	st.Rows++
	st.Kinds[k]++
	st.Tags[len(g.tags)]++
	comma, quote := false, false
	for _, f := range rec {
		comma = comma || strings.IndexByte(f, ',') >= 0
		quote = quote || strings.IndexByte(f, '"') >= 0
	}
	if comma {
		st.CommaRows++
	}
	if quote {
		st.QuotedRows++
	}
}

// stamp formats t as RFC 3339: in UTC with Z, or for a third of the
// timestamps at one of the zones' offsets.
func (g *rowGen) stamp(t time.Time, st *genStats) string {
	st.Stamps++
	if g.rng.IntN(3) == 0 {
		st.Offsets++
		return t.In(zones[g.rng.IntN(len(zones))]).Format(time.RFC3339)
	}
	return t.Format(time.RFC3339)
}

// tagField returns 0 to 3 distinct tags (each count equally likely) joined
// by one of tagSeps, and leaves them in g.tags.
func (g *rowGen) tagField() string {
	r := g.rng
	g.tags = g.tags[:0]
	for n := r.IntN(4); len(g.tags) < n; {
		t := pick(r, tagNames)
		if !slices.Contains(g.tags, t) {
			g.tags = append(g.tags, t)
		}
	}
	return strings.Join(g.tags, pick(r, tagSeps))
}

// ipv4 returns a public-looking IPv4 address unique to row i (for fewer
// than len(publicOctets)<<24 rows): the first octet comes from i modulo
// the octet list, the other three from a bijection of the quotient.
func (g *rowGen) ipv4(i uint64) string {
	n := uint64(len(publicOctets))
	rest := (uint32(i/n)*0x9e3779b1 + 0x5a3c96) & 0xffffff
	return fmt.Sprintf("%d.%d.%d.%d", publicOctets[i%n], rest>>16, rest>>8&0xff, rest&0xff)
}

// domain returns a domain unique to row i: its registered label ends
// with i in base 36 after a '-', and words hold no '-'; a third have a
// subdomain in front.
func (g *rowGen) domain(i uint64) string {
	r := g.rng
	d := pick(r, words) + "-" + pick(r, words) + "-" + strconv.FormatUint(i, 36) + "." + pick(r, tlds)
	if r.IntN(3) == 0 {
		d = pick(r, subdomains) + "." + d
	}
	return d
}

// url returns a URL unique to row i: on its domain, with a query string,
// or (a third) plain http on its address and a port, as malware
// downloads are.
func (g *rowGen) url(i uint64) string {
	r := g.rng
	if r.IntN(3) == 0 {
		return "http://" + g.ipv4(i) + ":" + pick(r, ports) + "/" + pick(r, paths) + "/" + pick(r, pages)
	}
	scheme := "https://"
	if r.IntN(4) == 0 {
		scheme = "http://"
	}
	return scheme + g.domain(i) + "/" + pick(r, paths) + "/" + pick(r, pages) + "?id=" + strconv.Itoa(r.IntN(100000)) + "&ref=" + pick(r, words)
}

// key returns the bytes hashed into row i's hash values.
func (g *rowGen) key(i uint64) []byte {
	g.buf = binary.LittleEndian.AppendUint64(g.buf[:0], g.seed)
	return binary.LittleEndian.AppendUint64(g.buf, i)
}

func pick(r *rand.Rand, list []string) string { return list[r.IntN(len(list))] }
