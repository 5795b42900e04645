package idempotency

import (
	"context"
	"testing"
	"time"
)

func TestMemory(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	m := NewMemory(3, time.Hour, func() time.Time { return now })
	if s, _ := m.Begin(ctx, "a"); s != New {
		t.Fatalf("first Begin = %v", s)
	}
	if s, _ := m.Begin(ctx, "a"); s != InProgress {
		t.Fatalf("second Begin while sending = %v, want InProgress", s)
	}
	m.Done(ctx, "a")
	if s, _ := m.Begin(ctx, "a"); s != Sent {
		t.Fatalf("Begin after Done = %v, want Sent", s)
	}
	m.Begin(ctx, "b")
	m.Release(ctx, "b")
	if s, _ := m.Begin(ctx, "b"); s != New {
		t.Fatalf("Begin after Release = %v, want New", s)
	}
	m.Done(ctx, "b")
	// Bounded: the oldest key goes first.
	m.Begin(ctx, "c")
	m.Done(ctx, "c")
	m.Begin(ctx, "d")
	m.Done(ctx, "d")
	if m.Len() != 3 {
		t.Fatalf("Len = %d, want the bound 3", m.Len())
	}
	if s, _ := m.Begin(ctx, "a"); s != New {
		t.Errorf("evicted key a: %v, want New", s)
	}
	// Expiry.
	now = now.Add(2 * time.Hour)
	if s, _ := m.Begin(ctx, "d"); s != New {
		t.Errorf("expired key d: %v, want New", s)
	}
}
