package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sesq/sesq/idempotency"
)

// store is what both stores implement; the worker declares its own.
type store interface {
	Claim(ctx context.Context, key, owner string, ttl time.Duration) (idempotency.Claim, error)
	Renew(ctx context.Context, key, owner string, ttl time.Duration) error
	Done(ctx context.Context, key, owner string) error
	Release(ctx context.Context, key, owner string) error
}

var (
	_ store = (*idempotency.Memory)(nil)
	_ store = (*idempotency.DynamoDB)(nil)
)

// t0 is a whole second, so that the DynamoDB store's rounding to seconds
// does not show in the shared table.
var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

const (
	claimTTL = 30 * time.Second
	sentTTL  = time.Hour
)

// clock is a fake clock the test moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// at sets the clock to t0+d.
func (c *clock) at(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t0.Add(d)
}

// newStore returns an empty store (or one where no test used the keys it
// is given) with sentTTL, on the clock c.
type newStore func(t *testing.T, c *clock) store

// given is the state of the key when "A" calls, and when it calls.
type given int

const (
	unknown     given = iota // nothing, at t0+29s
	ownLive                  // A claimed at t0 for 30s; at t0+29s
	ownLapsed                // A claimed at t0 for 30s; at t0+30s
	otherLive                // B claimed at t0 for 30s; at t0+29s
	otherLapsed              // B claimed at t0 for 30s; at t0+30s
	sent                     // B claimed and Done at t0; at t0+29s
	sentExpired              // B claimed and Done at t0; at t0+1h
)

func (g given) String() string {
	return [...]string{"unknown key", "own live claim", "own lapsed claim", "other's live claim",
		"other's lapsed claim", "sent", "sent expired"}[g]
}

// when is the time, after t0, at which A calls.
func (g given) when() time.Duration {
	switch g {
	case ownLapsed, otherLapsed:
		return claimTTL
	case sentExpired:
		return sentTTL
	}
	return claimTTL - time.Second
}

func (g given) setup(t *testing.T, ctx context.Context, s store, c *clock, key string) {
	t.Helper()
	c.at(0)
	owner := "B"
	if g == ownLive || g == ownLapsed {
		owner = "A"
	}
	if g == unknown {
		return
	}
	if cl, err := s.Claim(ctx, key, owner, claimTTL); err != nil || cl.State != idempotency.New {
		t.Fatalf("setup: Claim(%s) = %+v, %v", owner, cl, err)
	}
	if g == sent || g == sentExpired {
		if err := s.Done(ctx, key, owner); err != nil {
			t.Fatalf("setup: Done(%s) = %v", owner, err)
		}
	}
}

// after is the state of the key after A's call.
type after struct {
	free   bool          // anyone may claim it
	holder string        // or this owner holds it, until
	sent   bool          // or it is sent, until
	until  time.Duration // after t0
}

var (
	free      = after{free: true}
	claimNew  = idempotency.Claim{State: idempotency.New}
	claimSent = idempotency.Claim{State: idempotency.Sent}
)

func heldBy(owner string, until time.Duration) after { return after{holder: owner, until: until} }

func sentUntil(until time.Duration) after { return after{sent: true, until: until} }

func inProgressUntil(until time.Duration) idempotency.Claim {
	return idempotency.Claim{State: idempotency.InProgress, Expires: t0.Add(until)}
}

// check proves the state a: by what a third owner C is told, and for a
// claim by the holder's Release.
func (a after) check(t *testing.T, ctx context.Context, s store, c *clock, key string, now time.Duration) {
	t.Helper()
	switch {
	case a.free:
		c.at(now)
		wantClaim(t, s, ctx, key, "C", claimNew)
	case a.sent:
		c.at(a.until - time.Nanosecond)
		wantClaim(t, s, ctx, key, "C", claimSent)
		c.at(a.until)
		wantClaim(t, s, ctx, key, "C", claimNew)
	default:
		c.at(a.until - time.Second)
		wantClaim(t, s, ctx, key, "C", inProgressUntil(a.until))
		if err := s.Release(ctx, key, a.holder); err != nil {
			t.Fatalf("Release by the holder %s = %v", a.holder, err)
		}
		wantClaim(t, s, ctx, key, "C", claimNew)
	}
}

func wantClaim(t *testing.T, s store, ctx context.Context, key, owner string, want idempotency.Claim) {
	t.Helper()
	got, err := s.Claim(ctx, key, owner, claimTTL)
	if err != nil || !sameClaim(got, want) {
		t.Fatalf("Claim(%s) = %+v, %v; want %+v", owner, got, err, want)
	}
}

