package ratelimit

import (
	"math"
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
	l := New(10/StartFraction, c.now) // starts at 10/s
	got := durations(l, 4)            // burst of 1 token at 10/s, then 100 ms apart
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

// sendFor sends as fast as l lets it for d, every send accepted after
// latency; it returns how many went out.
func sendFor(c *clock, l *AIMD, d, latency time.Duration) int {
	end := c.now().Add(d)
	n := 0
	for c.now().Before(end) {
		w, tk := l.Reserve()
		c.add(w + latency)
		l.Succeeded(tk)
		n++
	}
	return n
}

func TestStartsLowAndRampsToTheQuota(t *testing.T) {
	c := newClock()
	l := New(100, c.now)
	if !near(l.Rate(), 100*StartFraction) {
		t.Fatalf("starts at %v, want %v", l.Rate(), 100*StartFraction)
	}
	sendFor(c, l, 3*time.Second, 0)
	if r := l.Rate(); r < 55 || r > 65 {
		t.Errorf("after 3 s unthrottled: %v, want about 60 (+%v/s)", r, 100*StartIncrease)
	}
	sendFor(c, l, 5*time.Second, 0)
	if !near(l.Rate(), 100) {
		t.Errorf("after 8 s unthrottled: %v, want the quota", l.Rate())
	}
}

// acceptFor reports n accepted sends spread over d.
func acceptFor(c *clock, l *AIMD, n int, d time.Duration) {
	for range n {
		c.add(d / time.Duration(n))
		_, tk := l.Reserve()
		l.Succeeded(tk)
	}
}

// throttleNow reports a throttle of a send made just now.
func throttleNow(c *clock, l *AIMD) {
	_, tk := l.Reserve()
	c.add(time.Millisecond)
	l.Throttled(tk)
}

func TestCutsToWhatSESAccepts(t *testing.T) {
	c := newClock()
	l := New(100/StartFraction, c.now) // 100/s at the start
	_, early := l.Reserve()
	throttleNow(c, l) // the first throttle of an episode: Decrease at once
	want := 100 * Decrease
	if !near(l.Rate(), want) {
		t.Fatalf("first cut to %v, want %v", l.Rate(), want)
	}
	l.Throttled(early) // sent before the cut: answered for the old rate
	if !near(l.Rate(), want) {
		t.Fatalf("a throttle of a send before the cut moved the rate to %v", l.Rate())
	}
	// Within MeasureFor of the episode's start a throttle changes nothing.
	acceptFor(c, l, 2, MeasureFor/4)
	throttleNow(c, l)
	if !near(l.Rate(), want) {
		t.Fatalf("cut to %v before MeasureFor", l.Rate())
	}
	// SES accepted about 79/s since: the rate becomes 95 % of that.
	acceptFor(c, l, 8, MeasureFor)
	throttleNow(c, l)
	el := (MeasureFor/4 + time.Millisecond + MeasureFor + time.Millisecond).Seconds()
	if w := ShareDecrease * 10 / el; !near(l.Rate(), w) {
		t.Fatalf("measured cut to %v, want %v", l.Rate(), w)
	}
	want = l.Rate()
	// SES accepted far less: the cut is bounded by MaxCut.
	acceptFor(c, l, 1, MeasureFor)
	throttleNow(c, l)
	if w := want * MaxCut; !near(l.Rate(), w) {
		t.Fatalf("cut to %v, want at most MaxCut: %v", l.Rate(), w)
	}
	want = l.Rate()
	// SES accepted more than the rate: no cut, no growth.
	acceptFor(c, l, 50, MeasureFor)
	throttleNow(c, l)
	if !near(l.Rate(), want) {
		t.Fatalf("rate moved to %v, want %v", l.Rate(), want)
	}
	// Episodes apart: each starts with Decrease, down to the floor.
	for range 200 {
		c.add(2 * EpisodeQuiet)
		throttleNow(c, l)
	}
	if l.Rate() != MinRate {
		t.Errorf("rate fell to %v, want the floor %v", l.Rate(), MinRate)
	}
}

func TestGrowsFromTheAcceptedRateOnlyWhileUsed(t *testing.T) {
	c := newClock()
	l := New(200, c.now) // 60/s at the start
	throttleNow(c, l)    // 48/s
	acceptFor(c, l, 5, MeasureFor)
	throttleNow(c, l) // SES accepted about 49.5/s: 47/s
	el := (MeasureFor + time.Millisecond).Seconds()
	accepted := 5 / el
	cut := ShareDecrease * accepted
	if !near(l.Rate(), cut) {
		t.Fatalf("cut to %v, want %v", l.Rate(), cut)
	}
	// Idle for a minute: nothing proves more would be accepted.
	c.add(time.Minute)
	_, tk := l.Reserve()
	c.add(50 * time.Millisecond)
	l.Succeeded(tk)
	if !near(l.Rate(), cut) {
		t.Fatalf("grew to %v while idle", l.Rate())
	}
	// Sending at the rate for 10 s: +IncreaseFraction of the accepted rate per second.
	sendFor(c, l, 10*time.Second, 0)
	want := cut + 10*math.Max(MinStep, IncreaseFraction*accepted)
	if r := l.Rate(); math.Abs(r-want) > 0.1 {
		t.Errorf("after 10 s used: %v, want about %v", r, want)
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
	if r, want := l.Rate(), 100*Decrease; math.Abs(r-want) > 5 {
		t.Errorf("first cut to %v, want about %v (Decrease × the 100/s sent)", r, want)
	}
}
