package stixpattern

import (
	"errors"
	"strings"
	"testing"
)

// errKind is the outcome a table case expects.
type errKind int

const (
	errNone           errKind = iota // success, want holds the observables
	errSyntax                        // *SyntaxError at offset, Msg contains reason
	errNotExpressible                // *NotExpressibleError, Reason contains reason
)

type parseTest struct {
	name    string
	pattern string
	want    []Observable
	err     errKind
	reason  string // substring of the error's Reason or Msg
	offset  int    // for errSyntax: the expected byte offset
}

const sha256a = "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"

// specTests are the examples of the STIX 2.1 specification: section 9.8
// "Examples", plus the examples given in sections 9.1, 9.3, 9.5 and 9.6.1.
var specTests = []parseTest{
	{name: "spec/9.8/file-sha256", pattern: `[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']`,
		want: []Observable{{SHA256, `file:hashes.'SHA-256'`, sha256a, ""}}},
	{name: "spec/9.8/email-regex", pattern: `[email-message:from_ref.value MATCHES '.+\\@example\\.com$' AND email-message:body_multipart[*].body_raw_ref.name MATCHES '^Final Report.+\\.exe$']`,
		err: errNotExpressible, reason: "uses AND"},
	{name: "spec/9.8/sha256-and-mime", pattern: `[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f' AND file:mime_type = 'application/x-pdf']`,
		want: []Observable{{SHA256, "file:hashes.'SHA-256'", sha256a, "mime_type application/x-pdf"}}},
	{name: "spec/9.8/two-observations-and", pattern: "[file:hashes.'SHA-256' = 'bf07a7fbb825fc0aae7bf4a1177b2b31fcf8a3feeaf7092761e18c859ee52a9c' OR file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f']\nAND [file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
		err: errNotExpressible, reason: "uses AND"},
	{name: "spec/9.8/followedby-within", pattern: `([file:hashes.MD5 = '79054025255fb1a26e4bc422aef54eb4'] FOLLOWEDBY [windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']) WITHIN 300 SECONDS`,
		err: errNotExpressible, reason: "uses qualifier WITHIN"},
	{name: "spec/9.8/user-accounts", pattern: `[user-account:account_type = 'unix' AND user-account:user_id = '1007' AND user-account:account_login = 'Peter'] AND [user-account:account_type = 'unix' AND user-account:user_id = '1008' AND user-account:account_login = 'Paul'] AND [user-account:account_type = 'unix' AND user-account:user_id = '1009' AND user-account:account_login = 'Mary']`,
		err: errNotExpressible, reason: "uses AND"},
	{name: "spec/9.8/pcap-header", pattern: `[artifact:mime_type = 'application/vnd.tcpdump.pcap' AND artifact:payload_bin MATCHES '\\xd4\\xc3\\xb2\\xa1\\x02\\x00\\x04\\x00']`,
		err: errNotExpressible, reason: "uses AND"},
	{name: "spec/9.8/windows-path", pattern: `[file:name = 'foo.dll' AND file:parent_directory_ref.path = 'C:\\Windows\\System32']`,
		err: errNotExpressible, reason: "uses AND"},
	{name: "spec/9.8/pe-entropy", pattern: `[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]`,
		err: errNotExpressible, reason: "compares file:extensions.'windows-pebinary-ext'.sections[*].entropy (not an indicator path)"},
	{name: "spec/9.8/magic-number", pattern: `[file:mime_type = 'image/bmp' AND file:magic_number_hex = h'ffd8']`,
		err: errNotExpressible, reason: "uses AND"},
	{name: "spec/9.8/network-traffic-dst", pattern: `[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '203.0.113.33/32']`,
		want: []Observable{{IPv4, "ipv4-addr:value", "203.0.113.33/32", ""}}},
	{name: "spec/9.8/beaconing", pattern: `[network-traffic:dst_ref.type = 'domain-name' AND network-traffic:dst_ref.value = 'example.com'] REPEATS 5 TIMES WITHIN 1800 SECONDS`,
		err: errNotExpressible, reason: "uses qualifier REPEATS"},
	{name: "spec/9.8/domain-resolution", pattern: `[domain-name:value = 'www.5z8.info' AND domain-name:resolves_to_refs[*].value = '198.51.100.1/32']`,
		want: []Observable{{Domain, "domain-name:value", "www.5z8.info", ""}, {IPv4, "ipv4-addr:value", "198.51.100.1/32", ""}}},
	{name: "spec/9.8/url", pattern: `[url:value = 'http://example.com/foo' OR url:value = 'http://example.com/bar']`,
		want: []Observable{{URL, "url:value", "http://example.com/foo", ""}, {URL, "url:value", "http://example.com/bar", ""}}},
	{name: "spec/9.8/x509", pattern: `[x509-certificate:issuer = 'CN=WEBMAIL' AND x509-certificate:serial_number = '4c:0b:1d:19:74:86:a7:66:b4:1a:bf:40:27:21:76:28']`,
		err: errNotExpressible, reason: "uses AND"},
	{name: "spec/9.8/registry-key", pattern: `[windows-registry-key:key = 'HKEY_CURRENT_USER\\Software\\CryptoLocker\\Files' OR windows-registry-key:key = 'HKEY_CURRENT_USER\\Software\\Microsoft\\CurrentVersion\\Run\\CryptoLocker_0388']`,
		err: errNotExpressible, reason: "compares windows-registry-key:key (not an indicator path)"},
	{name: "spec/9.8/file-properties", pattern: `[(file:name = 'pdf.exe' OR file:size = 371712) AND file:created = t'2014-01-13T07:03:17Z']`,
		err: errNotExpressible, reason: "uses AND"},
	{name: "spec/9.8/email-sender-subject", pattern: `[email-message:sender_ref.value = 'jdoe@example.com' AND email-message:subject = 'Conference Info']`,
		err: errNotExpressible, reason: "uses AND"},
	{name: "spec/9.8/custom-usb", pattern: `[x-usb-device:usbdrive.serial_number = '575833314133343231313937']`,
		err: errNotExpressible, reason: "compares x-usb-device:usbdrive.serial_number (not an indicator path)"},
	{name: "spec/9.8/processes-followedby", pattern: `[process:command_line MATCHES '^.+>-add GlobalSign.cer -c -s -r localMachine Root$'] FOLLOWEDBY [process:command_line MATCHES'^.+>-add GlobalSign.cer -c -s -r localMachineTrustedPublisher$'] WITHIN 300 SECONDS`,
		err: errNotExpressible, reason: "uses FOLLOWEDBY"},
	{name: "spec/9.8/subnet-issubset", pattern: `[network-traffic:dst_ref.value ISSUBSET '2001:0db8:dead:beef:0000:0000:0000:0000/64']`,
		err: errNotExpressible, reason: "compares network-traffic:dst_ref.value (not an indicator path)"},
	{name: "spec/9.8/malware-artifacts", pattern: `([file:name = 'foo.dll'] AND [windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']) OR [process:image_ref.name = 'fooproc' OR process:image_ref.name = 'procfoo']`,
		err: errNotExpressible, reason: "uses AND"},
	{name: "spec/9.3/three-addresses", pattern: `[ipv4-addr:value = '198.51.100.1/32' OR ipv4-addr:value = '203.0.113.33/32' OR ipv6-addr:value = '2001:0db8:dead:beef:dead:beef:dead:0001/128']`,
		want: []Observable{{IPv4, "ipv4-addr:value", "198.51.100.1/32", ""}, {IPv4, "ipv4-addr:value", "203.0.113.33/32", ""}, {IPv6, "ipv6-addr:value", "2001:0db8:dead:beef:dead:beef:dead:0001/128", ""}}},
	{name: "spec/9.3/repeats", pattern: `[ipv4-addr:value = '198.51.100.1/32' OR ipv4-addr:value = '203.0.113.33/32' OR ipv6-addr:value = '2001:0db8:dead:beef:dead:beef:dead:0001/128'] REPEATS 5 TIMES`,
		err: errNotExpressible, reason: "uses qualifier REPEATS"},
	{name: "spec/9.3/followedby-within", pattern: `([ipv4-addr:value = '198.51.100.1/32' OR ipv4-addr:value = '203.0.113.33/32' OR ipv6-addr:value = '2001:0db8:dead:beef:dead:beef:dead:0001/128'] FOLLOWEDBY [domain-name:value = 'example.com']) WITHIN 600 SECONDS`,
		err: errNotExpressible, reason: "uses qualifier WITHIN"},
	{name: "spec/9.1/single-ip", pattern: `[ipv4-addr:value = '198.51.100.1/32']`,
		want: []Observable{{IPv4, "ipv4-addr:value", "198.51.100.1/32", ""}}},
	{name: "spec/9.1/observation-followedby", pattern: `([ipv4-addr:value = '198.51.100.5'] FOLLOWEDBY [ipv4-addr:value = '198.51.100.10'])`,
		err: errNotExpressible, reason: "uses FOLLOWEDBY"},
	{name: "spec/9.1/observation-and-within", pattern: `([ipv4-addr:value = '198.51.100.5' ] AND [ipv4-addr:value = '198.51.100.10']) WITHIN 300 SECONDS`,
		err: errNotExpressible, reason: "uses qualifier WITHIN"},
	{name: "spec/9.1/observation-and", pattern: `[ipv4-addr:value = '198.51.100.5'] AND [ ipv4-addr:value = '198.51.100.10']`,
		err: errNotExpressible, reason: "uses AND"},
	{name: "spec/9.1/start-stop", pattern: `[file:name = 'foo.dll'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'`,
		err: errNotExpressible, reason: "uses qualifier START/STOP"},
	{name: "spec/9.1/file-size", pattern: `[file:size = 25536]`,
		err: errNotExpressible, reason: "compares file:size (not an indicator path)"},
	{name: "spec/9.5/network-traffic", pattern: `[ network-traffic:src_ref.value = '203.0.113.10' AND network-traffic:dst_ref.value = '198.51.100.58' ]`,
		err: errNotExpressible, reason: "uses AND"},
	{name: "spec/9.5/within-120", pattern: `([file:hashes.'SHA-256' = '13987239847...'] AND [windows-registry-key:key = 'hkey']) WITHIN 120 SECONDS`,
		err: errNotExpressible, reason: "uses qualifier WITHIN"},
	{name: "spec/9.5/repeats-binds-right", pattern: `[ a:b = 'b' ] FOLLOWEDBY [ c:d = 'd' ] REPEATS 5 TIMES`,
		err: errNotExpressible, reason: "uses FOLLOWEDBY"},
	{name: "spec/9.6.1/in", pattern: `[process:name IN ('proccy', 'proximus', 'badproc')]`,
		err: errNotExpressible, reason: "compares process:name (not an indicator path)"},
	{name: "spec/9.6.1/like", pattern: `[directory:path LIKE 'C:\\Windows\\%\\foo']`,
		err: errNotExpressible, reason: "uses operator LIKE"},
	{name: "spec/9.6.1/matches", pattern: `[directory:path MATCHES '^C:\\\\Windows\\w+$']`,
		err: errNotExpressible, reason: "uses operator MATCHES"},
	{name: "spec/9.6.1/issubset", pattern: `[ipv4-addr:value ISSUBSET '198.51.100.0/24']`,
		err: errNotExpressible, reason: "compares ipv4-addr:value with ISSUBSET"},
	{name: "spec/9.6.1/issuperset", pattern: `[ipv4-addr:value ISSUPERSET '198.51.100.0/24']`,
		err: errNotExpressible, reason: "compares ipv4-addr:value with ISSUPERSET"},
	{name: "spec/9.6.1/exists", pattern: `[EXISTS windows-registry-key:values]`,
		err: errNotExpressible, reason: "uses operator EXISTS"},
	{name: "spec/9.6.1/not-equal", pattern: `[file:size != 4112]`,
		err: errNotExpressible, reason: "compares file:size (not an indicator path)"},
	{name: "spec/9.6.4/binary", pattern: `[artifact:payload_bin = b'dGhpcyBpcyBhIHRlc3Q=']`,
		err: errNotExpressible, reason: "compares artifact:payload_bin (not an indicator path)"},
	{name: "spec/9.6.4/hex", pattern: `[artifact:payload_bin = h'7468697320697320612074657374']`,
		err: errNotExpressible, reason: "compares artifact:payload_bin (not an indicator path)"},
}

