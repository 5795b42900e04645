package ratelimit

import (
	"context"
	"math"
	"sync"
	"time"
)

// Fair hands one limiter's sends to flows (a worker's tenants, each weighted
// by its lane) in weighted fair order, when the rate is what holds the sends
// back: a flow with many sends waiting gets its share of the rate, not every
// slot until its backlog is through, and a flow that just arrived is served
// within a turn. A flow's share is its weight over the sum of the weights of
// the flows waiting (stride scheduling: each turn goes to the waiting flow
// whose pass is lowest; a turn advances its pass by 1/weight; a flow that
// was idle starts at the pass of the last turn, so idleness earns no
// credit).
//
// A turn is given out only when the limiter has a token at once, to the
// flow that is next at that moment; so the order follows who waits now,
// not who asked first.
type Fair struct {
	l     *AIMD
	timer func(d time.Duration) (<-chan time.Time, func() bool)

	mu      sync.Mutex
	flows   []*flow // with waiters, in the order they arrived
	pass    float64 // the pass of the last turn
	pumping bool    // a goroutine gives out turns
}

type flow struct {
	key     string
	pass    float64
	weight  float64
	waiters []*waiter
}

type waiter struct {
	turn chan Ticket // gets the turn (buffered)
	gone bool        // the waiter's context ended; skipped
}

// NewFair shares l among flows.
func NewFair(l *AIMD) *Fair {
	return &Fair{l: l, timer: func(d time.Duration) (<-chan time.Time, func() bool) {
		t := time.NewTimer(d)
		return t.C, t.Stop
	}}
}

// Limiter is the limiter the turns are taken from, for feedback (Throttled,
// Succeeded) and its rate.
func (f *Fair) Limiter() *AIMD { return f.l }

// Wait blocks until it is flow's turn to send, or ctx ends. weight (at least
// 1) is the flow's share relative to the other flows waiting.
func (f *Fair) Wait(ctx context.Context, key string, weight int) (Ticket, error) {
	f.mu.Lock()
	if !f.pumping && len(f.flows) == 0 {
		// Nobody waits: a token at hand is this caller's.
		if tk, ok := f.l.TryReserve(); ok {
			f.mu.Unlock()
			return tk, ctx.Err()
		}
	}
	w := &waiter{turn: make(chan Ticket, 1)}
	fl := f.join(key, float64(max(weight, 1)))
	fl.waiters = append(fl.waiters, w)
	if !f.pumping {
		f.pumping = true
		go f.pump()
	}
	f.mu.Unlock()
	select {
	case tk := <-w.turn:
		return tk, nil
	case <-ctx.Done():
		f.mu.Lock()
		defer f.mu.Unlock()
		select {
		case tk := <-w.turn: // the turn came as ctx ended: unused, give it back
			f.l.unreserve(tk)
		default:
			w.gone = true
		}
		return Ticket{}, ctx.Err()
	}
}

// join returns key's flow, adding it at the pass of the last turn.
func (f *Fair) join(key string, weight float64) *flow {
	for _, fl := range f.flows {
		if fl.key == key {
			return fl
		}
	}
	fl := &flow{key: key, pass: f.pass, weight: weight}
	f.flows = append(f.flows, fl)
	return fl
}

// pump gives out turns while anyone waits: it takes a token when the
// limiter has one, then hands it to the flow whose turn it is.
func (f *Fair) pump() {
	for {
		f.mu.Lock()
		if !f.prune() {
			f.pumping = false
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()
		tk, ok := f.l.TryReserve()
		if !ok {
			c, stop := f.timer(f.l.untilToken())
			<-c
			stop()
			continue
		}
		f.mu.Lock()
		w := f.next()
		if w == nil {
			f.l.unreserve(tk)
			f.pumping = false
			f.mu.Unlock()
			return
		}
		w.turn <- tk
		f.mu.Unlock()
	}
}

// prune drops waiters that left and flows without waiters, and tells
// whether anyone waits.
func (f *Fair) prune() bool {
	flows := f.flows[:0]
	for _, fl := range f.flows {
		ws := fl.waiters[:0]
		for _, w := range fl.waiters {
			if !w.gone {
				ws = append(ws, w)
			}
		}
		fl.waiters = ws
		if len(ws) > 0 {
			flows = append(flows, fl)
		}
	}
	clear(f.flows[len(flows):])
	f.flows = flows
	return len(flows) > 0
}

// next takes the first waiter of the flow with the lowest pass (the
// earliest arrived among equals) and advances the flow's pass.
func (f *Fair) next() *waiter {
	if !f.prune() {
		return nil
	}
	best := f.flows[0]
	for _, fl := range f.flows[1:] {
		if fl.pass < best.pass-passEpsilon {
			best = fl
		}
	}
	w := best.waiters[0]
	best.waiters = best.waiters[1:]
	f.pass = best.pass
	best.pass += 1 / best.weight
	return w
}

// passEpsilon: passes this close are equal (sums of 1/weight are not
// exact in floating point).
const passEpsilon = 1e-9

// TryReserve takes a token if one is at hand now.
func (l *AIMD) TryReserve() (Ticket, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if math.IsInf(l.rate, 1) {
		l.count(now)
		return Ticket{now}, true
	}
	l.refill(now)
	if l.tokens < 1 {
		return Ticket{}, false
	}
	l.count(now)
	l.tokens--
	return Ticket{now}, true
}

// untilToken is how long until the limiter has a whole token.
func (l *AIMD) untilToken() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if math.IsInf(l.rate, 1) {
		return 0
	}
	l.refill(l.now())
	if l.tokens >= 1 {
		return 0
	}
	return time.Duration(math.Ceil((1 - l.tokens) / l.rate * float64(time.Second)))
}

// unreserve gives back a token taken for a send that will not happen.
func (l *AIMD) unreserve(Ticket) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if math.IsInf(l.rate, 1) {
		return
	}
	l.tokens = math.Min(burst(l.rate), l.tokens+1)
	l.windowSends = max(0, l.windowSends-1)
}

func (l *AIMD) refill(now time.Time) {
	if el := now.Sub(l.last).Seconds(); el > 0 {
		l.tokens = math.Min(burst(l.rate), l.tokens+el*l.rate)
		l.last = now
	}
}