func sameClaim(a, b idempotency.Claim) bool { return a.State == b.State && a.Expires.Equal(b.Expires) }

// testSemantics runs every method on a key in every state, as caller "A",
// and checks the answer and the state it leaves.
func testSemantics(t *testing.T, newStore newStore) {
	type row struct {
		given given
		claim idempotency.Claim // Claim's answer
		err   error             // the others' (nil or ErrNotOwner)
		after after
	}
	notOwner := idempotency.ErrNotOwner
	// Times are after t0; A's call comes at given.when(): 29s, or 30s
	// (lapsed), or 1h (sent expired). A lapsed claim and an expired sent
	// record answer as an unknown key does, in every method.
	methods := []struct {
		name string
		call func(context.Context, store, string) (idempotency.Claim, error)
		rows []row
	}{
		{"Claim", func(ctx context.Context, s store, k string) (idempotency.Claim, error) {
			return s.Claim(ctx, k, "A", claimTTL)
		}, []row{
			{given: unknown, claim: claimNew, after: heldBy("A", 59*time.Second)},
			{given: ownLive, claim: claimNew, after: heldBy("A", 59*time.Second)}, // moved from 30s
			{given: ownLapsed, claim: claimNew, after: heldBy("A", 60*time.Second)},
			{given: otherLive, claim: inProgressUntil(30 * time.Second), after: heldBy("B", 30*time.Second)},
			{given: otherLapsed, claim: claimNew, after: heldBy("A", 60*time.Second)},
			{given: sent, claim: claimSent, after: sentUntil(sentTTL)},
			{given: sentExpired, claim: claimNew, after: heldBy("A", sentTTL+30*time.Second)},
		}},
		{"Renew", func(ctx context.Context, s store, k string) (idempotency.Claim, error) {
			return idempotency.Claim{}, s.Renew(ctx, k, "A", claimTTL)
		}, []row{
			{given: unknown, err: notOwner, after: free},
			{given: ownLive, after: heldBy("A", 59*time.Second)},
			{given: ownLapsed, err: notOwner, after: free},
			{given: otherLive, err: notOwner, after: heldBy("B", 30*time.Second)},
			{given: otherLapsed, err: notOwner, after: free},
			{given: sent, err: notOwner, after: sentUntil(sentTTL)},
			{given: sentExpired, err: notOwner, after: free},
		}},
		{"Done", func(ctx context.Context, s store, k string) (idempotency.Claim, error) {
			return idempotency.Claim{}, s.Done(ctx, k, "A")
		}, []row{
			{given: unknown, after: sentUntil(sentTTL + 29*time.Second)},
			{given: ownLive, after: sentUntil(sentTTL + 29*time.Second)},
			{given: ownLapsed, after: sentUntil(sentTTL + 30*time.Second)},
			{given: otherLive, err: notOwner, after: heldBy("B", 30*time.Second)},
			{given: otherLapsed, after: sentUntil(sentTTL + 30*time.Second)},
			{given: sent, after: sentUntil(sentTTL + 29*time.Second)}, // the later expiry
			{given: sentExpired, after: sentUntil(2 * sentTTL)},
		}},
		{"Release", func(ctx context.Context, s store, k string) (idempotency.Claim, error) {
			return idempotency.Claim{}, s.Release(ctx, k, "A")
		}, []row{
			{given: unknown, err: notOwner, after: free},
			{given: ownLive, after: free},
			{given: ownLapsed, err: notOwner, after: free},
			{given: otherLive, err: notOwner, after: heldBy("B", 30*time.Second)},
			{given: otherLapsed, err: notOwner, after: free},
			{given: sent, err: notOwner, after: sentUntil(sentTTL)},
			{given: sentExpired, err: notOwner, after: free},
		}},
	}
	for _, m := range methods {
		if len(m.rows) != int(sentExpired)+1 {
			t.Fatalf("%s has %d rows, want one for each given", m.name, len(m.rows))
		}
		for i, r := range m.rows {
			if r.given != given(i) {
				t.Fatalf("%s row %d is %v, want the givens in order", m.name, i, r.given)
			}
			t.Run(m.name+"/"+r.given.String(), func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				c := &clock{t: t0}
				s := newStore(t, c)
				key := fmt.Sprintf("%s-%d", m.name, i)
				r.given.setup(t, ctx, s, c, key)
				c.at(r.given.when())
				got, err := m.call(ctx, s, key)
				if !errors.Is(err, r.err) {
					t.Fatalf("%s = %v, want %v", m.name, err, r.err)
				}
				if !sameClaim(got, r.claim) {
					t.Fatalf("%s = %+v, want %+v", m.name, got, r.claim)
				}
				r.after.check(t, ctx, s, c, key, r.given.when())
			})
		}
	}
}

