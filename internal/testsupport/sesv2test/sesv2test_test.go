package sesv2test_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"

	"github.com/sesq/sesq/internal/testsupport/sesv2test"
)

const (
	east = "arn:aws:ses:us-east-1:123456789012:identity/example.com"
	west = "arn:aws:ses:eu-west-1:123456789012:identity/example.org"
)

func setup(t *testing.T) *sesv2test.Server {
	t.Helper()
	srv, err := sesv2test.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func client(srv *sesv2test.Server, region string) *sesv2.Client {
	return sesv2.New(sesv2.Options{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		BaseEndpoint: aws.String(srv.URL),
		Retryer:      aws.NopRetryer{},
	})
}

func simple(arn string, to ...string) *sesv2.SendEmailInput {
	return &sesv2.SendEmailInput{
		FromEmailAddress:            aws.String("sender@example.com"),
		FromEmailAddressIdentityArn: aws.String(arn),
		Destination:                 &types.Destination{ToAddresses: to},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String("s")},
			Body:    &types.Body{Text: &types.Content{Data: aws.String("b")}},
		}},
	}
}

func TestRecordsTheDecodedInput(t *testing.T) {
	srv := setup(t)
	in := simple(west, "to@example.net")
	in.Destination.CcAddresses = []string{"cc@example.net"}
	in.FeedbackForwardingEmailAddress = aws.String("feedback@example.org")
	in.FeedbackForwardingEmailAddressIdentityArn = aws.String(west)
	in.ReplyToAddresses = []string{"reply@example.org"}
	in.ConfigurationSetName = aws.String("set")
	in.EmailTags = []types.MessageTag{{Name: aws.String("n"), Value: aws.String("v")}}
	in.TenantName = aws.String("customer-42")
	in.Content.Simple.Body.Html = &types.Content{Data: aws.String("<p>b</p>"), Charset: aws.String("UTF-8")}
	out, err := client(srv, "eu-west-1").SendEmail(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	sent := srv.Sent()
	if len(sent) != 1 {
		t.Fatalf("%d sends recorded", len(sent))
	}
	r := sent[0]
	got := r.Input
	switch {
	case r.Operation != sesv2test.OpSendEmail, r.Region != "eu-west-1", r.MessageID != aws.ToString(out.MessageId), r.Identity != west:
		t.Errorf("request %+v", r)
	case got.FromEmailAddress != "sender@example.com", got.FromEmailAddressIdentityArn != west,
		got.FeedbackForwardingEmailAddress != "feedback@example.org", got.FeedbackForwardingEmailAddressIdentityArn != west:
		t.Errorf("addresses and ARNs: %+v", got)
	case strings.Join(r.Recipients(), ",") != "to@example.net,cc@example.net", strings.Join(got.ReplyToAddresses, ",") != "reply@example.org":
		t.Errorf("recipients %v, reply-to %v", r.Recipients(), got.ReplyToAddresses)
	case got.ConfigurationSetName != "set", len(got.EmailTags) != 1 || got.EmailTags[0] != (sesv2test.Tag{Name: "n", Value: "v"}), got.TenantName != "customer-42":
		t.Errorf("set, tags, tenant: %+v", got)
	case got.Content.Simple.Subject.Data != "s", got.Content.Simple.Body.Html.Charset != "UTF-8", got.Content.Simple.Body.Text.Data != "b":
		t.Errorf("content: %+v", got.Content.Simple)
	}
	if s, f, rp := r.ARNs(); s != west || f != west || rp != west {
		t.Errorf("ARNs %q %q %q", s, f, rp)
	}
}

func TestRawContentAndItsHeaders(t *testing.T) {
	srv := setup(t)
	msg := "X-SES-SOURCE-ARN: " + east + "\r\nX-SES-FROM-ARN: " + east + "\r\nX-SES-FROM-ARN: " + west + "\r\nX-SES-RETURN-PATH-ARN:\r\n " + east + "\r\nFrom: sender@example.com\r\n\r\nbody\r\n"
	_, err := client(srv, "us-east-1").SendEmail(context.Background(), &sesv2.SendEmailInput{
		Content: &types.EmailContent{Raw: &types.RawMessage{Data: []byte(msg)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := srv.Sent()[0]
	if string(r.Raw) != msg {
		t.Errorf("raw %q", r.Raw)
	}
	if r.Headers != (sesv2test.XSES{SourceArn: east, FromArn: east, ReturnPathArn: east}) {
		t.Errorf("first X-SES headers, unfolded: %+v", r.Headers)
	}

	// The parameter overrides the source and From headers, not Return-Path's.
	_, err = client(srv, "us-east-1").SendEmail(context.Background(), &sesv2.SendEmailInput{
		FromEmailAddressIdentityArn: aws.String("arn:aws:ses:us-east-1:123456789012:identity/sender@example.com"),
		Content: &types.EmailContent{Raw: &types.RawMessage{Data: []byte(
			"X-SES-SOURCE-ARN: " + east + "\r\nX-SES-FROM-ARN: " + east + "\r\nX-SES-RETURN-PATH-ARN: " + east + "\r\n\r\nbody")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	s, f, rp := srv.Sent()[1].ARNs()
	if p := "arn:aws:ses:us-east-1:123456789012:identity/sender@example.com"; s != p || f != p || rp != east {
		t.Errorf("ARNs %q %q %q", s, f, rp)
	}
}

func TestRegionMismatchIsRejected(t *testing.T) {
	srv := setup(t)
	_, err := client(srv, "us-east-1").SendEmail(context.Background(), simple(west, "to@example.net"))
	var rej *types.MessageRejected
	if !errors.As(err, &rej) {
		t.Fatalf("sent in us-east-1 for an eu-west-1 identity: %v, want MessageRejected", err)
	}
	if srv.RegionMismatches() != 1 || len(srv.Sent()) != 0 {
		t.Errorf("mismatches %d, sent %d", srv.RegionMismatches(), len(srv.Sent()))
	}
}

func TestUnsignedIsRefused(t *testing.T) {
	srv := setup(t)
	resp, err := http.Post(srv.URL+"/v2/email/outbound-emails", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.HasPrefix(resp.Header.Get("x-amzn-ErrorType"), "MissingAuthenticationTokenException") {
		t.Errorf("unsigned: %d %q", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"))
	}
	if len(srv.Requests()) != 0 {
		t.Error("an unsigned request was recorded")
	}
}

func TestBadContentIsABadRequest(t *testing.T) {
	srv := setup(t)
	in := simple(east, "to@example.net")
	in.Content.Raw = &types.RawMessage{Data: []byte("From: a@example.com\r\n\r\nb")}
	_, err := client(srv, "us-east-1").SendEmail(context.Background(), in)
	var bad *types.BadRequestException
	if !errors.As(err, &bad) {
		t.Errorf("Simple and Raw at once: %v, want BadRequestException", err)
	}
}

// Every fault reaches the SDK as the typed error of its code, with its
// message, whichever way the answer carries its type.
func TestFaultsAsTheSDKReadsThem(t *testing.T) {
	srv := setup(t)
	c := client(srv, "us-east-1")
	for _, f := range []sesv2test.Fault{
		sesv2test.AccessDenied, sesv2test.ThrottleRate, sesv2test.ThrottleDaily, sesv2test.MessageRejected,
		sesv2test.SendingPaused, sesv2test.AccountSuspended, sesv2test.MailFromDomainNotVerified, sesv2test.NotFound,
		sesv2test.LimitExceeded, sesv2test.BadRequest, sesv2test.InternalError, sesv2test.ServiceUnavailable,
		sesv2test.BadCredentials,
	} {
		for _, w := range []sesv2test.Wire{sesv2test.TypeHeader, sesv2test.TypeBody, sesv2test.CodeBody} {
			f.Wire = w
			srv.Fail(east, f)
			_, err := c.SendEmail(context.Background(), simple(east, "to@example.net"))
			var api smithy.APIError
			if !errors.As(err, &api) || api.ErrorCode() != f.Code || api.ErrorMessage() != f.Message {
				t.Errorf("%s (wire %d): got %v", f.Code, w, err)
			}
		}
	}
	_, err := c.SendEmail(context.Background(), simple(east, "to@example.net"))
	if err != nil {
		t.Errorf("after the scripted faults: %v", err)
	}
}

func TestScripts(t *testing.T) {
	srv := setup(t)
	c := client(srv, "us-east-1")
	send := func(arn string, to ...string) error {
		_, err := c.SendEmail(context.Background(), simple(arn, to...))
		return err
	}
	other := "arn:aws:ses:us-east-1:123456789012:identity/sender@example.com"

	srv.FailAlways(east, sesv2test.SendingPaused)
	var paused *types.SendingPausedException
	if err := send(east, "to@example.net"); !errors.As(err, &paused) {
		t.Errorf("FailAlways: %v", err)
	}
	if err := send(other, "to@example.net"); err != nil {
		t.Errorf("another identity: %v", err)
	}
	srv.Recover(east)
	if err := send(east, "to@example.net"); err != nil {
		t.Errorf("after Recover: %v", err)
	}

	srv.RefuseRecipient("refused@example.net", sesv2test.MessageRejected)
	var rej *types.MessageRejected
	if err := send(east, "to@example.net", "refused@example.net"); !errors.As(err, &rej) {
		t.Errorf("refused recipient: %v", err)
	}
	if err := send(east, "to@example.net"); err != nil {
		t.Errorf("other recipients: %v", err)
	}

	srv.FailEvery(other, 2, sesv2test.InternalError)
	var internal *types.InternalServiceErrorException
	if err := send(other, "to@example.net"); err != nil {
		t.Errorf("FailEvery, 1st: %v", err)
	}
	if err := send(other, "to@example.net"); !errors.As(err, &internal) {
		t.Errorf("FailEvery, 2nd: %v", err)
	}

	srv.PauseSending(true)
	if err := send(east, "to@example.net"); !errors.As(err, &paused) {
		t.Errorf("paused account: %v", err)
	}
	srv.PauseSending(false)
}

func TestAccountQuotas(t *testing.T) {
	srv := setup(t)
	srv.RateLimit(2)
	srv.DailyQuota(5)
	srv.Sandbox(true)
	c := client(srv, "us-east-1")
	ctx := context.Background()

	throttled := 0
	for range 4 {
		var tm *types.TooManyRequestsException
		_, err := c.SendEmail(ctx, simple(east, "a@example.net"))
		switch {
		case errors.As(err, &tm) && tm.ErrorMessage() == sesv2test.ThrottleRate.Message:
			throttled++
		case err != nil:
			t.Fatal(err)
		}
	}
	if throttled != 2 || srv.Throttled() != 2 {
		t.Errorf("4 sends at once at 2/s: %d throttled (server counts %d), want 2", throttled, srv.Throttled())
	}

	out, err := c.GetAccount(ctx, &sesv2.GetAccountInput{})
	if err != nil {
		t.Fatal(err)
	}
	q := out.SendQuota
	if q.MaxSendRate != 2 || q.Max24HourSend != 5 || q.SentLast24Hours != 2 || !out.SendingEnabled || out.ProductionAccessEnabled {
		t.Errorf("GetAccount: quota %+v, sending %v, production %v", *q, out.SendingEnabled, out.ProductionAccessEnabled)
	}

	// Four recipients more than the three left of the day's five.
	srv.RateLimit(1000)
	_, err = c.SendEmail(ctx, simple(east, "a@example.net", "b@example.net", "c@example.net", "d@example.net"))
	var tm *types.TooManyRequestsException
	if !errors.As(err, &tm) || tm.ErrorMessage() != "Daily message quota exceeded." {
		t.Errorf("over the daily quota: %v", err)
	}
	out, err = client(srv, "eu-west-1").GetAccount(ctx, &sesv2.GetAccountInput{})
	if err != nil || out.SendQuota.SentLast24Hours != 0 {
		t.Errorf("another region's count: %v %v", out, err)
	}
}
