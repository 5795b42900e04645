// Package breaker isolates a failing SES region: after a run of transient
// failures it stops sending there for a while (open), then lets one probe
// through (half-open); a success closes it. Messages for an open region go
// back to the queue without using up attempts, so one region's outage
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

// Allow tells whether a send may go to the region now; when not, wait is
// how long until it may try again. After an open period one caller gets
// through as the probe; the others wait for its result.
func (b *Breakers) Allow(name string) (ok bool, wait time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.get(name)
	now := b.now()
	switch {
	case r.openTill.IsZero():
		return true, 0
	case now.Before(r.openTill):
		return false, r.openTill.Sub(now)
	case r.probing:
		return false, MinCooldown
	default:
		r.probing = true
		return true, 0
	}
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
