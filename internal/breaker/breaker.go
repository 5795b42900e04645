// Package breaker isolates a failing SES region: after a run of transient
// failures, or at once when the worker's credentials are refused there, it
// stops sending there for a while (open), then lets one probe through
// (half-open); a success closes it. Messages for an open region go back to
// the queue without using up attempts, so one region's outage or refusal
// neither burns the retries of its messages nor holds the senders that the
// other regions need.
package breaker

import (
	"sync"
	"time"
)

// Tuning.
const (
	Threshold   = 5                // consecutive failures that open a region
	MinCooldown = 2 * time.Second  // first open period
	MaxCooldown = 60 * time.Second // longest, after repeated failed probes
)

type region struct {
	failures int
	openTill time.Time
	cooldown time.Duration
	probing  bool
	refusals int    // credential refusals in a row: one per pause, however many sends were under way
	code     string // the last refusal's
	message  string
}

// Gate is what Allow says of a region.
type Gate struct {
	// Pass: a send may go now (when the breaker was open, as the probe).
	Pass bool
	// Probe: this caller is the probe; if it ends without a send it must
	// say so (Abandon), or the region waits for a result that never comes.
	Probe bool
	// Wait is, when not Pass, how long until it may try again.
	Wait time.Duration
	// Refusals is how many times in a row the worker's credentials were
	// refused there, with the last refusal's code and message.
	Refusals      int
	Code, Message string
}

// Breakers are one breaker per region.
type Breakers struct {
	mu      sync.Mutex
	now     func() time.Time
	regions map[string]*region
}

// New creates breakers on the clock now.
func New(now func() time.Time) *Breakers {
	return &Breakers{now: now, regions: map[string]*region{}}
}

func (b *Breakers) get(name string) *region {
	r, ok := b.regions[name]
	if !ok {
		r = &region{}
		b.regions[name] = r
	}
	return r
}

// Allow tells whether a send may go to the region now. After an open
// period one caller gets through as the probe; the others wait for its
// result.
func (b *Breakers) Allow(name string) Gate {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.get(name)
	now := b.now()
	g := Gate{Refusals: r.refusals, Code: r.code, Message: r.message}
	switch {
	case r.openTill.IsZero():
		g.Pass = true
	case now.Before(r.openTill):
		g.Wait = r.openTill.Sub(now)
	case r.probing:
		g.Wait = MinCooldown
	default:
		r.probing = true
		g.Pass, g.Probe = true, true
	}
	return g
}

// Abandon gives the probe slot back: the probe ended without a send (its
// envelope id was held elsewhere, the worker stopped), so the next caller
// probes.
func (b *Breakers) Abandon(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.get(name).probing = false
}

// Refusals is how many times in a row the worker's credentials were
// refused in the region.
func (b *Breakers) Refusals(name string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.get(name).refusals
}

// Success closes the region's breaker.
func (b *Breakers) Success(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.get(name)
	*r = region{}
}

// Failure counts a transient failure (5xx, timeout, connection); it opens
// the breaker after Threshold in a row, and reopens it, for twice as long,
// when a probe fails. It reports whether the breaker opened now.
func (b *Breakers) Failure(name string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.get(name)
	now := b.now()
	if r.probing {
		r.probing = false
		r.cooldown = min(2*r.cooldown, MaxCooldown)
		r.openTill = now.Add(r.cooldown)
		return true
	}
	r.failures++
	if r.failures >= Threshold && r.openTill.IsZero() {
		r.cooldown = MinCooldown
		r.openTill = now.Add(r.cooldown)
		return true
	}
	return false
}

// Trip opens the region's breaker at once for at least d: the worker's
// credentials were refused there (code, message), and every send would be
// refused alike. It reports whether the breaker opened now (it was closed,
// or this was the probe); only then does the refusal count: the refusals
// of sends that were under way when it opened are the same refusal.
func (b *Breakers) Trip(name string, d time.Duration, code, message string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.get(name)
	now := b.now()
	opened := r.openTill.IsZero() || r.probing
	r.probing = false
	if opened {
		r.refusals++
	}
	r.code, r.message = code, message
	r.cooldown = max(r.cooldown, d)
	if till := now.Add(d); till.After(r.openTill) {
		r.openTill = till
	}
	return opened
}

// State is where a region's breaker is.
type State int

// States of a breaker; the values are those of the sesq_breaker_state metric.
const (
	// Closed: sends go.
	Closed State = iota
	// Open: sends are paused (after failures, or credentials refused);
	// when the pause is over, the next send goes as the probe.
	Open
	// Probing: the pause is over and one send is out as the probe; the
	// others wait for its result.
	Probing
)

// States tells where each region the breakers have seen stands now. It
// changes nothing (Allow hands out the probe).
func (b *Breakers) States() map[string]State {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]State, len(b.regions))
	for n, r := range b.regions {
		switch {
		case r.openTill.IsZero():
			out[n] = Closed
		case r.probing:
			out[n] = Probing
		default:
			out[n] = Open
		}
	}
	return out
}

// Open lists the regions whose breaker is open now.
func (b *Breakers) Open() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for n, r := range b.regions {
		if !r.openTill.IsZero() {
			out = append(out, n)
		}
	}
	return out
}
