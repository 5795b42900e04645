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

func TestPolicyFirstAttempt(t *testing.T) {
	// Defaults: delays 0.2, 0.4, 0.8, 1.6, 3.2 s wait in process, 6.4 s does
	// not, so the first delivery makes attempts 1..6.
	p := retry.Policy{Initial: 200 * time.Millisecond, Max: 30 * time.Second, MaxAttempts: 8, InProcess: 5 * time.Second}
	cases := []struct{ base, receives, want int }{
		{0, 1, 1},
		{0, 0, 1}, // no receive count: first delivery
		{0, 2, 7},
		{0, 3, 8},
		{0, 4, 9}, // past MaxAttempts: the worker dead-letters as exhausted
		{3, 1, 4}, // deferred for quota after 3 attempts
		{3, 2, 7}, // attempts 4, 5, 6 in process (3.2 s), then 6.4 s is handed back
		{7, 2, 9}, // no in-process attempt left but the 8th
	}
	for _, c := range cases {
		if got := p.FirstAttempt(c.base, c.receives); got != c.want {
			t.Errorf("FirstAttempt(base %d, receives %d) = %d, want %d", c.base, c.receives, got, c.want)
		}
	}
	// Nothing waits in process: one attempt per delivery.
	p.InProcess = 0
	for r := 1; r <= 5; r++ {
		if got := p.FirstAttempt(0, r); got != r {
			t.Errorf("InProcess 0: FirstAttempt(0, %d) = %d", r, got)
		}
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
