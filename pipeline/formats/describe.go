package formats

// A Description says how a file will be read under a route, for inspect:
// what the format's reader learns from the file, the same way it reads it.
type Description struct {
	// Format is the detected format: csv, json, jsonl, stix, otx, misp or
	// misp-csv or text.
	Format string `json:"format"`
	// Why says why the file is read in this format rather than the one
	// its name or head suggested (a CSV with no header and no column of
	// indicators, read as text); empty when it is the first choice.
	Why string `json:"why,omitempty"`
	// Shape says how the records are laid out, in words ("an array of
	// items", "3 OTX pulses", "a MISP event").
	Shape string `json:"shape,omitempty"`

	// Delimiter is a delimited file's delimiter; Padding the white space a
	// separator needs on either side (0: bare separators); LineByLine says
	// the file is read as lines without CSV quoting (padded separators,
	// ';' comments).
	Delimiter  string `json:"delimiter,omitempty"`
	Padding    int    `json:"padding,omitempty"`
	LineByLine bool   `json:"line_by_line,omitempty"`
	// Header is the header's fields and HeaderLine its line (0 when the
	// file has no header); HeaderComment says it is a comment line.
	Header        []string `json:"header,omitempty"`
	HeaderLine    int      `json:"header_line,omitempty"`
	HeaderComment bool     `json:"header_comment,omitempty"`
	// Mapping says which columns or keys feed each field (for JSON, those
	// of the first item); Unused lists the columns no field takes.
	Mapping []FieldMapping `json:"mapping"`
	Unused  []string       `json:"unused,omitempty"`
	// Inherited says what indicators take from their container (an OTX
	// pulse, a MISP event) when they lack it.
	Inherited []string `json:"inherited,omitempty"`
	// Samples are the first records with what the reader found in them
	// (free text: a line, its indicators and notes).
	Samples []string `json:"samples,omitempty"`
	// Truncated says the head read did not hold the whole document, so
	// the shape was judged from its beginning.
	Truncated bool `json:"truncated,omitempty"`
}
