package ioc

import (
	"fmt"
	"testing"
)

func TestRanges(t *testing.T) {
	tests := []struct {
		name string
		a, b Ranges
		drop []int
		want Ranges
	}{
		{name: "empty", want: nil},
		{name: "union merges adjacent", a: Ranges{{0, 5}}, b: Ranges{{5, 10}}, want: Ranges{{0, 10}}},
		{name: "union keeps gaps", a: Ranges{{0, 2}, {8, 9}}, b: Ranges{{4, 6}}, want: Ranges{{0, 2}, {4, 6}, {8, 9}}},
		{name: "union overlapping, unsorted", a: Ranges{{5, 9}, {0, 3}}, b: Ranges{{2, 6}}, want: Ranges{{0, 9}}},
		{name: "without splits", a: Ranges{{0, 10}}, drop: []int{0, 4, 5, 9}, want: Ranges{{1, 4}, {6, 9}}},
		{name: "without across ranges", a: Ranges{{0, 3}, {5, 8}}, drop: []int{2, 3, 4, 5, 20}, want: Ranges{{0, 2}, {6, 8}}},
		{name: "without all", a: Ranges{{3, 4}}, drop: []int{3}, want: Ranges{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.a.Union(tt.b).Without(tt.drop)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRangesContains(t *testing.T) {
	r := Ranges{{2, 4}, {10, 11}}
	for row, want := range map[int]bool{0: false, 1: false, 2: true, 3: true, 4: false, 9: false, 10: true, 11: false} {
		if got := r.Contains(row); got != want {
			t.Errorf("Contains(%d) = %v, want %v", row, got, want)
		}
	}
	if got := r.Len(); got != 3 {
		t.Errorf("Len() = %d, want 3", got)
	}
}

func TestRangesAdd(t *testing.T) {
	var s Ranges
	for _, x := range []int{0, 1, 2, 5, 7, 6, 3, 10, 4, 2, 9} {
		s.Add(x)
	}
	want := Ranges{{0, 8}, {9, 11}}
	if fmt.Sprint(s) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", s, want)
	}
}
