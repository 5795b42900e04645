package idempotency_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/sesq/sesq/idempotency"
)

func newMemory(t *testing.T, c *clock) store { return idempotency.NewMemory(sentTTL, c.Now) }

func TestMemorySemantics(t *testing.T)          { testSemantics(t, newMemory) }
func TestMemoryLapsedClaimRetaken(t *testing.T) { testLapsedClaimRetaken(t, newMemory) }
func TestMemoryRenewKeepsClaim(t *testing.T)    { testRenewKeepsClaim(t, newMemory) }
func TestMemoryBadCalls(t *testing.T)           { testBadCalls(t, newMemory(t, &clock{t: t0})) }

func TestNewMemoryRefusesNoSentTTL(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewMemory(0, ...) did not panic")
		}
	}()
	idempotency.NewMemory(0, nil)
}

// Sent keys expire after exactly sentTTL, to the nanosecond, each on its
// own time.
func TestMemorySentExpiry(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: t0}
	m := idempotency.NewMemory(time.Minute, c.Now)
	for i := range 3 { // "k0" at 0s, "k1" at 10s, "k2" at 20s
		c.at(time.Duration(i) * 10 * time.Second)
		if err := m.Done(ctx, fmt.Sprintf("k%d", i), "A"); err != nil {
			t.Fatal(err)
		}
	}
	// Each probe that finds a key expired claims it (for claimTTL).
	for _, step := range []struct {
		at           time.Duration
		claims, sent int
		probe        string
		want         idempotency.State
	}{
		{time.Minute - time.Nanosecond, 0, 3, "k0", idempotency.Sent},
		{time.Minute, 0, 2, "k0", idempotency.New},
		{time.Minute + 10*time.Second - time.Nanosecond, 1, 2, "k1", idempotency.Sent},
		{time.Minute + 10*time.Second, 1, 1, "k1", idempotency.New},
		{time.Minute + 20*time.Second, 2, 0, "k2", idempotency.New},
	} {
		c.at(step.at)
		if claims, sent := m.Len(); claims != step.claims || sent != step.sent {
			t.Errorf("at %v: Len = %d claims, %d sent; want %d, %d", step.at, claims, sent, step.claims, step.sent)
		}
		if cl, err := m.Claim(ctx, step.probe, "B", claimTTL); err != nil || cl.State != step.want {
			t.Errorf("at %v: Claim(%s) = %+v, %v; want %v", step.at, step.probe, cl, err, step.want)
		}
	}
}

// In-progress claims stay, however many keys are sent meanwhile and
// however many of those expire.
func TestMemoryClaimsSurviveSentKeys(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: t0}
	m := idempotency.NewMemory(time.Minute, c.Now)
	if cl, err := m.Claim(ctx, "held", "A", 10*time.Minute); err != nil || cl.State != idempotency.New {
		t.Fatalf("Claim = %+v, %v", cl, err)
	}
	const n = 100_000 // over 5 minutes: 5 sentTTLs
	for i := range n {
		c.at(time.Duration(i) * 5 * time.Minute / n)
		if err := m.Done(ctx, fmt.Sprintf("k%d", i), "B"); err != nil {
			t.Fatal(err)
		}
	}
	claims, sent := m.Len() // at the last Done: those of the last minute

	if claims != 1 || sent != n/5 {
		t.Errorf("Len = %d claims, %d sent; want 1, %d", claims, sent, n/5)
	}
	wantClaim(t, m, ctx, "held", "B", inProgressUntil(10*time.Minute))
	c.at(10 * time.Minute)
	wantClaim(t, m, ctx, "held", "B", claimNew)
}

func TestMemoryOneClaimWins(t *testing.T) {
	for round := range 20 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			testOneClaimWins(t, idempotency.NewMemory(sentTTL, nil), 8)
		})
	}
}

// Every method at once from several goroutines, with the clock moving,
// for the race detector.
func TestMemoryConcurrentUse(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: t0}
	m := idempotency.NewMemory(time.Second, c.Now)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			owner := fmt.Sprintf("owner-%d", g)
			for i := range 2000 {
				key := fmt.Sprintf("k%d", i%50)
				if g == 0 {
					c.at(time.Duration(i) * time.Millisecond)
				}
				if cl, err := m.Claim(ctx, key, owner, 100*time.Millisecond); err != nil {
					t.Error(err)
					return
				} else if cl.State != idempotency.New {
					continue
				}
				m.Renew(ctx, key, owner, 100*time.Millisecond)
				if i%2 == 0 {
					m.Done(ctx, key, owner)
				} else {
					m.Release(ctx, key, owner)
				}
				m.Len()
			}
		})
	}
	wg.Wait()
}

// TestMemoryBytesPerKey measures the heap a sent key costs at the rate
// the Memory doc comment gives (600 msgs/s, kept 120 s), in the steady
// state (after three sentTTLs, so the map has seen deletes), and after a
// plain 100 000 inserts.
func TestMemoryBytesPerKey(t *testing.T) {
	if testing.Short() {
		t.Skip("measures memory")
	}
	ctx := context.Background()
	key := func(i int) string { return fmt.Sprintf("01JD%022d", i) } // as long as a ULID
	// The keys are garbage by the time the heap is read: the store keeps
	// digests.
	measure := func(fill func(*idempotency.Memory, *clock) int) float64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		c := &clock{t: t0}
		m := idempotency.NewMemory(120*time.Second, c.Now)
		n := fill(m, c)
		runtime.GC()
		runtime.ReadMemStats(&after)
		if claims, sent := m.Len(); claims != 0 || sent != n {
			t.Fatalf("Len = %d claims, %d sent; want 0, %d", claims, sent, n)
		}
		runtime.KeepAlive(m)
		return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
	}
	steady := measure(func(m *idempotency.Memory, c *clock) int {
		const rate, window = 600, 360 * time.Second
		total := int(rate * window / time.Second)
		for i := range total {
			c.at(time.Duration(i) * time.Second / rate)
			m.Done(ctx, key(i), "A")
		}
		return rate * 120 // those Done in the last 120 s
	})
	const n = 100_000
	plain := measure(func(m *idempotency.Memory, c *clock) int {
		for i := range n {
			m.Done(ctx, key(i), "A")
		}
		return n
	})
	t.Logf("bytes per sent key: %.1f at 600/s × 120 s (72 000 keys, steady state); %.1f for %d keys inserted at once",
		steady, plain, n)
	for name, b := range map[string]float64{"steady": steady, "plain": plain} {
		if b > 100 {
			t.Errorf("%s: %.1f bytes per key, want at most 100 (the Memory doc says about 72)", name, b)
		}
	}
}
