package formats

import (
	"errors"
	"io"
)

// Records hands records already split (a header, then the records) to a
// decoder that takes them all at once, such as gocsv's UnmarshalCSV (it is
// a gocsv.CSVReader): the formats that decode with gocsv a chunk at a
// time share it.
type Records [][]string

// Read is refused: the records are decoded all at once, with ReadAll.
func (r Records) Read() ([]string, error) {
	return nil, errors.New("formats: records are decoded a chunk at a time, with ReadAll")
}

// ReadAll returns the records; io.EOF when there are none.
func (r Records) ReadAll() ([][]string, error) {
	if len(r) == 0 {
		return nil, io.EOF
	}
	return r, nil
}
