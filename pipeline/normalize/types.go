package normalize

import (
	"strings"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// typeNames maps the spellings of indicator types that feeds and vendors
// use — after lower-casing and dropping everything but letters and digits,
// so "FileHash-SHA256", "file_hash_sha256" and "filehash sha256" are one
// key — to iocpipe's types. Column headers and JSON keys named after a
// type ("url", "dst_ip", "sha256_hash") are looked up here too.
var typeNames = map[string]ioc.Type{
	"ip": ioc.IP, "ipv4": ioc.IP, "ipaddress": ioc.IP, "ipaddr": ioc.IP, "ipv4addr": ioc.IP, "ipv4address": ioc.IP,
	"ipdst": ioc.IP, "ipsrc": ioc.IP, "dstip": ioc.IP, "srcip": ioc.IP, "hostip": ioc.IP, "c2ip": ioc.IP, "ipport": ioc.IP,
	"ipdstport": ioc.IP, "ipsrcport": ioc.IP, "address": ioc.IP, "addr": ioc.IP, "ips": ioc.IP, "ipaddresses": ioc.IP,
	"sourceip": ioc.IP, "sourceaddress": ioc.IP, "srcaddr": ioc.IP, "saddr": ioc.IP, "srcipaddress": ioc.IP,
	"destinationip": ioc.IP, "destinationaddress": ioc.IP, "dstaddr": ioc.IP, "daddr": ioc.IP, "dstipaddress": ioc.IP,
	"ipv6": ioc.IPv6, "ipv6addr": ioc.IPv6, "ipv6address": ioc.IPv6,
	"cidr": ioc.CIDR, "cidrblock": ioc.CIDR, "netblock": ioc.CIDR, "subnet": ioc.CIDR, "ipv4cidr": ioc.CIDR, "ipv6cidr": ioc.CIDR, "iprange": ioc.CIDR, "network": ioc.CIDR,
	"domain": ioc.Domain, "domainname": ioc.Domain, "hostname": ioc.Domain, "host": ioc.Domain, "fqdn": ioc.Domain, "dns": ioc.Domain,
	"domainport": ioc.Domain, "hostnameport": ioc.Domain, "subdomain": ioc.Domain, "c2domain": ioc.Domain, "domains": ioc.Domain, "hostnames": ioc.Domain,
	"url": ioc.URL, "uri": ioc.URL, "link": ioc.URL, "urls": ioc.URL, "c2url": ioc.URL, "urlpath": ioc.URL,
	"email": ioc.Email, "emailaddress": ioc.Email, "emailaddr": ioc.Email, "emailsrc": ioc.Email, "emaildst": ioc.Email,
	"mail": ioc.Email, "sender": ioc.Email, "emailsender": ioc.Email, "emailfrom": ioc.Email,
	"md5": ioc.MD5, "filehashmd5": ioc.MD5, "hashmd5": ioc.MD5, "md5hash": ioc.MD5, "filemd5": ioc.MD5,
	"sha1": ioc.SHA1, "filehashsha1": ioc.SHA1, "hashsha1": ioc.SHA1, "sha1hash": ioc.SHA1, "filesha1": ioc.SHA1,
	"sha256": ioc.SHA256, "filehashsha256": ioc.SHA256, "hashsha256": ioc.SHA256, "sha256hash": ioc.SHA256, "filesha256": ioc.SHA256,
	"sha512": ioc.SHA512, "filehashsha512": ioc.SHA512, "hashsha512": ioc.SHA512, "sha512hash": ioc.SHA512,
	"cve": ioc.CVE, "cveid": ioc.CVE, "vulnerability": ioc.CVE, "vuln": ioc.CVE,
	"btc": ioc.Bitcoin, "bitcoin": ioc.Bitcoin, "bitcoinaddress": ioc.Bitcoin, "btcaddress": ioc.Bitcoin,
	"registrykey": ioc.RegistryKey, "regkey": ioc.RegistryKey, "registry": ioc.RegistryKey, "windowsregistrykey": ioc.RegistryKey,
	"malware": ioc.Malware, "malwarefamily": ioc.Malware, "malwarename": ioc.Malware,
	"software": ioc.Software,
}

// generic names a hash or an indicator without saying which: the value
// decides.
var genericTypes = map[string]bool{
	"hash": true, "filehash": true, "indicator": true, "ioc": true, "observable": true, "auto": true, "": true,
}

// FileType is what a feed's type "file" declares: a file hash when the
// value is one, else a file name or path, which is no indicator. It never
// leaves normalization as an indicator's type.
const FileType ioc.Type = "file"

// notIndicators are types feeds carry that are no indicator for the APIs:
// rows of these types are skipped with a reason, never sent.
var notIndicators = map[string]string{
	"filename": "a file name", "filepath": "a file path", "path": "a file path",
	"commandline": "a command line", "cmdline": "a command line", "command": "a command line", "cmd": "a command line",
	"process": "a process", "processname": "a process name", "task": "a scheduled task", "scheduledtask": "a scheduled task", "taskname": "a scheduled task",
	"useragent": "a user agent", "httpuseragent": "a user agent", "mutex": "a mutex", "mutexname": "a mutex",
	"yara": "a YARA rule", "yararule": "a YARA rule", "snort": "a Snort rule", "suricata": "a Suricata rule", "sigma": "a Sigma rule",
	"port": "a port", "asn": "an AS number", "as": "an AS number", "ja3": "a JA3 fingerprint", "ja3s": "a JA3S fingerprint",
	"text": "free text", "comment": "free text", "description": "free text", "other": "free text", "service": "a service",
	"emailsubject": "an email subject", "subject": "an email subject", "attachment": "an attachment name", "emailattachment": "an attachment name",
	"emailbody": "an email body", "pdb": "a PDB path", "certificate": "a certificate", "imphash": "an import hash", "filehashimphash": "an import hash",
	"pehash": "a PE hash", "filehashpehash": "a PE hash", "authentihash": "an Authenticode hash",
	"ssdeep": "a fuzzy hash", "tlsh": "a fuzzy hash", "sslcertfingerprint": "a certificate fingerprint",
	"filenamesha256": "a file name", "filenamemd5": "a file name", "filenamesha1": "a file name",
	"registryvalue": "a registry value", "regvalue": "a registry value", "registrykeyvalue": "a registry value", "registrypathkeyvalue": "a registry value",
	"size": "a size", "sizeinbytes": "a size", "mimetype": "a MIME type", "filetype": "a file type",
	"serial": "a certificate serial number", "serialnumber": "a certificate serial number", "serialno": "a certificate serial number",
	"certificateserial": "a certificate serial number", "certificateserialnumber": "a certificate serial number",
}

// notIndicatorStems recognize the vendor type names that are no indicator
// but spelled in ways no table can list ("command_line_parameter",
// "scheduled_task_path"): a type key containing the stem is that. They
// are tried after the exact tables, so "file_hash_sha256" stays a hash.
var notIndicatorStems = []struct{ stem, what string }{
	{"commandline", "a command line"}, {"cmdline", "a command line"},
	{"useragent", "a user agent"}, {"scheduledtask", "a scheduled task"}, {"task", "a scheduled task"},
	{"filename", "a file name"}, {"filepath", "a file path"}, {"directory", "a file path"},
	{"registryvalue", "a registry value"}, {"keyvalue", "a registry value"},
	{"mutex", "a mutex"}, {"process", "a process"}, {"namedpipe", "a named pipe"},
	{"yara", "a YARA rule"}, {"sigma", "a Sigma rule"}, {"snort", "a Snort rule"}, {"suricata", "a Suricata rule"},
	{"certificate", "a certificate"}, {"fingerprint", "a fingerprint"}, {"ja3", "a JA3 fingerprint"},
	{"description", "free text"}, {"comment", "free text"},
}

// contextTypes are types that name a column of context rather than of
// indicators: a column called "malware" holds family names. Such columns
// are used as values only when a route maps them so.
var contextTypes = map[ioc.Type]bool{ioc.Malware: true, ioc.Software: true, ioc.RegistryKey: true}

// portNames are column headers and JSON keys that hold a port: the port
// is kept in the indicator's notes ("port 443").
var portNames = map[string]bool{
	"port": true, "dstport": true, "dport": true, "destinationport": true, "srcport": true, "sport": true,
	"sourceport": true, "c2port": true, "ports": true,
}

// Key is how type names, column headers and JSON keys are compared:
// lower-cased, everything but ASCII letters and digits dropped.
func Key(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 32)
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b.WriteByte(c)
		}
	}
	return b.String()
}

