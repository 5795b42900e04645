package retry_test

import (
	"testing"
	"time"

	"github.com/sesq/sesq/retry"
)

func TestPolicyInterval(t *testing.T) {
	p := retry.Policy{Initial: 200 * time.Millisecond, Max: 30 * time.Second, MaxAttempts: 8, InProcess: 5 * time.Second}
	want := []time.Duration{200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000}
	for i, w := range want {
		if got := p.Interval(i + 1); got != w*time.Millisecond {
			t.Errorf("Interval(%d) = %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
}

func TestPolicyJitter(t *testing.T) {
	for _, c := range []struct {
		r    float64
		want time.Duration
	}{{0, 400 * time.Millisecond}, {0.5, 800 * time.Millisecond}, {0.999999, 1200 * time.Millisecond}} {
		p := retry.Policy{Initial: 200 * time.Millisecond, Max: time.Minute, Jitter: 0.5, Rand: func() float64 { return c.r }}
		got := p.Delay(3) // interval 800ms, ±50 %
		if d := got - c.want; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("rand %v: Delay(3) = %v, want %v", c.r, got, c.want)
		}
	}
	p := retry.Policy{Initial: time.Second, Max: time.Minute}
	if p.Delay(2) != 2*time.Second {
		t.Errorf("no jitter: Delay(2) = %v", p.Delay(2))
	}
}

func TestPolicyWaitsInProcess(t *testing.T) {
	p := retry.Policy{Initial: time.Second, Max: time.Minute, InProcess: 5 * time.Second}
	for attempt, want := range map[int]bool{1: true, 2: true, 3: true, 4: false, 10: false} {
		if got := p.WaitsInProcess(attempt); got != want {
			t.Errorf("WaitsInProcess(%d) = %v (interval %v)", attempt, got, p.Interval(attempt))
		}
	}
}