// realworldTests hold every pattern of the STIX bundles in
// /work/shared/realworld/cti-stix2-json-schemas and .../cti-documentation,
// named by file and indicator id; TestRealworldCoverage checks that none is
// missing.
var realworldTests = []parseTest{
	{name: "realworld/cti-stix2-json-schemas/indicator-to-campaign-relationship/c43a0a05", pattern: `[ ipv4-addr:value = '10.0.0.0' ]`, want: []Observable{{IPv4, `ipv4-addr:value`, `10.0.0.0`, ""}}},
	{name: "realworld/cti-stix2-json-schemas/indicators-for-C2-with-COA/53fe3b22", pattern: `[ipv4-addr:value = '10.0.0.0']`, want: []Observable{{IPv4, `ipv4-addr:value`, `10.0.0.0`, ""}}},
	{name: "realworld/cti-stix2-json-schemas/indicators-for-C2-with-COA/a932fcc6", pattern: `[file:hashes.'SHA-256' = 'ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c']`, want: []Observable{{SHA256, `file:hashes.'SHA-256'`, `ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c`, ""}}},
	{name: "realworld/cti-stix2-json-schemas/malicious-email-indicator-with-attachment/8cf9236f", pattern: `[email-message:subject MATCHES '^[IMPORTANT] Please Review Before']`, err: errNotExpressible, reason: "uses operator MATCHES"},
	{name: "realworld/cti-stix2-json-schemas/malicious-email-indicator-with-attachment/2e17f6fe", pattern: `[email-message:body_multipart[*].body_raw_ref.name MATCHES '^Final Report.+\\.exe$']`, err: errNotExpressible, reason: "uses operator MATCHES"},
	{name: "realworld/cti-stix2-json-schemas/poisonivy/e8094b09", pattern: `[ipv4-addr:value = '219.76.208.163']`, want: []Observable{{IPv4, `ipv4-addr:value`, `219.76.208.163`, ""}}},
	{name: "realworld/cti-stix2-json-schemas/poisonivy/329ae6e9", pattern: `[domain-name:value = 'www.webserver.dynssl.com' OR ipv4-addr:value = '113.10.246.30' OR ipv4-addr:value = '219.90.112.203' OR ipv4-addr:value = '75.126.95.138' OR ipv4-addr:value = '219.90.112.197' OR ipv4-addr:value = '202.65.222.45']`, want: []Observable{{Domain, `domain-name:value`, `www.webserver.dynssl.com`, ""}, {IPv4, `ipv4-addr:value`, `113.10.246.30`, ""}, {IPv4, `ipv4-addr:value`, `219.90.112.203`, ""}, {IPv4, `ipv4-addr:value`, `75.126.95.138`, ""}, {IPv4, `ipv4-addr:value`, `219.90.112.197`, ""}, {IPv4, `ipv4-addr:value`, `202.65.222.45`, ""}}},
	{name: "realworld/cti-stix2-json-schemas/poisonivy/54e1e351", pattern: `[domain-name:value = 'www.webserver.freetcp.com' OR ipv4-addr:value = '113.10.246.30' OR ipv4-addr:value = '219.90.112.203' OR ipv4-addr:value = '202.65.220.64' OR ipv4-addr:value = '75.126.95.138' OR ipv4-addr:value = '219.90.112.197' OR ipv4-addr:value = '202.65.222.45']`, want: []Observable{{Domain, `domain-name:value`, `www.webserver.freetcp.com`, ""}, {IPv4, `ipv4-addr:value`, `113.10.246.30`, ""}, {IPv4, `ipv4-addr:value`, `219.90.112.203`, ""}, {IPv4, `ipv4-addr:value`, `202.65.220.64`, ""}, {IPv4, `ipv4-addr:value`, `75.126.95.138`, ""}, {IPv4, `ipv4-addr:value`, `219.90.112.197`, ""}, {IPv4, `ipv4-addr:value`, `202.65.222.45`, ""}}},
	{name: "realworld/cti-stix2-json-schemas/poisonivy/2e59f00b", pattern: `[domain-name:value = 'www.webserver.fartit.com' OR ipv4-addr:value = '113.10.246.30' OR ipv4-addr:value = '219.90.112.203' OR ipv4-addr:value = '202.65.220.64' OR ipv4-addr:value = '75.126.95.138']`, want: []Observable{{Domain, `domain-name:value`, `www.webserver.fartit.com`, ""}, {IPv4, `ipv4-addr:value`, `113.10.246.30`, ""}, {IPv4, `ipv4-addr:value`, `219.90.112.203`, ""}, {IPv4, `ipv4-addr:value`, `202.65.220.64`, ""}, {IPv4, `ipv4-addr:value`, `75.126.95.138`, ""}}},
	{name: "realworld/cti-stix2-json-schemas/poisonivy/8da68996", pattern: `[domain-name:value = 'microsofta.byinter.net' OR domain-name:value = 'microsoftb.byinter.net' OR domain-name:value = 'microsoftc.byinter.net' OR domain-name:value = 'microsofte.byinter.net' OR ipv4-addr:value = '113.10.246.30' OR ipv4-addr:value = '219.90.112.203' OR ipv4-addr:value = '202.65.220.64' OR ipv4-addr:value = '75.126.95.138' OR ipv4-addr:value = '219.90.112.197' OR ipv4-addr:value = '202.65.222.45' OR ipv4-addr:value = '98.126.148.114']`, want: []Observable{{Domain, `domain-name:value`, `microsofta.byinter.net`, ""}, {Domain, `domain-name:value`, `microsoftb.byinter.net`, ""}, {Domain, `domain-name:value`, `microsoftc.byinter.net`, ""}, {Domain, `domain-name:value`, `microsofte.byinter.net`, ""}, {IPv4, `ipv4-addr:value`, `113.10.246.30`, ""}, {IPv4, `ipv4-addr:value`, `219.90.112.203`, ""}, {IPv4, `ipv4-addr:value`, `202.65.220.64`, ""}, {IPv4, `ipv4-addr:value`, `75.126.95.138`, ""}, {IPv4, `ipv4-addr:value`, `219.90.112.197`, ""}, {IPv4, `ipv4-addr:value`, `202.65.222.45`, ""}, {IPv4, `ipv4-addr:value`, `98.126.148.114`, ""}}},
	{name: "realworld/cti-stix2-json-schemas/poisonivy/4e11b23f", pattern: `[domain-name:value = 'nkr.iphone.qpoe.com' OR ipv4-addr:value = '180.210.206.96' OR ipv4-addr:value = '101.78.151.179']`, want: []Observable{{Domain, `domain-name:value`, `nkr.iphone.qpoe.com`, ""}, {IPv4, `ipv4-addr:value`, `180.210.206.96`, ""}, {IPv4, `ipv4-addr:value`, `101.78.151.179`, ""}}},
	{name: "realworld/cti-stix2-json-schemas/poisonivy/b7fa7e73", pattern: `[domain-name:value = 'e.ct.toh.info' OR ipv4-addr:value = '101.78.151.179']`, want: []Observable{{Domain, `domain-name:value`, `e.ct.toh.info`, ""}, {IPv4, `ipv4-addr:value`, `101.78.151.179`, ""}}},
	{name: "realworld/cti-stix2-json-schemas/poisonivy/b2f09ce0", pattern: `[domain-name:value = 'js001.3322.org' OR ipv4-addr:value = '101.78.151.179']`, want: []Observable{{Domain, `domain-name:value`, `js001.3322.org`, ""}, {IPv4, `ipv4-addr:value`, `101.78.151.179`, ""}}},
	{name: "realworld/cti-stix2-json-schemas/poisonivy/9842a3b9", pattern: `[domain-name:value = 'apple.cmdnetview.com' OR ipv4-addr:value = '60.10.1.120']`, want: []Observable{{Domain, `domain-name:value`, `apple.cmdnetview.com`, ""}, {IPv4, `ipv4-addr:value`, `60.10.1.120`, ""}}},
	{name: "realworld/cti-stix2-json-schemas/poisonivy/4e4c4ad7", pattern: `[domain-name:value = 'domain autuo.xicp.net' OR ipv4-addr:value = '60.10.1.115']`, want: []Observable{{Domain, `domain-name:value`, `domain autuo.xicp.net`, ""}, {IPv4, `ipv4-addr:value`, `60.10.1.115`, ""}}},
	{name: "realworld/cti-stix2-json-schemas/poisonivy/137acf67", pattern: `[file:name = 'CBricksDoc']`, err: errNotExpressible, reason: "compares file:name (not an indicator path)"},
	{name: "realworld/cti-stix2-json-schemas/poisonivy/9695dc2f", pattern: `[domain-name:value = 'tw.2012yearleft.com' OR ipv4-addr:value = '60.10.1.114' OR ipv4-addr:value = '60.1.1.114']`, want: []Observable{{Domain, `domain-name:value`, `tw.2012yearleft.com`, ""}, {IPv4, `ipv4-addr:value`, `60.10.1.114`, ""}, {IPv4, `ipv4-addr:value`, `60.1.1.114`, ""}}},
	{name: "realworld/cti-stix2-json-schemas/poisonivy/7fd865ed", pattern: `[domain-name:value = 'dedydns.ns01.us' OR ipv4-addr:value = '60.10.1.121']`, want: []Observable{{Domain, `domain-name:value`, `dedydns.ns01.us`, ""}, {IPv4, `ipv4-addr:value`, `60.10.1.121`, ""}}},
	{name: "realworld/cti-stix2-json-schemas/poisonivy/e5bc6507", pattern: `[domain-name:value = 'maofajapa.3322.org' OR ipv4-addr:value = '60.10.1.121']`, want: []Observable{{Domain, `domain-name:value`, `maofajapa.3322.org`, ""}, {IPv4, `ipv4-addr:value`, `60.10.1.121`, ""}}},
	{name: "realworld/cti-stix2-json-schemas/poisonivy/fead5c52", pattern: `[domain-name:value = 'send.have8000.com']`, want: []Observable{{Domain, `domain-name:value`, `send.have8000.com`, ""}}},
	{name: "realworld/cti-stix2-json-schemas/poisonivy/405ff732", pattern: `[domain-name:value = 'fbi.zyns.com' OR ipv4-addr:value = '60.10.1.118']`, want: []Observable{{Domain, `domain-name:value`, `fbi.zyns.com`, ""}, {IPv4, `ipv4-addr:value`, `60.10.1.118`, ""}}},
	{name: "realworld/cti-stix2-json-schemas/poisonivy/4d58096e", pattern: `[domain-name:value = 'weile3322b.3322.org']`, want: []Observable{{Domain, `domain-name:value`, `weile3322b.3322.org`, ""}}},
	{name: "realworld/cti-stix2-json-schemas/poisonivy/9c725598", pattern: `[domain-name:value = 'ngcc.8800.org']`, want: []Observable{{Domain, `domain-name:value`, `ngcc.8800.org`, ""}}},
	{name: "realworld/cti-stix2-json-schemas/poisonivy/2efe7c62", pattern: `[domain-name:value = 'sh.chromeenter.com' OR ipv4-addr:value = '60.2.148.167']`, want: []Observable{{Domain, `domain-name:value`, `sh.chromeenter.com`, ""}, {IPv4, `ipv4-addr:value`, `60.2.148.167`, ""}}},
	{name: "realworld/cti-stix2-json-schemas/poisonivy/b8322c9b", pattern: `[domain-name:value = 'mf.ddns.info' OR ipv4-addr:value = '60.2.148.167']`, want: []Observable{{Domain, `domain-name:value`, `mf.ddns.info`, ""}, {IPv4, `ipv4-addr:value`, `60.2.148.167`, ""}}},
	{name: "realworld/cti-stix2-json-schemas/poisonivy/b08f9631", pattern: `[domain-name:value = 'av.ddns.us' OR ipv4-addr:value = '60.2.148.167']`, want: []Observable{{Domain, `domain-name:value`, `av.ddns.us`, ""}, {IPv4, `ipv4-addr:value`, `60.2.148.167`, ""}}},
	{name: "realworld/cti-stix2-json-schemas/poisonivy/950c01b8", pattern: `[domain-name:value = 'jj.mysecondarydns.com' OR ipv4-addr:value = '60.2.148.167']`, want: []Observable{{Domain, `domain-name:value`, `jj.mysecondarydns.com`, ""}, {IPv4, `ipv4-addr:value`, `60.2.148.167`, ""}}},
	{name: "realworld/cti-stix2-json-schemas/poisonivy/ae29faa6", pattern: `[domain-name:value = 'mongoles.3322.org' OR ipv4-addr:value = '123.183.210.28']`, want: []Observable{{Domain, `domain-name:value`, `mongoles.3322.org`, ""}, {IPv4, `ipv4-addr:value`, `123.183.210.28`, ""}}},
	{name: "realworld/cti-stix2-json-schemas/poisonivy/b6cc482d", pattern: `[domain-name:value = '3q.wubangtu.info' OR ipv4-addr:value = '123.183.210.28']`, want: []Observable{{Domain, `domain-name:value`, `3q.wubangtu.info`, ""}, {IPv4, `ipv4-addr:value`, `123.183.210.28`, ""}}},
	{name: "realworld/cti-stix2-json-schemas/poisonivy/0b71628d", pattern: `[file:name = 'CPiShellPutDoc']`, err: errNotExpressible, reason: "compares file:name (not an indicator path)"},
	{name: "realworld/cti-documentation/apt1/031778a4", pattern: `[ipv4-addr:value = '223.166.0.0/15']`, want: []Observable{{IPv4, `ipv4-addr:value`, `223.166.0.0/15`, ""}}},
	{name: "realworld/cti-documentation/apt1/da1d061b", pattern: `[ipv4-addr:value = '58.246.0.0/15']`, want: []Observable{{IPv4, `ipv4-addr:value`, `58.246.0.0/15`, ""}}},
	{name: "realworld/cti-documentation/apt1/2173d108", pattern: `[ipv4-addr:value = '112.64.0.0/15']`, want: []Observable{{IPv4, `ipv4-addr:value`, `112.64.0.0/15`, ""}}},
	{name: "realworld/cti-documentation/apt1/8ce03314", pattern: `[ipv4-addr:value = '139.226.0.0/15']`, want: []Observable{{IPv4, `ipv4-addr:value`, `139.226.0.0/15`, ""}}},
	{name: "realworld/cti-documentation/apt1/3f3ff9f1", pattern: `[domain-name:value = 'hugesoft.org']`, want: []Observable{{Domain, `domain-name:value`, `hugesoft.org`, ""}}},
	{name: "realworld/cti-documentation/apt1/8390fd29", pattern: `[domain-name:value = 'arrowservice.net']`, want: []Observable{{Domain, `domain-name:value`, `arrowservice.net`, ""}}},
	{name: "realworld/cti-documentation/apt1/1002c58e", pattern: `[domain-name:value = 'msnhome.org']`, want: []Observable{{Domain, `domain-name:value`, `msnhome.org`, ""}}},
	{name: "realworld/cti-documentation/apt1/8d12f44f", pattern: `[file:hashes.md5 = '001dd76872d80801692ff942308c64e6']`, want: []Observable{{MD5, `file:hashes.md5`, `001dd76872d80801692ff942308c64e6`, ""}}},
	{name: "realworld/cti-documentation/apt1/745e1537", pattern: `[file:hashes.md5 = '002325a0a67fded0381b5648d7fe9b8e']`, want: []Observable{{MD5, `file:hashes.md5`, `002325a0a67fded0381b5648d7fe9b8e`, ""}}},
	{name: "realworld/cti-documentation/apt1/1dbe6ed0", pattern: `[file:hashes.md5 = '00dbb9e1c09dbdafb360f3163ba5a3de']`, want: []Observable{{MD5, `file:hashes.md5`, `00dbb9e1c09dbdafb360f3163ba5a3de`, ""}}},
	{name: "realworld/cti-documentation/apt1/b3b6b540", pattern: `[x509-certificate:issuer = 'CN=WEBMAIL' AND x509-certificate:serial_number = '4c:0b:1d:19:74:86:a7:66:b4:1a:bf:40:27:21:76:28']`, err: errNotExpressible, reason: "uses AND"},
	{name: "realworld/cti-documentation/apt1/b3b7035e", pattern: `[x509-certificate:issuer = 'CN=LM-68AB71FBD8F5' AND x509-certificate:serial_number = '0e:97:88:1c:6c:a1:37:96:42:03:bc:45:42:24:75:6c']`, err: errNotExpressible, reason: "uses AND"},
	{name: "realworld/cti-documentation/sighting-of-an-indicator/9299f726", pattern: `[url:value = 'http://paypa1.banking.com']`, want: []Observable{{URL, `url:value`, `http://paypa1.banking.com`, ""}}},
}

