package csv

import (
	"strconv"

	"github.com/iocpipe/iocpipe/pipeline/formats"
	"github.com/iocpipe/iocpipe/pipeline/normalize"
)

// Describe implements formats.Describer.
func (r *Reader) Describe(d *formats.Description) error {
	src, lay := r.t, r.lay
	d.Delimiter = delimName(lay.delim)
	d.Padding, d.LineByLine = lay.pad, lay.text
	if src == nil {
		d.Shape = "no records (empty, or only comments)"
		return nil
	}
	used := map[int]bool{}
	for _, p := range src.proj {
		m := formats.FieldMapping{Field: p.field, Explicit: p.explicit}
		for i, c := range p.cols {
			used[c] = true
			name := p.names[i]
			if name == "" {
				name = "column " + strconv.Itoa(c+1)
			}
			switch {
			case p.hints[i] != "":
				name += " (as " + string(p.hints[i]) + ")"
			case p.labels[i] == "port":
				name += " (as port)"
			}
			m.From = append(m.From, name)
		}
		d.Mapping = append(d.Mapping, m)
	}
	if src.headerLine > 0 {
		d.Header, d.HeaderLine, d.HeaderComment = src.header, src.headerLine, src.headerComment
		for i, h := range src.header {
			if !used[i] {
				if h = normalize.CleanText(h); h == "" {
					h = "column " + strconv.Itoa(i+1)
				}
				d.Unused = append(d.Unused, h)
			}
		}
		d.Shape = "delimited text with a header"
		if src.sampled != "" {
			d.Why = src.sampled
		}
	} else {
		d.Shape = "delimited text without a header"
	}
	return nil
}

func delimName(r rune) string {
	switch r {
	case '\t':
		return "tab"
	case ' ':
		return "space"
	}
	return string(r)
}
