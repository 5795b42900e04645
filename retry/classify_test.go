package retry_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ses"
	"github.com/aws/aws-sdk-go-v2/service/ses/types"

	"github.com/sesq/sesq/internal/sestest"
	"github.com/sesq/sesq/retry"
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
		wantClass retry.Class
	}{
		{sestest.AccessDenied, retry.Authorization},
		{sestest.Fault{Status: 400, Type: "Sender", Code: "InvalidParameterValue", Message: "User arn:aws:iam::1:user/x is not authorized to perform ses:SendRawEmail on resource arn:aws:ses:us-east-1:1:identity/x"}, retry.Authorization},
		{sestest.ThrottleRate, retry.Throttled},
		{sestest.ThrottleDaily, retry.Quota},
		{sestest.AccountPaused, retry.Quota},
		{sestest.Fault{Status: 400, Type: "Sender", Code: "ConfigurationSetSendingPausedException", Message: "paused"}, retry.Quota},
		{sestest.MessageRejected, retry.Rejected},
		{sestest.Fault{Status: 400, Type: "Sender", Code: "MailFromDomainNotVerifiedException", Message: "not verified"}, retry.Rejected},
		{sestest.TemplateMissing, retry.Rejected},
		{sestest.Fault{Status: 400, Type: "Sender", Code: "ConfigurationSetDoesNotExist", Message: "no such set"}, retry.Rejected},
		{sestest.Fault{Status: 400, Type: "Sender", Code: "InvalidParameterValue", Message: "Illegal address"}, retry.Rejected},
		{sestest.Fault{Status: 400, Type: "Sender", Code: "SomethingNew", Message: "unknown 4xx"}, retry.Rejected},
		{sestest.ServiceUnavailable, retry.Retry},
		{sestest.InternalFailure, retry.Retry},
		{sestest.Fault{Status: 502, Type: "Receiver", Code: "BadGateway", Message: "unknown 5xx"}, retry.Retry},
		{sestest.Fault{Status: 403, Type: "Sender", Code: "SignatureDoesNotMatch", Message: "our credentials"}, retry.Unavailable},
		{sestest.Fault{Status: 403, Type: "Sender", Code: "ExpiredToken", Message: "our credentials"}, retry.Unavailable},
		{sestest.Fault{Status: 403, Type: "Sender", Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid."}, retry.Unavailable},
	}
	c := sesClient(srv.URL)
	for _, tc := range cases {
		srv.Fail(id, tc.fault)
		err := sendOnce(context.Background(), c)
		o := retry.Classify(err)
		if o.Class != tc.wantClass || o.Code != tc.fault.Code || o.Message == "" || o.Err == nil {
			t.Errorf("%s %q: got class %s code %q message %q, want class %s", tc.fault.Code, tc.fault.Message, o.Class, o.Code, o.Message, tc.wantClass)
		}
	}
	if o := retry.Classify(sendOnce(context.Background(), c)); o.Class != retry.Sent {
		t.Errorf("success classified %s", o.Class)
	}
}

func TestClassifyTransportErrors(t *testing.T) {
	// Connection refused: a port nothing listens on.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	o := retry.Classify(sendOnce(context.Background(), sesClient("http://"+addr)))
	if o.Class != retry.Retry || o.Code != "ConnectionError" || o.Uncertain {
		t.Errorf("connection refused: %s %s uncertain %v (%v)", o.Class, o.Code, o.Uncertain, o.Err)
	}

	// Timeout: an endpoint slower than the call's deadline.
	srv, _ := sestest.Start()
	defer srv.Close()
	srv.Latency("", 2*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	o = retry.Classify(sendOnce(ctx, sesClient(srv.URL)))
	if o.Class != retry.Retry || o.Code != "Timeout" || !o.Uncertain {
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
	o = retry.Classify(sendOnce(context.Background(), sesClient("http://"+ln.Addr().String())))
	if o.Class != retry.Retry || !o.Uncertain {
		t.Errorf("dropped connection: %s %s uncertain %v (%v)", o.Class, o.Code, o.Uncertain, o.Err)
	}

	if o := retry.Classify(errors.New("something odd")); o.Class != retry.Retry {
		t.Errorf("unknown error: %s", o.Class)
	}
}

// SMTP replies as the SES SMTP interface words them.
func TestClassifySMTPReplies(t *testing.T) {
	cases := []struct {
		code      int
		msg       string
		wantClass retry.Class
		wantCode  string
	}{
		{454, "Throttling failure: Maximum sending rate exceeded.", retry.Throttled, "Throttling"},
		{454, "Throttling failure: Daily message quota exceeded.", retry.Quota, "Throttling"},
		{454, "Temporary service failure.", retry.Retry, "SMTP454"},
		{421, "Too many concurrent SMTP connections.", retry.Retry, "SMTP421"},
		{451, "Temporary service failure.", retry.Retry, "SMTP451"},
		{535, "Authentication Credentials Invalid", retry.Unavailable, "SMTP535"},
		{530, "Authentication required", retry.Unavailable, "SMTP530"},
		{554, "Access denied: User arn:aws:iam::1:user/x is not authorized to perform ses:SendRawEmail on resource arn:aws:ses:us-east-1:1:identity/x", retry.Authorization, "SMTP554"},
		{554, "Message rejected: Email address is not verified. The following identities failed the check in region US-EAST-1: a@example.com", retry.Rejected, "SMTP554"},
		{554, "Transaction failed: Duplicate header 'Subject'.", retry.Rejected, "SMTP554"},
		{554, "Sending paused for this account.", retry.Quota, "SMTP554"},
		{550, "Mailbox unavailable", retry.Rejected, "SMTP550"},
	}
	for _, c := range cases {
		err := fmt.Errorf("send: %w", &textproto.Error{Code: c.code, Msg: c.msg})
		o := retry.Classify(err)
		if o.Class != c.wantClass || o.Code != c.wantCode || o.Message != c.msg {
			t.Errorf("%d %q: %s %s %q, want %s %s", c.code, c.msg, o.Class, o.Code, o.Message, c.wantClass, c.wantCode)
		}
	}
}
