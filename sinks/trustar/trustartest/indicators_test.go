package trustartest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestSubmitValidation(t *testing.T) {
	const (
		a = enclaveA
		b = enclaveB
	)
	// row is a valid row; rows of these bodies are built around it.
	const row = `{"value":"1.2.3.4"}`
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantMsg    string // a part of the error message
	}{
		{"minimal", `{"enclaveIds":["` + a + `"],"content":[` + row + `]}`, 200, ""},
		{"documented example", `{"enclaveIds":["` + b + `"],"content":[{"value":"55.66.77.88","firstSeen":1522370200040,"lastSeen":1522370354692,"sightings":32,"source":"internal","notes":"internal IP","tags":[{"name":"indicator-tag-1","enclaveId":"` + b + `"}]}],"tags":[{"name":"api-tag","enclaveId":"` + b + `"}]}`, 200, ""},
		{"python sdk nulls", `{"enclaveIds":["` + a + `"],"content":[{"value":"evil.com","indicatorType":null,"priorityLevel":null,"firstSeen":null,"tags":null,"notes":null}],"tags":null}`, 200, ""},
		{"unicode and upper-case tag", `{"enclaveIds":["` + a + `"],"content":[{"value":"x","tags":[{"name":"Größe_2-b","enclaveId":"` + strings.ToUpper(a) + `"}]}]}`, 200, ""},
		{"unknown fields", `{"enclaveIds":["` + a + `"],"content":[{"value":"x","extra":{"deep":[1]}}],"other":true}`, 200, ""},

		{"not an object", `[` + row + `]`, 400, "must be a JSON object"},
		{"null body", `null`, 400, "must be a JSON object"},
		{"malformed", `{"enclaveIds":`, 400, "malformed JSON"},
		{"trailing data", `{"enclaveIds":["` + a + `"],"content":[` + row + `]} {}`, 400, "single JSON object"},
		{"no enclaveIds", `{"content":[` + row + `]}`, 400, "enclaveIds is required"},
		{"empty enclaveIds", `{"enclaveIds":[],"content":[` + row + `]}`, 400, "enclaveIds must hold at least one"},
		{"enclaveIds not array", `{"enclaveIds":"` + a + `","content":[` + row + `]}`, 400, "enclaveIds must be an array"},
		{"enclave number", `{"enclaveIds":[7],"content":[` + row + `]}`, 400, "enclaveIds[0] must be a string"},
		{"enclave name", `{"enclaveIds":["` + a + `","Main"],"content":[` + row + `]}`, 400, `enclaveIds[1] is "Main", which is not an enclave id: enclave ids (UUIDs), not enclave names, are required`},
		{"no content", `{"enclaveIds":["` + a + `"]}`, 400, "content is required"},
		{"null content", `{"enclaveIds":["` + a + `"],"content":null}`, 400, "content is required"},
		{"empty content", `{"enclaveIds":["` + a + `"],"content":[]}`, 400, "content must hold at least one indicator row"},
		{"content not array", `{"enclaveIds":["` + a + `"],"content":{"value":"x"}}`, 400, "content must be an array"},
		{"row not object", `{"enclaveIds":["` + a + `"],"content":[` + row + `,"1.2.3.5"]}`, 400, "content[1] must be an object"},
		{"no value", `{"enclaveIds":["` + a + `"],"content":[{"source":"x"}]}`, 400, "content[0].value is required"},
		{"empty value", `{"enclaveIds":["` + a + `"],"content":[{"value":"  "}]}`, 400, "content[0].value must not be empty"},
		{"number value", `{"enclaveIds":["` + a + `"],"content":[{"value":1234}]}`, 400, "content[0].value must be a string"},
		{"string firstSeen", `{"enclaveIds":["` + a + `"],"content":[` + row + `,` + row + `,` + row + `,{"value":"x","firstSeen":"2020-01-01"}]}`, 400, "content[3].firstSeen must be a number"},
		{"fractional lastSeen", `{"enclaveIds":["` + a + `"],"content":[{"value":"x","lastSeen":1.5}]}`, 400, "content[0].lastSeen must be an integer, got 1.5"},
		{"negative sightings", `{"enclaveIds":["` + a + `"],"content":[{"value":"x","sightings":-2}]}`, 400, "content[0].sightings must not be negative, got -2"},
		{"bool sightings", `{"enclaveIds":["` + a + `"],"content":[{"value":"x","sightings":true}]}`, 400, "content[0].sightings must be a number"},
		{"number source", `{"enclaveIds":["` + a + `"],"content":[{"value":"x","source":3}]}`, 400, "content[0].source must be a string"},
		{"number notes", `{"enclaveIds":["` + a + `"],"content":[{"value":"x","notes":[]}]}`, 400, "content[0].notes must be a string"},
		{"tags not array", `{"enclaveIds":["` + a + `"],"content":[{"value":"x","tags":"t"}]}`, 400, "content[0].tags must be an array of tags"},
		{"tag not object", `{"enclaveIds":["` + a + `"],"content":[{"value":"x","tags":["t"]}]}`, 400, "content[0].tags[0] must be an object"},
		{"bad tag name", `{"enclaveIds":["` + a + `"],"content":[{"value":"x","tags":[{"name":"bad tag!","enclaveId":"` + a + `"}]}]}`, 400, `content[0].tags[0].name "bad tag!" may hold only letters, digits, '-' and '_'`},
		{"empty tag name", `{"enclaveIds":["` + a + `"],"content":[{"value":"x","tags":[{"name":"","enclaveId":"` + a + `"}]}]}`, 400, "content[0].tags[0].name must not be empty"},
		{"tag without name", `{"enclaveIds":["` + a + `"],"content":[{"value":"x","tags":[{"enclaveId":"` + a + `"}]}]}`, 400, "content[0].tags[0].name is required"},
		{"tag without enclave", `{"enclaveIds":["` + a + `"],"content":[{"value":"x","tags":[{"name":"t"}]}]}`, 400, "content[0].tags[0].enclaveId is required"},
		{"tag enclave name", `{"enclaveIds":["` + a + `"],"content":[{"value":"x","tags":[{"name":"t","enclaveId":"Main"}]}]}`, 400, `content[0].tags[0].enclaveId is "Main", which is not an enclave id`},
		{"tag enclave elsewhere", `{"enclaveIds":["` + a + `"],"content":[{"value":"x","tags":[{"name":"t","enclaveId":"` + b + `"}]}]}`, 400, `content[0].tags[0].enclaveId "` + b + `" is not among the submission's enclaveIds`},
		{"bad top-level tag", `{"enclaveIds":["` + a + `"],"content":[` + row + `],"tags":[{"name":"a b","enclaveId":"` + a + `"}]}`, 400, `tags[0].name "a b" may hold only`},
		{"top-level tag enclave elsewhere", `{"enclaveIds":["` + a + `"],"content":[` + row + `],"tags":[{"name":"t","enclaveId":"` + b + `"}]}`, 400, `tags[0].enclaveId "` + b + `" is not among`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, Options{})
			r := submit(t, s, token(t, s), tt.body)
			st := s.Stats()
			if tt.wantStatus == http.StatusOK {
				if r.status != http.StatusOK || len(r.body) != 0 {
					t.Fatalf("status = %d, body %q, want 200 with an empty body", r.status, r.body)
				}
				if st.Submissions != 1 || st.Indicators != 1 || st.Rejected != 0 {
					t.Errorf("stats = %+v, want 1 submission of 1 indicator", st)
				}
				return
			}
			wantError(t, r, tt.wantStatus, tt.wantMsg)
			if st.Submissions != 0 || st.Rejected != 1 || len(s.Submissions()) != 0 {
				t.Errorf("stats = %+v, %d recorded, want 1 rejected and nothing recorded", st, len(s.Submissions()))
			}
		})
	}
}