// LookupType resolves a feed's type name. It returns the type (empty for
// a generic name: detect from the value), or what the row is when it is
// no indicator, or ok false for a name it does not know.
func LookupType(name string) (t ioc.Type, notIndicator string, ok bool) {
	k := Key(name)
	if t, ok := typeNames[k]; ok {
		return t, "", true
	}
	if genericTypes[k] {
		return "", "", true
	}
	if k == "file" || k == "files" || k == "sample" || k == "malwaresample" {
		return FileType, "", true
	}
	if what, ok := notIndicators[k]; ok {
		return "", what, true
	}
	for _, s := range notIndicatorStems {
		if strings.Contains(k, s.stem) {
			return "", s.what, true
		}
	}
	return "", "", false
}

// ColumnType says what a column header (or JSON key) named after a type
// holds: the type of its values, with ok false when the name is no
// indicator type, a generic one or a context type (malware families).
// "host", "address" and "C2" hold IPs or domains alike: their values are
// detected (t empty, ok true).
func ColumnType(name string) (t ioc.Type, ok bool) {
	k := Key(name)
	switch k {
	case "host", "address", "addr", "hosts", "c2", "c2host", "cnc":
		return "", true
	}
	t, ok = typeNames[k]
	if !ok || contextTypes[t] {
		return "", false
	}
	return t, true
}

// hintTypes are the types a reader may put in front of a value (a column
// named "url"): anything else in front of the separator is data.
var hintTypes = map[ioc.Type]bool{
	ioc.IP: true, ioc.IPv6: true, ioc.CIDR: true, ioc.Domain: true, ioc.URL: true, ioc.Email: true, ioc.MD5: true, ioc.SHA1: true,
	ioc.SHA256: true, ioc.SHA512: true, ioc.CVE: true, ioc.Bitcoin: true, ioc.RegistryKey: true, ioc.Malware: true, ioc.Software: true,
}

// IsTypeName reports whether key (see Key) names an indicator type.
func IsTypeName(key string) bool {
	_, ok := typeNames[key]
	return ok
}

// IsGeneric reports whether key (see Key) names an indicator without
// saying which type ("hash", "ioc", "indicator"): the value decides.
func IsGeneric(key string) bool { return genericTypes[key] }

// IsPort reports whether key (see Key) names a column or JSON key that
// holds a port.
func IsPort(key string) bool { return portNames[key] }

// IsContext reports whether t names context rather than indicators (a
// column of malware families): used as values only when a route says so.
func IsContext(t ioc.Type) bool { return contextTypes[t] }

// IsHint reports whether t may stand as a type hint in front of a value.
func IsHint(t ioc.Type) bool { return hintTypes[t] }
