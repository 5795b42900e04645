package sesv2_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdk "github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/sesq/sesq/internal/testsupport/sesv2test"
	"github.com/sesq/sesq/transport"
	"github.com/sesq/sesq/transport/sesv2"
)

const east = "arn:aws:ses:us-east-1:123456789012:identity/example.com"

func sesClient(endpoint string) *sdk.Client {
	return sdk.New(sdk.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
		BaseEndpoint: aws.String(endpoint),
		Retryer:      aws.NopRetryer{},
	})
}

func sendOnce(ctx context.Context, c *sdk.Client) error {
	_, err := c.SendEmail(ctx, &sdk.SendEmailInput{
		FromEmailAddress:            aws.String("sender@example.com"),
		FromEmailAddressIdentityArn: aws.String(east),
		Destination:                 &types.Destination{ToAddresses: []string{"recipient@example.com"}},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String("s")},
			Body:    &types.Body{Text: &types.Content{Data: aws.String("b")}},
		}},
	})
	return err
}

// The classifier sees the errors the real SDK makes of SES v2 error
// answers, served over HTTP by the SES v2 test endpoint: every error type
// SendEmail's model lists, the front end's, and what falls back on the
// HTTP status.
func TestClassifySESv2Responses(t *testing.T) {
	srv := start(t)
	cases := []struct {
		fault     sesv2test.Fault
		wantClass transport.Class
		typed     any // the SDK's typed error, for the codes the model has
	}{
		{sesv2test.AccessDenied, transport.Authorization, nil},
		{sesv2test.Fault{Status: 403, Code: "AccessDeniedException", Message: "Access denied"}, transport.Authorization, nil},
		{sesv2test.Fault{Status: 400, Code: "BadRequestException", Message: "User arn:aws:iam::1:user/x is not authorized to perform ses:SendEmail on resource arn:aws:ses:us-east-1:1:identity/x"}, transport.Authorization, new(*types.BadRequestException)},
		{sesv2test.ThrottleRate, transport.Throttled, new(*types.TooManyRequestsException)},
		{sesv2test.Fault{Status: 400, Code: "ThrottlingException", Message: "Rate exceeded"}, transport.Throttled, nil},
		{sesv2test.ThrottleDaily, transport.Quota, new(*types.TooManyRequestsException)},
		{sesv2test.Fault{Status: 400, Code: "LimitExceededException", Message: "Daily message quota exceeded."}, transport.Quota, new(*types.LimitExceededException)},
		{sesv2test.LimitExceeded, transport.Quota, new(*types.LimitExceededException)},
		{sesv2test.SendingPaused, transport.Quota, new(*types.SendingPausedException)},
		{sesv2test.AccountSuspended, transport.Quota, new(*types.AccountSuspendedException)},
		{sesv2test.MessageRejected, transport.Rejected, new(*types.MessageRejected)},
		{sesv2test.MailFromDomainNotVerified, transport.Rejected, new(*types.MailFromDomainNotVerifiedException)},
		{sesv2test.NotFound, transport.Rejected, new(*types.NotFoundException)},
		{sesv2test.Fault{Status: 404, Code: "NotFoundException", Message: "Configuration set <set> does not exist."}, transport.Rejected, new(*types.NotFoundException)},
		{sesv2test.BadRequest, transport.Rejected, new(*types.BadRequestException)},
		{sesv2test.Fault{Status: 400, Code: "SomethingNew", Message: "unknown 4xx"}, transport.Rejected, nil},
		{sesv2test.InternalError, transport.Retry, new(*types.InternalServiceErrorException)},
		{sesv2test.ServiceUnavailable, transport.Retry, nil},
		{sesv2test.Fault{Status: 502, Code: "BadGateway", Message: "unknown 5xx"}, transport.Retry, nil},
		{sesv2test.Fault{Status: 429, Code: "SlowDown", Message: "unknown 429"}, transport.Retry, nil},
		{sesv2test.BadCredentials, transport.Unavailable, nil},
		{sesv2test.Fault{Status: 403, Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid."}, transport.Unavailable, nil},
		{sesv2test.Fault{Status: 403, Code: "InvalidSignatureException", Message: "The request signature we calculated does not match the signature you provided."}, transport.Unavailable, nil},
		{sesv2test.Fault{Status: 403, Code: "IncompleteSignatureException", Message: "our signing"}, transport.Unavailable, nil},
		{sesv2test.Unsigned, transport.Unavailable, nil},
		{sesv2test.Fault{Status: 403, Code: "ExpiredTokenException", Message: "The security token included in the request is expired"}, transport.Unavailable, nil},
	}
	c := sesClient(srv.URL)
	for _, tc := range cases {
		for _, w := range []sesv2test.Wire{sesv2test.TypeHeader, sesv2test.TypeBody, sesv2test.CodeBody} {
			f := tc.fault
			f.Wire = w
			srv.Fail(east, f)
			err := sendOnce(context.Background(), c)
			if tc.typed != nil && !errors.As(err, tc.typed) {
				t.Errorf("%s (wire %d): %T is not the SDK's typed error %T", f.Code, w, err, tc.typed)
			}
			o := sesv2.Classify(err)
			if o.Class != tc.wantClass || o.Code != f.Code || o.Message == "" || o.Err == nil || o.Uncertain {
				t.Errorf("%s %q (wire %d): got class %s code %q message %q uncertain %v, want class %s",
					f.Code, f.Message, w, o.Class, o.Code, o.Message, o.Uncertain, tc.wantClass)
			}
			if o.PerMessage != (tc.wantClass == transport.Rejected) {
				t.Errorf("%s: per-message %v for class %s", f.Code, o.PerMessage, o.Class)
			}
			if strings.Contains(o.Message, "@") {
				t.Errorf("%s: the message names an address: %q", f.Code, o.Message)
			}
		}
	}
	if o := sesv2.Classify(sendOnce(context.Background(), c)); o != nil {
		t.Errorf("success classified %s", o.Class)
	}
}

// A request the endpoint refuses unsigned, as AWS does, is the worker's
// credentials' problem, never the message's.
func TestUnsignedRequestIsUnavailable(t *testing.T) {
	srv := start(t)
	c := sdk.New(sdk.Options{
		Region:       "us-east-1",
		Credentials:  aws.AnonymousCredentials{},
		BaseEndpoint: aws.String(srv.URL),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   http.DefaultClient,
	})
	if o := sesv2.Classify(sendOnce(context.Background(), c)); o.Class != transport.Unavailable || o.Code != "MissingAuthenticationTokenException" {
		t.Errorf("unsigned: %s %s (%v)", o.Class, o.Code, o.Err)
	}
}

func TestClassifyTransportErrors(t *testing.T) {
	// Connection refused: a port nothing listens on.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	o := sesv2.Classify(sendOnce(context.Background(), sesClient("http://"+addr)))
	if o.Class != transport.Retry || o.Code != transport.CodeConnection || o.Uncertain {
		t.Errorf("connection refused: %s %s uncertain %v (%v)", o.Class, o.Code, o.Uncertain, o.Err)
	}

	// Timeout: an endpoint slower than the call's deadline.
	srv := start(t)
	srv.Latency("", 2*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	o = sesv2.Classify(sendOnce(ctx, sesClient(srv.URL)))
	if o.Class != transport.Retry || o.Code != transport.CodeTimeout || !o.Uncertain {
		t.Errorf("timeout: %s %s uncertain %v (%v)", o.Class, o.Code, o.Uncertain, o.Err)
	}

	// Connection dropped mid-answer.
	ln, _ = net.Listen("tcp", "127.0.0.1:0")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			c.Read(buf)
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"Mess"))
			c.Close()
		}
	}()
	defer ln.Close()
	o = sesv2.Classify(sendOnce(context.Background(), sesClient("http://"+ln.Addr().String())))
	if o.Class != transport.Retry || !o.Uncertain {
		t.Errorf("dropped connection: %s %s uncertain %v (%v)", o.Class, o.Code, o.Uncertain, o.Err)
	}

	if o := sesv2.Classify(errors.New("something odd")); o.Class != transport.Retry || !o.Uncertain {
		t.Errorf("unknown error: %s", o.Class)
	}
}

// The metric label of a code: the table's and every AWS API's stay, any
// other is "other"; every action is one operation, SendEmail.
func TestCodeLabelAndCall(t *testing.T) {
	tr := &sesv2.Transport{}
	for code, want := range map[string]string{
		"": "", "NotFoundException": "NotFoundException", "TooManyRequestsException": "TooManyRequestsException",
		"AccessDeniedException": "AccessDeniedException", "BrandNewException": transport.CodeOther,
	} {
		if got := tr.CodeLabel(code); got != want {
			t.Errorf("CodeLabel(%q) = %q, want %q", code, got, want)
		}
	}
	if c := tr.Call("SendRawEmail"); c != (transport.Call{System: "aws-api", Service: "SESv2", Method: "SendEmail"}) {
		t.Errorf("Call = %+v", c)
	}
}
