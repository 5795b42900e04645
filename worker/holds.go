package worker

import (
	"sync"
	"time"
)

// holds are the tenants held back in a region: SES refused a send of
// theirs for the account or the identity (a quota used up, sending
// paused), so their other messages there are deferred without a send
// until the hold ends, while the other tenants' go on. The first message
// after the hold goes to SES as the probe.
type holds struct {
	now func() time.Time

	mu sync.Mutex
	m  map[holdKey]hold
}

type holdKey struct{ region, tenant string }

// hold is why and until when a tenant is held back.
type hold struct {
	until         time.Time
	code, message string
}

// sweepAbove is how many holds are kept before the ended ones are dropped.
const sweepAbove = 1024

func newHolds(now func() time.Time) *holds { return &holds{now: now, m: map[holdKey]hold{}} }

// set holds tenant back in region for d.
func (h *holds) set(region, tenant string, d time.Duration, code, message string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	if len(h.m) >= sweepAbove {
		for k, v := range h.m {
			if !v.until.After(now) {
				delete(h.m, k)
			}
		}
	}
	h.m[holdKey{region, tenant}] = hold{until: now.Add(d), code: code, message: message}
}

// get is tenant's hold in region, if one lasts.
func (h *holds) get(region, tenant string) (hold, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := holdKey{region, tenant}
	v, ok := h.m[k]
	if ok && !v.until.After(h.now()) {
		delete(h.m, k)
		return hold{}, false
	}
	return v, ok
}
