package pipeline

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/pipeline/normalize"
)

// settle validates and normalizes rows read from f, as the pipeline's
// middle stages do.
func settle(t *testing.T, f *fileState, rows []Row) {
	t.Helper()
	p, err := New(Options{Route: f.route, Sink: nopSink{}})
	if err != nil {
		t.Fatal(err)
	}
	c := &chunk{file: f, rows: rows}
	p.validate(c)
	n := newNormalizer(f.route)
	for i := range c.rows {
		n.row(f, &c.rows[i])
	}
}

// outcome renders what became of a row: "skip: reason", "reject:
// reason", or its indicators as "type value" joined by " + ".
func outcome(r Row) string {
	switch {
	case r.skip != "":
		return "skip: " + r.skip
	case len(r.inds) == 0:
		var why []string
		for _, rj := range r.rejects {
			why = append(why, rj.Reason)
		}
		return "reject: " + strings.Join(why, "; ")
	}
	var out []string
	for _, in := range r.inds {
		out = append(out, string(in.Type)+" "+in.Value)
	}
	return strings.Join(out, " + ")
}

// importRows reads a file under route and settles its rows, returning the
// outcome of each and the notes of each row's first indicator.
func importRows(t *testing.T, name, text string, route *Route) ([]string, []Row, *fileState) {
	t.Helper()
	rows, f, err := readRowsWith(t, writeFile(t, name, text), route)
	if err != nil {
		t.Fatalf("file error: %v", err)
	}
	settle(t, f, rows)
	var got []string
	for _, r := range rows {
		got = append(got, outcome(r))
	}
	return got, rows, f
}

func routeWith(columns, jsonFields map[string][]string) *Route {
	r := testRoute()
	r.Columns, r.JSONFields = columns, jsonFields
	return r
}

