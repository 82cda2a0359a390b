package text

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/ioc"
)

// WriteRows implements formats.RowWriter: the lines of the rows in rows,
// as written (each with a LF), read again the way Next reads them, so
// that row numbers match.
func (Format) WriteRows(src *formats.Source, opts formats.Options, rows ioc.Ranges, w io.Writer) error {
	r := &Reader{lines: newLines(src.R, opts.MaxLine()), max: opts.MaxLine(), keepRaw: true}
	for n := 0; ; n++ {
		_, err := r.read(context.Background())
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", src.Name, err)
		}
		if rows.Contains(n) {
			if _, err := io.WriteString(w, r.raw+"\n"); err != nil {
				return err
			}
		}
	}
}
