// Package idempotency remembers which envelopes SES already accepted, by
// their idempotency key, so that a redelivered message is not sent again.
// SQS delivers at least once: a message can come twice (a worker that died
// after the send and before the delete, a visibility timeout that ran out),
// and its key (the envelope id, or the SHA-256 of the body) is how sesq
// tells.
//
// A delivery first claims its key. The claim has an owner (the delivery, by
// a name the caller picks and no other delivery shares) and lasts a ttl the
// caller gives, renewable while the send goes on, so that a worker that died
// mid-send blocks the key only until its claim lapses, and a slow but live
// one keeps it. The owner then records the send (Done) or gives the key back
// (Release). Done, Renew and Release check the owner: a delivery whose claim
// lapsed and was taken by another learns so (ErrNotOwner) instead of
// undoing the other's claim.
//
// A lapsed claim and an expired sent record count exactly as an unknown key
// for every method, so nothing depends on when a store sweeps them (the
// in-memory store sweeps lazily; DynamoDB's TTL deletion may take days).
//
// This narrows duplicates; it cannot remove them. A send that SES accepted
// but whose Done did not reach the store, or a claim that lapsed while SES
// was still answering, can still end in a second send.
package idempotency

import (
	"errors"
	"fmt"
	"time"
)

// State of a key when a delivery asks to claim it.
type State int

const (
	// New: the caller now holds the claim (as owner, until the ttl it gave
	// unless renewed) and must Done or Release it, or let it lapse.
	New State = iota
	// InProgress: another owner's claim is live; its send may yet succeed.
	InProgress
	// Sent: SES accepted this key before.
	Sent
)

// String names the state as logs and metrics spell it.
func (s State) String() string {
	switch s {
	case New:
		return "new"
	case InProgress:
		return "in-progress"
	case Sent:
		return "sent"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Claim is the answer to Claim.
type Claim struct {
	State State
	// Expires is, for InProgress, when the other owner's claim lapses
	// unless renewed: the earliest time the caller can hope to claim the
	// key. Zero otherwise.
	Expires time.Time
}

// ErrNotOwner is wrapped by Renew, Done and Release when the claim is no
// longer the caller's: it lapsed and another owner took it, or it is gone
// (released, lapsed, never made), or it was completed. The caller cannot
// undo that; it should log it, since it means a second send of the key may
// be under way or done.
var ErrNotOwner = errors.New("the idempotency claim is not the caller's")

// checkCall refuses calls that would silently defeat the store: an empty
// owner would make every anonymous caller the same owner (each re-claim
// would answer New), and DynamoDB refuses an empty key.
func checkCall(key, owner string) error {
	switch {
	case key == "":
		return errors.New("the key is empty")
	case owner == "":
		return errors.New("the owner is empty")
	}
	return nil
}

// checkTTL refuses a claim that would have lapsed before it was made.
func checkTTL(ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("the ttl is %v; it must be positive", ttl)
	}
	return nil
}
