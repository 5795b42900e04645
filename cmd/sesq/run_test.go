package main

import "testing"

func TestMemoryLimitGrowsWithTheConcurrency(t *testing.T) {
	for _, c := range []struct {
		concurrency int
		want        int64
	}{{1, 16<<20 + 256<<10}, {32, 24 << 20}, {256, 80 << 20}} {
		if got := memoryLimit(c.concurrency); got != c.want {
			t.Errorf("memoryLimit(%d) = %d MiB, want %d MiB", c.concurrency, got>>20, c.want>>20)
		}
	}
}
