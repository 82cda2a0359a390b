package inbox

import (
	"slices"
	"sort"
)

// Ranges are sorted, disjoint, non-adjacent [from, to) ranges of row
// numbers, the form in which pipeline.Input.Ack reports acknowledged rows
// and the ledger stores them. The zero Ranges is empty.
type Ranges [][2]int

// normalize returns r sorted and merged; it accepts overlapping or
// unsorted input.
func normalize(r [][2]int) Ranges {
	var out Ranges
	for _, x := range r {
		if x[1] > x[0] {
			out = append(out, x)
		}
	}
	if len(out) < 2 {
		return out
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	n := 0
	for _, x := range out[1:] {
		if x[0] <= out[n][1] {
			out[n][1] = max(out[n][1], x[1])
			continue
		}
		n++
		out[n] = x
	}
	return out[:n+1]
}

// union returns the rows in a or b.
func union(a, b Ranges) Ranges {
	all := make([][2]int, 0, len(a)+len(b))
	all = append(all, a...)
	all = append(all, b...)
	return normalize(all)
}

// without returns r minus the rows in drop (sorted ascending).
func without(r Ranges, drop []int) Ranges {
	if len(drop) == 0 {
		return r
	}
	out := make(Ranges, 0, len(r)+len(drop))
	d := 0
	for _, x := range r {
		from := x[0]
		for d < len(drop) && drop[d] < x[1] {
			if p := drop[d]; p >= from {
				if p > from {
					out = append(out, [2]int{from, p})
				}
				from = p + 1
			}
			d++
		}
		if from < x[1] {
			out = append(out, [2]int{from, x[1]})
		}
	}
	return out
}

// Contains reports whether row is in r.
func (r Ranges) Contains(row int) bool {
	i := sort.Search(len(r), func(i int) bool { return r[i][1] > row })
	return i < len(r) && r[i][0] <= row
}

// Len returns the number of rows in r.
func (r Ranges) Len() int {
	n := 0
	for _, x := range r {
		n += x[1] - x[0]
	}
	return n
}

func (r Ranges) equal(o Ranges) bool { return slices.Equal(r, o) }
