package formats

import (
	"bufio"
	"errors"
)

// MaxLine caps one line of a line-by-line format (JSON Lines, padded
// text): a longer line is rejected, not buffered.
const MaxLine = 4 << 20

// ReadLine reads one line of any length, keeping at most MaxLine bytes
// of it and discarding the rest of a longer one.
func ReadLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf) < MaxLine {
			buf = append(buf, chunk...)
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return buf, err
		}
	}
}