func TestReadCSVFeedQuirks(t *testing.T) {
	tests := []struct {
		name, file, text string
		columns          map[string][]string
		want             []string
		lines            []int
	}{
		{
			name: "commented header, banner and footer (URLhaus)", file: "urlhaus.csv",
			text: "#####\n# URLhaus\n#\n# Dateadded (UTC),URL,URL_status,Threat,Host,IPaddress\n" +
				"2019-02-13 00:34:42,http://a.example.ch/x/,offline,malware_download,a.example.ch,62.241.37.242\n# of entries: 1\n",
			want:  []string{"url http://a.example.ch/x/ + domain a.example.ch + ip 62.241.37.242"},
			lines: []int{5},
		},
		{
			name: "quoted header in a comment, ', ' separators (ThreatFox)", file: "tf.csv",
			text: "# \"first_seen_utc\",\"ioc_value\",\"ioc_type\",\"tags\"\n\"2024-02-06 12:00:42\", \"185.196.10.45:1912\", \"ip:port\", \"a,b\"\n",
			want: []string{"ip 185.196.10.45"},
		},
		{
			name: "padded pipes with a pipe inside a field (DataPlane)", file: "dp.txt",
			text: "# ASN  |  ASname  |  saddr  |  utc  |  category\n#\n" +
				"NA   |  NA                 |  170.239.104.183  |  2016-12-01 04:26:48  |  sshpwauth\n" +
				"1    |  TEST-AS a | b | c  |  1.2.3.4          |  2024-04-02 12:00:00  |  sshpwauth\n",
			want:  []string{"ip 170.239.104.183", "ip 1.2.3.4"},
			lines: []int{3, 4},
		},
		{
			name: "semicolon comments, padded ';', no header (Spamhaus DROP)", file: "drop.txt",
			text: "; Spamhaus DROP List\n; Last-Modified: Tue, 06 Feb 2024\n1.10.16.0/20 ; SBL256894\n1.19.0.0/16 ; SBL434604\n",
			want: []string{"cidr 1.10.16.0/20", "cidr 1.19.0.0/16"},
		},
		{
			name: "tab-separated, header in a comment, epoch seconds (OpenBL)", file: "openbl.tsv",
			text: "# openbl\n# source ip\tdate\n192.88.99.4\t1478790683\n",
			want: []string{"ip 192.88.99.4"},
		},
		{
			name: "BOM, CRLF, pseudo-row, vendor types, labels, invisible characters (Sophos)", file: "sophos.csv",
			text: "\ufeffIndicator_type,Data,Note\r\nDescription,Some campaign,https://example.org/\r\n" +
				"sha1,SHA1:  e298cd6c5fe7b9b05a28480fd215ddcbd7aaa48a,hash\r\nip_port,94.232.40.167:9338,C2\r\n" +
				"url,hxxps[://]evil[.]example[.]com/a ,x\r\nip,104.21.84[.]251\u200e,C2\r\nfilename,AutoIt3.exe,dropper\r\n" +
				"command_line_parameter,enc.exe --logging,\r\nscheduled_task_path,Windows Update,\r\nfile,(hash not available),x\r\n" +
				"file,52b13207e6464a7fd57b02c3c4525339e91e60348e5a9e5d03f2b6faf117c82b,payload\r\nurl,94.232.40.167:9338/dot.gif,\r\n",
			want: []string{
				`skip: type "Description" is free text, not an indicator`,
				"sha1 e298cd6c5fe7b9b05a28480fd215ddcbd7aaa48a",
				"ip 94.232.40.167",
				"url https://evil.example.com/a",
				"ip 104.21.84.251",
				`skip: type "filename" is a file name, not an indicator`,
				`skip: type "command_line_parameter" is a command line, not an indicator`,
				`skip: type "scheduled_task_path" is a scheduled task, not an indicator`,
				`skip: type "file" with a value that is no MD5, SHA-1, SHA-256 or SHA-512 hash: a file name or path, not an indicator`,
				"sha256 52b13207e6464a7fd57b02c3c4525339e91e60348e5a9e5d03f2b6faf117c82b",
				"url http://94.232.40.167:9338/dot.gif",
			},
		},
		{
			name: "multi-values in one field, 0.0.0.0 (Ransomware Tracker)", file: "rt.csv",
			text: "# Firstseen (UTC),Host,IP address(es)\n\"2016-11-11 16:06:00\",\"m.example.com\",\"213.176.241.230|67.171.65.64\"\n" +
				"\"2016-11-15 10:07:59\",\"o.example.at\",\"0.0.0.0\"\n",
			want: []string{"domain m.example.com + ip 213.176.241.230 + ip 67.171.65.64", "domain o.example.at"},
		},
		{
			name: "repeated header and separator line", file: "rep.csv",
			text: "value,notes\n1.2.3.4,a\n-----,-----\nvalue,notes\n5.6.7.8,b\n---x,n\n",
			want: []string{"ip 1.2.3.4", "skip: a separator line", "skip: the header line repeated", "ip 5.6.7.8",
				"reject: cannot tell what kind of indicator this is (give a type column to say)"},
		},
		{
			name: "NA and dash are missing", file: "na.csv",
			text: "ip,domain\nNA,evil.example.com\n198.51.100.1,-\n",
			want: []string{"domain evil.example.com", "ip 198.51.100.1"},
		},
		{
			name: "route columns by name, several value columns", file: "cols.csv",
			text:    "when,link,site,addr,why\n2024-01-01,http://a.example.com/x,a.example.com,198.51.100.7,phish\n",
			columns: map[string][]string{formats.FieldValue: {"link", "addr"}, formats.FieldFirstSeen: {"when"}, formats.FieldNotes: {"why"}},
			want:    []string{"url http://a.example.com/x + ip 198.51.100.7"},
		},
		{
			name: "route columns by position, file without a header", file: "pos.csv",
			text:    "x,198.51.100.9,2024-01-01\ny,evil.example.org,2024-01-02\n",
			columns: map[string][]string{formats.FieldValue: {"2"}, formats.FieldFirstSeen: {"3"}},
			want:    []string{"ip 198.51.100.9", "domain evil.example.org"},
			lines:   []int{1, 2},
		},
		{
			name: "route columns by position, file with a header", file: "posh.csv",
			text:    "a,b\nx,198.51.100.9\n",
			columns: map[string][]string{formats.FieldValue: {"2"}},
			want:    []string{"ip 198.51.100.9"},
			lines:   []int{2},
		},
		{
			name: "dotted column names are names", file: "ecs.csv",
			text: "url,threat.name\nhttp://a.example.com/x,emotet\n",
			want: []string{"url http://a.example.com/x"},
		},
		{
			name: "ports go to notes", file: "ports.csv",
			text: "dst_ip,dst_port\n198.51.100.3,443\n",
			want: []string{"ip 198.51.100.3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rows, _ := importRows(t, tt.file, tt.text, routeWith(tt.columns, nil))
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			if tt.lines != nil {
				var lines []int
				for _, r := range rows {
					lines = append(lines, r.Line)
				}
				if !slices.Equal(lines, tt.lines) {
					t.Errorf("lines %v, want %v", lines, tt.lines)
				}
			}
		})
	}
}

