package retry

import (
	"fmt"
	"time"
)

// Action is what the worker does with a message.
type Action int

const (
	// Delete: sent (or sent before): delete it from the queue.
	Delete Action = iota
	// Send: send it (again) after Delay, waited in the worker while the
	// message is kept invisible.
	Send
	// HandBack: put it back on the queue with its exact ledger, visible
	// again after Delay.
	HandBack
	// Defer: put it back for a quota deferral (counted), visible again
	// after Delay.
	Defer
	// DeadLetter: write it to the dead-letter queue with Reason, then
	// delete it.
	DeadLetter
)

var actionNames = [...]string{Delete: "delete", Send: "send", HandBack: "hand-back", Defer: "defer", DeadLetter: "dead-letter"}

func (a Action) String() string {
	if a < 0 || int(a) >= len(actionNames) {
		return "unknown"
	}
	return actionNames[a]
}

// ClaimAction is what becomes of the envelope id's idempotency claim.
type ClaimAction int

const (
	// ClaimKeep: the delivery goes on holding the claim (it sends again).
	ClaimKeep ClaimAction = iota
	// ClaimDone: SES accepted the envelope; the key is recorded as sent.
	ClaimDone
	// ClaimRelease: nothing was sent; the key is free for the next delivery.
	ClaimRelease
	// ClaimLapse: the send's result is unknown (SES may have accepted it):
	// the claim is left to lapse, so no other delivery sends it again
	// before then.
	ClaimLapse
)

// State is what is known of a message when an outcome arrives.
type State struct {
	// Attempts is the send calls made for the envelope over all its
	// deliveries before this outcome (an unfinished delivery counts one).
	Attempts int
	// Throttles is the rate-throttled sends of this delivery so far.
	Throttles int
	// Holds is the hand-backs of the envelope for a paused region so far.
	Holds int
	// Refusals is how many times in a row the worker's credentials were
	// refused in the envelope's region (for Held and Unavailable).
	Refusals int
	// Deferrals is the quota deferrals of the envelope so far.
	Deferrals int
	Now       time.Time
	// NotAfter is the envelope's notAfter (zero: none).
	NotAfter time.Time
	// Wait is, for Held and InProgress, how long until the region's pause
	// or the other claim ends; for NotDue, until the deferral is due.
	Wait time.Duration
	// Stopping: the worker is draining; nothing waits in process.
	Stopping bool
	// MaybeSent: an earlier send of this delivery may have been accepted
	// (its result is unknown), so its claim must lapse, not be released.
	MaybeSent bool
	// Final is the dead-letter decision an earlier delivery could not
	// write (Class Final, DeadLetterFailed).
	Final *Decision
}

// Decision is what happens next, and the counts that go with it.
type Decision struct {
	// Class is the outcome's that led here.
	Class  Class
	Action Action
	Delay  time.Duration
	// Attempts, Holds and Deferrals are the envelope's counts after this
	// outcome: what the worker records on the message.
	Attempts, Holds, Deferrals int
	// Reason, Code and Message say why, for DeadLetter (Reason) and logs.
	Reason  Reason
	Code    string
	Message string
	Claim   ClaimAction
	// Probe: the message goes to its region although it is paused.
	Probe bool
	// Pause is how long the envelope's region is to be paused: the
	// worker's credentials were refused there.
	Pause time.Duration
}

// Word is the outcome word of logs and the sesq_messages_total metric:
// sent, duplicate, retry, deferred, held, or the dead-letter reason.
func (d Decision) Word() string {
	switch d.Action {
	case Delete:
		if d.Code == CodeDuplicate {
			return "duplicate"
		}
		return "sent"
	case Send:
		return "retry"
	case Defer:
		return "deferred"
	case DeadLetter:
		return string(d.Reason)
	}
	if d.Class == Held || d.Class == InProgress || d.Class == NotDue {
		return "held"
	}
	return "retry"
}

// Decide is the decision table: what follows outcome o of a message in
// state s. It is pure: the same arguments give the same decision (the
// jitter comes from p.Rand).
func (p Policy) Decide(o Outcome, s State) Decision {
	d := p.decide(o, s)
	if d.Claim == ClaimRelease && (o.Uncertain || s.MaybeSent) {
		// SES may have accepted a send of this delivery: no other delivery
		// may send it before the claim lapses.
		d.Claim = ClaimLapse
	}
	return d
}

