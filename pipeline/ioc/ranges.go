package ioc

import (
	"slices"
	"sort"
)

// Ranges are sorted, disjoint, non-adjacent [from, to) ranges of row
// numbers: the form in which acknowledged rows of a file are tracked,
// reported and stored in the ledger. The zero Ranges is empty.
type Ranges [][2]int

// Add puts row x into r. Rows mostly arrive in order, which is the fast
// path.
func (r *Ranges) Add(x int) {
	s := *r
	if n := len(s); n > 0 && s[n-1][1] == x {
		s[n-1][1]++
		return
	}
	i := sort.Search(len(s), func(i int) bool { return s[i][1] >= x })
	switch {
	case i < len(s) && s[i][0] <= x && x < s[i][1]:
		return // present
	case i < len(s) && s[i][1] == x:
		s[i][1]++
		if i+1 < len(s) && s[i+1][0] == s[i][1] {
			s[i][1] = s[i+1][1]
			s = append(s[:i+1], s[i+2:]...)
		}
	case i < len(s) && s[i][0] == x+1:
		s[i][0] = x
	default:
		s = append(s, [2]int{})
		copy(s[i+1:], s[i:])
		s[i] = [2]int{x, x + 1}
	}
	*r = s
}

// Clone returns a copy of r that shares no memory with it.
func (r Ranges) Clone() Ranges { return slices.Clone(r) }

// NormalizeRanges returns r sorted and merged; it accepts overlapping,
// adjacent or unsorted input.
func NormalizeRanges(r [][2]int) Ranges {
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

// Union returns the rows in r or o.
func (r Ranges) Union(o Ranges) Ranges {
	all := make([][2]int, 0, len(r)+len(o))
	all = append(all, r...)
	all = append(all, o...)
	return NormalizeRanges(all)
}

// Without returns r minus the rows in drop (sorted ascending).
func (r Ranges) Without(drop []int) Ranges {
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
