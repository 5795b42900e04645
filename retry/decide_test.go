package retry_test

import (
	"testing"
	"time"

	"github.com/sesq/sesq/retry"
)

// policy is the defaults: 200 ms..30 s backoff without jitter, 8 attempts,
// 5 s in process, 15 min quota delay.
func policy() retry.Policy {
	return retry.Policy{
		Initial: 200 * time.Millisecond, Max: 30 * time.Second, MaxAttempts: 8, InProcess: 5 * time.Second,
		QuotaDelay: 15 * time.Minute, MaxDeferrals: 96, MaxHolds: 100, MaxThrottleRetries: 50,
	}
}

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestDecide(t *testing.T) {
	p := policy()
	final := &retry.Decision{Action: retry.DeadLetter, Reason: retry.ReasonAuthorization, Code: "AccessDenied", Message: "not authorized"}
	type want struct {
		action           retry.Action
		delay            time.Duration
		attempts         int
		holds, deferrals int
		reason           retry.Reason
		code             string
		claim            retry.ClaimAction
		probe            bool
		word             string
		pause            time.Duration
	}
	cases := []struct {
		name string
		o    retry.Outcome
		s    retry.State
		want want
	}{
		{"sent", retry.Outcome{Class: retry.Sent}, retry.State{Attempts: 2},
			want{action: retry.Delete, attempts: 3, claim: retry.ClaimDone, word: "sent"}},
		{"duplicate", retry.Outcome{Class: retry.Duplicate}, retry.State{Attempts: 1},
			want{action: retry.Delete, attempts: 1, code: retry.CodeDuplicate, claim: retry.ClaimKeep, word: "duplicate"}},

		{"authorization at once", retry.Outcome{Class: retry.Authorization, Code: "AccessDenied"}, retry.State{},
			want{action: retry.DeadLetter, attempts: 1, reason: retry.ReasonAuthorization, code: "AccessDenied", claim: retry.ClaimRelease, word: "authorization"}},
		{"rejected at once", retry.Outcome{Class: retry.Rejected, Code: "MessageRejected"}, retry.State{Attempts: 3},
			want{action: retry.DeadLetter, attempts: 4, reason: retry.ReasonRejected, code: "MessageRejected", claim: retry.ClaimRelease, word: "rejected"}},
		{"invalid, no attempt", retry.Outcome{Class: retry.Invalid, Code: retry.CodeInvalidEnvelope}, retry.State{},
			want{action: retry.DeadLetter, reason: retry.ReasonInvalid, code: retry.CodeInvalidEnvelope, claim: retry.ClaimRelease, word: "invalid"}},
		{"forbidden, no attempt", retry.Outcome{Class: retry.Forbidden, Code: retry.CodeIdentityNotAllowed}, retry.State{Attempts: 2},
			want{action: retry.DeadLetter, attempts: 2, reason: retry.ReasonForbidden, code: retry.CodeIdentityNotAllowed, claim: retry.ClaimRelease, word: "forbidden"}},
		{"expired, no attempt", retry.Outcome{Class: retry.Expired, Code: retry.CodeExpired}, retry.State{},
			want{action: retry.DeadLetter, reason: retry.ReasonExpired, code: retry.CodeExpired, claim: retry.ClaimRelease, word: "expired"}},

		// Transient faults: the in-process delays 0.2..3.2 s, then 6.4 s is
		// handed back, and the 8th attempt is the last.
		{"retry after attempt 1 in process", retry.Outcome{Class: retry.Retry, Code: "ServiceUnavailable"}, retry.State{},
			want{action: retry.Send, delay: 200 * time.Millisecond, attempts: 1, code: "ServiceUnavailable", claim: retry.ClaimKeep, word: "retry"}},
		{"retry after attempt 5 in process", retry.Outcome{Class: retry.Retry, Code: "ServiceUnavailable"}, retry.State{Attempts: 4},
			want{action: retry.Send, delay: 3200 * time.Millisecond, attempts: 5, code: "ServiceUnavailable", claim: retry.ClaimKeep, word: "retry"}},
		{"retry after attempt 6 handed back", retry.Outcome{Class: retry.Retry, Code: "ServiceUnavailable"}, retry.State{Attempts: 5},
			want{action: retry.HandBack, delay: 6400 * time.Millisecond, attempts: 6, code: "ServiceUnavailable", claim: retry.ClaimRelease, word: "retry"}},
		{"retry after attempt 7 handed back", retry.Outcome{Class: retry.Retry, Code: "ServiceUnavailable"}, retry.State{Attempts: 6},
			want{action: retry.HandBack, delay: 12800 * time.Millisecond, attempts: 7, code: "ServiceUnavailable", claim: retry.ClaimRelease, word: "retry"}},
		{"attempt 8 failed: exhausted", retry.Outcome{Class: retry.Retry, Code: "ServiceUnavailable"}, retry.State{Attempts: 7},
			want{action: retry.DeadLetter, attempts: 8, reason: retry.ReasonExhausted, code: "ServiceUnavailable", claim: retry.ClaimRelease, word: "exhausted"}},
		{"uncertain result lapses the claim on a hand-back", retry.Outcome{Class: retry.Retry, Code: retry.CodeTimeout, Uncertain: true}, retry.State{Attempts: 5},
			want{action: retry.HandBack, delay: 6400 * time.Millisecond, attempts: 6, code: retry.CodeTimeout, claim: retry.ClaimLapse, word: "retry"}},
		{"uncertain result keeps the claim in process", retry.Outcome{Class: retry.Retry, Code: retry.CodeTimeout, Uncertain: true}, retry.State{},
			want{action: retry.Send, delay: 200 * time.Millisecond, attempts: 1, code: retry.CodeTimeout, claim: retry.ClaimKeep, word: "retry"}},
		{"stopping: no in-process wait", retry.Outcome{Class: retry.Retry, Code: "ServiceUnavailable"}, retry.State{Attempts: 1, Stopping: true},
			want{action: retry.HandBack, delay: 400 * time.Millisecond, attempts: 2, code: "ServiceUnavailable", claim: retry.ClaimRelease, word: "retry"}},
		{"notAfter before the next attempt", retry.Outcome{Class: retry.Retry, Code: "ServiceUnavailable"}, retry.State{Attempts: 5, Now: t0, NotAfter: t0.Add(6 * time.Second)},
			want{action: retry.DeadLetter, attempts: 6, reason: retry.ReasonExpired, code: "ServiceUnavailable", claim: retry.ClaimRelease, word: "expired"}},
		{"notAfter after the next attempt", retry.Outcome{Class: retry.Retry, Code: "ServiceUnavailable"}, retry.State{Attempts: 5, Now: t0, NotAfter: t0.Add(7 * time.Second)},
			want{action: retry.HandBack, delay: 6400 * time.Millisecond, attempts: 6, code: "ServiceUnavailable", claim: retry.ClaimRelease, word: "retry"}},

		// Rate throttling: 50 free retries a delivery, then it counts.
		{"throttled: free retry", retry.Outcome{Class: retry.Throttled, Code: retry.CodeThrottling}, retry.State{Attempts: 2, Throttles: 49},
			want{action: retry.Send, attempts: 2, code: retry.CodeThrottling, claim: retry.ClaimKeep, word: "retry"}},
		{"throttled past the free retries counts", retry.Outcome{Class: retry.Throttled, Code: retry.CodeThrottling}, retry.State{Attempts: 2, Throttles: 50},
			want{action: retry.Send, delay: 800 * time.Millisecond, attempts: 3, code: retry.CodeThrottling, claim: retry.ClaimKeep, word: "retry"}},
		{"throttled on the last attempt", retry.Outcome{Class: retry.Throttled, Code: retry.CodeThrottling}, retry.State{Attempts: 7, Throttles: 50},
			want{action: retry.DeadLetter, attempts: 8, reason: retry.ReasonExhausted, code: retry.CodeThrottling, claim: retry.ClaimRelease, word: "exhausted"}},
		{"throttled while stopping", retry.Outcome{Class: retry.Throttled, Code: retry.CodeThrottling}, retry.State{Attempts: 0, Stopping: true},
			want{action: retry.HandBack, delay: 200 * time.Millisecond, attempts: 1, code: retry.CodeThrottling, claim: retry.ClaimRelease, word: "retry"}},

		// Credentials refused: the region pauses 30 s, doubling with each
		// refusal in a row to 15 min; the 8th refusal in a row (or the
		// envelope's 8th attempt) dead-letters as unavailable, and then
		// the region's envelopes go there unsent until a probe passes.
		{"unavailable first", retry.Outcome{Class: retry.Unavailable, Code: "InvalidClientTokenId"}, retry.State{},
			want{action: retry.HandBack, delay: 30 * time.Second, pause: 30 * time.Second, attempts: 1, code: "InvalidClientTokenId", claim: retry.ClaimRelease, word: "retry"}},
		{"unavailable, fifth refusal in a row", retry.Outcome{Class: retry.Unavailable, Code: "InvalidClientTokenId"}, retry.State{Refusals: 4},
			want{action: retry.HandBack, delay: 8 * time.Minute, pause: 8 * time.Minute, attempts: 1, code: "InvalidClientTokenId", claim: retry.ClaimRelease, word: "retry"}},
		{"unavailable, seventh refusal: capped", retry.Outcome{Class: retry.Unavailable, Code: "InvalidClientTokenId"}, retry.State{Attempts: 2, Refusals: 6},
			want{action: retry.HandBack, delay: 15 * time.Minute, pause: 15 * time.Minute, attempts: 3, code: "InvalidClientTokenId", claim: retry.ClaimRelease, word: "retry"}},
		{"unavailable, eighth refusal in a row", retry.Outcome{Class: retry.Unavailable, Code: "InvalidClientTokenId"}, retry.State{Refusals: 7},
			want{action: retry.DeadLetter, pause: 15 * time.Minute, attempts: 1, reason: retry.ReasonUnavailable, code: "InvalidClientTokenId", claim: retry.ClaimRelease, word: "unavailable"}},
		{"unavailable on the envelope's last attempt", retry.Outcome{Class: retry.Unavailable, Code: "SMTP535"}, retry.State{Attempts: 7},
			want{action: retry.DeadLetter, pause: 30 * time.Second, attempts: 8, reason: retry.ReasonUnavailable, code: "SMTP535", claim: retry.ClaimRelease, word: "unavailable"}},
		{"held for refusals", retry.Outcome{Class: retry.Held, Code: "InvalidClientTokenId"}, retry.State{Attempts: 1, Refusals: 7, Wait: 10 * time.Minute},
			want{action: retry.HandBack, delay: 10 * time.Minute, attempts: 1, holds: 1, code: "InvalidClientTokenId", claim: retry.ClaimRelease, word: "held"}},
		{"held after 8 refusals in a row: dead-lettered unsent", retry.Outcome{Class: retry.Held, Code: "InvalidClientTokenId"}, retry.State{Attempts: 1, Refusals: 8, Wait: 10 * time.Minute},
			want{action: retry.DeadLetter, attempts: 1, reason: retry.ReasonUnavailable, code: "InvalidClientTokenId", claim: retry.ClaimRelease, word: "unavailable"}},

		{"a certain failure after an uncertain one lapses the claim", retry.Outcome{Class: retry.Retry, Code: "ServiceUnavailable"}, retry.State{Attempts: 5, MaybeSent: true},
			want{action: retry.HandBack, delay: 6400 * time.Millisecond, attempts: 6, code: "ServiceUnavailable", claim: retry.ClaimLapse, word: "retry"}},

		// Quota: deferred without an attempt, 96 times at most.
		{"quota deferred", retry.Outcome{Class: retry.Quota, Code: retry.CodeThrottling}, retry.State{Attempts: 3, Deferrals: 95, Now: t0},
			want{action: retry.Defer, delay: 15 * time.Minute, attempts: 3, deferrals: 96, code: retry.CodeThrottling, claim: retry.ClaimRelease, word: "deferred"}},
		{"quota deferrals used up", retry.Outcome{Class: retry.Quota, Code: "AccountSendingPausedException"}, retry.State{Attempts: 3, Deferrals: 96, Now: t0},
			want{action: retry.DeadLetter, attempts: 3, deferrals: 96, reason: retry.ReasonQuota, code: "AccountSendingPausedException", claim: retry.ClaimRelease, word: "quota"}},
		{"quota with notAfter inside the deferral", retry.Outcome{Class: retry.Quota, Code: retry.CodeThrottling}, retry.State{Now: t0, NotAfter: t0.Add(15 * time.Minute)},
			want{action: retry.DeadLetter, reason: retry.ReasonExpired, code: retry.CodeThrottling, claim: retry.ClaimRelease, word: "expired"}},

		// Holds: a paused region hands back without an attempt, 100 times at
		// most; then the message goes through as a probe.
		{"held", retry.Outcome{Class: retry.Held, Code: retry.CodeRegionPaused}, retry.State{Attempts: 2, Holds: 99, Wait: 40 * time.Second},
			want{action: retry.HandBack, delay: 40 * time.Second, attempts: 2, holds: 100, code: retry.CodeRegionPaused, claim: retry.ClaimRelease, word: "held"}},
		{"held at least a second", retry.Outcome{Class: retry.Held, Code: retry.CodeRegionPaused}, retry.State{Wait: time.Millisecond},
			want{action: retry.HandBack, delay: time.Second, holds: 1, code: retry.CodeRegionPaused, claim: retry.ClaimRelease, word: "held"}},
		{"holds used up: probe", retry.Outcome{Class: retry.Held, Code: retry.CodeRegionPaused}, retry.State{Attempts: 2, Holds: 100, Wait: 40 * time.Second},
			want{action: retry.Send, attempts: 2, holds: 100, code: retry.CodeRegionPaused, claim: retry.ClaimKeep, probe: true, word: "retry"}},
		{"in progress elsewhere", retry.Outcome{Class: retry.InProgress, Code: retry.CodeInProgress}, retry.State{Attempts: 1, Wait: 20 * time.Second},
			want{action: retry.HandBack, delay: 20 * time.Second, attempts: 1, code: retry.CodeInProgress, claim: retry.ClaimKeep, word: "held"}},
		{"held past notAfter", retry.Outcome{Class: retry.Held, Code: retry.CodeRegionPaused}, retry.State{Now: t0, Wait: time.Minute, NotAfter: t0.Add(time.Minute)},
			want{action: retry.DeadLetter, reason: retry.ReasonExpired, code: retry.CodeRegionPaused, claim: retry.ClaimRelease, word: "expired"}},
		{"in progress past notAfter", retry.Outcome{Class: retry.InProgress, Code: retry.CodeInProgress}, retry.State{Now: t0, Wait: 10 * time.Second, NotAfter: t0.Add(5 * time.Second)},
			want{action: retry.DeadLetter, reason: retry.ReasonExpired, code: retry.CodeInProgress, claim: retry.ClaimKeep, word: "expired"}},
		{"in progress elsewhere for long", retry.Outcome{Class: retry.InProgress, Code: retry.CodeInProgress}, retry.State{Wait: time.Minute},
			want{action: retry.HandBack, delay: 30 * time.Second, code: retry.CodeInProgress, claim: retry.ClaimKeep, word: "held"}},
		{"deferral not due", retry.Outcome{Class: retry.NotDue, Code: retry.CodeNotDue}, retry.State{Deferrals: 2, Now: t0, Wait: 20 * time.Minute},
			want{action: retry.HandBack, delay: 15 * time.Minute, deferrals: 2, code: retry.CodeNotDue, claim: retry.ClaimRelease, word: "held"}},
		{"deferral not due past notAfter", retry.Outcome{Class: retry.NotDue, Code: retry.CodeNotDue}, retry.State{Now: t0, Wait: 20 * time.Minute, NotAfter: t0.Add(10 * time.Minute)},
			want{action: retry.DeadLetter, reason: retry.ReasonExpired, code: retry.CodeNotDue, claim: retry.ClaimRelease, word: "expired"}},

		// Earlier deliveries that ended without an outcome.
		{"unfinished with attempts left", retry.Outcome{Class: retry.Unfinished, Code: retry.CodeUnfinished}, retry.State{Attempts: 7},
			want{action: retry.Send, attempts: 7, code: retry.CodeUnfinished, claim: retry.ClaimKeep, word: "retry"}},
		{"unfinished without attempts left", retry.Outcome{Class: retry.Unfinished, Code: retry.CodeUnfinished}, retry.State{Attempts: 8},
			want{action: retry.DeadLetter, attempts: 8, reason: retry.ReasonExhausted, code: retry.CodeUnfinished, claim: retry.ClaimRelease, word: "exhausted"}},
		{"stopping before the send", retry.Outcome{Class: retry.Stopping, Code: retry.CodeShutdown}, retry.State{Attempts: 3, Holds: 1, Deferrals: 1},
			want{action: retry.HandBack, attempts: 3, holds: 1, deferrals: 1, code: retry.CodeShutdown, claim: retry.ClaimRelease, word: "retry"}},

		// A dead-letter decision whose write failed keeps its reason.
		{"dead-letter write failed", retry.Outcome{Class: retry.DeadLetterFailed, Code: retry.CodeDeadLetterFailed}, retry.State{Attempts: 1, Final: final},
			want{action: retry.HandBack, delay: 30 * time.Second, attempts: 1, reason: retry.ReasonAuthorization, code: "AccessDenied", claim: retry.ClaimRelease, word: "retry"}},
		{"final outcome written next time", retry.Outcome{Class: retry.Final}, retry.State{Attempts: 1, Final: final},
			want{action: retry.DeadLetter, attempts: 1, reason: retry.ReasonAuthorization, code: "AccessDenied", claim: retry.ClaimRelease, word: "authorization"}},
	}
	for _, c := range cases {
		got := p.Decide(c.o, c.s)
		w := c.want
		if got.Action != w.action || got.Delay != w.delay || got.Attempts != w.attempts || got.Holds != w.holds || got.Deferrals != w.deferrals ||
			got.Reason != w.reason || got.Code != w.code || got.Claim != w.claim || got.Probe != w.probe || got.Word() != w.word || got.Pause != w.pause {
			t.Errorf("%s:\n got %s delay %v attempts %d holds %d deferrals %d reason %q code %q claim %d probe %v word %q pause %v\nwant %s delay %v attempts %d holds %d deferrals %d reason %q code %q claim %d probe %v word %q pause %v",
				c.name, got.Action, got.Delay, got.Attempts, got.Holds, got.Deferrals, got.Reason, got.Code, got.Claim, got.Probe, got.Word(), got.Pause,
				w.action, w.delay, w.attempts, w.holds, w.deferrals, w.reason, w.code, w.claim, w.probe, w.word, w.pause)
		}
	}
}