func TestSubmitAllowedEnclaves(t *testing.T) {
	tests := []struct {
		name       string
		allowed    []string
		enclaves   string // the enclaveIds array
		wantStatus int
		wantMsg    string
	}{
		{"any by default", nil, `["` + enclaveB + `"]`, 200, ""},
		{"allowed", []string{enclaveA, enclaveB}, `["` + enclaveB + `"]`, 200, ""},
		{"allowed, other case", []string{strings.ToUpper(enclaveA)}, `["` + enclaveA + `"]`, 200, ""},
		{"not allowed", []string{enclaveA}, `["` + enclaveA + `","` + enclaveB + `"]`, 400,
			`enclaveIds[1] is "` + enclaveB + `", which is not an enclave you may submit to`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, Options{Enclaves: tt.allowed})
			r := submit(t, s, token(t, s), `{"enclaveIds":`+tt.enclaves+`,"content":[{"value":"x"}]}`)
			if tt.wantStatus == http.StatusOK {
				if r.status != http.StatusOK {
					t.Fatalf("status = %d, want 200 (body %s)", r.status, r.body)
				}
				return
			}
			wantError(t, r, tt.wantStatus, tt.wantMsg)
		})
	}
}

func TestSubmitSize(t *testing.T) {
	tests := []struct {
		name       string
		max        int
		rows       int
		wantStatus int
		wantMsg    string
	}{
		{"10,000 rows", 0, 10000, 200, ""},
		{"10,001 rows", 0, 10001, 413, "Payload too large: a submission may hold at most 10000 indicators, got 10001"},
		{"MaxIndicators", 2, 3, 413, "a submission may hold at most 2 indicators, got 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, Options{MaxIndicators: tt.max, NoRecord: true})
			r := submit(t, s, token(t, s), body(tt.rows, "r"))
			if tt.wantStatus != http.StatusOK {
				wantError(t, r, tt.wantStatus, tt.wantMsg)
				return
			}
			if r.status != http.StatusOK {
				t.Fatalf("status = %d, want 200 (body %.200s)", r.status, r.body)
			}
			if got := s.Stats().Indicators; got != int64(tt.rows) {
				t.Errorf("indicators = %d, want %d", got, tt.rows)
			}
		})
	}
}

