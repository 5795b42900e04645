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
	if ok, _ := b.Allow("eu-west-1"); !ok {
		t.Fatal("closed breaker refused")
	}
	if !b.Failure("eu-west-1") {
		t.Fatal("did not open at the threshold")
	}
	if ok, wait := b.Allow("eu-west-1"); ok || wait != MinCooldown {
		t.Fatalf("open breaker: ok %v, wait %v", ok, wait)
	}
	if ok, _ := b.Allow("us-east-1"); !ok {
		t.Fatal("another region is affected")
	}
	now = now.Add(MinCooldown)
	if ok, _ := b.Allow("eu-west-1"); !ok {
		t.Fatal("no probe after the cooldown")
	}
	if ok, _ := b.Allow("eu-west-1"); ok {
		t.Fatal("a second probe while the first is out")
	}
	b.Failure("eu-west-1") // the probe failed: open twice as long
	if ok, wait := b.Allow("eu-west-1"); ok || wait != 2*MinCooldown {
		t.Fatalf("after a failed probe: ok %v, wait %v", ok, wait)
	}
	now = now.Add(2 * MinCooldown)
	b.Allow("eu-west-1")
	b.Success("eu-west-1")
	if ok, _ := b.Allow("eu-west-1"); !ok || len(b.Open()) != 0 {
		t.Fatal("a successful probe did not close the breaker")
	}
	for i := 0; i < 100; i++ { // cooldown is capped
		b.Failure("ap-southeast-2")
		now = now.Add(MaxCooldown)
		b.Allow("ap-southeast-2")
	}
	b.Failure("ap-southeast-2")
	if _, wait := b.Allow("ap-southeast-2"); wait > MaxCooldown {
		t.Errorf("cooldown %v over the cap", wait)
	}
}
