package main

import (
	"bufio"
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"time"
)

// csvHeader is the header of the generated indicator files.
var csvHeader = []string{"value", "type", "first_seen", "last_seen", "sightings", "source", "notes", "tags"}

// Word lists the generated rows draw from.
var (
	publicOctets = []int{23, 31, 45, 62, 77, 91, 104, 138, 176, 185, 193, 212}
	words        = []string{"secure", "login", "update", "cdn", "mail", "account", "verify", "cloud", "portal", "files", "support", "billing"}
	tlds         = []string{"com", "net", "org", "info", "ru", "xyz", "top", "io", "biz", "co"}
	paths        = []string{"admin", "wp-content", "gate", "panel", "download", "api", "static", "invoice"}
	names        = []string{"john", "maria", "alex", "li", "sara", "omar", "anna", "ivan", "noreply", "billing"}
	sources      = []string{"abuse.ch", "AlienVault OTX", "internal-honeypot", "CIRCL MISP", "PhishTank", "Spamhaus"}
	notes        = []string{
		"seen in phishing campaign",
		"C2 beacon, port 443",
		"dropped by loader stage 2",
		"scanning SSH, telnet",
		"hosted payload (zip)",
		"reported by partner CERT",
		"",
	}
	tagNames = []string{"malware", "c2", "phishing", "botnet", "ransomware", "apt", "scanner", "loader"}
)

// genEpoch is the earliest first_seen of the generated rows; all times fall
// in the year after it.
var genEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// generateFile writes a CSV of rows generated indicators to path; see
// writeCSV.
func generateFile(path string, rows int, seed uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := writeCSV(bw, rows, seed); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", path, err)
	}
	return nil
}

// writeCSV writes csvHeader and rows indicator rows to w. The output
// depends only on rows and seed. Every value is unique (it encodes its row
// number): a mix of IPv4 addresses, domains, URLs, SHA-256 and MD5 hashes
// and email addresses, with RFC 3339 first_seen ≤ last_seen, small
// sightings counts, a source, a short note, and tags such as "malware;c2"
// on about half of the rows.
func writeCSV(w io.Writer, rows int, seed uint64) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	g := newRowGen(seed)
	rec := make([]string, len(csvHeader))
	for i := range rows {
		g.row(uint64(i), rec)
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// rowGen generates rows from a seeded random source.
type rowGen struct {
	rng  *rand.Rand
	seed uint64
	buf  []byte
}

func newRowGen(seed uint64) *rowGen {
	return &rowGen{rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)), seed: seed}
}

// row fills rec with row i, in csvHeader's order.
func (g *rowGen) row(i uint64, rec []string) {
	r := g.rng
	switch k := r.IntN(100); {
	case k < 30:
		rec[0], rec[1] = g.ipv4(i), "ip"
	case k < 50:
		rec[0], rec[1] = g.domain(i), "domain"
	case k < 70:
		rec[0], rec[1] = "https://"+g.domain(i)+"/"+pick(r, paths)+"/"+pick(r, words)+".php?id="+strconv.Itoa(r.IntN(100000)), "url"
	case k < 85:
		sum := sha256.Sum256(g.key(i))
		rec[0], rec[1] = hex.EncodeToString(sum[:]), "sha256"
	case k < 95:
		sum := md5.Sum(g.key(i))
		rec[0], rec[1] = hex.EncodeToString(sum[:]), "md5"
	default:
		rec[0], rec[1] = pick(r, names)+"."+strconv.FormatUint(i, 36)+"@"+pick(r, words)+"-mail."+pick(r, tlds), "email"
	}
	first := genEpoch.Add(time.Duration(r.Int64N(365*24*3600)) * time.Second)
	last := first.Add(time.Duration(r.Int64N(90*24*3600)) * time.Second)
	rec[2] = first.Format(time.RFC3339)
	rec[3] = last.Format(time.RFC3339)
	rec[4] = strconv.Itoa(1 + r.IntN(20))
	rec[5] = pick(r, sources)
	rec[6] = pick(r, notes)
	rec[7] = ""
	if r.IntN(2) == 0 {
		a := r.IntN(len(tagNames))
		rec[7] = tagNames[a]
		if r.IntN(2) == 0 {
			b := (a + 1 + r.IntN(len(tagNames)-1)) % len(tagNames)
			rec[7] += ";" + tagNames[b]
		}
	}
}

// ipv4 returns a public-looking IPv4 address unique to row i (for fewer
// than len(publicOctets)<<24 rows): the first octet comes from i modulo
// the octet list, the other three from a bijection of the quotient.
func (g *rowGen) ipv4(i uint64) string {
	n := uint64(len(publicOctets))
	rest := (uint32(i/n)*0x9e3779b1 + 0x5a3c96) & 0xffffff
	return fmt.Sprintf("%d.%d.%d.%d", publicOctets[i%n], rest>>16, rest>>8&0xff, rest&0xff)
}

// domain returns a domain unique to row i: its first label ends with i in
// base 36 after a '-', and words hold no '-'.
func (g *rowGen) domain(i uint64) string {
	r := g.rng
	return pick(r, words) + "-" + pick(r, words) + "-" + strconv.FormatUint(i, 36) + "." + pick(r, tlds)
}

// key returns the bytes hashed into row i's hash values.
func (g *rowGen) key(i uint64) []byte {
	g.buf = binary.LittleEndian.AppendUint64(g.buf[:0], g.seed)
	return binary.LittleEndian.AppendUint64(g.buf, i)
}

func pick(r *rand.Rand, list []string) string { return list[r.IntN(len(list))] }
