package worker

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sesq/sesq/idempotency"
)

// inFlight tracks the messages being worked on: before a message's
// visibility runs out it is extended (in batches, through acks), and the
// idempotency claim of its delivery is renewed with it, so that a claim
// lasts exactly as long as its delivery is alive.
type inFlight struct {
	beat    *atomic.Int64 // set at every tick: the loop is alive
	timeout time.Duration
	acks    *acks
	claims  Idempotency
	log     *slog.Logger

	mu      sync.Mutex
	tracked map[string]*tracked
}

type tracked struct {
	visibleAt time.Time
	claim     *claim // nil while the delivery holds none
}

// claim is a delivery's hold on an envelope id.
type claim struct {
	key, owner string
	expires    time.Time
}

func newInFlight(timeout time.Duration, a *acks, claims Idempotency, log *slog.Logger, beat *atomic.Int64) *inFlight {
	return &inFlight{tracked: map[string]*tracked{}, timeout: timeout, acks: a, claims: claims, log: log, beat: beat}
}

func (f *inFlight) track(handle string, receivedAt time.Time) {
	f.mu.Lock()
	f.tracked[handle] = &tracked{visibleAt: receivedAt.Add(f.timeout)}
	f.mu.Unlock()
}

// setClaim records the claim the delivery of handle holds (nil: none), so
// that it is renewed with the message's visibility.
func (f *inFlight) setClaim(handle string, c *claim) {
	f.mu.Lock()
	if t, ok := f.tracked[handle]; ok {
		t.claim = c
	}
	f.mu.Unlock()
}

// untrack stops extending the message; it is called under no other lock,
// before the message's final delete or hand-back is asked for, so that no
// extension is asked for after it. It tells whether the message was
// tracked.
func (f *inFlight) untrack(handle string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.tracked[handle]
	delete(f.tracked, handle)
	return ok
}

// holds tells whether c is still the claim of a tracked delivery.
func (f *inFlight) holds(c claim) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range f.tracked {
		if t.claim != nil && t.claim.key == c.key && t.claim.owner == c.owner {
			return true
		}
	}
	return false
}

// extendLoop checks four times per visibility timeout and extends every
// message with less than half of it left, and renews every claim with less
// than half of its time left. Renewals run beside the loop, so that a slow
// idempotency store never holds an extension back.
func (f *inFlight) extendLoop(ctx context.Context) {
	t := time.NewTicker(f.timeout / 4)
	defer t.Stop()
	var renewals sync.WaitGroup
	defer renewals.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		f.beat.Store(now.UnixNano())
		var renew []claim
		// Asked for under the lock, so that an extension is never asked
		// for after the final delete or hand-back of an untracked message
		// (and acks keeps the order of what is asked for one handle).
		f.mu.Lock()
		for h, t := range f.tracked {
			if t.visibleAt.Sub(now) < f.timeout/2 {
				t.visibleAt = now.Add(f.timeout)
				f.acks.setVisibility(h, f.timeout)
			}
			if c := t.claim; c != nil && c.expires.Sub(now) < f.timeout/2 {
				c.expires = now.Add(f.timeout)
				renew = append(renew, *c)
			}
		}
		f.mu.Unlock()
		if len(renew) > 0 {
			renewals.Add(1)
			go func() {
				defer renewals.Done()
				f.renew(ctx, renew)
			}()
		}
	}
}

func (f *inFlight) renew(ctx context.Context, claims []claim) {
	for _, c := range claims {
		rctx, cancel := context.WithTimeout(ctx, storeTimeout(f.timeout))
		err := f.claims.Renew(rctx, c.key, c.owner, f.timeout)
		cancel()
		switch {
		case err == nil, !f.holds(c):
			// Renewed, or settled meanwhile: nothing to say.
		case errors.Is(err, idempotency.ErrNotOwner):
			f.log.Warn("idempotency claim lost while sending: it lapsed and another delivery took it", "envelope_id", c.key)
		default:
			f.log.Warn("idempotency claim renewal failed", "envelope_id", c.key, "err", err)
		}
	}
}