// Every class has a rule, at every attempt count: a class added without
// one fails here.
func TestDecideCoversEveryClass(t *testing.T) {
	p := policy()
	final := &retry.Decision{Action: retry.DeadLetter, Reason: retry.ReasonRejected, Code: "MessageRejected"}
	for _, c := range retry.Classes() {
		if c.String() == "unknown" {
			t.Errorf("class %d has no name", c)
		}
		for a := 0; a <= p.MaxAttempts+1; a++ {
			d := p.Decide(retry.Outcome{Class: c, Code: "X", Message: "m"}, retry.State{Attempts: a, Now: t0, Final: final})
			if d.Code == retry.CodeNoRule {
				t.Errorf("class %s, %d attempts: no rule", c, a)
			}
			if d.Action == retry.DeadLetter && d.Reason == "" {
				t.Errorf("class %s, %d attempts: dead-lettered without a reason", c, a)
			}
			// Only a send that failed past the last attempt is exhausted.
			if d.Reason == retry.ReasonExhausted && d.Attempts < p.MaxAttempts {
				t.Errorf("class %s: exhausted after %d attempts", c, d.Attempts)
			}
			if d.Attempts < a || d.Attempts > a+1 {
				t.Errorf("class %s: attempts %d -> %d", c, a, d.Attempts)
			}
		}
	}
	if d := p.Decide(retry.Outcome{Class: retry.Classes()[len(retry.Classes())-1] + 1}, retry.State{}); d.Code != retry.CodeNoRule || d.Action != retry.HandBack {
		t.Errorf("a class without a rule: %s %q, want a hand-back marked %s", d.Action, d.Code, retry.CodeNoRule)
	}
}

