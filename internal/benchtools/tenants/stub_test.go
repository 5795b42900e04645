package main

import (
	"math"
	"testing"
	"time"
)

func TestGroupOrder(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		accepts                []int // sequence numbers of group g, in accept order
		violations, duplicates int
	}{
		{"in order", []int{0, 1, 2, 3}, 0, 0},
		{"gap is fine", []int{0, 2, 5}, 0, 0},
		{"overtaken", []int{0, 2, 1, 3}, 1, 0},
		{"redelivered after a later one", []int{0, 1, 2, 1}, 0, 1},
		{"repeat of the last", []int{0, 1, 1, 2}, 0, 1},
		{"two behind", []int{3, 1, 2}, 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGroupOrder()
			for i, s := range tc.accepts {
				g.accept("g", s)
				g.accept("other", i) // in order: another group never interferes
			}
			if g.violations != tc.violations || g.duplicates != tc.duplicates {
				t.Errorf("violations %d, duplicates %d; want %d, %d", g.violations, g.duplicates, tc.violations, tc.duplicates)
			}
		})
	}
}

// The same calls fail whatever order they come in, at about the rate asked.
func TestFaultPlan(t *testing.T) {
	p := faultPlan{rate: 0.05, seed: 1}
	if p.fault("x", 1) != p.fault("x", 1) || (faultPlan{}).fault("x", 1) != -1 {
		t.Fatal("not deterministic, or faults without a rate")
	}
	n, failed, kinds := 20000, 0, map[int]int{}
	for i := range n {
		if f := p.fault(time.Duration(i).String(), 1+i%3); f >= 0 {
			failed++
			kinds[f]++
		}
	}
	if got := float64(failed) / float64(n); math.Abs(got-0.05) > 0.01 || len(kinds) != len(transientFaults) {
		t.Errorf("%.3f of calls failed with %v, want about 0.05 of every kind", got, kinds)
	}
}

func TestDwellPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Second)
	}
	if d := dwellOf(ds); d != (dwell{N: 100, P50: 50, P99: 99, Max: 100}) {
		t.Errorf("%+v", d)
	}
}
