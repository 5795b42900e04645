package ratelimit

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// turns starts waiters (flow keys, in this order, each once the previous
// is waiting) on a limiter of rate per second and burst 1 with one token
// spent, and returns the flows in the order they got their turns, with the
// times (since the start) of the turns.
func turns(t *testing.T, rate float64, weights map[string]int, keys []string) (order string, at []time.Duration) {
	t.Helper()
	var b strings.Builder
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		l := New(rate/StartFraction, time.Now)
		l.TryReserve() // the burst is spent: every waiter below waits
		f := NewFair(l)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, k := range keys {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := f.Wait(context.Background(), k, weights[k]); err != nil {
					t.Errorf("wait %s: %v", k, err)
				}
				mu.Lock()
				b.WriteString(k)
				at = append(at, time.Since(start))
				mu.Unlock()
			}()
			synctest.Wait() // queued before the next one
		}
		wg.Wait()
	})
	return b.String(), at
}

func TestFairTakesTurnsAmongFlows(t *testing.T) {
	for _, tc := range []struct {
		name    string
		weights map[string]int
		keys    string // one waiter per letter, in arrival order
		want    string
	}{
		{"one flow keeps its order", nil, "AAAA", "AAAA"},
		{"a late flow is served within a turn", nil, "AAAAAAB", "ABAAAAA"},
		{"equal flows alternate", nil, "AAAABBBB", "ABABABAB"},
		{"three flows round robin", nil, "AAABBBCCC", "ABCABCABC"},
		{"weights share the turns", map[string]int{"A": 1, "B": 3}, "AAAABBBBBBBB", "ABBBABBBABBA"},
		{"weight 0 counts as 1", map[string]int{"A": 0}, "AABB", "ABAB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, at := turns(t, 10, tc.weights, strings.Split(tc.keys, ""))
			if got != tc.want {
				t.Errorf("turns %q, want %q", got, tc.want)
			}
			// The rate holds whatever the order: one turn per 100 ms.
			for i, d := range at {
				if want := time.Duration(i+1) * 100 * time.Millisecond; d != want {
					t.Errorf("turn %d at %v, want %v", i, d, want)
				}
			}
		})
	}
}

// A waiter whose context ends leaves without taking a turn: the next one
// gets it at the same time it would have.
func TestFairSkipsWaitersThatLeft(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		l := New(10/StartFraction, time.Now)
		l.TryReserve()
		f := NewFair(l)
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { _, err := f.Wait(ctx, "A", 1); errc <- err }()
		synctest.Wait()
		done := make(chan time.Duration, 1)
		go func() { f.Wait(context.Background(), "B", 1); done <- time.Since(start) }()
		synctest.Wait()
		cancel()
		if err := <-errc; err != context.Canceled {
			t.Fatalf("cancelled wait: %v", err)
		}
		if d := <-done; d != 100*time.Millisecond {
			t.Errorf("next waiter served at %v, want 100ms", d)
		}
	})
}

// An idle limiter with a token lets a caller through at once, without the
// pump; the idle flow earns no credit against one that kept waiting.
func TestFairIdleFlowEarnsNoCredit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(10/StartFraction, time.Now)
		f := NewFair(l)
		if _, err := f.Wait(context.Background(), "A", 1); err != nil {
			t.Fatal(err)
		}
		// A waits for nine turns alone; then B arrives with three waiters: B
		// gets the next turn and every other one after, not the next nine.
		var mu sync.Mutex
		var order strings.Builder
		var wg sync.WaitGroup
		wait := func(k string) {
			defer wg.Done()
			f.Wait(context.Background(), k, 1)
			mu.Lock()
			order.WriteString(k)
			mu.Unlock()
		}
		for range 14 {
			wg.Add(1)
			go wait("A")
			synctest.Wait()
		}
		time.Sleep(950 * time.Millisecond) // nine turns (at 100 ms .. 900 ms) went to A
		for range 3 {
			wg.Add(1)
			go wait("B")
			synctest.Wait()
		}
		wg.Wait()
		if got, want := order.String(), "AAAAAAAAA"+"BABABAAA"; got != want {
			t.Errorf("turns %q, want %q", got, want)
		}
	})
}
