package retry

import (
	"math/rand/v2"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Policy is the worker's configuration as the decision table needs it.
type Policy struct {
	// Backoff for Retry: exponential from Initial, doubling up to Max,
	// jittered by ±Jitter (0.5: 50 % to 150 %), as cenkalti/backoff's
	// randomization factor does.
	Initial time.Duration
	Max     time.Duration
	Jitter  float64
	// Rand returns a number in [0, 1); nil uses math/rand/v2.
	Rand func() float64
	// MaxAttempts is how many send calls an envelope gets, over all its
	// deliveries, before it is dead-lettered as exhausted (or unavailable).
	MaxAttempts int
	// InProcess is the longest retry delay waited in the worker with the
	// message kept invisible; a longer one hands the message back.
	InProcess time.Duration
	// QuotaDelay is how long a message waits after a quota refusal, and
	// the longest a credential refusal pauses a region.
	QuotaDelay time.Duration
	// MaxDeferrals bounds the quota deferrals of one envelope.
	MaxDeferrals int
	// MaxHolds bounds the hand-backs of one envelope for a paused region;
	// past it the envelope is sent whenever it comes (a probe), so a region
	// that stays paused cannot hold it forever.
	MaxHolds int
	// MaxThrottleRetries bounds the rate-throttled sends of one delivery
	// that use up no attempt; past it they count like other faults.
	MaxThrottleRetries int
}

// Defaults of the fields that have no configuration variable.
const (
	DefaultInProcess          = 5 * time.Second
	DefaultMaxHolds           = 100
	DefaultMaxThrottleRetries = 50
)

// Interval is the delay after the given attempt (1-based) fails, without
// jitter.
func (p Policy) Interval(attempt int) time.Duration {
	b := &backoff.ExponentialBackOff{
		InitialInterval:     p.Initial,
		RandomizationFactor: 0,
		Multiplier:          2,
		MaxInterval:         p.Max,
		Stop:                backoff.Stop,
		Clock:               backoff.SystemClock,
	}
	b.Reset()
	d := b.NextBackOff()
	for i := 1; i < attempt && d < p.Max; i++ {
		d = b.NextBackOff()
	}
	return d
}

// Delay is the jittered delay after the given attempt fails.
func (p Policy) Delay(attempt int) time.Duration {
	d := p.Interval(attempt)
	if p.Jitter <= 0 {
		return d
	}
	r := p.Rand
	if r == nil {
		r = rand.Float64
	}
	f := min(p.Jitter, 1)
	return time.Duration(float64(d) * (1 - f + 2*f*r()))
}

// WaitsInProcess tells whether the delay after the given attempt is short
// enough to wait in the worker rather than hand the message back.
func (p Policy) WaitsInProcess(attempt int) bool {
	return p.Interval(attempt) <= p.InProcess
}

// Pause is how long a region is paused after the n-th refusal in a row of
// the worker's credentials there: Max, doubling with each refusal, at most
// QuotaDelay. With the defaults (30 s, 15 min) the 8th refusal in a row
// comes about 45 minutes after the first (one probe per pause), long
// enough to ride out a credential rotation; then the region's envelopes
// are dead-lettered as unavailable.
func (p Policy) Pause(n int) time.Duration {
	d := p.Max
	for i := 1; i < n && d < p.QuotaDelay; i++ {
		d *= 2
	}
	return min(d, max(p.QuotaDelay, p.Max))
}
