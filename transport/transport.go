// Package transport is the edge where an envelope leaves sesq for SES: the
// interfaces every transport implements, and the vocabulary a transport
// reports a failed send in. Each transport is a package under this one
// (sesapi: the SES v1 API; sesv2: the SES v2 API; sessmtp: the SES SMTP
// interface); each owns its configuration checks and its error table, and
// runs the conformance suite (internal/testsupport/conformance).
//
// A transport classifies its own failures: Send returns an *Error whose
// Class says what the failure means for the message (send again, slow
// down, defer, dead-letter) and whether it is about this message only or
// about the region. What follows from a class is not the transport's
// business: retry.Policy.Decide decides it, in one table.
package transport

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sesq/sesq/envelope"
)

// Sender sends one envelope through SES, in its identity's region, and
// returns the message id SES gave it. A failure is an *Error; any other
// error is read by Classify as a fault of the network.
type Sender interface {
	Send(ctx context.Context, e *envelope.Envelope) (messageID string, err error)
}

// Validator refuses, before any send, a valid envelope the transport
// cannot carry (a template over SMTP, a tenant on the v1 API); the refusal
// is an *envelope.Error and the envelope is dead-lettered as invalid.
type Validator interface {
	Validate(e *envelope.Envelope) error
}

// QuotaSource tells the account's maximum send rate in a region, the rate
// the worker's limiter starts from. A transport that cannot tell returns
// ErrNoQuota.
type QuotaSource interface {
	SendQuota(ctx context.Context, region string) (perSecond float64, err error)
}

// Transport is what the worker needs of a transport.
type Transport interface {
	Sender
	Validator
	QuotaSource
	// Close releases connections; the transport is not used after it.
	Close() error
}

// ErrNoQuota: the transport has no way to learn the send quota (SMTP);
// set SESQ_SEND_RATE, or the rate adapts from the first throttle.
var ErrNoQuota = errors.New("the transport cannot tell the send quota")

// Setup is what every transport's constructor is given. Settings of its
// own it reads from the environment itself (SESQ_SMTP_*, …) and checks.
type Setup struct {
	// AWS is the SDK configuration: credentials, and endpoints from the
	// SDK's own variables (AWS_ENDPOINT_URL_SES, AWS_ENDPOINT_URL_SESV2).
	AWS aws.Config
	// MaxConns bounds the connections per region (SESQ_CONCURRENCY).
	MaxConns int
	// SendTimeout bounds one send (SESQ_SEND_TIMEOUT).
	SendTimeout time.Duration
	// Getenv reads the environment; nil: os.Getenv.
	Getenv func(string) string
}

// New builds a transport from a Setup; an error is a configuration error.
type New func(ctx context.Context, s Setup) (Transport, error)
