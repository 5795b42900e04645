package sqsfake

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"syscall"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// FaultError is at the bottom of the error an injected Refuse or LoseAnswer
// produces, so a test can tell an injected failure from a real one with
// errors.As. Above it the chain is what the SDK returns for a network
// failure (*smithy.OperationError, *smithyhttp.RequestSendError,
// *url.Error, *net.OpError); below it, the errno (ECONNREFUSED for Refuse,
// ECONNRESET for LoseAnswer), so errors.Is works as with a real socket.
type FaultError struct {
	Fault Fault
	Call  Call
}

func (e *FaultError) Error() string {
	if e.Fault == LoseAnswer {
		return "read: connection reset by peer (sqsfake: answer lost, the call took effect)"
	}
	return "connect: connection refused (sqsfake: refused, the call had no effect)"
}

// Unwrap returns the errno a real socket would have reported.
func (e *FaultError) Unwrap() error {
	if e.Fault == LoseAnswer {
		return syscall.ECONNRESET
	}
	return syscall.ECONNREFUSED
}

// faultFailure builds the error the caller of an injected fault sees.
func faultFailure(c Call, f Fault) error {
	netOp := "dial"
	if f == LoseAnswer {
		netOp = "read"
	}
	return &smithy.OperationError{
		ServiceID:     "SQS",
		OperationName: c.Op,
		Err: &smithyhttp.RequestSendError{Err: &url.Error{
			Op:  "Post",
			URL: endpoint,
			Err: &net.OpError{
				Op:   netOp,
				Net:  "tcp",
				Addr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 443},
				Err:  &FaultError{Fault: f, Call: c},
			},
		}},
	}
}

// answerFailure wraps what an operation returned as the SDK would: an API
// error inside an HTTP response error, a context error as a cancellation.
func (s *SQS) answerFailure(op string, err error) error {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return &smithy.OperationError{ServiceID: "SQS", OperationName: op, Err: &smithy.CanceledError{Err: err}}
	}
	status := http.StatusBadRequest
	if apiErr.ErrorFault() == smithy.FaultServer {
		status = http.StatusInternalServerError
	}
	s.mu.Lock()
	s.requests++
	id := fmt.Sprintf("sqsfake-%d", s.requests)
	s.mu.Unlock()
	return &smithy.OperationError{
		ServiceID:     "SQS",
		OperationName: op,
		Err: &awshttp.ResponseError{
			ResponseError: &smithyhttp.ResponseError{
				Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status, Header: http.Header{}}},
				Err:      err,
			},
			RequestID: id,
		},
	}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// paramsFailure is the SDK's client-side validation error, returned before
// anything is sent.
func paramsFailure(op string, missing []string) error {
	e := &smithy.InvalidParamsError{Context: op + "Input"}
	for _, f := range missing {
		e.Add(smithy.NewErrParamRequired(f))
	}
	return &smithy.OperationError{ServiceID: "SQS", OperationName: op, Err: e}
}

func invalidParameter(format string, args ...any) error {
	return &smithy.GenericAPIError{Code: "InvalidParameterValue", Message: fmt.Sprintf(format, args...), Fault: smithy.FaultClient}
}

func missingParameter(name string) error {
	return &smithy.GenericAPIError{Code: "MissingParameter", Message: fmt.Sprintf("The request must contain the parameter %s.", name), Fault: smithy.FaultClient}
}

func ptr[T any](v T) *T { return &v }
