package worker

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sesq/sesq/idempotency"
	"github.com/sesq/sesq/retry"
	"github.com/sesq/sesq/transport"
)

// Tracer follows messages through the worker: one span per delivery, and
// below it one per send. The worker declares it so that tracing stays out
// of its core: internal/telemetry implements it with OpenTelemetry, and
// with Options.Tracer nil the worker makes none of these calls. It is
// called from many goroutines at once. Of the message it is handed, a
// tracer reads the trace context and ids; the body names recipients and
// must not be recorded. Nothing else the worker tells it names a
// recipient, a subject or a body.
type Tracer interface {
	// StartMessage begins the span of one delivery of m, received from
	// the queue at queueURL: a child of the producer's trace when the
	// message carries one (a traceparent message attribute, or the
	// AWSTraceHeader system attribute). The returned context carries the
	// span to the sends below it; end is called once, when the delivery
	// has come to its outcome.
	StartMessage(ctx context.Context, queueURL string, m types.Message) (_ context.Context, end func(MessageEnd))
	// StartSend begins the span of one transport call, a child of the
	// span in ctx; end is called once, with the call's result.
	StartSend(ctx context.Context, s SendStart) (_ context.Context, end func(SendEnd))
}

// MessageEnd is what a delivery came to.
type MessageEnd struct {
	// Outcome is the word of logs and sesq_messages_total: sent,
	// duplicate, retry, held, deferred, or the dead-letter reason.
	Outcome string
	// DeadLettered: the message went to the dead-letter queue (Reason
	// says why); the delivery failed for good.
	DeadLettered bool
	Reason       string // the dead-letter reason, when one was decided
	Code         string // the error code behind the outcome: SES's, an SMTP reply's, or sesq's own
	Attempts     int    // send calls over all deliveries so far
	// EnvelopeID, Region and Action are the envelope's; empty when the
	// body was no valid envelope.
	EnvelopeID, Region, Action string
	SESMessageID               string // SES's message id, when sent
}

// SendStart is what a transport call is about to do.
type SendStart struct {
	Region string         // the identity's region, where the call goes
	Action string         // the envelope's action
	Call   transport.Call // what the call is on the wire (transport.Describe)
}

// SendEnd is a transport call's result.
type SendEnd struct {
	Failed bool
	// Code is the error code (SES's, an SMTP reply's, transport.Code*);
	// Message is the cause in words, addresses redacted. Both empty when
	// SES accepted the message.
	Code, Message string
	MessageID     string // SES's message id, when accepted
}

// traceEnd is what the delivery came to, told to its span.
func (d *delivery) traceEnd(dec retry.Decision) MessageEnd {
	e := MessageEnd{Outcome: dec.Word(), DeadLettered: dec.Action == retry.DeadLetter, Reason: string(dec.Reason),
		Code: dec.Code, Attempts: dec.Attempts, SESMessageID: d.sesID}
	if env := d.env; env != nil {
		e.EnvelopeID, e.Region, e.Action = env.Key(), env.Region(), env.Action
	}
	return e
}

// countedStore counts the idempotency store's failures by operation.
type countedStore struct {
	Idempotency
	metrics Metrics
}

func (s countedStore) Claim(ctx context.Context, key, owner string, ttl time.Duration) (idempotency.Claim, error) {
	c, err := s.Idempotency.Claim(ctx, key, owner, ttl)
	s.count("claim", err)
	return c, err
}

func (s countedStore) Renew(ctx context.Context, key, owner string, ttl time.Duration) error {
	err := s.Idempotency.Renew(ctx, key, owner, ttl)
	s.count("renew", err)
	return err
}

func (s countedStore) Done(ctx context.Context, key, owner string) error {
	err := s.Idempotency.Done(ctx, key, owner)
	s.count("done", err)
	return err
}

func (s countedStore) Release(ctx context.Context, key, owner string) error {
	err := s.Idempotency.Release(ctx, key, owner)
	s.count("release", err)
	return err
}

// count counts a failure: not ErrNotOwner, which is the store's answer
// that the claim is lost, not a store that failed.
func (s countedStore) count(op string, err error) {
	if err != nil && !errors.Is(err, idempotency.ErrNotOwner) {
		s.metrics.StoreError(op)
	}
}
