package transport_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/sesq/sesq/transport"
)

func TestClassifyAPI(t *testing.T) {
	table := map[string]transport.Class{"OwnCode": transport.Quota, "Throttling": transport.Rejected}
	for _, c := range []struct {
		code, msg  string
		class      transport.Class
		perMessage bool
	}{
		{"OwnCode", "x", transport.Quota, false},
		{"Throttling", "the service's own table wins over the common one", transport.Rejected, true},
		{"ThrottlingException", "Rate exceeded", transport.Throttled, false},
		{"Whatever", "Daily message quota exceeded.", transport.Quota, false},
		{"InvalidParameterValue", "User x is not authorized to perform ses:SendRawEmail", transport.Authorization, false},
		{"AccessDeniedException", "denied", transport.Authorization, false},
		{"InvalidClientTokenId", "bad token", transport.Unavailable, false},
		{"InvalidSignatureException", "bad signature", transport.Unavailable, false},
		{"MissingParameter", "no", transport.Rejected, true},
		{"ServiceUnavailable", "later", transport.Retry, false},
		{"NeverSeen", "no status: retried, never lost", transport.Retry, false},
	} {
		err := fmt.Errorf("send: %w", &smithy.GenericAPIError{Code: c.code, Message: c.msg})
		e := transport.ClassifyAPI(err, table)
		if e.Class != c.class || e.PerMessage != c.perMessage || e.Code != c.code || e.Uncertain || !errors.Is(e, err) && e.Err != err {
			t.Errorf("%s %q: %+v, want %s per-message %v", c.code, c.msg, e, c.class, c.perMessage)
		}
	}
	if transport.ClassifyAPI(nil, table) != nil {
		t.Error("nil error classified")
	}
}

func TestNetwork(t *testing.T) {
	timeout := &net.OpError{Op: "read", Err: &timeoutErr{}}
	for _, c := range []struct {
		err       error
		class     transport.Class
		code      string
		uncertain bool
	}{
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), transport.Retry, transport.CodeConnection, false},
		{fmt.Errorf("x: %w", x509.UnknownAuthorityError{}), transport.Unavailable, transport.CodeTLS, false},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), transport.Retry, transport.CodeTimeout, true},
		{timeout, transport.Retry, transport.CodeTimeout, true},
		{fmt.Errorf("x: %w", io.ErrUnexpectedEOF), transport.Retry, transport.CodeConnection, true},
		{fmt.Errorf("x: %w", syscall.ECONNRESET), transport.Retry, transport.CodeConnection, true},
		{errors.New("odd"), transport.Retry, transport.CodeUnknown, true},
	} {
		e := transport.Classify(c.err)
		if e.Class != c.class || e.Code != c.code || e.Uncertain != c.uncertain || e.PerMessage {
			t.Errorf("%v: %+v, want %s %s uncertain %v", c.err, e, c.class, c.code, c.uncertain)
		}
	}
	te := &transport.Error{Class: transport.Rejected, Code: "C"}
	if transport.Classify(fmt.Errorf("wrapped: %w", te)) != te {
		t.Error("a wrapped *Error is not returned as it is")
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"no address here":                                                             "no address here",
		"failed the check: sender@example.com":                                        "failed the check: [address]",
		"rcpt <a.b+c@example.net>: refused":                                           "[address] refused",
		"identity/example.com and user@ and @at":                                      "identity/example.com and user@ and @at",
		"failed the check in region US-EAST-1: Named Person <np@example.com>":         "failed the check in region US-EAST-1: [address]",
		`refused: "Person, Named" <np@example.com>, Other <o@example.com>; try again`: "refused: [address] [address] try again",
		"recipients a@example.com, Ana Lima <a@example.net> refused":                  "recipients [address] [address] refused",
		"550 5.1.1 <a@example.net>: Recipient address rejected":                       "550 5.1.1 [address] Recipient address rejected",
	} {
		if got := transport.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMetricCodeIsBounded(t *testing.T) {
	table := map[string]transport.Class{"MessageRejected": transport.Rejected}
	for code, want := range map[string]string{
		"":                       "",
		"MessageRejected":        "MessageRejected",
		"AccessDenied":           "AccessDenied", // every AWS API's
		transport.CodeTimeout:    transport.CodeTimeout,
		transport.CodeThrottling: transport.CodeThrottling,
		"SomethingNewFromSES":    transport.CodeOther,
		"messagerejected":        transport.CodeOther,
		"SMTP550 5.1.1 <a@b.c>":  transport.CodeOther,
	} {
		if got := transport.MetricCode(code, table); got != want {
			t.Errorf("MetricCode(%q) = %q, want %q", code, got, want)
		}
	}
}