// Nothing cycles forever: whatever keeps happening to an envelope, its
// counts reach a bound and it is dead-lettered or sent.
func TestEveryCycleIsBounded(t *testing.T) {
	p := policy()
	for _, c := range []retry.Class{retry.Retry, retry.Throttled, retry.Unavailable, retry.Quota, retry.Held, retry.Unfinished} {
		s := retry.State{Now: t0, Wait: time.Minute}
		deliveries := 0
		for ; deliveries < 1000; deliveries++ {
			d := p.Decide(retry.Outcome{Class: c}, s)
			if d.Action == retry.DeadLetter {
				break
			}
			if c == retry.Held && d.Action == retry.Send {
				break // a probe: an attempt, bounded by the Retry case
			}
			s.Attempts, s.Holds, s.Deferrals = d.Attempts, d.Holds, d.Deferrals
			if c == retry.Throttled {
				s.Throttles++
			}
			if c == retry.Unfinished {
				s.Attempts++ // each unfinished delivery is charged one
			}
			if c == retry.Unavailable {
				s.Refusals++
			}
		}
		if deliveries >= 1000 {
			t.Errorf("%s: no end after 1000 outcomes", c)
		}
		t.Logf("%s: ends after %d outcomes", c, deliveries+1)
	}
}

func TestPause(t *testing.T) {
	p := policy()
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute, 15 * time.Minute}
	var total time.Duration
	for i, w := range want {
		if got := p.Pause(i + 1); got != w {
			t.Errorf("Pause(%d) = %v, want %v", i+1, got, w)
		}
		if i < 7 {
			total += w
		}
	}
	if total != 2730*time.Second {
		t.Errorf("pauses before the 8th attempt: %v", total)
	}
}
