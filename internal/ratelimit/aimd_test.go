package ratelimit

import (
	"math"
	"sort"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)} }
func near(a, b float64) bool         { return math.Abs(a-b) < 1e-6 }
func ms(d time.Duration) int64       { return d.Milliseconds() }
func durations(l *AIMD, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		d, _ := l.Reserve()
		out[i] = ms(d)
	}
	return out
}

func TestPacesAtTheRate(t *testing.T) {
	c := newClock()
	l := New(10/Headroom, c.now) // a quota whose headroom leaves 10/s
	got := durations(l, 4)       // burst of 1 token at 10/s, then 100 ms apart
	want := []int64{0, 100, 200, 300}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("waits %v, want %v", got, want)
		}
	}
	c.add(time.Second) // an idle second refills the burst only
	if d, _ := l.Reserve(); d != 0 {
		t.Errorf("after idling: wait %v", d)
	}
}

func TestCutsOncePerWindowAndGrowsBack(t *testing.T) {
	c := newClock()
	l := New(100/Headroom, c.now) // 100/s after the headroom
	_, before := l.Reserve()
	_, alsoBefore := l.Reserve()
	c.add(10 * time.Millisecond)
	l.Throttled(before)
	l.Throttled(alsoBefore) // went out before the cut: same event
	if !near(l.Rate(), 70) {
		t.Fatalf("rate after throttles = %v, want 70", l.Rate())
	}
	c.add(time.Second)
	_, after := l.Reserve()
	c.add(50 * time.Millisecond)
	l.Throttled(after)
	if !near(l.Rate(), 49) {
		t.Fatalf("rate after a throttle of a later send = %v, want 49", l.Rate())
	}
	// Growth of IncreaseFraction of the quota per second since the cut.
	c.add(10 * time.Second)
	_, tk := l.Reserve()
	c.add(50 * time.Millisecond)
	l.Succeeded(tk)
	if want := 49 + math.Max(1, IncreaseFraction*100/Headroom)*10.05; !near(l.Rate(), want) {
		t.Errorf("rate after 10 s of success = %v, want %v", l.Rate(), want)
	}
	c.add(time.Hour)
	_, tk = l.Reserve()
	l.Succeeded(tk)
	if !near(l.Rate(), 100) {
		t.Errorf("rate grew to %v, want capped at 100", l.Rate())
	}
	for i := 0; i < 50; i++ {
		c.add(time.Second)
		_, tk := l.Reserve()
		c.add(time.Millisecond)
		l.Throttled(tk)
	}
	if l.Rate() != MinRate {
		t.Errorf("rate fell to %v, want the floor %v", l.Rate(), MinRate)
	}
}

func TestUnknownQuotaStartsFromTheMeasuredRate(t *testing.T) {
	c := newClock()
	l := New(0, c.now)
	var tk Ticket
	for i := 0; i < 300; i++ { // 3 s at 100/s
		var d time.Duration
		if d, tk = l.Reserve(); d != 0 {
			t.Fatalf("unknown quota paced a send by %v", d)
		}
		c.add(10 * time.Millisecond)
	}
	l.Throttled(tk)
	if r := l.Rate(); r < 65 || r > 75 {
		t.Errorf("first cut to %v, want about 70 (0.7 × the 100/s sent)", r)
	}
}

// sesBucket is SES's account limit as the benchmark stub models it: a token
// bucket of rate tokens per second holding one second's worth.
type sesBucket struct {
	rate, tokens float64
	last         time.Time
}

func (b *sesBucket) take(now time.Time) bool {
	b.tokens = math.Min(b.rate, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}

// Workers that each start at the quota, with SES answering 50 ms later,
// converge on the account's rate with few throttles, on a simulated clock
// over 100 s. Most throttles of a fleet come at the start, when every worker
// begins at the full quota: they amortize over longer runs.
func TestFleetConvergesOnTheAccountRate(t *testing.T) {
	bounds := map[int][2]float64{1: {0.95, 0.005}, 2: {0.93, 0.01}, 4: {0.90, 0.05}} // least rate, most throttled share
	for _, workers := range []int{1, 2, 4} {
		c := newClock()
		const quota, latency, senders = 200.0, 50 * time.Millisecond, 32
		ses := &sesBucket{rate: quota, tokens: quota, last: c.now()}
		type event struct {
			at     time.Time
			worker int
			ok     bool
			send   bool // a sender is free to reserve again
			ticket Ticket
		}
		var events []event
		limits := make([]*AIMD, workers)
		for w := range limits {
			limits[w] = New(quota, c.now)
			for s := 0; s < senders; s++ {
				events = append(events, event{at: c.now(), worker: w, send: true})
			}
		}
		accepted, throttled := 0, 0
		end := c.now().Add(100 * time.Second)
		for len(events) > 0 {
			sort.SliceStable(events, func(i, j int) bool { return events[i].at.Before(events[j].at) })
			e := events[0]
			events = events[1:]
			if e.at.After(end) {
				break
			}
			c.t = e.at
			l := limits[e.worker]
			if !e.send { // SES's answer arrives
				if e.ok {
					l.Succeeded(e.ticket)
				} else {
					l.Throttled(e.ticket)
				}
				events = append(events, event{at: c.now(), worker: e.worker, send: true})
				continue
			}
			d, tk := l.Reserve()
			at := c.now().Add(d)
			ok := ses.take(at)
			if ok {
				accepted++
			} else {
				throttled++
			}
			events = append(events, event{at: at.Add(latency), worker: e.worker, ok: ok, ticket: tk})
		}
		rate := float64(accepted) / 100
		share := float64(throttled) / float64(accepted+throttled)
		t.Logf("%d workers: %.1f msgs/s accepted (%.1f %% of %v), %d throttled (%.2f %% of sends)", workers, rate, 100*rate/quota, quota, throttled, 100*share)
		if b := bounds[workers]; rate < b[0]*quota || share > b[1] {
			t.Errorf("%d workers: %.1f msgs/s and %.2f %% throttled; want >= %.0f %% of %v and <= %.1f %%", workers, rate, 100*share, 100*b[0], quota, 100*b[1])
		}
	}
}