func TestCSVNotes(t *testing.T) {
	tests := []struct {
		name, text string
		columns    map[string][]string
		want       string
	}{
		{"port column", "dst_ip,dst_port\n198.51.100.3,443\n", nil, "port 443"},
		{"ip:port value", "value\n198.51.100.3:8080\n", nil, "port 8080"},
		{"note and port", "ip,note,port\n198.51.100.3,C2,443\n", nil, "C2; port 443"},
		{"several note columns", "ip,a,b\n198.51.100.3,x,y\n", map[string][]string{formats.FieldNotes: {"a", "b"}}, "x; b: y"},
		{"headerless: the other columns", "1.10.16.0/20 ; SBL256894\n", nil, "SBL256894"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, rows, _ := importRows(t, "n.csv", tt.text, routeWith(tt.columns, nil))
			if len(rows) != 1 || len(rows[0].inds) == 0 {
				t.Fatalf("rows %v", rows)
			}
			if got := rows[0].inds[0].Notes; got != tt.want {
				t.Errorf("notes %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReadJSONFeeds(t *testing.T) {
	pulse := func(name, tags, inds string) string {
		return `{"id":"p` + name + `","name":"` + name + `","author_name":"otx-user","tags":[` + tags + `],"indicators":[` + inds + `]}`
	}
	ind := func(v, typ string) string {
		return `{"indicator":"` + v + `","type":"` + typ + `","created":"2015-09-02T09:21:53.093000","description":""}`
	}
	misp := `{"Event":{"info":"Phishing","Orgc":{"name":"CIRCL"},
	 "Attribute":[
	  {"type":"ip-dst|port","value":"203.0.113.77|6606","to_ids":true,"timestamp":"1706540400","uuid":"a1",
	   "Sighting":[{"type":"0","date_sighting":"1706600000"},{"type":"1","date_sighting":"1706700000"}]},
	  {"type":"filename|sha256","value":"x.one|` + strings.Repeat("a", 64) + `","to_ids":true,"uuid":"a2"},
	  {"type":"url","value":"https://files.example.com/x","to_ids":"1","Tag":[{"name":"delivery"}],"uuid":"a3"},
	  {"type":"link","value":"https://example.org/blog","to_ids":false,"uuid":"a4"},
	  {"type":"ip-src","value":"198.51.100.14","to_ids":false,"uuid":"a5"},
	  {"type":"domain","value":"gone.example.com","to_ids":true,"deleted":true,"uuid":"a6"},
	  {"type":"x509-fingerprint-sha1","value":"` + strings.Repeat("b", 40) + `","to_ids":true,"uuid":"a7"}],
	 "Object":[{"name":"file","comment":"dropper","Attribute":[
	  {"type":"filename","object_relation":"filename","value":"a.exe","to_ids":false,"uuid":"o1"},
	  {"type":"md5","object_relation":"md5","value":"` + strings.Repeat("c", 32) + `","to_ids":true,"uuid":"o2"}]}],
	 "Tag":[{"name":"tlp:green"}]}}`
	tests := []struct {
		name, file, text string
		fields           map[string][]string
		format           string
		fileTags         bool
		want             []string
		tags             [][]string // each row's own tags (nil: none)
	}{
		{
			name: "OTX pulses: each pulse's tags are its rows' own", file: "otx.json",
			text:   "[" + pulse("A", `"apt","Social engineering"`, ind("http://107.6.172.54/woolen/", "URL")+","+ind("/woolen/", "URI")) + "," + pulse("B", "", ind("8.8.4.4", "IPv4")) + "]",
			format: FormatOTX,
			want:   []string{"url http://107.6.172.54/woolen/", "reject: declared url: URL has no host", "ip 8.8.4.4"},
			tags:   [][]string{{"apt", "social-engineering"}, nil, nil},
		},
		{
			name: "one OTX pulse: its tags are the file's", file: "pulse.json",
			text:   pulse("A", `"apt"`, ind("evil.example.com", "hostname")+","+ind(strings.Repeat("d", 64), "FileHash-SHA256")+","+ind("rule x {}", "YARA")),
			format: FormatOTX, fileTags: true,
			want: []string{"domain evil.example.com", "sha256 " + strings.Repeat("d", 64), `skip: type "YARA" is a YARA rule, not an indicator`},
			tags: [][]string{nil, nil, nil},
		},
		{
			name: "OTX API page of pulses", file: "page.json",
			text:   `{"count":2,"next":null,"results":[` + pulse("A", `"a"`, ind("1.2.3.4", "IPv4")) + "," + pulse("B", `"b"`, ind("5.6.7.8", "IPv4")) + "]}",
			format: FormatOTX,
			want:   []string{"ip 1.2.3.4", "ip 5.6.7.8"},
			tags:   [][]string{{"a"}, {"b"}},
		},
		{
			name: "MISP event: composites, to_ids, deleted, objects; event tags are the file's", file: "misp.json",
			text: misp, format: FormatMISP, fileTags: true,
			want: []string{
				"ip 203.0.113.77",
				"sha256 " + strings.Repeat("a", 64),
				"url https://files.example.com/x",
				`skip: MISP type "link" is a reference link, not an indicator`,
				"skip: to_ids is false: MISP marks it as not for detection (misp_to_ids: any imports it)",
				"skip: deleted in MISP",
				`skip: MISP type "x509-fingerprint-sha1" is a fingerprint, not an indicator`,
				`skip: MISP type "filename" is a file name, not an indicator`,
				"md5 " + strings.Repeat("c", 32),
			},
			tags: [][]string{nil, nil, {"delivery"}, nil, nil, nil, nil, nil, nil},
		},
		{
			name: "MISP restSearch response: several events, tags on rows", file: "resp.json",
			text: `{"response":[{"Event":{"info":"a","Tag":[{"name":"t1"}],"Attribute":[{"type":"domain","value":"a.example.com","to_ids":true}]}},
			                {"Event":{"info":"b","Attribute":[{"type":"domain","value":"b.example.com","to_ids":true}],"Tag":[{"name":"t2"}]}}]}`,
			format: FormatMISP,
			want:   []string{"domain a.example.com", "domain b.example.com"},
			tags:   [][]string{{"t1"}, {"t2"}},
		},
		{
			name: "MISP attribute list", file: "attrs.json",
			text:   `{"response":{"Attribute":[{"type":"md5","value":"` + strings.Repeat("e", 32) + `","to_ids":true,"Event":{"info":"x"}}]}}`,
			format: FormatMISP,
			want:   []string{"md5 " + strings.Repeat("e", 32)},
		},
		{
			name: "wrapper object with nulls (ThreatFox API)", file: "tf.json",
			text:   `{"query_status":"ok","data":[{"ioc":"185.196.10.45:1912","ioc_type":"ip:port","first_seen":"2024-02-06 12:00:42 UTC","last_seen":null,"tags":null,"reporter":"abuse_ch"}]}`,
			format: FormatJSON,
			want:   []string{"ip 185.196.10.45"},
		},
		{
			name: "nested keys by default (JSONL)", file: "n.jsonl",
			text:   `{"ioc":{"value":"hxxp://a[.]example[.]net/x","type":"url"},"first_seen":"2023-01-05 10:00:00 UTC","source":{"name":"p"},"tags":["x"]}` + "\n" + `{"ioc":{"value":"10.0.0.1|10.0.0.2","type":"ip"}}` + "\n",
			format: FormatJSONL,
			want:   []string{"url http://a.example.net/x", "ip 10.0.0.1 + ip 10.0.0.2"},
			tags:   [][]string{{"x"}, nil},
		},
		{
			name: "keys named after types, ports (Feodo Tracker)", file: "feodo.json",
			text:   `[{"ip_address":"162.243.103.246","port":8080,"hostname":null,"first_seen":"2023-07-06 15:33:38","last_online":"2024-02-05","malware":"Pikabot"}]`,
			format: FormatJSON,
			want:   []string{"ip 162.243.103.246"},
		},
		{
			name: "json_fields: items path, dotted paths through arrays", file: "vendor.json",
			text:   `{"meta":{"page":1},"results":[{"attributes":{"observable":"cdn.example.org","seen":{"first":1700000000},"labels":[{"name":"c2"},{"name":"cs"}]}}]}`,
			fields: map[string][]string{JSONItems: {"results"}, formats.FieldValue: {"attributes.observable"}, formats.FieldFirstSeen: {"attributes.seen.first"}, formats.FieldTags: {"attributes.labels.name"}},
			format: FormatJSON,
			want:   []string{"domain cdn.example.org"},
			tags:   [][]string{{"c2", "cs"}},
		},
		{
			name: "json_fields: several value paths", file: "multi.json",
			text:   `[{"net":{"ip":"198.51.100.1","url":"http://a.example.com/"}}]`,
			fields: map[string][]string{formats.FieldValue: {"net.ip", "net.url"}},
			format: FormatJSON,
			want:   []string{"ip 198.51.100.1 + url http://a.example.com/"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rows, f := importRows(t, tt.file, tt.text, routeWith(nil, tt.fields))
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			if f.format != tt.format {
				t.Errorf("format %s, want %s", f.format, tt.format)
			}
			if got := f.subs.base.TagLevel == ioc.LevelFile; got != tt.fileTags {
				t.Errorf("file-level tags %v, want %v", got, tt.fileTags)
			}
			if tt.tags != nil {
				for i, r := range rows {
					var own []string
					for _, in := range r.inds[:min(len(r.inds), 1)] {
						if in.TagLevel == ioc.LevelRow {
							for _, tg := range in.Tags {
								own = append(own, tg.Name)
							}
						}
					}
					if i < len(tt.tags) && !slices.Equal(own, tt.tags[i]) {
						t.Errorf("row %d: own tags %q, want %q", i, own, tt.tags[i])
					}
				}
			}
		})
	}
}

func TestMISPFields(t *testing.T) {
	text := `{"Event":{"info":"Phishing","Orgc":{"name":"CIRCL"},"Attribute":[
	  {"type":"ip-dst|port","value":"203.0.113.77|6606","to_ids":true,"timestamp":"1706540400","comment":"C2",
	   "Sighting":[{"type":"0","date_sighting":"1706600000"},{"type":"0","date_sighting":"1706700000"},{"type":"1","date_sighting":"1706800000"}]},
	  {"type":"domain","value":"a.example.com","to_ids":true,"first_seen":"2024-01-28T09:15:00.000000+00:00","last_seen":"2024-01-29T17:40:00.000000+00:00"}],
	 "Object":[{"name":"file","comment":"dropper","Attribute":[
	  {"type":"filename","object_relation":"filename","value":"a.exe","to_ids":false},
	  {"type":"md5","object_relation":"md5","value":"` + strings.Repeat("c", 32) + `","to_ids":true}]}]}}`
	_, rows, _ := importRows(t, "m.json", text, testRoute())
	type want struct {
		notes, source       string
		first, last, sights int64
		line                int
	}
	wants := []want{
		{"C2; port 6606", "CIRCL", 1706540400000, 1706700000000, 2, 2},
		{"Phishing", "CIRCL", 1706433300000, 1706550000000, 0, 4},
		{"", "", 0, 0, 0, 6},
		{"dropper (file object: filename a.exe)", "CIRCL", 0, 0, 0, 7},
	}
	if len(rows) != len(wants) {
		t.Fatalf("%d rows, want %d", len(rows), len(wants))
	}
	for i, w := range wants {
		r := rows[i]
		if r.Line != w.line {
			t.Errorf("row %d: line %d, want %d", i, r.Line, w.line)
		}
		if len(r.inds) == 0 {
			continue
		}
		in := r.inds[0]
		if in.Notes != w.notes || in.Source != w.source || in.FirstSeen != w.first || in.LastSeen != w.last || in.Sightings != w.sights {
			t.Errorf("row %d: notes %q source %q first %d last %d sightings %d; want %+v", i, in.Notes, in.Source, in.FirstSeen, in.LastSeen, in.Sightings, w)
		}
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		name, file, text string
		format, delim    string
		headerLine       int
		comment          bool
		mapping          string
	}{
		{"csv header", "a.csv", "value,type,notes\n1.2.3.4,ip,x\n", FormatCSV, ",", 1, false, "value←value type←type notes←notes"},
		{"commented header", "b.csv", "# banner\n# dst_ip,dst_port\n1.2.3.4,443\n", FormatCSV, ",", 2, true, "value←dst_ip (as ip) notes←dst_port (as port)"},
		{"headerless", "c.txt", "1.2.3.4\n", FormatCSV, ",", 0, false, "value←column 1"},
		{"otx", "d.json", `[{"name":"p","indicators":[{"indicator":"1.2.3.4","type":"IPv4"}]}]`, FormatOTX, "", 0, false, "value←indicator type←type"},
		{"wrapper", "e.json", `{"status":"ok","data":[{"url":"http://a.example.com/"}]}`, FormatJSON, "", 0, false, "value←url"},
		{"jsonl", "f.jsonl", `{"ioc":{"value":"1.2.3.4"}}` + "\n", FormatJSONL, "", 0, false, "value←ioc.value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Describe(writeFile(t, tt.file, tt.text), testRoute())
			if err != nil {
				t.Fatal(err)
			}
			var m []string
			for _, fm := range d.Mapping {
				m = append(m, fm.Field+"←"+strings.Join(fm.From, ","))
			}
			if d.Format != tt.format || d.Delimiter != tt.delim || d.HeaderLine != tt.headerLine || d.HeaderComment != tt.comment || strings.Join(m, " ") != tt.mapping {
				t.Errorf("got format %s delim %q header line %d comment %v mapping %q; want %s %q %d %v %q",
					d.Format, d.Delimiter, d.HeaderLine, d.HeaderComment, strings.Join(m, " "), tt.format, tt.delim, tt.headerLine, tt.comment, tt.mapping)
			}
		})
	}
	if _, err := Describe(writeFile(t, "bad.csv", "a,b\nc,d\n"), testRoute()); err == nil {
		t.Error("a file without an indicator column is described without error")
	}
}

// fuzzSeeds adds the testdata files matching patterns as seeds.
func fuzzSeeds(f *testing.F, patterns ...string) {
	for _, p := range patterns {
		files, _ := filepath.Glob(p)
		for _, path := range files {
			b, err := os.ReadFile(path)
			if err == nil && len(b) < 1<<20 {
				f.Add(b)
			}
		}
	}
}

// checkAccounted reads data as a file named name and checks that every
// row is numbered in order and ends in exactly one state: skipped,
// rejected with a reason, or yielding indicators.
func checkAccounted(t *testing.T, name string, data []byte) ([]Row, error) {
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	rows, f, ferr := readRows(t, path)
	settle(t, f, rows)
	for i, r := range rows {
		if r.Row != i {
			t.Fatalf("row %d numbered %d", i, r.Row)
		}
		switch {
		case r.skip != "":
			if len(r.inds) > 0 {
				t.Fatalf("%s: skipped row with indicators", r.Where())
			}
		case len(r.inds) > 0:
		case len(r.rejects) == 0:
			// The tracker reports it as "no indicator value": still a
			// reason, but the readers should say more.
			t.Fatalf("%s: a row with no indicator, no reject and no skip reason", r.Where())
		}
		for _, in := range r.inds {
			if in.Value == "" || in.Type == "" || in.Type == normalize.FileType {
				t.Fatalf("%s: indicator %q of type %q", r.Where(), in.Value, in.Type)
			}
		}
	}
	return rows, ferr
}

func FuzzReadCSV(f *testing.F) {
	fuzzSeeds(f, "../testdata/inputs/*.csv", "../testdata/inputs/*.tsv", "../testdata/inputs/*.txt",
		"../testdata/bad/*/input.csv", "../testdata/realworld-like/*.csv", "../testdata/realworld-like/*.txt",
		"../../shared/realworld/*/*.csv", "../../shared/realworld/*/*.txt", "../../shared/realworld/*/*.tsv")
	f.Add([]byte("# a  |  b\nx  |  1.2.3.4\n"))
	f.Add([]byte("; c\n1.2.3.4 ; x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAccounted(t, "fuzz.csv", data)
	})
}

func FuzzReadJSON(f *testing.F) {
	fuzzSeeds(f, "../testdata/inputs/*.json", "../testdata/bad/*/input.json", "../testdata/realworld-like/*.json",
		"../../shared/realworld/intelmq/*.json")
	f.Add([]byte(`{"response":[{"Event":{"Attribute":[{"type":"ip-dst|port","value":"1.2.3.4|80"}]}}]}`))
	f.Add([]byte(`{"data":[{"ioc":{"value":"1.2.3.4"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, ferr := checkAccounted(t, "fuzz.json", data)
		// The first pass checks the whole document: a file it lets through
		// reads to the end, and a broken one sends nothing.
		if ferr != nil && len(rows) > 0 {
			t.Fatalf("file error after %d rows: %v", len(rows), ferr)
		}
	})
}
