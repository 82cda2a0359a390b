package pipeline

import "strings"

// typeNames maps the spellings of indicator types that feeds and vendors
// use — after lower-casing and dropping everything but letters and digits,
// so "FileHash-SHA256", "file_hash_sha256" and "filehash sha256" are one
// key — to iocpipe's types.
var typeNames = map[string]Type{
	"ip": IP, "ipv4": IP, "ipaddress": IP, "ipaddr": IP, "ipv4addr": IP, "ipv4address": IP,
	"ipdst": IP, "ipsrc": IP, "dstip": IP, "srcip": IP, "hostip": IP, "c2ip": IP, "ipport": IP,
	"ipdstport": IP, "ipsrcport": IP, "address": IP, "addr": IP, "ips": IP,
	"ipv6": IPv6, "ipv6addr": IPv6, "ipv6address": IPv6,
	"cidr": CIDR, "cidrblock": CIDR, "netblock": CIDR, "subnet": CIDR, "ipv4cidr": CIDR, "ipv6cidr": CIDR, "iprange": CIDR, "network": CIDR,
	"domain": Domain, "domainname": Domain, "hostname": Domain, "host": Domain, "fqdn": Domain, "dns": Domain,
	"domainport": Domain, "hostnameport": Domain, "subdomain": Domain, "c2domain": Domain,
	"url": URL, "uri": URL, "link": URL, "urls": URL, "c2url": URL, "urlpath": URL,
	"email": Email, "emailaddress": Email, "emailaddr": Email, "emailsrc": Email, "emaildst": Email,
	"mail": Email, "sender": Email, "emailsender": Email, "emailfrom": Email,
	"md5": MD5, "filehashmd5": MD5, "hashmd5": MD5, "md5hash": MD5, "filemd5": MD5,
	"sha1": SHA1, "filehashsha1": SHA1, "hashsha1": SHA1, "sha1hash": SHA1, "filesha1": SHA1,
	"sha256": SHA256, "filehashsha256": SHA256, "hashsha256": SHA256, "sha256hash": SHA256, "filesha256": SHA256,
	"sha512": SHA512, "filehashsha512": SHA512, "hashsha512": SHA512, "sha512hash": SHA512,
	"cve": CVE, "cveid": CVE, "vulnerability": CVE, "vuln": CVE,
	"btc": Bitcoin, "bitcoin": Bitcoin, "bitcoinaddress": Bitcoin, "btcaddress": Bitcoin,
	"registrykey": RegistryKey, "regkey": RegistryKey, "registry": RegistryKey, "windowsregistrykey": RegistryKey,
	"malware": Malware, "malwarefamily": Malware, "malwarename": Malware,
	"software": Software,
}

// generic names a hash or an indicator without saying which: the value
// decides.
var genericTypes = map[string]bool{
	"hash": true, "filehash": true, "indicator": true, "ioc": true, "observable": true, "auto": true, "": true,
}

// notIndicators are types feeds carry that are no indicator for the APIs:
// rows of these types are skipped with a reason, never sent.
var notIndicators = map[string]string{
	"filename": "a file name", "file": "a file name", "filepath": "a file path", "path": "a file path",
	"commandline": "a command line", "cmdline": "a command line", "command": "a command line", "cmd": "a command line",
	"process": "a process", "processname": "a process name", "task": "a scheduled task", "scheduledtask": "a scheduled task", "taskname": "a scheduled task",
	"useragent": "a user agent", "httpuseragent": "a user agent", "mutex": "a mutex", "mutexname": "a mutex",
	"yara": "a YARA rule", "yararule": "a YARA rule", "snort": "a Snort rule", "suricata": "a Suricata rule", "sigma": "a Sigma rule",
	"port": "a port", "asn": "an AS number", "as": "an AS number", "ja3": "a JA3 fingerprint", "ja3s": "a JA3S fingerprint",
	"text": "free text", "comment": "free text", "description": "free text", "service": "a service",
	"emailsubject": "an email subject", "subject": "an email subject", "attachment": "an attachment name",
	"pdb": "a PDB path", "certificate": "a certificate", "imphash": "an import hash", "ssdeep": "a fuzzy hash", "tlsh": "a fuzzy hash",
	"filenamesha256": "a file name", "filenamemd5": "a file name", "filenamesha1": "a file name",
}

func typeKey(s string) string {
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

// lookupType resolves a feed's type name. It returns the type (empty for
// a generic name: detect from the value), or what the row is when it is
// no indicator, or ok false for a name it does not know.
func lookupType(name string) (t Type, notIndicator string, ok bool) {
	k := typeKey(name)
	if t, ok := typeNames[k]; ok {
		return t, "", true
	}
	if genericTypes[k] {
		return "", "", true
	}
	if what, ok := notIndicators[k]; ok {
		return "", what, true
	}
	return "", "", false
}
