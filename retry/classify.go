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

// SES error codes and their classes. Codes not listed fall back on the HTTP
// status: 5xx and 429 retry, other 4xx are rejected.
var codeClass = map[string]Class{
	"Throttling":                             Throttled, // rate; the daily quota is told apart by its message
	"ThrottlingException":                    Throttled,
	"TooManyRequestsException":               Throttled,
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
	// No answer from SES. Unless the connection was refused, the request
	// may have gone out and been accepted: the result is uncertain.
	o := Outcome{Class: Retry, Code: CodeUnknownError, Message: err.Error(), Err: err, Uncertain: true}
	var netErr net.Error
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	switch {
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalidCert):
		// The endpoint's certificate is not trusted: the worker's setup,
		// not the message; nothing was sent.
		o.Class, o.Code, o.Uncertain = Unavailable, CodeTLS, false
	case errors.Is(err, syscall.ECONNREFUSED):
		o.Code, o.Uncertain = CodeConnection, false
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		o.Code = CodeTimeout
	case errors.As(err, &netErr) && netErr.Timeout():
		o.Code = CodeTimeout
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &netErr):
		o.Code = CodeConnection
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
		o.Class, o.Code = Quota, CodeThrottling
	case strings.Contains(lower, "sending paused"):
		o.Class = Quota
	case reply.Code == 454 && strings.Contains(lower, "throttling"):
		o.Class, o.Code = Throttled, CodeThrottling
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
