// Package retry decides what becomes of a message after each thing that can
// happen to it: Classify turns a send's result, as its transport classified
// it, into an Outcome, and Policy.Decide, one pure function, maps an
// outcome and what the message has been through to a Decision: delete,
// send (again), hand back, defer or dead-letter, with the reason.
// The worker carries decisions out; breakers, limiters, metrics and logs
// observe them and never make them.
package retry

import "github.com/sesq/sesq/transport"

// Class is what an outcome means for the message.
type Class int

// Outcomes of a send, as Classify reads them.
const (
	// Sent: SES accepted the message.
	Sent Class = iota
	// Retry: a transient fault (5xx, timeout, connection); tried again with
	// backoff until the attempts run out.
	Retry
	// Throttled: SES refused the send for the account's rate ("Maximum
	// sending rate exceeded"); not sent, and the limiter slows down.
	Throttled
	// Quota: the daily quota is used up or sending is paused; deferred.
	Quota
	// Unavailable: the worker's own credentials were refused in the
	// identity's region (or the endpoint's certificate is not trusted):
	// nothing of that region can be sent until that is fixed.
	Unavailable
	// Authorization: the identity owner's policy does not let us send.
	Authorization
	// Rejected: SES refused this message and will refuse it again.
	Rejected

	// Outcomes the worker finds itself, without a send.

	// Invalid: the envelope breaks the rules; SES is never called.
	Invalid
	// Forbidden: the identity is not one this worker may send for.
	Forbidden
	// Expired: notAfter passed before the message could be sent.
	Expired
	// Duplicate: the idempotency store says SES accepted this envelope id
	// before.
	Duplicate
	// InProgress: another delivery holds the envelope id's claim.
	InProgress
	// Held: sends to the identity's region are paused (its breaker is open
	// after transient failures, or its credentials were refused).
	Held
	// NotDue: a deferral longer than SQS's longest delay, received before
	// it is due.
	NotDue
	// Unfinished: earlier deliveries of the message ended without an
	// outcome (a crash, a lost receive answer, a panic); each is counted as
	// one attempt, since it may have sent.
	Unfinished
	// Stopping: the worker is shutting down before the send.
	Stopping
	// Final: an earlier delivery decided to dead-letter the message and
	// could not write it to the dead-letter queue.
	Final
	// DeadLetterFailed: writing the message to the dead-letter queue failed.
	DeadLetterFailed

	numClasses // keep last: the table test walks every class below it
)

var classNames = [...]string{
	Sent: "sent", Retry: "retry", Throttled: "throttled", Quota: "quota", Unavailable: "unavailable",
	Authorization: "authorization", Rejected: "rejected", Invalid: "invalid", Forbidden: "forbidden",
	Expired: "expired", Duplicate: "duplicate", InProgress: "in-progress", Held: "held", NotDue: "not-due",
	Unfinished: "unfinished", Stopping: "stopping", Final: "final", DeadLetterFailed: "dead-letter-failed",
}

func (c Class) String() string {
	if c < 0 || c >= numClasses {
		return "unknown"
	}
	return classNames[c]
}

// Classes lists every class, for tables that must cover them all.
func Classes() []Class {
	out := make([]Class, numClasses)
	for i := range out {
		out[i] = Class(i)
	}
	return out
}

// Outcome is one thing that happened to a message: a send's classified
// result, or what the worker found before sending.
type Outcome struct {
	Class   Class
	Code    string // the SES error code, an SMTP reply's, or one of sesq's own (Code* below)
	Message string // the error text, for the dead-letter attribute and logs
	// Uncertain: the send may have reached SES and been accepted (it was
	// cut off, or the connection broke, after the request went out).
	Uncertain bool
	// PerMessage: the failure is about this message only (a refused
	// recipient), not the region's health: it never pauses the region.
	PerMessage bool
	Err        error // the original error, nil when sent
}

// Codes sesq itself gives outcomes and dead letters.
const (
	CodeInvalidEnvelope    = "InvalidEnvelope"
	CodeIdentityNotAllowed = "IdentityNotAllowed"
	CodeExpired            = "Expired"
	CodeDuplicate          = "Duplicate"
	CodeInProgress         = "InProgress"
	CodeRegionPaused       = "RegionPaused"
	CodeNotDue             = "Deferred"
	CodeUnfinished         = "DeliveriesUnfinished"
	CodeShutdown           = "Shutdown"
	CodeDeadLetterFailed   = "DeadLetterWriteFailed"
	// An S3 payload (package payload) that cannot be had: a pointer that is
	// not one, a bucket not in SESQ_PAYLOAD_BUCKETS, an object that is gone
	// or too large; and a fetch that failed and may pass.
	CodePayloadPointer          = "PayloadPointerInvalid"
	CodePayloadBucketNotAllowed = "PayloadBucketNotAllowed"
	CodePayloadMissing          = "PayloadMissing"
	CodePayloadTooLarge         = "PayloadTooLarge"
	CodePayloadFetch            = "PayloadFetchFailed"
	CodeTimeout                 = transport.CodeTimeout
	CodeConnection              = transport.CodeConnection
	CodeUnknownError            = transport.CodeUnknown
	CodeTLS                     = transport.CodeTLS
	CodeThrottling              = transport.CodeThrottling
	// CodeNoRule marks a decision for a class the table has no rule for
	// (a bug: the table test fails on it); the message is handed back.
	CodeNoRule = "NoRule"
)

// Reason is the word a dead letter carries in sesq-reason.
type Reason string

// Dead-letter reasons.
const (
	ReasonAuthorization Reason = "authorization" // the identity owner's policy refused us
	ReasonRejected      Reason = "rejected"      // SES refused the message itself
	ReasonInvalid       Reason = "invalid"       // the envelope breaks the rules; never sent
	ReasonForbidden     Reason = "forbidden"     // identity not in SESQ_ALLOWED_IDENTITIES; never sent
	ReasonExpired       Reason = "expired"       // notAfter passed, or passes before the next try
	ReasonExhausted     Reason = "exhausted"     // SESQ_MAX_ATTEMPTS attempts failed with transient faults
	ReasonUnavailable   Reason = "unavailable"   // the worker's credentials were refused in the region on every attempt
	ReasonQuota         Reason = "quota"         // deferred for quota SESQ_MAX_DEFERRALS times
)

// Reasons lists every dead-letter reason.
func Reasons() []Reason {
	return []Reason{ReasonAuthorization, ReasonRejected, ReasonInvalid, ReasonForbidden, ReasonExpired, ReasonExhausted, ReasonUnavailable, ReasonQuota}
}
