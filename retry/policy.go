package retry

import (
	"math/rand/v2"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Policy is the backoff for the Retry class: exponential from Initial,
// doubling up to Max, with jitter, for at most MaxAttempts attempts over all
// deliveries of a message.
//
// A delay up to InProcess is waited in the worker, which keeps the message
// invisible meanwhile; a longer one hands the message back to SQS with
// ChangeMessageVisibility, so that the slot serves other messages. Attempts
// are carried across deliveries by FirstAttempt.
type Policy struct {
	Initial     time.Duration
	Max         time.Duration
	MaxAttempts int
	InProcess   time.Duration
	// Jitter spreads each delay uniformly over ±Jitter of it (0.5: 50 %..150 %),
	// as cenkalti/backoff's randomization factor does.
	Jitter float64
	// Rand returns a number in [0, 1); nil uses math/rand/v2.
	Rand func() float64
}

// DefaultInProcess is the longest delay the worker waits in process by default.
const DefaultInProcess = 5 * time.Second

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

// FirstAttempt is the number of the first attempt a delivery makes, given the
// attempts recorded on the message when it was last enqueued (base: 0 for a
// producer's message) and its SQS ApproximateReceiveCount.
//
// The first delivery makes attempts base+1 up to the first whose delay is too
// long to wait in process; each later delivery makes one. Receives that made
// no attempt (a crash, a shutdown hand-back) count as if they had: the count
// errs towards fewer attempts, never towards retrying forever.
func (p Policy) FirstAttempt(base, receiveCount int) int {
	if receiveCount <= 1 {
		return base + 1
	}
	first := 1
	for n := base + 1; n < p.MaxAttempts && p.WaitsInProcess(n); n++ {
		first++
	}
	return base + first + receiveCount - 1
}
