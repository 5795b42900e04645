// Package ratelimit paces SES sends per region with additive-increase,
// multiplicative-decrease (AIMD): SES limits an account's sends per second
// per region, shared by every task of a fleet, and no task knows how many
// others there are. Each cuts its rate when SES throttles it and raises it
// slowly while SES does not, so that a fleet converges on the account rate
// without coordinating.
package ratelimit

import (
	"context"
	"math"
	"sync"
	"time"
)

// Tuning of the limiter.
const (
	// Decrease multiplies the rate on throttling.
	Decrease = 0.7
	// CutInterval is the least time between two cuts: throttles come in
	// bunches from a bucket shared with other senders.
	CutInterval = 250 * time.Millisecond
	// IncreaseFraction of the quota is added per second without throttling
	// (1 msg/s at least).
	IncreaseFraction = 0.005
	// MinRate is the floor of the rate.
	MinRate = 1.0
	// Headroom: the rate grows to this share of the quota. (0.97 was tried
	// against the benchmark's SES stub: throughput fell to 93 % with as many
	// throttles, which come from regions and workers sharing the account.)
	Headroom = 1.0
	// BurstSeconds of the rate may be sent at once after an idle spell.
	BurstSeconds = 0.05
)

// AIMD is one region's limiter: a token bucket whose rate adapts.
type AIMD struct {
	mu       sync.Mutex
	now      func() time.Time
	max      float64 // the quota; +Inf when unknown
	rate     float64 // current; +Inf while unknown and never throttled
	tokens   float64
	last     time.Time // of the last refill
	lastCut  time.Time
	lastGrow time.Time
	// measured send rate, for a first cut when the quota is unknown
	window      time.Time
	windowSends int
	measured    float64
}

// New starts a limiter at maxRate messages per second (the quota from
// GetSendQuota, or SESQ_SEND_RATE); 0 or less means unknown: no limit until
// the first throttle, which then cuts the measured rate. now is the clock
// (time.Now in production).
func New(maxRate float64, now func() time.Time) *AIMD {
	if maxRate <= 0 {
		maxRate = math.Inf(1)
	} else {
		maxRate *= Headroom
	}
	t := now()
	return &AIMD{now: now, max: maxRate, rate: maxRate, tokens: burst(maxRate), last: t, lastGrow: t, window: t}
}

func burst(rate float64) float64 {
	if math.IsInf(rate, 1) {
		return 1
	}
	return math.Max(1, rate*BurstSeconds)
}

// Rate is the current rate (+Inf while unlimited).
func (l *AIMD) Rate() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rate
}

// Ticket identifies one send for the feedback about it: when it went out.
type Ticket struct{ at time.Time }

// Reserve takes a token and returns how long the caller must wait before it
// sends (0: at once), and the ticket to report the send's result with.
func (l *AIMD) Reserve() (time.Duration, Ticket) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.count(now)
	if math.IsInf(l.rate, 1) {
		return 0, Ticket{now}
	}
	if el := now.Sub(l.last).Seconds(); el > 0 {
		l.tokens = math.Min(burst(l.rate), l.tokens+el*l.rate)
		l.last = now
	}
	l.tokens--
	if l.tokens >= 0 {
		return 0, Ticket{now}
	}
	d := time.Duration(-l.tokens / l.rate * float64(time.Second))
	return d, Ticket{now.Add(d)}
}

// Wait blocks until the caller may send, or ctx ends.
func (l *AIMD) Wait(ctx context.Context) (Ticket, error) {
	d, tk := l.Reserve()
	if d <= 0 {
		return tk, ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return tk, nil
	case <-ctx.Done():
		return tk, ctx.Err()
	}
}

// count measures the send rate over one-second windows.
func (l *AIMD) count(now time.Time) {
	if el := now.Sub(l.window); el >= time.Second {
		l.measured = float64(l.windowSends) / el.Seconds()
		l.window, l.windowSends = now, 0
	}
	l.windowSends++
}

// Throttled records that SES refused a send for the rate: the rate is cut,
// unless the send went out before the last cut (sends in flight then are
// answered for the old rate, not the new one).
func (l *AIMD) Throttled(t Ticket) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if !t.at.After(l.lastCut) || now.Sub(l.lastCut) < CutInterval {
		return
	}
	if math.IsInf(l.rate, 1) {
		// Unknown quota: start from what was being sent.
		m := l.measured
		if el := now.Sub(l.window).Seconds(); el > 0.2 {
			m = math.Max(m, float64(l.windowSends)/el)
		}
		l.rate = math.Max(MinRate, m)
		l.tokens = 0
		l.last = now
	}
	l.rate = math.Max(MinRate, l.rate*Decrease)
	l.tokens = math.Min(l.tokens, burst(l.rate))
	l.lastCut, l.lastGrow = now, now
}

// Succeeded records an accepted send: the rate grows by IncreaseFraction of
// the quota per second since the last growth or cut, up to the quota.
func (l *AIMD) Succeeded(t Ticket) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if math.IsInf(l.rate, 1) || l.rate >= l.max {
		return
	}
	now := l.now()
	if !t.at.After(l.lastCut) {
		return // sent at the old rate: says nothing about the new one
	}
	step := IncreaseFraction * l.max
	if math.IsInf(l.max, 1) {
		step = IncreaseFraction * l.rate
	}
	el := now.Sub(l.lastGrow).Seconds()
	l.rate = math.Min(l.max, l.rate+math.Max(1, step)*el)
	l.lastGrow = now
}

// Limits is one limiter per region, created on first use.
type Limits struct {
	mu      sync.Mutex
	now     func() time.Time
	quota   func(ctx context.Context, region string) (float64, error)
	limits  map[string]*AIMD
	onQuota func(region string, rate float64, err error)
}

// NewLimits creates limiters that start at quota(region) (SESQ_SEND_RATE or
// GetSendQuota's MaxSendRate; an error means unknown). onQuota, when set, is
// told what each region started from.
func NewLimits(quota func(ctx context.Context, region string) (float64, error), now func() time.Time, onQuota func(region string, rate float64, err error)) *Limits {
	return &Limits{now: now, quota: quota, limits: map[string]*AIMD{}, onQuota: onQuota}
}

// For returns the region's limiter.
func (ls *Limits) For(ctx context.Context, region string) *AIMD {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if l, ok := ls.limits[region]; ok {
		return l
	}
	rate, err := ls.quota(ctx, region)
	if err != nil {
		rate = 0
	}
	if ls.onQuota != nil {
		ls.onQuota(region, rate, err)
	}
	l := New(rate, ls.now)
	ls.limits[region] = l
	return l
}

// Rates returns every region's current rate.
func (ls *Limits) Rates() map[string]float64 {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	out := make(map[string]float64, len(ls.limits))
	for r, l := range ls.limits {
		out[r] = l.Rate()
	}
	return out
}
