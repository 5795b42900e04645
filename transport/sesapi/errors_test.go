package sesapi_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ses"
	"github.com/aws/aws-sdk-go-v2/service/ses/types"

	"github.com/sesq/sesq/internal/testsupport/sestest"
	"github.com/sesq/sesq/transport"
	"github.com/sesq/sesq/transport/sesapi"
)

func sesClient(endpoint string) *ses.Client {
	return ses.New(ses.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
		BaseEndpoint: aws.String(endpoint),
		Retryer:      aws.NopRetryer{},
	})
}

func sendOnce(ctx context.Context, c *ses.Client) error {
	id := "arn:aws:ses:us-east-1:123456789012:identity/example.com"
	_, err := c.SendEmail(ctx, &ses.SendEmailInput{
		Source:      aws.String("sender@example.com"),
		SourceArn:   aws.String(id),
		Destination: &types.Destination{ToAddresses: []string{"recipient@example.com"}},
		Message:     &types.Message{Subject: &types.Content{Data: aws.String("s")}, Body: &types.Body{Text: &types.Content{Data: aws.String("b")}}},
	})
	return err
}

// The classifier sees the errors the real SDK makes of real SES error
// responses, served over HTTP by the SES test endpoint.
func TestClassifySESResponses(t *testing.T) {
	srv, err := sestest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	id := "arn:aws:ses:us-east-1:123456789012:identity/example.com"
	cases := []struct {
		fault     sestest.Fault
		wantClass transport.Class
	}{
		{sestest.AccessDenied, transport.Authorization},
		{sestest.Fault{Status: 400, Type: "Sender", Code: "InvalidParameterValue", Message: "User arn:aws:iam::1:user/x is not authorized to perform ses:SendRawEmail on resource arn:aws:ses:us-east-1:1:identity/x"}, transport.Authorization},
		{sestest.ThrottleRate, transport.Throttled},
		{sestest.ThrottleDaily, transport.Quota},
		{sestest.AccountPaused, transport.Quota},
		{sestest.Fault{Status: 400, Type: "Sender", Code: "ConfigurationSetSendingPausedException", Message: "paused"}, transport.Quota},
		{sestest.MessageRejected, transport.Rejected},
		{sestest.Fault{Status: 400, Type: "Sender", Code: "MailFromDomainNotVerifiedException", Message: "not verified"}, transport.Rejected},
		{sestest.TemplateMissing, transport.Rejected},
		{sestest.Fault{Status: 400, Type: "Sender", Code: "ConfigurationSetDoesNotExist", Message: "no such set"}, transport.Rejected},
		{sestest.Fault{Status: 400, Type: "Sender", Code: "InvalidParameterValue", Message: "Illegal address"}, transport.Rejected},
		{sestest.Fault{Status: 400, Type: "Sender", Code: "SomethingNew", Message: "unknown 4xx"}, transport.Rejected},
		{sestest.ServiceUnavailable, transport.Retry},
		{sestest.InternalFailure, transport.Retry},
		{sestest.Fault{Status: 502, Type: "Receiver", Code: "BadGateway", Message: "unknown 5xx"}, transport.Retry},
		{sestest.Fault{Status: 403, Type: "Sender", Code: "SignatureDoesNotMatch", Message: "our credentials"}, transport.Unavailable},
		{sestest.Fault{Status: 403, Type: "Sender", Code: "ExpiredToken", Message: "our credentials"}, transport.Unavailable},
		{sestest.Fault{Status: 403, Type: "Sender", Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid."}, transport.Unavailable},
	}
	c := sesClient(srv.URL)
	for _, tc := range cases {
		srv.Fail(id, tc.fault)
		err := sendOnce(context.Background(), c)
		o := sesapi.Classify(err)
		if o.Class != tc.wantClass || o.Code != tc.fault.Code || o.Message == "" || o.Err == nil {
			t.Errorf("%s %q: got class %s code %q message %q, want class %s", tc.fault.Code, tc.fault.Message, o.Class, o.Code, o.Message, tc.wantClass)
		}
	}
	if o := sesapi.Classify(sendOnce(context.Background(), c)); o != nil {
		t.Errorf("success classified %s", o.Class)
	}
}

func TestClassifyTransportErrors(t *testing.T) {
	// Connection refused: a port nothing listens on.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	o := sesapi.Classify(sendOnce(context.Background(), sesClient("http://"+addr)))
	if o.Class != transport.Retry || o.Code != "ConnectionError" || o.Uncertain {
		t.Errorf("connection refused: %s %s uncertain %v (%v)", o.Class, o.Code, o.Uncertain, o.Err)
	}

	// Timeout: an endpoint slower than the call's deadline.
	srv, _ := sestest.Start()
	defer srv.Close()
	srv.Latency("", 2*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	o = sesapi.Classify(sendOnce(ctx, sesClient(srv.URL)))
	if o.Class != transport.Retry || o.Code != "Timeout" || !o.Uncertain {
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
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n<Send"))
			c.Close()
		}
	}()
	defer ln.Close()
	o = sesapi.Classify(sendOnce(context.Background(), sesClient("http://"+ln.Addr().String())))
	if o.Class != transport.Retry || !o.Uncertain {
		t.Errorf("dropped connection: %s %s uncertain %v (%v)", o.Class, o.Code, o.Uncertain, o.Err)
	}

	if o := sesapi.Classify(errors.New("something odd")); o.Class != transport.Retry || !o.Uncertain {
		t.Errorf("unknown error: %s", o.Class)
	}
}

// The metric label of a code: the table's and every AWS API's stay, any
// other is "other"; each action is its own operation.
func TestCodeLabelAndCall(t *testing.T) {
	var tr sesapi.Transport
	for code, want := range map[string]string{
		"": "", "MessageRejected": "MessageRejected", "AccountSendingPausedException": "AccountSendingPausedException",
		"AccessDenied": "AccessDenied", transport.CodeTimeout: transport.CodeTimeout, "BrandNewException": transport.CodeOther,
	} {
		if got := tr.CodeLabel(code); got != want {
			t.Errorf("CodeLabel(%q) = %q, want %q", code, got, want)
		}
	}
	if c := tr.Call("SendRawEmail"); c != (transport.Call{System: "aws-api", Service: "SES", Method: "SendRawEmail"}) {
		t.Errorf("Call = %+v", c)
	}
}