func TestSubmitContentType(t *testing.T) {
	s := startServer(t, Options{})
	req := submitRequest(t, s, token(t, s), body(1, "x"))
	req.Header.Set("Content-Type", "text/plain")
	wantError(t, do(t, req), http.StatusUnsupportedMediaType, "Content type 'text/plain' not supported")
}

func TestSubmissionsRecorded(t *testing.T) {
	s := startServer(t, Options{})
	tok := token(t, s)
	sent := []string{
		"{\n  \"enclaveIds\": [\"" + enclaveA + "\"],\n  \"content\": [{\"value\": \"first\"}]\n}",
		body(2, "second"),
		body(3, "third"),
	}
	for i, b := range sent {
		if r := submit(t, s, tok, b); r.status != http.StatusOK {
			t.Fatalf("submission %d: status %d, body %s", i, r.status, r.body)
		}
	}
	submit(t, s, tok, `{"enclaveIds":["Main"],"content":[{"value":"refused"}]}`)

	var want bytes.Buffer
	for _, b := range sent {
		if err := json.Compact(&want, []byte(b)); err != nil {
			t.Fatal(err)
		}
		want.WriteByte('\n')
	}
	var got bytes.Buffer
	for _, b := range s.Submissions() {
		got.Write(b)
		got.WriteByte('\n')
	}
	if got.String() != want.String() {
		t.Errorf("Submissions() =\n%s\nwant\n%s", got.String(), want.String())
	}
	r := get(t, s, "/_emulator/trustar/submissions", "")
	if r.status != http.StatusOK || string(r.body) != want.String() {
		t.Errorf("GET submissions: status %d, body\n%s\nwant 200 and\n%s", r.status, r.body, want.String())
	}
	if st := s.Stats(); st.Submissions != 3 || st.Indicators != 6 || st.Rejected != 1 {
		t.Errorf("stats = %+v, want 3 submissions, 6 indicators, 1 rejected", st)
	}
}

func TestNoRecord(t *testing.T) {
	s := startServer(t, Options{NoRecord: true})
	if r := submit(t, s, token(t, s), body(2, "x")); r.status != http.StatusOK {
		t.Fatalf("status %d, body %s", r.status, r.body)
	}
	if got := s.Submissions(); got != nil {
		t.Errorf("Submissions() = %d bodies, want nil", len(got))
	}
	if r := get(t, s, "/_emulator/trustar/submissions", ""); r.status != 200 || len(r.body) != 0 {
		t.Errorf("GET submissions: status %d, body %q, want 200 and empty", r.status, r.body)
	}
	if st := s.Stats(); st.Submissions != 1 || st.Indicators != 2 {
		t.Errorf("stats = %+v, want 1 submission of 2 indicators", st)
	}
}

// BenchmarkSubmit posts submissions of 10,000 rows (about 2.5 MB) to an
// emulator that does not record them.
func BenchmarkSubmit(b *testing.B) {
	s := startServer(b, Options{NoRecord: true})
	tok := token(b, s)
	payload := body(10000, "bench")
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if r := submit(b, s, tok, payload); r.status != http.StatusOK {
			b.Fatalf("status %d, body %.200s", r.status, r.body)
		}
	}
}
