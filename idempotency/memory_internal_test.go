package idempotency

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// The queue keeps FIFO order across blocks, and drops blocks once read.
func TestQueue(t *testing.T) {
	var q queue
	var model []int64
	next := int64(0)
	// Pushes and pops in uneven runs; the queue holds 0, 511, 518, 548,
	// 1059 and 0 entries after each.
	for round, run := range []struct{ push, pop int }{
		{3, 3}, {queueBlock, 1}, {queueBlock + 7, queueBlock}, {2*queueBlock + 6, 2*queueBlock - 24},
		{5 * queueBlock, 4*queueBlock + 1}, {0, 1059},
	} {
		for range run.push {
			q.push(sentKey{expires: next})
			model = append(model, next)
			next++
		}
		for range run.pop {
			if got := q.front().expires; got != model[0] {
				t.Fatalf("round %d: front = %d, want %d", round, got, model[0])
			}
			q.pop()
			model = model[1:]
		}
		if q.n != len(model) {
			t.Fatalf("round %d: n = %d, want %d", round, q.n, len(model))
		}
		if want := (len(model) + q.head + queueBlock - 1) / queueBlock; len(model) > 0 && len(q.blocks) != want {
			t.Errorf("round %d: %d blocks for %d entries from %d, want %d", round, len(q.blocks), len(model), q.head, want)
		}
	}
	if q.n != 0 || len(q.blocks) != 1 || q.head != 0 || q.tail != 0 {
		t.Errorf("empty queue: n %d, %d blocks, head %d, tail %d; want 0, 1 (kept for reuse), 0, 0", q.n, len(q.blocks), q.head, q.tail)
	}
}

// Lapsed claims are dropped from the map once a second has passed since
// the last sweep, and not before.
func TestMemorySweepsLapsedClaims(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	now := t0
	m := NewMemory(time.Hour, func() time.Time { return now })
	for i := range 10 {
		if _, err := m.Claim(ctx, fmt.Sprint(i), "A", 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	now = t0.Add(999 * time.Millisecond)
	if claims, _ := m.Len(); claims != 0 || len(m.claims) != 10 {
		t.Errorf("at 999ms: %d live claims, %d held; want 0 live, 10 not yet swept", claims, len(m.claims))
	}
	now = t0.Add(time.Second)
	m.Len()
	if len(m.claims) != 0 {
		t.Errorf("at 1s: %d claims held, want 0", len(m.claims))
	}
}

// After a burst of sent keys expires, the sent map is rebuilt at its new
// size (Go maps do not shrink), and the queue's blocks are let go.
func TestMemoryShrinksAfterBurst(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	now := t0
	m := NewMemory(time.Minute, func() time.Time { return now })
	for i := range 3 * minRebuild {
		if err := m.Done(ctx, fmt.Sprint(i), "A"); err != nil {
			t.Fatal(err)
		}
	}
	now = t0.Add(30 * time.Second)
	if err := m.Done(ctx, "late", "A"); err != nil {
		t.Fatal(err)
	}
	if m.peak != 3*minRebuild+1 {
		t.Fatalf("peak = %d, want %d", m.peak, 3*minRebuild+1)
	}
	now = t0.Add(time.Minute)
	if _, sent := m.Len(); sent != 1 || m.peak != 1 || len(m.order.blocks) != 1 {
		t.Errorf("after the burst expired: %d sent, peak %d, %d queue blocks; want 1, 1, 1", sent, m.peak, len(m.order.blocks))
	}
	if cl, err := m.Claim(ctx, "late", "B", time.Second); err != nil || cl.State != Sent {
		t.Errorf("Claim(late) = %+v, %v; want Sent", cl, err)
	}
}
