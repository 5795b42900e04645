package transport

import (
	"errors"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// commonCodes are the error codes every AWS API answers with alike: the
// caller's own credentials and clock (not the message: a credential
// rotation must not empty the queue into the dead-letter queue), generic
// throttling and server faults.
var commonCodes = map[string]Class{
	"Throttling":                  Throttled,
	"ThrottlingException":         Throttled,
	"TooManyRequestsException":    Throttled,
	"RequestTimeout":              Retry,
	"RequestTimeoutException":     Retry,
	"ServiceUnavailable":          Retry,
	"InternalFailure":             Retry,
	"InternalError":               Retry,
	"AccessDenied":                Authorization,
	"AccessDeniedException":       Authorization,
	"InvalidClientTokenId":        Unavailable,
	"UnrecognizedClientException": Unavailable,
	"SignatureDoesNotMatch":       Unavailable,
	"IncompleteSignature":         Unavailable,
	"MissingAuthenticationToken":  Unavailable,
	"ExpiredToken":                Unavailable,
	"ExpiredTokenException":       Unavailable,
	"RequestExpired":              Unavailable,
	// The same, as REST-JSON APIs (SES v2) word them.
	"InvalidSignatureException":           Unavailable,
	"IncompleteSignatureException":        Unavailable,
	"MissingAuthenticationTokenException": Unavailable,
	"InvalidParameterValue":               Rejected,
	"InvalidParameterCombination":         Rejected,
	"MissingParameter":                    Rejected,
	"ValidationError":                     Rejected,
}

// ClassifyAPI classifies the error of an AWS SDK call to an SES API: by the
// service's own table (codes of the SDK's typed errors), then the codes
// every AWS API shares, then the HTTP status (5xx and 429 retry, other 4xx
// are rejected). SES words two causes only in the message: the daily quota
// ("Daily message quota exceeded", code Throttling) and an identity policy
// that does not authorize the call ("not authorized to perform", at times
// with code InvalidParameterValue). An error with no API answer is a
// network fault (Network).
func ClassifyAPI(err error, table map[string]Class) *Error {
	if err == nil {
		return nil
	}
	var api smithy.APIError
	if !errors.As(err, &api) {
		return Network(err)
	}
	code, msg := api.ErrorCode(), api.ErrorMessage()
	if msg == "" {
		msg = err.Error()
	}
	e := &Error{Code: code, Message: Redact(msg), Err: err}
	lower := strings.ToLower(msg)
	c, ok := table[code]
	if !ok {
		c, ok = commonCodes[code]
	}
	switch {
	case strings.Contains(lower, "daily message quota exceeded"):
		e.Class = Quota
	case strings.Contains(lower, "not authorized to perform"):
		e.Class = Authorization
	case ok:
		e.Class = c
	default:
		var re *awshttp.ResponseError
		status := 0
		if errors.As(err, &re) {
			status = re.HTTPStatusCode()
		}
		switch {
		case status >= 500, status == 429, status == 0:
			e.Class = Retry
		default:
			e.Class = Rejected
		}
	}
	e.PerMessage = e.Class == Rejected
	return e
}
