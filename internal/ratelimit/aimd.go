// Package ratelimit paces SES sends per region with an increase/decrease
// controller in the AIMD family: SES limits an account's sends per second
// per region, shared by every task of a fleet, and no task knows how many
// others there are. Each starts below the quota; when SES throttles, it
// cuts, then sets its rate from what SES accepted from it meanwhile (its
// share of the account's rate); without throttles it grows slowly. A fleet
// thereby converges on the account rate without coordinating.
package ratelimit

import (
	"context"
	"math"
	"sync"
	"time"
)

// Tuning of the limiter, chosen with the fleet simulation in fleet_test.go
// (one, two and four tasks, three regions, one account bucket; also checked
// at 20 and 100 ms latency and 50 and 500/s quotas).
const (
	// StartFraction of the quota is the rate a limiter starts at: a fleet
	// of tasks that all start at the full quota sends several times too
	// fast, and SES's full bucket hides the overshoot until it is empty.
	StartFraction = 0.3
	// StartIncrease of the quota is added per second until the first
	// throttle: a lone task reaches the quota in seven seconds.
	StartIncrease = 0.1
	// Decrease multiplies the rate at the first throttle of an episode
	// (throttles less than EpisodeQuiet apart).
	Decrease     = 0.8
	EpisodeQuiet = time.Second
	// Every MeasureFor of an episode, the rate becomes ShareDecrease times
	// the rate SES accepted meanwhile (that is this task's share of the
	// account's rate, whatever the others send), cutting by no more than
	// MaxCut at once: short measurements are noisy.
	MeasureFor    = 100 * time.Millisecond
	ShareDecrease = 0.95
	MaxCut        = 0.8
	// IncreaseFraction of the rate SES sustained at the last measurement
	// is added per second without throttles (MinStep msgs/s at least).
	// Relative to the task's own share rather than the quota, so a fleet
	// of any size probes the account's rate as fast as one task would.
	IncreaseFraction = 0.005
	MinStep          = 0.1
	// UsedForGrowth: the rate grows only while sends use this share of it;
	// otherwise it is not what holds them back, and growing it proves nothing.
	UsedForGrowth = 0.8
	// MinRate is the floor of the rate.
	MinRate = 1.0
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
	lastCut  time.Time // zero until the first throttle
	ceiling  float64   // the rate SES accepted at the last measurement
	lastGrow time.Time
	// the throttling episode: since when accepted sends are counted
	epStart, lastThrottle time.Time
	epAccepted            int
	// measured send rate, for a first cut when the quota is unknown
	window      time.Time
	windowSends int
	measured    float64
}

// New starts a limiter at StartFraction of maxRate messages per second (the
// quota from GetSendQuota, or SESQ_SEND_RATE); 0 or less means unknown: no
// limit until the first throttle, which then cuts the measured rate. now is
// the clock (time.Now in production).
func New(maxRate float64, now func() time.Time) *AIMD {
	rate := maxRate * StartFraction
	if maxRate <= 0 {
		maxRate, rate = math.Inf(1), math.Inf(1)
	}
	t := now()
	return &AIMD{now: now, max: maxRate, rate: rate, tokens: burst(rate), last: t, lastGrow: t, window: t}
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
	l.refill(now)
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

// Throttled records that SES refused a send for the rate. Sends made before
// the last cut were answered for the old rate and are ignored. The first
// throttle of an episode cuts by Decrease at once; later ones, every
// MeasureFor, set the rate from what SES accepted meanwhile: a fleet that
// starts several times too fast comes down in a step or two, without the
// repeated blind cuts that leave it far below the account's rate.
func (l *AIMD) Throttled(t Ticket) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if !t.at.After(l.lastCut) {
		return
	}
	if math.IsInf(l.rate, 1) {
		// Unknown quota: start from what was being sent.
		l.rate = math.Max(MinRate, l.used(now))
		l.tokens = 0
		l.last = now
	}
	if l.epStart.IsZero() || now.Sub(l.lastThrottle) > EpisodeQuiet {
		// A new episode: cut at once, and measure what SES accepts from
		// now on.
		l.epStart, l.epAccepted = now, 0
		l.cut(now, l.rate*Decrease)
	} else if el := now.Sub(l.epStart); el >= MeasureFor {
		accepted := float64(l.epAccepted) / el.Seconds()
		l.ceiling = accepted
		l.cut(now, math.Min(l.rate, math.Max(MaxCut*l.rate, ShareDecrease*accepted)))
		l.epStart, l.epAccepted = now, 0
	}
	l.lastThrottle = now
}

func (l *AIMD) cut(now time.Time, rate float64) {
	l.rate = math.Max(MinRate, rate)
	l.tokens = math.Min(l.tokens, burst(l.rate))
	l.lastCut, l.lastGrow = now, now
}

// Succeeded records an accepted send. Without throttles for EpisodeQuiet
// the rate grows: by StartIncrease of the quota per second until the first
// throttle, by IncreaseFraction of the accepted rate after it, up to the
// quota.
func (l *AIMD) Succeeded(t Ticket) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.epAccepted++
	if !t.at.After(l.lastCut) || now.Sub(l.lastThrottle) <= EpisodeQuiet {
		return // sent at the old rate, or throttles lately: no growth
	}
	l.grow(now)
}

func (l *AIMD) grow(now time.Time) {
	if math.IsInf(l.rate, 1) || l.rate >= l.max {
		return
	}
	frac := IncreaseFraction
	if l.lastCut.IsZero() {
		frac = StartIncrease
	}
	step := frac * l.max
	if !l.lastCut.IsZero() || math.IsInf(l.max, 1) {
		step = frac * math.Max(l.ceiling, l.rate)
	}
	el := now.Sub(l.lastGrow).Seconds()
	l.lastGrow = now
	if l.used(now) < UsedForGrowth*l.rate {
		return // the rate is not what holds the sends back: no evidence for more
	}
	l.rate = math.Min(l.max, l.rate+math.Max(MinStep, step)*el)
}

// used is the send rate of the last full one-second window, or of the
// current one when it is long enough to tell and higher.
func (l *AIMD) used(now time.Time) float64 {
	m := l.measured
	if el := now.Sub(l.window).Seconds(); el > 0.2 {
		m = math.Max(m, float64(l.windowSends)/el)
	}
	return m
}

// Limits is one limiter per region, created on first use, each shared
// fairly among the flows that wait for it.
type Limits struct {
	mu      sync.Mutex
	now     func() time.Time
	quota   func(ctx context.Context, region string) (float64, error)
	limits  map[string]*Fair
	onQuota func(region string, rate float64, err error)
}

// NewLimits creates limiters that start at quota(region) (SESQ_SEND_RATE or
// GetSendQuota's MaxSendRate; an error means unknown). onQuota, when set, is
// told what each region started from.
func NewLimits(quota func(ctx context.Context, region string) (float64, error), now func() time.Time, onQuota func(region string, rate float64, err error)) *Limits {
	return &Limits{now: now, quota: quota, limits: map[string]*Fair{}, onQuota: onQuota}
}

// For returns the region's limiter.
func (ls *Limits) For(ctx context.Context, region string) *Fair {
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
	l := NewFair(New(rate, ls.now))
	ls.limits[region] = l
	return l
}

// Rates returns every region's current rate.
func (ls *Limits) Rates() map[string]float64 {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	out := make(map[string]float64, len(ls.limits))
	for r, l := range ls.limits {
		out[r] = l.l.Rate()
	}
	return out
}
