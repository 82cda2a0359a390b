package csv

import (
	"github.com/gocarina/gocsv"

	"github.com/iocpipe/iocpipe/pipeline/formats"
)

// csvRecord is what gocsv decodes each record into. The table has already
// projected the file's columns onto these canonical names, so the struct
// is the same for every file.
type csvRecord struct {
	Value      string `csv:"value"`
	Type       string `csv:"type"`
	FirstSeen  string `csv:"first_seen"`
	LastSeen   string `csv:"last_seen"`
	Sightings  string `csv:"sightings"`
	Source     string `csv:"source"`
	Notes      string `csv:"notes"`
	Tags       string `csv:"tags"`
	Enclaves   string `csv:"enclaves"`
	Reputation string `csv:"reputation"`
}

func (r *csvRecord) fields() [10]struct{ name, val string } {
	return [10]struct{ name, val string }{
		{formats.FieldValue, r.Value}, {formats.FieldType, r.Type}, {formats.FieldFirstSeen, r.FirstSeen}, {formats.FieldLastSeen, r.LastSeen},
		{formats.FieldSightings, r.Sightings}, {formats.FieldSource, r.Source}, {formats.FieldNotes, r.Notes}, {formats.FieldTags, r.Tags},
		{formats.FieldEnclaves, r.Enclaves}, {formats.FieldReputation, r.Reputation},
	}
}

// chunkRecords is how many records gocsv decodes in one call.
const chunkRecords = 256

// A decoder reads records a chunk at a time and has gocsv decode them:
// one gocsv call per chunk, no goroutine, and the records' lines and
// problems kept beside them in recs.
type decoder struct {
	recs []record    // the chunk's records, projected
	out  []csvRecord // what gocsv made of them
	n    int         // records in the chunk
	pos  int         // the next one to give out
	rows [][]string  // the gocsv input: the header, then the records' fields
}

// fill reads the next chunk. It returns what ended reading (io.EOF, a read
// error); the records read before it are decoded all the same.
func (d *decoder) fill(t *table, header []string) error {
	if d.recs == nil {
		d.recs = make([]record, chunkRecords)
		d.out = make([]csvRecord, chunkRecords)
		d.rows = make([][]string, 0, chunkRecords+1)
	}
	d.n, d.pos = 0, 0
	var end error
	for d.n < chunkRecords {
		if end = t.next(&d.recs[d.n]); end != nil {
			break
		}
		d.n++
	}
	if d.n == 0 {
		return end
	}
	d.rows = append(d.rows[:0], header)
	for i := range d.n {
		d.rows = append(d.rows, d.recs[i].fields)
	}
	if err := gocsv.UnmarshalCSV(formats.Records(d.rows), &d.out); err != nil {
		return err
	}
	return end
}