// testLapsedClaimRetaken: A's claim lapses, B takes the key; A's later
// calls are refused and leave B's claim as it was.
func testLapsedClaimRetaken(t *testing.T, newStore newStore) {
	ctx := context.Background()
	c := &clock{t: t0}
	s := newStore(t, c)
	k := t.Name() // the DynamoDB tests share a table
	wantClaim(t, s, ctx, k, "A", claimNew)
	c.at(claimTTL)
	wantClaim(t, s, ctx, k, "B", claimNew)
	c.at(claimTTL + 5*time.Second)
	for name, err := range map[string]error{
		"Renew":   s.Renew(ctx, k, "A", claimTTL),
		"Release": s.Release(ctx, k, "A"),
		"Done":    s.Done(ctx, k, "A"),
	} {
		if !errors.Is(err, idempotency.ErrNotOwner) {
			t.Errorf("%s by the old owner = %v, want ErrNotOwner", name, err)
		}
	}
	wantClaim(t, s, ctx, k, "A", inProgressUntil(2*claimTTL))
	if err := s.Done(ctx, k, "B"); err != nil {
		t.Fatalf("Done by the new owner = %v", err)
	}
	wantClaim(t, s, ctx, k, "A", claimSent)
}

// testRenewKeepsClaim: renewing before each lapse keeps the key past
// many ttls.
func testRenewKeepsClaim(t *testing.T, newStore newStore) {
	ctx := context.Background()
	c := &clock{t: t0}
	s := newStore(t, c)
	k := t.Name() // the DynamoDB tests share a table
	wantClaim(t, s, ctx, k, "A", claimNew)
	for i := 1; i <= 5; i++ {
		c.at(time.Duration(i) * (claimTTL - time.Second))
		if err := s.Renew(ctx, k, "A", claimTTL); err != nil {
			t.Fatalf("Renew %d = %v", i, err)
		}
	}
	// Last renewed at 5×29s = 145s, to 175s.
	c.at(174 * time.Second)
	wantClaim(t, s, ctx, k, "B", inProgressUntil(175*time.Second))
	c.at(175 * time.Second)
	wantClaim(t, s, ctx, k, "B", claimNew)
}

// testOneClaimWins: owners claiming one key at once; exactly one is told
// New, the others InProgress.
func testOneClaimWins(t *testing.T, s store, owners int) {
	var (
		wg                    sync.WaitGroup
		mu                    sync.Mutex
		news, inProgress, bad int
	)
	for i := range owners {
		wg.Go(func() {
			cl, err := s.Claim(context.Background(), t.Name(), fmt.Sprintf("owner-%d", i), time.Minute)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Errorf("owner %d: %v", i, err)
				bad++
			case cl.State == idempotency.New:
				news++
			case cl.State == idempotency.InProgress:
				inProgress++
			default:
				t.Errorf("owner %d: %+v", i, cl)
			}
		})
	}
	wg.Wait()
	if news != 1 || inProgress != owners-1 {
		t.Errorf("%d New and %d InProgress of %d owners, want 1 and %d", news, inProgress, owners, owners-1)
	}
}

// testBadCalls: an empty key or owner, or a ttl that is not positive, is
// an error, not a claim.
func testBadCalls(t *testing.T, s store) {
	ctx := context.Background()
	errs := map[string]error{}
	_, errs["Claim empty key"] = s.Claim(ctx, "", "A", claimTTL)
	_, errs["Claim empty owner"] = s.Claim(ctx, "k", "", claimTTL)
	_, errs["Claim zero ttl"] = s.Claim(ctx, "k", "A", 0)
	_, errs["Claim negative ttl"] = s.Claim(ctx, "k", "A", -time.Second)
	errs["Renew zero ttl"] = s.Renew(ctx, "k", "A", 0)
	errs["Renew empty owner"] = s.Renew(ctx, "k", "", claimTTL)
	errs["Done empty owner"] = s.Done(ctx, "k", "")
	errs["Release empty key"] = s.Release(ctx, "", "A")
	for name, err := range errs {
		if err == nil || errors.Is(err, idempotency.ErrNotOwner) {
			t.Errorf("%s: %v, want an error that is not ErrNotOwner", name, err)
		}
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[idempotency.State]string{
		idempotency.New: "new", idempotency.InProgress: "in-progress", idempotency.Sent: "sent", 7: "State(7)",
	} {
		if got := s.String(); got != want {
			t.Errorf("State(%d).String() = %q, want %q", int(s), got, want)
		}
	}
}
