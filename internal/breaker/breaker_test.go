package breaker

import (
	"testing"
	"time"
)

func TestBreaker(t *testing.T) {
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	b := New(func() time.Time { return now })
	for i := 1; i < Threshold; i++ {
		if b.Failure("eu-west-1") {
			t.Fatalf("opened after %d failures", i)
		}
	}
	if g := b.Allow("eu-west-1"); !g.Pass {
		t.Fatal("closed breaker refused")
	}
	if !b.Failure("eu-west-1") {
		t.Fatal("did not open at the threshold")
	}
	if g := b.Allow("eu-west-1"); g.Pass || g.Wait != MinCooldown {
		t.Fatalf("open breaker: %+v", g)
	}
	if g := b.Allow("us-east-1"); !g.Pass {
		t.Fatal("another region is affected")
	}
	now = now.Add(MinCooldown)
	if g := b.Allow("eu-west-1"); !g.Pass {
		t.Fatal("no probe after the cooldown")
	}
	if g := b.Allow("eu-west-1"); g.Pass {
		t.Fatal("a second probe while the first is out")
	}
	b.Failure("eu-west-1") // the probe failed: open twice as long
	if g := b.Allow("eu-west-1"); g.Pass || g.Wait != 2*MinCooldown {
		t.Fatalf("after a failed probe: %+v", g)
	}
	now = now.Add(2 * MinCooldown)
	b.Allow("eu-west-1")
	b.Success("eu-west-1")
	if g := b.Allow("eu-west-1"); !g.Pass || len(b.Open()) != 0 {
		t.Fatal("a successful probe did not close the breaker")
	}
	for i := 0; i < 100; i++ { // cooldown is capped
		b.Failure("ap-southeast-2")
		now = now.Add(MaxCooldown)
		b.Allow("ap-southeast-2")
	}
	b.Failure("ap-southeast-2")
	if g := b.Allow("ap-southeast-2"); g.Wait > MaxCooldown {
		t.Errorf("cooldown %v over the cap", g.Wait)
	}
}

func TestTripPausesOneRegionAtOnce(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	b := New(func() time.Time { return now })
	if !b.Trip("cn-north-1", 30*time.Second, "InvalidClientTokenId", "m") {
		t.Fatal("Trip did not report opening")
	}
	if g := b.Allow("cn-north-1"); g.Pass || g.Wait != 30*time.Second || g.Refusals != 1 || g.Code != "InvalidClientTokenId" {
		t.Fatalf("tripped region: %+v", g)
	}
	if g := b.Allow("us-east-1"); !g.Pass {
		t.Fatal("another region is affected")
	}
	if b.Trip("cn-north-1", 10*time.Second, "InvalidClientTokenId", "m") {
		t.Error("a shorter trip of an open breaker reported opening")
	}
	if g := b.Allow("cn-north-1"); g.Refusals != 1 {
		t.Errorf("a refusal of a send under way when the region paused counted again: %d", g.Refusals)
	}
	if g := b.Allow("cn-north-1"); g.Wait != 30*time.Second {
		t.Errorf("a shorter trip shortened the pause: %v", g.Wait)
	}
	now = now.Add(30 * time.Second)
	if g := b.Allow("cn-north-1"); !g.Pass {
		t.Fatal("no probe after the pause")
	}
	if g := b.Allow("cn-north-1"); g.Pass {
		t.Fatal("a second probe while the first is out")
	}
	if !b.Trip("cn-north-1", time.Minute, "InvalidClientTokenId", "m") {
		t.Error("a refused probe did not reopen")
	}
	if g := b.Allow("cn-north-1"); g.Wait != time.Minute || g.Refusals != 2 {
		t.Errorf("after the refused probe: %+v", g)
	}
	now = now.Add(time.Minute)
	b.Allow("cn-north-1")
	b.Success("cn-north-1")
	if g := b.Allow("cn-north-1"); !g.Pass {
		t.Error("a successful probe did not close it")
	}
}

func TestAbandonedProbe(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	b := New(func() time.Time { return now })
	b.Trip("eu-west-1", 30*time.Second, "ExpiredToken", "m")
	now = now.Add(30 * time.Second)
	if g := b.Allow("eu-west-1"); !g.Pass || !g.Probe {
		t.Fatalf("no probe after the pause: %+v", g)
	}
	if g := b.Allow("eu-west-1"); g.Pass {
		t.Fatal("a second probe while the first is out")
	}
	b.Abandon("eu-west-1")
	if g := b.Allow("eu-west-1"); !g.Pass || !g.Probe {
		t.Errorf("the next caller did not get the abandoned probe: %+v", g)
	}
}

// States follows a region from closed through open and probing back to
// closed, and reading it changes nothing.
func TestStates(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	b := New(func() time.Time { return now })
	want := func(step string, w map[string]State) {
		t.Helper()
		got := b.States()
		if len(got) != len(w) {
			t.Fatalf("%s: states %v, want %v", step, got, w)
		}
		for r, s := range w {
			if got[r] != s {
				t.Fatalf("%s: states %v, want %v", step, got, w)
			}
		}
	}
	want("none seen", map[string]State{})
	b.Allow("us-east-1")
	b.Trip("eu-west-1", 30*time.Second, "ExpiredToken", "m")
	want("tripped", map[string]State{"us-east-1": Closed, "eu-west-1": Open})
	now = now.Add(30 * time.Second)
	want("pause over, no probe yet", map[string]State{"us-east-1": Closed, "eu-west-1": Open})
	if g := b.Allow("eu-west-1"); !g.Probe {
		t.Fatalf("reading the states took the probe: %+v", g)
	}
	want("probing", map[string]State{"us-east-1": Closed, "eu-west-1": Probing})
	b.Success("eu-west-1")
	want("closed again", map[string]State{"us-east-1": Closed, "eu-west-1": Closed})
}