// featureTests cover the grammar and the expressibility rule case by case.
var featureTests = []parseTest{
	// Every indicator path, with the accepted spellings of the hash keys.
	{name: "ok/ipv4", pattern: `[ipv4-addr:value = '198.51.100.7']`, want: []Observable{{IPv4, "ipv4-addr:value", "198.51.100.7", ""}}},
	{name: "ok/ipv4-cidr-as-given", pattern: `[ipv4-addr:value = '198.51.100.0/24']`, want: []Observable{{IPv4, "ipv4-addr:value", "198.51.100.0/24", ""}}},
	{name: "ok/ipv6", pattern: `[ipv6-addr:value = '2001:db8::1']`, want: []Observable{{IPv6, "ipv6-addr:value", "2001:db8::1", ""}}},
	{name: "ok/domain", pattern: `[domain-name:value = 'example.com']`, want: []Observable{{Domain, "domain-name:value", "example.com", ""}}},
	{name: "ok/url", pattern: `[url:value = 'https://example.com/a?b=c&d=e']`, want: []Observable{{URL, "url:value", "https://example.com/a?b=c&d=e", ""}}},
	{name: "ok/email", pattern: `[email-addr:value = 'jdoe@example.com']`, want: []Observable{{Email, "email-addr:value", "jdoe@example.com", ""}}},
	{name: "ok/md5-unquoted", pattern: `[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f']`, want: []Observable{{MD5, "file:hashes.MD5", "cead3f77f6cda6ec00f57d76c9a6879f", ""}}},
	{name: "ok/md5-quoted", pattern: `[file:hashes.'MD5' = 'cead3f77f6cda6ec00f57d76c9a6879f']`, want: []Observable{{MD5, "file:hashes.'MD5'", "cead3f77f6cda6ec00f57d76c9a6879f", ""}}},
	{name: "ok/md5-lower", pattern: `[file:hashes.md5 = 'cead3f77f6cda6ec00f57d76c9a6879f']`, want: []Observable{{MD5, "file:hashes.md5", "cead3f77f6cda6ec00f57d76c9a6879f", ""}}},
	{name: "ok/sha1-quoted-hyphen", pattern: `[file:hashes.'SHA-1' = 'a']`, want: []Observable{{SHA1, "file:hashes.'SHA-1'", "a", ""}}},
	{name: "ok/sha1-unquoted", pattern: `[file:hashes.SHA1 = 'a']`, want: []Observable{{SHA1, "file:hashes.SHA1", "a", ""}}},
	{name: "ok/sha1-quoted", pattern: `[file:hashes.'SHA1' = 'a']`, want: []Observable{{SHA1, "file:hashes.'SHA1'", "a", ""}}},
	{name: "ok/sha1-mixed-case", pattern: `[file:hashes.'Sha-1' = 'a']`, want: []Observable{{SHA1, "file:hashes.'Sha-1'", "a", ""}}},
	{name: "ok/sha256-quoted-hyphen", pattern: `[file:hashes.'SHA-256' = 'a']`, want: []Observable{{SHA256, "file:hashes.'SHA-256'", "a", ""}}},
	{name: "ok/sha256-unquoted", pattern: `[file:hashes.SHA256 = 'a']`, want: []Observable{{SHA256, "file:hashes.SHA256", "a", ""}}},
	{name: "ok/sha256-quoted-lower", pattern: `[file:hashes.'sha256' = 'a']`, want: []Observable{{SHA256, "file:hashes.'sha256'", "a", ""}}},
	{name: "ok/sha512-quoted-hyphen", pattern: `[file:hashes.'SHA-512' = 'a']`, want: []Observable{{SHA512, "file:hashes.'SHA-512'", "a", ""}}},
	{name: "ok/sha512-unquoted", pattern: `[file:hashes.SHA512 = 'a']`, want: []Observable{{SHA512, "file:hashes.SHA512", "a", ""}}},
	{name: "ok/quoted-property-names", pattern: `[file:'hashes'.'sha-256' = 'a' OR ipv4-addr:'value' = 'b']`,
		want: []Observable{{SHA256, "file:'hashes'.'sha-256'", "a", ""}, {IPv4, "ipv4-addr:'value'", "b", ""}}},

	// OR in every position.
	{name: "ok/or-in-brackets", pattern: `[domain-name:value = 'a.example' OR ipv4-addr:value = '198.51.100.1' OR url:value = 'http://b.example/']`,
		want: []Observable{{Domain, "domain-name:value", "a.example", ""}, {IPv4, "ipv4-addr:value", "198.51.100.1", ""}, {URL, "url:value", "http://b.example/", ""}}},
	{name: "ok/several-observations", pattern: `[ipv4-addr:value = '198.51.100.1'] OR [domain-name:value = 'a.example'] OR [file:hashes.MD5 = 'x']`,
		want: []Observable{{IPv4, "ipv4-addr:value", "198.51.100.1", ""}, {Domain, "domain-name:value", "a.example", ""}, {MD5, "file:hashes.MD5", "x", ""}}},
	{name: "ok/parenthesised-observations", pattern: `([ipv4-addr:value = '1'] OR ([url:value = '2'] OR [url:value = '3'])) OR [email-addr:value = '4']`,
		want: []Observable{{IPv4, "ipv4-addr:value", "1", ""}, {URL, "url:value", "2", ""}, {URL, "url:value", "3", ""}, {Email, "email-addr:value", "4", ""}}},
	{name: "ok/parenthesised-comparisons", pattern: `[(ipv4-addr:value = '1' OR (url:value = '2')) OR ((url:value = '3'))]`,
		want: []Observable{{IPv4, "ipv4-addr:value", "1", ""}, {URL, "url:value", "2", ""}, {URL, "url:value", "3", ""}}},
	{name: "ok/in-set", pattern: `[ipv4-addr:value IN ('198.51.100.1', '198.51.100.2','198.51.100.3')]`,
		want: []Observable{{IPv4, "ipv4-addr:value", "198.51.100.1", ""}, {IPv4, "ipv4-addr:value", "198.51.100.2", ""}, {IPv4, "ipv4-addr:value", "198.51.100.3", ""}}},
	{name: "ok/in-set-single", pattern: `[file:hashes.'SHA-256' IN ('a')]`, want: []Observable{{SHA256, "file:hashes.'SHA-256'", "a", ""}}},
	{name: "ok/in-and-or-mixed", pattern: `[url:value = 'u1' OR domain-name:value IN ('d1', 'd2')] OR [email-addr:value IN ('e1')]`,
		want: []Observable{{URL, "url:value", "u1", ""}, {Domain, "domain-name:value", "d1", ""}, {Domain, "domain-name:value", "d2", ""}, {Email, "email-addr:value", "e1", ""}}},
	{name: "ok/duplicates-kept-in-order", pattern: `[url:value = 'a' OR url:value = 'b'] OR [url:value = 'a']`,
		want: []Observable{{URL, "url:value", "a", ""}, {URL, "url:value", "b", ""}, {URL, "url:value", "a", ""}}},
	{name: "ok/double-equals", pattern: `[url:value == 'a']`, want: []Observable{{URL, "url:value", "a", ""}}},

	// Constants are unescaped, otherwise returned exactly as given.
	{name: "ok/escaped-quote", pattern: `[url:value = 'http://example.com/it\'s']`, want: []Observable{{URL, "url:value", "http://example.com/it's", ""}}},
	{name: "ok/escaped-backslash", pattern: `[url:value = 'http://example.com/a\\b']`, want: []Observable{{URL, "url:value", `http://example.com/a\b`, ""}}},
	{name: "ok/escapes-only", pattern: `[url:value = '\\\'\\']`, want: []Observable{{URL, "url:value", `\'\`, ""}}},
	{name: "ok/value-not-normalised", pattern: `[domain-name:value = ' Example.COM. ']`, want: []Observable{{Domain, "domain-name:value", " Example.COM. ", ""}}},
	{name: "ok/value-with-space", pattern: `[domain-name:value = 'domain autuo.xicp.net']`, want: []Observable{{Domain, "domain-name:value", "domain autuo.xicp.net", ""}}},
	{name: "ok/value-unicode", pattern: `[domain-name:value = 'bücher.例え.jp']`, want: []Observable{{Domain, "domain-name:value", "bücher.例え.jp", ""}}},
	{name: "ok/value-brackets-and-keywords", pattern: `[url:value = 'http://x/] OR [AND FOLLOWEDBY']`, want: []Observable{{URL, "url:value", "http://x/] OR [AND FOLLOWEDBY", ""}}},

	// White space and comments between tokens.
	{name: "ok/whitespace", pattern: "\n\t[ ipv4-addr : value\r\n=\t'1.2.3.4' ]  OR\n[url:value='u']\n",
		want: []Observable{{IPv4, "ipv4-addr:value", "1.2.3.4", ""}, {URL, "url:value", "u", ""}}},
	{name: "ok/unicode-whitespace", pattern: "[\u00a0url:value\u3000=\u2003'u'\u2028]", want: []Observable{{URL, "url:value", "u", ""}}},
	{name: "ok/comments", pattern: "/* feed 42 */ [url:value /* the URL */ = 'u'] // trailing\n OR [url:value = 'v'] // end",
		want: []Observable{{URL, "url:value", "u", ""}, {URL, "url:value", "v", ""}}},
	{name: "ok/path-whitespace-removed", pattern: `[file : hashes . 'SHA-256' = 'a']`, want: []Observable{{SHA256, "file:hashes.'SHA-256'", "a", ""}}},

	// AND, observation operators and qualifiers.
	{name: "ne/and-in-brackets", pattern: `[ipv4-addr:value = '1' AND ipv4-addr:value = '2']`, err: errNotExpressible, reason: "uses AND"},
	{name: "ne/and-same-value", pattern: `[url:value = 'a' AND url:value = 'a']`, err: errNotExpressible, reason: "uses AND"},
	// AND on one object: a typed reference, a file's hashes with its other properties.
	{name: "ok/misp-ip-src", pattern: `[network-traffic:src_ref.type = 'ipv4-addr' AND network-traffic:src_ref.value = '27.102.113.93']`,
		want: []Observable{{IPv4, "ipv4-addr:value", "27.102.113.93", ""}}},
	{name: "ok/typed-ref-reversed", pattern: `[network-traffic:dst_ref.value = 'evil.example' AND network-traffic:dst_ref.type == 'domain-name']`,
		want: []Observable{{Domain, "domain-name:value", "evil.example", ""}}},
	{name: "ok/typed-ref-or", pattern: `[network-traffic:dst_ref.type = 'ipv6-addr' AND network-traffic:dst_ref.value = '2001:db8::1'] OR [url:value = 'http://x/']`,
		want: []Observable{{IPv6, "ipv6-addr:value", "2001:db8::1", ""}, {URL, "url:value", "http://x/", ""}}},
	{name: "ok/file-name-md5", pattern: `[file:name = 'a.exe' AND file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f']`,
		want: []Observable{{MD5, "file:hashes.MD5", "cead3f77f6cda6ec00f57d76c9a6879f", "name a.exe"}}},
	{name: "ok/file-hashes-size", pattern: `[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f' AND file:size = 1024 AND file:hashes.'SHA-256' = '` + sha256a + `']`,
		want: []Observable{{MD5, "file:hashes.MD5", "cead3f77f6cda6ec00f57d76c9a6879f", "size 1024"}, {SHA256, "file:hashes.'SHA-256'", sha256a, "size 1024"}}},
	{name: "ok/misp-domain-ip", pattern: `[domain-name:value = 'a.example' AND domain-name:resolves_to_refs[*].value = '2001:db8::5']`,
		want: []Observable{{Domain, "domain-name:value", "a.example", ""}, {IPv6, "ipv6-addr:value", "2001:db8::5", ""}}},
	{name: "ok/domain-resolves-to-domain", pattern: `[domain-name:resolves_to_refs[*].value = 'cdn.example' AND domain-name:value = 'a.example']`,
		want: []Observable{{Domain, "domain-name:value", "a.example", ""}, {Domain, "domain-name:value", "cdn.example", ""}}},
	{name: "ne/domain-resolves-no-name", pattern: `[domain-name:resolves_to_refs[*].value = '198.51.100.1' AND domain-name:resolves_to_refs[*].value = '198.51.100.2']`, err: errNotExpressible, reason: "uses AND"},
	{name: "ne/and-across-objects", pattern: `[ipv4-addr:value = '198.51.100.1' AND network-traffic:dst_port = 443]`, err: errNotExpressible, reason: "uses AND"},
	{name: "ne/typed-ref-other-refs", pattern: `[network-traffic:src_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '198.51.100.1']`, err: errNotExpressible, reason: "uses AND"},
	{name: "ne/typed-ref-not-indicator", pattern: `[network-traffic:src_ref.type = 'mac-addr' AND network-traffic:src_ref.value = '00:11:22:33:44:55']`, err: errNotExpressible, reason: "uses AND"},
	{name: "ok/typed-ref-port", pattern: `[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '198.51.100.1' AND network-traffic:dst_port = '443']`,
		want: []Observable{{IPv4, "ipv4-addr:value", "198.51.100.1", "dst_port 443"}}},
	{name: "ne/typed-ref-two-values", pattern: `[network-traffic:src_ref.type = 'ipv4-addr' AND network-traffic:src_ref.value = '198.51.100.1' AND network-traffic:src_ref.value = '198.51.100.2']`, err: errNotExpressible, reason: "uses AND"},
	{name: "ne/typed-ref-other-object", pattern: `[network-traffic:src_ref.type = 'ipv4-addr' AND network-traffic:src_ref.value = '198.51.100.1' AND ipv4-addr:value = '198.51.100.2']`, err: errNotExpressible, reason: "uses AND"},
	{name: "ne/typed-ref-index", pattern: `[network-traffic:src_refs[0].type = 'ipv4-addr' AND network-traffic:src_refs[0].value = '198.51.100.1']`, err: errNotExpressible, reason: "uses AND"},
	{name: "ne/typed-ref-empty", pattern: `[network-traffic:src_ref.type = 'ipv4-addr' AND network-traffic:src_ref.value = '']`, err: errNotExpressible, reason: "uses AND"},
	{name: "ne/file-no-hash", pattern: `[file:name = 'a.exe' AND file:size = 10]`, err: errNotExpressible, reason: "uses AND"},
	{name: "ne/file-same-algorithm", pattern: `[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f' AND file:hashes.MD5 = 'aaaa3f77f6cda6ec00f57d76c9a6879f']`, err: errNotExpressible, reason: "uses AND"},
	{name: "ne/file-not", pattern: `[file:name NOT = 'a.exe' AND file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f']`, err: errNotExpressible, reason: "uses AND"},
	{name: "ne/file-like", pattern: `[file:name LIKE 'a%' AND file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f']`, err: errNotExpressible, reason: "uses AND"},
	{name: "ne/file-nested-or", pattern: `[(file:name = 'a' OR file:name = 'b') AND file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f']`, err: errNotExpressible, reason: "uses AND"},
	{name: "ne/file-ref-path", pattern: `[file:parent_directory_ref.path = 'C:\\x' AND file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f']`, err: errNotExpressible, reason: "uses AND"},
	{name: "ne/file-and-other-object", pattern: `[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f' AND url:value = 'http://x/']`, err: errNotExpressible, reason: "uses AND"},
	{name: "ne/and-binds-tighter-than-or", pattern: `[url:value = 'a' OR url:value = 'b' AND url:value = 'c']`, err: errNotExpressible, reason: "uses AND"},
	{name: "ne/and-observations", pattern: `[url:value = 'a'] AND [url:value = 'b']`, err: errNotExpressible, reason: "uses AND"},
	{name: "ne/and-observations-under-or", pattern: `[url:value = 'a'] OR [url:value = 'b'] AND [url:value = 'c']`, err: errNotExpressible, reason: "uses AND"},
	{name: "ne/followedby", pattern: `[url:value = 'a'] FOLLOWEDBY [url:value = 'b']`, err: errNotExpressible, reason: "uses FOLLOWEDBY"},
	{name: "ne/within", pattern: `[url:value = 'a'] WITHIN 60 SECONDS`, err: errNotExpressible, reason: "uses qualifier WITHIN"},
	{name: "ne/within-float", pattern: `[url:value = 'a'] WITHIN 0.5 SECONDS`, err: errNotExpressible, reason: "uses qualifier WITHIN"},
	{name: "ne/repeats", pattern: `[url:value = 'a'] REPEATS 3 TIMES`, err: errNotExpressible, reason: "uses qualifier REPEATS"},
	{name: "ne/start-stop", pattern: `[url:value = 'a'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00.123Z'`, err: errNotExpressible, reason: "uses qualifier START/STOP"},
	{name: "ne/start-stop-stix20-strings", pattern: `[url:value = 'a'] START '2016-06-01T00:00:00Z' STOP '2016-07-01T00:00:00Z'`, err: errNotExpressible, reason: "uses qualifier START/STOP"},
	{name: "ne/qualifier-on-one-of-or", pattern: `[url:value = 'a'] OR [url:value = 'b'] WITHIN 5 SECONDS`, err: errNotExpressible, reason: "uses qualifier WITHIN"},
	{name: "ne/qualifier-first-written", pattern: `[url:value = 'a'] REPEATS 2 TIMES WITHIN 5 SECONDS START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'`, err: errNotExpressible, reason: "uses qualifier REPEATS"},

	// Operators other than = and IN.
	{name: "ne/matches", pattern: `[url:value MATCHES '^http://']`, err: errNotExpressible, reason: "uses operator MATCHES"},
	{name: "ne/like", pattern: `[domain-name:value LIKE '%.example.com']`, err: errNotExpressible, reason: "uses operator LIKE"},
	{name: "ne/exists", pattern: `[EXISTS url:value]`, err: errNotExpressible, reason: "uses operator EXISTS"},
	{name: "ne/not-equal", pattern: `[url:value != 'a']`, err: errNotExpressible, reason: "compares url:value with !="},
	{name: "ne/not-equal-sql", pattern: `[url:value <> 'a']`, err: errNotExpressible, reason: "compares url:value with <>"},
	{name: "ne/greater", pattern: `[ipv4-addr:value > '1.2.3.4']`, err: errNotExpressible, reason: "compares ipv4-addr:value with >"},
	{name: "ne/issubset", pattern: `[ipv4-addr:value ISSUBSET '198.51.100.0/24']`, err: errNotExpressible, reason: "compares ipv4-addr:value with ISSUBSET"},
	{name: "ne/not-eq", pattern: `[url:value NOT = 'a']`, err: errNotExpressible, reason: "uses NOT"},
	{name: "ne/not-in", pattern: `[url:value NOT IN ('a', 'b')]`, err: errNotExpressible, reason: "uses NOT"},
	{name: "ne/not-matches", pattern: `[url:value NOT MATCHES 'a']`, err: errNotExpressible, reason: "uses NOT"},
	{name: "ne/not-issuperset", pattern: `[ipv4-addr:value NOT ISSUPERSET '198.51.100.0/24']`, err: errNotExpressible, reason: "uses NOT"},

	// Paths that are not indicators.
	{name: "ne/file-name", pattern: `[file:name = 'evil.exe']`, err: errNotExpressible, reason: "compares file:name (not an indicator path)"},
	{name: "ne/process-pid", pattern: `[process:pid = 4]`, err: errNotExpressible, reason: "compares process:pid (not an indicator path)"},
	{name: "ne/email-message-from", pattern: `[email-message:from_ref.value = 'jdoe@example.com']`, err: errNotExpressible, reason: "compares email-message:from_ref.value (not an indicator path)"},
	{name: "ne/email-message-subject", pattern: `[email-message:subject = 'Invoice']`, err: errNotExpressible, reason: "compares email-message:subject (not an indicator path)"},
	{name: "ne/network-traffic", pattern: `[network-traffic:dst_ref.value = '198.51.100.1']`, err: errNotExpressible, reason: "compares network-traffic:dst_ref.value (not an indicator path)"},
	{name: "ne/custom-object", pattern: `[x-custom-thing:value = 'a']`, err: errNotExpressible, reason: "compares x-custom-thing:value (not an indicator path)"},
	{name: "ne/property-case-sensitive", pattern: `[ipv4-addr:Value = '1.2.3.4']`, err: errNotExpressible, reason: "compares ipv4-addr:Value (not an indicator path)"},
	{name: "ne/type-case-sensitive", pattern: `[IPv4-Addr:value = '1.2.3.4']`, err: errNotExpressible, reason: "compares IPv4-Addr:value (not an indicator path)"},
	{name: "ne/other-property", pattern: `[domain-name:resolves_to_refs[*].value = '1.2.3.4']`, err: errNotExpressible, reason: "compares domain-name:resolves_to_refs[*].value (not an indicator path)"},
	{name: "ne/list-index", pattern: `[ipv4-addr:value[0] = '1.2.3.4']`, err: errNotExpressible, reason: "compares ipv4-addr:value[0] (not an indicator path)"},
	{name: "ne/hash-too-deep", pattern: `[file:hashes.MD5.x = 'a']`, err: errNotExpressible, reason: "compares file:hashes.MD5.x (not an indicator path)"},
	{name: "ne/hash-sha3", pattern: `[file:hashes.'SHA3-256' = 'a']`, err: errNotExpressible, reason: "compares file:hashes.'SHA3-256' (not an indicator path)"},
	{name: "ne/hash-ssdeep", pattern: `[file:hashes.SSDEEP = '3:a:b']`, err: errNotExpressible, reason: "compares file:hashes.SSDEEP (not an indicator path)"},
	{name: "ne/hash-md-5", pattern: `[file:hashes.'MD-5' = 'a']`, err: errNotExpressible, reason: "compares file:hashes.'MD-5' (not an indicator path)"},
	{name: "ne/hash-non-ascii-fold", pattern: "[file:hashes.'\u017fha1' = 'a']", err: errNotExpressible, reason: "not an indicator path"},
	{name: "ne/hashes-without-key", pattern: `[file:hashes = 'a']`, err: errNotExpressible, reason: "compares file:hashes (not an indicator path)"},
	{name: "ne/artifact-hash", pattern: `[artifact:hashes.MD5 = 'a']`, err: errNotExpressible, reason: "compares artifact:hashes.MD5 (not an indicator path)"},

	// Constants that are not non-empty strings.
	{name: "ne/integer", pattern: `[ipv4-addr:value = 16909060]`, err: errNotExpressible, reason: "uses a non-string constant 16909060"},
	{name: "ne/hex", pattern: `[file:hashes.MD5 = h'cead3f77f6cda6ec00f57d76c9a6879f']`, err: errNotExpressible, reason: "uses a non-string constant h'cead3f77f6cda6ec00f57d76c9a6879f'"},
	{name: "ne/binary", pattern: `[url:value = b'aHR0cDovL3g=']`, err: errNotExpressible, reason: "uses a non-string constant b'aHR0cDovL3g='"},
	{name: "ne/boolean", pattern: `[url:value = true]`, err: errNotExpressible, reason: "uses a non-string constant true"},
	{name: "ne/timestamp", pattern: `[url:value = t'2016-06-01T00:00:00Z']`, err: errNotExpressible, reason: "uses a non-string constant"},
	{name: "ne/float", pattern: `[url:value = -1.5]`, err: errNotExpressible, reason: "uses a non-string constant -1.5"},
	{name: "ne/set-with-integer", pattern: `[url:value IN ('a', 1)]`, err: errNotExpressible, reason: "uses a non-string constant 1"},
	{name: "ne/empty-set", pattern: `[url:value IN ()]`, err: errNotExpressible, reason: "compares url:value with an empty set"},
	{name: "ne/empty-string", pattern: `[url:value = '']`, err: errNotExpressible, reason: "compares url:value with an empty string"},
	{name: "ne/empty-string-in-set", pattern: `[url:value IN ('a', '')]`, err: errNotExpressible, reason: "compares url:value with an empty string"},

	// The first offending construct, top-down and left to right, is named.
	{name: "ne/first-and-before-path", pattern: `[file:name = 'x'] AND [url:value = 'a']`, err: errNotExpressible, reason: "uses AND"},
	{name: "ne/first-path-in-or", pattern: `[url:value = 'a'] OR [file:name = 'x'] OR [url:value MATCHES 'b']`, err: errNotExpressible, reason: "compares file:name (not an indicator path)"},
	{name: "ne/first-operator-before-path", pattern: `[url:value = 'a' OR (file:name MATCHES 'x')]`, err: errNotExpressible, reason: "uses operator MATCHES"},
	{name: "ne/first-not-before-operator", pattern: `[file:name NOT LIKE 'x']`, err: errNotExpressible, reason: "uses NOT"},
	{name: "ne/first-path-before-constant", pattern: `[file:size = 5]`, err: errNotExpressible, reason: "compares file:size (not an indicator path)"},

	// Valid grammar that is rarely seen.
	{name: "ne/negative-index", pattern: `[network-traffic:protocols[-1] = 'tcp']`, err: errNotExpressible, reason: "not an indicator path"},
	{name: "ne/set-of-mixed-constants", pattern: `[x:y IN (1, +2, -3, .5, -0.5, true, false, h'', b'AA==', t'2016-02-29T23:59:60Z', 's')]`, err: errNotExpressible, reason: "compares x:y (not an indicator path)"},
	{name: "ne/binary-with-line-feeds", pattern: "[artifact:payload_bin = b'dGhp\ncyBp\r\ncw==']", err: errNotExpressible, reason: "not an indicator path"},
	{name: "ne/underscore-identifiers", pattern: `[_x-y_:_a._b = 'c']`, err: errNotExpressible, reason: "compares _x-y_:_a._b (not an indicator path)"},
	{name: "ne/within-after-paren", pattern: `([url:value = 'a'] WITHIN 5 SECONDS) WITHIN 10 SECONDS`, err: errNotExpressible, reason: "uses qualifier WITHIN"},
	{name: "ne/qualifier-without-space", pattern: `[url:value = 'a'] WITHIN 5SECONDS`, err: errNotExpressible, reason: "uses qualifier WITHIN"},
}

// syntaxTests are invalid patterns, with the offset of the error.
var syntaxTests = []parseTest{
	{name: "syntax/empty", pattern: ``, err: errSyntax, offset: 0, reason: "empty pattern"},
	{name: "syntax/blank", pattern: "  \n", err: errSyntax, offset: 3, reason: "empty pattern"},
	{name: "syntax/comment-only", pattern: "/* nothing */", err: errSyntax, offset: 13, reason: "empty pattern"},
	{name: "syntax/unterminated-string", pattern: `[ipv4-addr:value = '1.2.3.4]`, err: errSyntax, offset: 19, reason: "unterminated string"},
	{name: "syntax/unterminated-string-escape-at-end", pattern: `[url:value = 'a\`, err: errSyntax, offset: 13, reason: "unterminated string"},
	{name: "syntax/escaped-closing-quote", pattern: `[url:value = 'a\']`, err: errSyntax, offset: 13, reason: "unterminated string"},
	{name: "syntax/missing-closing-bracket", pattern: `[ipv4-addr:value = '1.2.3.4'`, err: errSyntax, offset: 28, reason: "expected AND, OR or ']' to close '[' at offset 0, found end of pattern"},
	{name: "syntax/missing-opening-bracket", pattern: `ipv4-addr:value = '1.2.3.4'`, err: errSyntax, offset: 0, reason: "expected '[' or '(' to start an observation expression"},
	{name: "syntax/missing-closing-paren", pattern: `([url:value = 'a'] OR [url:value = 'b']`, err: errSyntax, offset: 39, reason: "')' to close '(' at offset 0"},
	{name: "syntax/missing-closing-paren-in-brackets", pattern: `[(url:value = 'a' OR url:value = 'b']`, err: errSyntax, offset: 36, reason: "expected AND, OR or ')' to close '(' at offset 1"},
	{name: "syntax/extra-closing-bracket", pattern: `[url:value = 'a']]`, err: errSyntax, offset: 17, reason: "expected AND, OR, FOLLOWEDBY, a qualifier or end of pattern, found ']'"},
	{name: "syntax/juxtaposed-observations", pattern: `[url:value = 'a'] [url:value = 'b']`, err: errSyntax, offset: 18, reason: "found '['"},
	{name: "syntax/empty-brackets", pattern: `[]`, err: errSyntax, offset: 1, reason: "expected a comparison"},
	{name: "syntax/trailing-or", pattern: `[ipv4-addr:value = '1.2.3.4'] OR`, err: errSyntax, offset: 32, reason: "expected '[' or '('"},
	{name: "syntax/trailing-or-in-brackets", pattern: `[url:value = 'a' OR]`, err: errSyntax, offset: 19, reason: "expected a comparison"},
	{name: "syntax/bad-operator-char", pattern: `[ipv4-addr:value ~= '1.2.3.4']`, err: errSyntax, offset: 17, reason: "unexpected character '~'"},
	{name: "syntax/bad-operator-word", pattern: `[ipv4-addr:value EQUALS '1.2.3.4']`, err: errSyntax, offset: 17, reason: "expected a comparison operator after ipv4-addr:value, found identifier EQUALS"},
	{name: "syntax/bad-operator-triple-equals", pattern: `[ipv4-addr:value === '1.2.3.4']`, err: errSyntax, offset: 19, reason: "expected a constant after ==, found '='"},
	{name: "syntax/bad-operator-bang", pattern: `[ipv4-addr:value ! '1.2.3.4']`, err: errSyntax, offset: 17, reason: "unexpected character '!'"},
	{name: "syntax/missing-operator", pattern: `[ipv4-addr:value '1.2.3.4']`, err: errSyntax, offset: 17, reason: "expected a comparison operator"},
	{name: "syntax/missing-constant", pattern: `[url:value = ]`, err: errSyntax, offset: 13, reason: "expected a constant after =, found ']'"},
	{name: "syntax/constant-on-left", pattern: `['a' = url:value]`, err: errSyntax, offset: 1, reason: "expected a comparison"},
	{name: "syntax/lowercase-keyword", pattern: `[url:value = 'a' or url:value = 'b']`, err: errSyntax, offset: 17, reason: "found identifier or"},
	{name: "syntax/lowercase-operator", pattern: `[url:value in ('a')]`, err: errSyntax, offset: 11, reason: "expected a comparison operator"},
	{name: "syntax/invalid-escape", pattern: `[url:value = 'a\b']`, err: errSyntax, offset: 15, reason: `invalid escape sequence \b`},
	{name: "syntax/double-quoted-string", pattern: `[url:value = "a"]`, err: errSyntax, offset: 13, reason: `unexpected character '"'`},
	{name: "syntax/unquoted-hyphenated-hash-key", pattern: `[file:hashes.SHA-256 = 'a']`, err: errSyntax, offset: 13, reason: "property name SHA-256 contains '-' and must be quoted"},
	{name: "syntax/missing-colon", pattern: `[url.value = 'a']`, err: errSyntax, offset: 4, reason: "expected ':' after object type url"},
	{name: "syntax/missing-property", pattern: `[url: = 'a']`, err: errSyntax, offset: 6, reason: "expected a property name after ':'"},
	{name: "syntax/keyword-property", pattern: `[x:IN = 'a']`, err: errSyntax, offset: 3, reason: "expected a property name after ':', found keyword IN"},
	{name: "syntax/trailing-dot", pattern: `[file:hashes. = 'a']`, err: errSyntax, offset: 14, reason: "expected a property name after '.'"},
	{name: "syntax/bad-index", pattern: `[x:y[a] = 'b']`, err: errSyntax, offset: 5, reason: "expected a list index or '*'"},
	{name: "syntax/unclosed-index", pattern: `[x:y[0 = 'b']`, err: errSyntax, offset: 7, reason: "expected ']' after list index"},
	{name: "syntax/not-without-operator", pattern: `[url:value NOT 'a']`, err: errSyntax, offset: 15, reason: "expected a comparison operator after NOT"},
	{name: "syntax/in-without-set", pattern: `[url:value IN 'a']`, err: errSyntax, offset: 14, reason: "expected '(' to start the set of constants after IN"},
	{name: "syntax/in-trailing-comma", pattern: `[url:value IN ('a',)]`, err: errSyntax, offset: 19, reason: "expected a constant after IN, found ')'"},
	{name: "syntax/in-unclosed", pattern: `[url:value IN ('a' 'b')]`, err: errSyntax, offset: 19, reason: "expected ',' or ')' to close the set at offset 14"},
	{name: "syntax/like-non-string", pattern: `[file:name LIKE 5]`, err: errSyntax, offset: 16, reason: "expected a string constant after LIKE"},
	{name: "syntax/boolean-ordered", pattern: `[file:size > true]`, err: errSyntax, offset: 13, reason: "a boolean cannot be compared with >"},
	{name: "syntax/leading-zero", pattern: `[file:size = 007]`, err: errSyntax, offset: 13, reason: "invalid integer 007: leading zero"},
	{name: "syntax/lone-minus", pattern: `[file:size = -]`, err: errSyntax, offset: 13, reason: "unexpected character '-'"},
	{name: "syntax/bad-hex", pattern: `[file:magic_number_hex = h'fff']`, err: errSyntax, offset: 25, reason: "odd number of hexadecimal digits"},
	{name: "syntax/bad-hex-digit", pattern: `[file:magic_number_hex = h'zz']`, err: errSyntax, offset: 25, reason: "not a hexadecimal digit"},
	{name: "syntax/bad-timestamp", pattern: `[file:created = t'2014-13-01T00:00:00Z']`, err: errSyntax, offset: 16, reason: "invalid timestamp constant"},
	{name: "syntax/timestamp-without-z", pattern: `[file:created = t'2014-01-01T00:00:00']`, err: errSyntax, offset: 16, reason: "invalid timestamp constant"},
	{name: "syntax/bad-base64", pattern: `[artifact:payload_bin = b'abc']`, err: errSyntax, offset: 24, reason: "invalid binary constant"},
	{name: "syntax/empty-base64", pattern: `[artifact:payload_bin = b'']`, err: errSyntax, offset: 24, reason: "invalid binary constant"},
	{name: "syntax/unterminated-hex", pattern: `[x:y = h'00`, err: errSyntax, offset: 7, reason: "unterminated hex constant"},
	{name: "syntax/within-zero", pattern: `[url:value = 'a'] WITHIN 0 SECONDS`, err: errSyntax, offset: 25, reason: "expected a positive number after WITHIN"},
	{name: "syntax/within-negative", pattern: `[url:value = 'a'] WITHIN -5 SECONDS`, err: errSyntax, offset: 25, reason: "expected a positive number after WITHIN"},
	{name: "syntax/within-minutes", pattern: `[url:value = 'a'] WITHIN 5 MINUTES`, err: errSyntax, offset: 27, reason: "expected SECONDS after WITHIN 5, found identifier MINUTES"},
	{name: "syntax/repeats-float", pattern: `[url:value = 'a'] REPEATS 2.5 TIMES`, err: errSyntax, offset: 26, reason: "expected a positive integer after REPEATS"},
	{name: "syntax/duplicate-qualifier", pattern: `[url:value = 'a'] WITHIN 5 SECONDS WITHIN 6 SECONDS`, err: errSyntax, offset: 35, reason: "more than one WITHIN qualifier"},
	{name: "syntax/start-without-stop", pattern: `[url:value = 'a'] START t'2016-06-01T00:00:00Z'`, err: errSyntax, offset: 47, reason: "expected STOP after START"},
	{name: "syntax/start-with-integer", pattern: `[url:value = 'a'] START 5 STOP 6`, err: errSyntax, offset: 24, reason: "expected a timestamp"},
	{name: "syntax/qualifier-inside-brackets", pattern: `[url:value = 'a' WITHIN 5 SECONDS]`, err: errSyntax, offset: 17, reason: "expected AND, OR or ']'"},
	{name: "syntax/unterminated-comment", pattern: `[url:value = 'a'] /* note`, err: errSyntax, offset: 18, reason: "unterminated comment"},
	{name: "syntax/invalid-utf8", pattern: "[url:value = 'a']\xff", err: errSyntax, offset: 17, reason: "invalid UTF-8 byte 0xff"},
	{name: "syntax/control-character", pattern: "[url:value = 'a']\x00", err: errSyntax, offset: 17, reason: `unexpected character '\x00'`},
	{name: "syntax/nul-in-path", pattern: "[url:va\x00lue = 'a']", err: errSyntax, offset: 7, reason: "unexpected character"},
}

func allTests() []parseTest {
	var all []parseTest
	for _, set := range [][]parseTest{specTests, realworldTests, featureTests, syntaxTests, depthTests()} {
		all = append(all, set...)
	}
	return all
}

// depthTests probe the nesting limit at both levels of the grammar.
func depthTests() []parseTest {
	obs := func(n int) string {
		return strings.Repeat("(", n) + "[url:value = 'a']" + strings.Repeat(")", n)
	}
	cmp := func(n int) string {
		return "[" + strings.Repeat("(", n) + "url:value = 'a'" + strings.Repeat(")", n) + "]"
	}
	ok := []Observable{{URL, "url:value", "a", ""}}
	return []parseTest{
		{name: "depth/observation-99-parens", pattern: obs(maxDepth - 1), want: ok},
		{name: "depth/observation-100-parens", pattern: obs(maxDepth), err: errSyntax, offset: maxDepth, reason: "nesting deeper than 100 levels"},
		{name: "depth/observation-100000-parens", pattern: obs(100000), err: errSyntax, offset: maxDepth, reason: "nesting deeper than 100 levels"},
		{name: "depth/comparison-99-parens", pattern: cmp(maxDepth - 1), want: ok},
		{name: "depth/comparison-100-parens", pattern: cmp(maxDepth), err: errSyntax, offset: maxDepth, reason: "nesting deeper than 100 levels"},
		{name: "depth/mixed", pattern: obs(50)[:50] + cmp(50), err: errSyntax, offset: maxDepth, reason: "nesting deeper than 100 levels"},
	}
}

func TestParse(t *testing.T) {
	for _, tc := range allTests() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.pattern)
			checkOutcome(t, tc, got, err)
		})
	}
}

func checkOutcome(t *testing.T, tc parseTest, got []Observable, err error) {
	t.Helper()
	var se *SyntaxError
	var ne *NotExpressibleError
	switch tc.err {
	case errNone:
		if err != nil {
			t.Fatalf("Parse(%q) error: %v", tc.pattern, err)
		}
		if !equalObservables(got, tc.want) {
			t.Fatalf("Parse(%q)\n got %q\nwant %q", tc.pattern, got, tc.want)
		}
		return
	case errSyntax:
		if !errors.As(err, &se) {
			t.Fatalf("Parse(%q) = %q, %v; want a *SyntaxError", tc.pattern, got, err)
		}
		if se.Offset != tc.offset || !strings.Contains(se.Msg, tc.reason) {
			t.Fatalf("Parse(%q) error %q at offset %d; want %q at offset %d", tc.pattern, se.Msg, se.Offset, tc.reason, tc.offset)
		}
	case errNotExpressible:
		if !errors.As(err, &ne) {
			t.Fatalf("Parse(%q) = %q, %v; want a *NotExpressibleError", tc.pattern, got, err)
		}
		if !strings.Contains(ne.Reason, tc.reason) {
			t.Fatalf("Parse(%q) reason %q; want it to contain %q", tc.pattern, ne.Reason, tc.reason)
		}
	}
	if got != nil {
		t.Fatalf("Parse(%q) returned %q with error %v; want nil", tc.pattern, got, err)
	}
}

func equalObservables(a, b []Observable) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestErrorStrings(t *testing.T) {
	_, err := Parse(`[url:value = 'a'`)
	if got, want := err.Error(), "invalid STIX pattern at offset 16: expected AND, OR or ']' to close '[' at offset 0, found end of pattern"; got != want {
		t.Errorf("SyntaxError.Error() = %q, want %q", got, want)
	}
	_, err = Parse(`[url:value = 'a' AND url:value = 'b']`)
	if got, want := err.Error(), "pattern not expressible as indicators: uses AND"; got != want {
		t.Errorf("NotExpressibleError.Error() = %q, want %q", got, want)
	}
	_, err = Parse(`[file:name = 'a']`)
	if got, want := err.Error(), "pattern not expressible as indicators: compares file:name (not an indicator path)"; got != want {
		t.Errorf("NotExpressibleError.Error() = %q, want %q", got, want)
	}
}

// TestLongInputs checks that long chains do not recurse and that messages
// quoting the input stay short.
func TestLongInputs(t *testing.T) {
	const n = 50000
	var b strings.Builder
	b.WriteString("[")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(" OR ")
		}
		b.WriteString("url:value = 'u'")
	}
	b.WriteString("]")
	for i := 0; i < n; i++ {
		b.WriteString(" OR [domain-name:value IN ('d', 'e')]")
	}
	got, err := Parse(b.String())
	if err != nil || len(got) != 3*n {
		t.Fatalf("long OR chain: %d observables, error %v; want %d", len(got), err, 3*n)
	}

	long := "[x-" + strings.Repeat("a", 10000) + ":value = 'v']"
	_, err = Parse(long)
	var ne *NotExpressibleError
	if !errors.As(err, &ne) || len(ne.Reason) > 200 {
		t.Fatalf("long path: %v", err)
	}
	_, err = Parse("[url:value = 'v' " + strings.Repeat("z", 10000) + "]")
	var se *SyntaxError
	if !errors.As(err, &se) || len(se.Msg) > 300 {
		t.Fatalf("long identifier: %v", err)
	}
}