func (p Policy) decide(o Outcome, s State) Decision {
	d := Decision{Class: o.Class, Attempts: s.Attempts, Holds: s.Holds, Deferrals: s.Deferrals, Code: o.Code, Message: o.Message, Claim: ClaimRelease}
	deadLetter := func(r Reason) Decision {
		d.Action, d.Reason, d.Delay = DeadLetter, r, 0
		return d
	}
	expiresBy := func(t time.Time) bool { return !s.NotAfter.IsZero() && !t.Before(s.NotAfter) }
	switch o.Class {
	case Sent:
		d.Attempts++
		d.Action, d.Claim = Delete, ClaimDone
		return d
	case Duplicate:
		d.Action, d.Claim, d.Code = Delete, ClaimKeep, CodeDuplicate
		return d

	case Authorization:
		d.Attempts++
		return deadLetter(ReasonAuthorization)
	case Rejected:
		d.Attempts++
		return deadLetter(ReasonRejected)
	case Invalid:
		return deadLetter(ReasonInvalid)
	case Forbidden:
		return deadLetter(ReasonForbidden)
	case Expired:
		return deadLetter(ReasonExpired)
	case Final:
		if s.Final == nil {
			break
		}
		f := *s.Final
		f.Class, f.Action, f.Attempts, f.Holds, f.Deferrals, f.Claim, f.Delay = Final, DeadLetter, s.Attempts, s.Holds, s.Deferrals, ClaimRelease, 0
		return f
	case DeadLetterFailed:
		if s.Final == nil {
			break
		}
		// Keep the reason: the message comes back after a while and goes
		// straight to the dead-letter queue, unsent.
		f := *s.Final
		f.Class, f.Action, f.Delay, f.Claim = DeadLetterFailed, HandBack, p.Max, ClaimRelease
		f.Attempts, f.Holds, f.Deferrals = s.Attempts, s.Holds, s.Deferrals
		return f

	case Throttled:
		if s.Throttles < p.MaxThrottleRetries && !s.Stopping {
			// Not sent, and the limiter has slowed down: go again at the
			// new pace without using up an attempt.
			d.Action, d.Claim = Send, ClaimKeep
			return d
		}
		return p.transient(o, s, d)
	case Retry:
		return p.transient(o, s, d)

	case Unavailable:
		// The region, not the message: it pauses, doubling with each
		// refusal in a row; after MaxAttempts refusals in a row (or of
		// this envelope) nothing of it is sent until a probe is accepted.
		d.Attempts++
		n := s.Refusals + 1
		d.Pause = p.Pause(n)
		if n >= p.MaxAttempts || d.Attempts >= p.MaxAttempts {
			d.Message = fmt.Sprintf("the region refused the worker (credentials or certificate) %d times in a row: %s", n, o.Message)
			return deadLetter(ReasonUnavailable)
		}
		d.Action, d.Delay = HandBack, d.Pause
		return d

	case Quota:
		if s.Deferrals >= p.MaxDeferrals {
			d.Message = fmt.Sprintf("deferred for quota %d times: %s", s.Deferrals, o.Message)
			return deadLetter(ReasonQuota)
		}
		if expiresBy(s.Now.Add(p.QuotaDelay)) {
			d.Message = "notAfter passes before the quota deferral ends: " + o.Message
			return deadLetter(ReasonExpired)
		}
		d.Action, d.Delay, d.Deferrals = Defer, p.QuotaDelay, s.Deferrals+1
		return d

	case Held:
		if expiresBy(s.Now.Add(max(s.Wait, time.Second))) {
			d.Message = "notAfter passes before the region's pause ends: " + o.Message
			return deadLetter(ReasonExpired)
		}
		if s.Refusals >= p.MaxAttempts {
			d.Message = fmt.Sprintf("the region refused the worker (credentials or certificate) %d times in a row; nothing is sent there until a probe is accepted: %s", s.Refusals, o.Message)
			return deadLetter(ReasonUnavailable)
		}
		if s.Holds >= p.MaxHolds {
			d.Action, d.Probe, d.Claim = Send, true, ClaimKeep
			return d
		}
		d.Action, d.Delay, d.Holds = HandBack, max(s.Wait, time.Second), s.Holds+1
		return d
	case InProgress:
		// Back when the other claim lapses, or after the longest backoff if
		// that is sooner: the other delivery may well end before.
		d.Action, d.Delay, d.Claim = HandBack, min(max(s.Wait, time.Second), p.Max), ClaimKeep
		if expiresBy(s.Now.Add(d.Delay)) {
			d.Message = "notAfter passes before the other delivery's claim ends: " + o.Message
			return deadLetter(ReasonExpired)
		}
		return d
	case NotDue:
		if expiresBy(s.Now.Add(s.Wait)) {
			d.Message = "notAfter passes before the deferral is due"
			return deadLetter(ReasonExpired)
		}
		d.Action, d.Delay = HandBack, min(s.Wait, p.QuotaDelay)
		return d
	case Unfinished:
		if s.Attempts >= p.MaxAttempts {
			d.Message = fmt.Sprintf("no attempt left: %d attempts, some by deliveries that ended without an outcome (a crash, a lost receive answer)", s.Attempts)
			return deadLetter(ReasonExhausted)
		}
		d.Action, d.Claim = Send, ClaimKeep
		return d
	case Stopping:
		d.Action = HandBack
		return d
	}
	// No rule: hand it back, never dead-letter it (the table test catches
	// this).
	d.Action, d.Delay, d.Code = HandBack, p.Max, CodeNoRule
	return d
}

// transient decides on a send that failed in a way that may pass: another
// attempt after the backoff delay, in process when it is short, or the
// dead-letter queue when no attempt is left or notAfter would pass first.
func (p Policy) transient(o Outcome, s State, d Decision) Decision {
	d.Attempts++
	if d.Attempts >= p.MaxAttempts {
		d.Action, d.Reason = DeadLetter, ReasonExhausted
		d.Message = fmt.Sprintf("no attempt left after %d: %s", d.Attempts, o.Message)
		return d
	}
	delay := p.Delay(d.Attempts)
	if !s.NotAfter.IsZero() && !s.Now.Add(delay).Before(s.NotAfter) {
		d.Action, d.Reason = DeadLetter, ReasonExpired
		d.Message = "notAfter passes before the next attempt: " + o.Message
		return d
	}
	d.Delay = delay
	if p.WaitsInProcess(d.Attempts) && !s.Stopping {
		d.Action, d.Claim = Send, ClaimKeep
		return d
	}
	d.Action = HandBack
	return d
}
