// Package retry decides what happens after an SES send: it classifies the
// result into one of a few outcome classes, in one table, and holds the
// backoff policy for the classes that are tried again.
package retry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
	"syscall"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// Class is what becomes of a message. Its String is the word the contract
// uses: the dead-letter reason, the log and metric outcome.
type Class int

const (
	// Sent: SES accepted the message; it is deleted from the queue.
	Sent Class = iota
	// Retry: a transient fault (rate throttling, 5xx, timeout, connection);
	// tried again with backoff until the attempts run out.
	Retry
	// Quota: the daily quota is used up or sending is paused; tried again
	// after the quota delay, without using up attempts. Never dead-lettered.
	Quota
	// Unavailable: the worker cannot send at all, whatever the message (its
	// own credentials were refused). Messages are handed back without using
	// up attempts and the worker pauses; never dead-lettered.
	Unavailable
	// Authorization: the identity owner's policy does not let us send.
	Authorization
	// Rejected: SES refused this message and will refuse it again.
	Rejected
	// Invalid: the envelope breaks the rules; SES is never called.
	Invalid
	// Forbidden: the identity is not one this worker may send for.
	Forbidden
	// Expired: notAfter passed before the message could be sent.
	Expired
	// Exhausted: transient faults went on past the last attempt.
	Exhausted
)

var classNames = [...]string{"sent", "retry", "quota", "unavailable", "authorization", "rejected", "invalid", "forbidden", "expired", "exhausted"}

func (c Class) String() string {
	if c < 0 || int(c) >= len(classNames) {
		return "unknown"
	}
	return classNames[c]
}

// DeadLetter tells whether messages of this class go to the dead-letter queue.
func (c Class) DeadLetter() bool {
	return c >= Authorization
}

// Outcome is the classified result of one send attempt.
type Outcome struct {
	Class   Class
	Code    string // the SES error code, or a short word for non-API errors
	Message string // the error text, for the dead-letter attribute and logs
	Err     error  // the original error, nil when sent
}

// SES error codes and their classes. Codes not listed fall back on the HTTP
// status: 5xx and 429 retry, other 4xx are rejected.
var codeClass = map[string]Class{
	"Throttling":                             Retry, // rate; the daily quota is told apart by its message
	"ThrottlingException":                    Retry,
	"TooManyRequestsException":               Retry,
	"RequestTimeout":                         Retry,
	"RequestTimeoutException":                Retry,
	"ServiceUnavailable":                     Retry,
	"InternalFailure":                        Retry,
	"InternalError":                          Retry,
	"AccountSendingPausedException":          Quota,
	"ConfigurationSetSendingPausedException": Quota,
	"AccessDenied":                           Authorization,
	"AccessDeniedException":                  Authorization,
	"MessageRejected":                        Rejected,
	"MailFromDomainNotVerifiedException":     Rejected,
	"FromEmailAddressNotVerified":            Rejected,
	"TemplateDoesNotExist":                   Rejected,
	"ConfigurationSetDoesNotExist":           Rejected,
	"InvalidParameterValue":                  Rejected,
	"InvalidParameterCombination":            Rejected,
	"MissingParameter":                       Rejected,
	"ValidationError":                        Rejected,
	"InvalidRenderingParameter":              Rejected,
	"MissingRenderingAttribute":              Rejected,
	"ProductionAccessNotGranted":             Rejected,
	// Our own credentials or clock, not the message: a credential rotation
	// must not empty the queue into the dead-letter queue.
	"InvalidClientTokenId":        Unavailable,
	"UnrecognizedClientException": Unavailable,
	"SignatureDoesNotMatch":       Unavailable,
	"IncompleteSignature":         Unavailable,
	"MissingAuthenticationToken":  Unavailable,
	"ExpiredToken":                Unavailable,
	"ExpiredTokenException":       Unavailable,
	"RequestExpired":              Unavailable,
}

// Classify maps the error of an SES send (nil when it succeeded) to its
// outcome class.
func Classify(err error) Outcome {
	if err == nil {
		return Outcome{Class: Sent}
	}
	var reply *textproto.Error
	if errors.As(err, &reply) {
		return classifySMTP(reply, err)
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		code, msg := api.ErrorCode(), api.ErrorMessage()
		o := Outcome{Class: classOfAPI(code, msg, httpStatus(err)), Code: code, Message: msg, Err: err}
		if o.Message == "" {
			o.Message = err.Error()
		}
		return o
	}
	o := Outcome{Class: Retry, Code: "Unknown", Message: err.Error(), Err: err}
	var netErr net.Error
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	switch {
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalidCert):
		// The endpoint's certificate is not trusted: the worker's setup,
		// not the message.
		o.Class, o.Code = Unavailable, "TLSVerification"
	case errors.Is(err, context.DeadlineExceeded):
		o.Code = "Timeout"
	case errors.As(err, &netErr) && netErr.Timeout():
		o.Code = "Timeout"
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &netErr):
		o.Code = "ConnectionError"
	}
	return o
}

func classOfAPI(code, msg string, status int) Class {
	lower := strings.ToLower(msg)
	switch {
	case strings.Contains(lower, "daily message quota exceeded"):
		return Quota
	case strings.Contains(lower, "not authorized to perform"):
		return Authorization
	}
	if c, ok := codeClass[code]; ok {
		return c
	}
	switch {
	case status >= 500, status == 429:
		return Retry
	case status >= 400:
		return Rejected
	}
	return Retry
}

// classifySMTP reads the SES SMTP interface's replies: 454 throttling (rate
// or daily quota), other 4xx transient; 535/530 our credentials; 554 "Access
// denied" authorization; other 5xx about the message, rejected.
func classifySMTP(reply *textproto.Error, err error) Outcome {
	o := Outcome{Code: fmt.Sprintf("SMTP%d", reply.Code), Message: reply.Msg, Err: err}
	lower := strings.ToLower(reply.Msg)
	switch {
	case strings.Contains(lower, "daily message quota exceeded"):
		o.Class, o.Code = Quota, "Throttling"
	case strings.Contains(lower, "sending paused"):
		o.Class = Quota
	case reply.Code == 454 && strings.Contains(lower, "throttling"):
		o.Class, o.Code = Retry, "Throttling"
	case reply.Code == 535 || reply.Code == 530:
		o.Class = Unavailable
	case strings.Contains(lower, "access denied"), strings.Contains(lower, "not authorized to perform"):
		o.Class = Authorization
	case reply.Code >= 400 && reply.Code < 500:
		o.Class = Retry
	case reply.Code >= 500:
		o.Class = Rejected
	default:
		o.Class = Retry
	}
	return o
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
