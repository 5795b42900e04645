package sesv2_test

import (
	"context"
	"encoding/base64"
	"reflect"
	"testing"

	"github.com/sesq/sesq/internal/testsupport/conformance"
	"github.com/sesq/sesq/internal/testsupport/sesv2test"
)

const (
	east2 = "arn:aws:ses:us-east-1:123456789012:identity/sender@example.com"
	west  = "arn:aws:ses:eu-west-1:123456789012:identity/example.org"
)

// guideMessage is the SES guide's raw example without its X-SES headers.
const guideMessage = "From: sender@example.com\r\nTo: recipient@example.com\r\nReturn-Path: feedback@example.com\r\nSubject: subject\r\n" +
	"Content-Type: multipart/alternative; boundary=\"----=_boundary\"\r\n\r\n------=_boundary\r\nContent-Type: text/plain; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: 7bit\r\n\r\nbody\r\n------=_boundary\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\nbody\r\n------=_boundary--\r\n"

// guidePython is the SES guide's Python SendEmail example as an envelope.
func guidePython() map[string]any {
	return map[string]any{
		"action": "SendEmail", "source": "sender@example.com", "returnPath": "feedback@example.com",
		"sourceArn": east, "returnPathArn": east,
		"destination": map[string]any{"to": []string{"recipient@example.com"}},
		"message": map[string]any{
			"subject": map[string]any{"data": "Amazon SES Test", "charset": "UTF-8"},
			"body":    map[string]any{"html": map[string]any{"data": "This email was sent with Amazon SES.", "charset": "UTF-8"}},
		},
	}
}

func rawEnvelope(msg string, params map[string]any) map[string]any {
	v := map[string]any{"action": "SendRawEmail", "raw": base64.StdEncoding.EncodeToString([]byte(msg))}
	for k, a := range params {
		v[k] = a
	}
	return v
}

func with(v map[string]any, kv ...any) map[string]any {
	for i := 0; i < len(kv); i += 2 {
		v[kv[i].(string)] = kv[i+1]
	}
	return v
}

// What each envelope field becomes in the SendEmail request SES v2
// receives (the package documentation's table), the guide's examples
// first.
func TestEnvelopeToSendEmail(t *testing.T) {
	cases := []struct {
		name   string
		env    map[string]any
		region string
		want   sesv2test.SendEmailInput
		raw    string    // the message SES receives, for raw content
		arns   [3]string // source, From, Return-Path ARN as SES v2 reads them (no defaults)
		check  func(*testing.T, sesv2test.Request)
	}{
		{name: "the guide's Python SendEmail: SourceArn and ReturnPathArn",
			env: guidePython(), region: "us-east-1",
			want: sesv2test.SendEmailInput{
				FromEmailAddress: "sender@example.com", FromEmailAddressIdentityArn: east,
				FeedbackForwardingEmailAddress: "feedback@example.com", FeedbackForwardingEmailAddressIdentityArn: east,
				Destination: &sesv2test.Destination{ToAddresses: []string{"recipient@example.com"}},
				Content: &sesv2test.Content{Simple: &sesv2test.Simple{
					Subject: &sesv2test.Text{Data: "Amazon SES Test", Charset: "UTF-8"},
					Body:    &sesv2test.Body{Html: &sesv2test.Text{Data: "This email was sent with Amazon SES.", Charset: "UTF-8"}},
				}},
			},
			arns: [3]string{east, east, east}},
		{name: "every other SendEmail field, tenantName included",
			env: with(guidePython(), "sourceArn", west, "returnPathArn", west, "tenantName", "customer-42",
				"configurationSetName", "transactional", "tags", []map[string]string{{"name": "campaign", "value": "spring"}},
				"replyTo", []string{"Help <help@example.org>"},
				"destination", map[string]any{"to": []string{"a@example.net"}, "cc": []string{"b@example.net"}, "bcc": []string{"c@example.net"}},
				"message", map[string]any{"subject": map[string]any{"data": "s"}, "body": map[string]any{"text": map[string]any{"data": "t", "charset": "ISO-8859-1"}, "html": map[string]any{"data": "h"}}}),
			region: "eu-west-1",
			want: sesv2test.SendEmailInput{
				FromEmailAddress: "sender@example.com", FromEmailAddressIdentityArn: west,
				FeedbackForwardingEmailAddress: "feedback@example.com", FeedbackForwardingEmailAddressIdentityArn: west,
				Destination:      &sesv2test.Destination{ToAddresses: []string{"a@example.net"}, CcAddresses: []string{"b@example.net"}, BccAddresses: []string{"c@example.net"}},
				ReplyToAddresses: []string{"Help <help@example.org>"},
				Content: &sesv2test.Content{Simple: &sesv2test.Simple{
					Subject: &sesv2test.Text{Data: "s"},
					Body:    &sesv2test.Body{Text: &sesv2test.Text{Data: "t", Charset: "ISO-8859-1"}, Html: &sesv2test.Text{Data: "h"}},
				}},
				EmailTags: []sesv2test.Tag{{Name: "campaign", Value: "spring"}}, ConfigurationSetName: "transactional", TenantName: "customer-42",
			},
			arns: [3]string{west, west, west}},
		{name: "SendTemplatedEmail",
			env: map[string]any{"action": "SendTemplatedEmail", "source": "sender@example.com", "sourceArn": east,
				"destination": map[string]any{"to": []string{"recipient@example.com"}}, "template": "MyTemplate", "templateData": `{"name":"Ana"}`,
				"tenantName": "customer-42"},
			region: "us-east-1",
			want: sesv2test.SendEmailInput{
				FromEmailAddress: "sender@example.com", FromEmailAddressIdentityArn: east,
				Destination: &sesv2test.Destination{ToAddresses: []string{"recipient@example.com"}},
				Content:     &sesv2test.Content{Template: &sesv2test.Template{TemplateName: "MyTemplate", TemplateData: `{"name":"Ana"}`}},
				TenantName:  "customer-42",
			},
			arns: [3]string{east, east, ""}},
		{name: "the guide's raw message with three X-SES headers: no parameter, the message untouched",
			env:    rawEnvelope("X-SES-SOURCE-ARN: "+east+"\r\nX-SES-FROM-ARN: "+east+"\r\nX-SES-RETURN-PATH-ARN: "+east+"\r\n"+guideMessage, nil),
			region: "us-east-1",
			raw:    "X-SES-SOURCE-ARN: " + east + "\r\nX-SES-FROM-ARN: " + east + "\r\nX-SES-RETURN-PATH-ARN: " + east + "\r\n" + guideMessage,
			arns:   [3]string{east, east, east},
			check: func(t *testing.T, r sesv2test.Request) {
				if r.Headers != (sesv2test.XSES{SourceArn: east, FromArn: east, ReturnPathArn: east}) {
					t.Errorf("X-SES headers as SES reads them: %+v", r.Headers)
				}
			}},
		{name: "raw: sourceArn, fromArn and returnPathArn of one identity are parameters; destinations go Bcc",
			env: rawEnvelope(guideMessage, map[string]any{"source": "sender@example.org", "sourceArn": west, "fromArn": west, "returnPathArn": west,
				"destinations": []string{"recipient@example.com", "other@example.net"}, "tenantName": "customer-42", "configurationSetName": "raw-set"}),
			region: "eu-west-1",
			want: sesv2test.SendEmailInput{
				FromEmailAddress: "sender@example.org", FromEmailAddressIdentityArn: west, FeedbackForwardingEmailAddressIdentityArn: west,
				Destination:          &sesv2test.Destination{BccAddresses: []string{"recipient@example.com", "other@example.net"}},
				ConfigurationSetName: "raw-set", TenantName: "customer-42",
			},
			raw: guideMessage, arns: [3]string{west, west, west}},
		{name: "raw: sourceArn with a From ARN of another identity: both go in as X-SES headers",
			env:    rawEnvelope(guideMessage, map[string]any{"sourceArn": east, "fromArn": east2}),
			region: "us-east-1",
			raw:    "X-SES-SOURCE-ARN: " + east + "\r\nX-SES-FROM-ARN: " + east2 + "\r\n" + guideMessage,
			arns:   [3]string{east, east2, ""}},
		{name: "raw: sourceArn with another identity's X-SES-FROM-ARN header: the source ARN joins it",
			env:    rawEnvelope("X-SES-FROM-ARN: "+east2+"\r\n"+guideMessage, map[string]any{"sourceArn": east}),
			region: "us-east-1",
			raw:    "X-SES-SOURCE-ARN: " + east + "\r\nX-SES-FROM-ARN: " + east2 + "\r\n" + guideMessage,
			arns:   [3]string{east, east2, ""}},
		{name: "raw: fromArn alone is a header, not the parameter (which would name the source too); the message's own line ends",
			env:    rawEnvelope("From: sender@example.com\nSubject: s\n\nbody\n", map[string]any{"fromArn": east2, "returnPathArn": east}),
			region: "us-east-1",
			want:   sesv2test.SendEmailInput{FeedbackForwardingEmailAddressIdentityArn: east},
			raw:    "X-SES-FROM-ARN: " + east2 + "\nFrom: sender@example.com\nSubject: s\n\nbody\n",
			arns:   [3]string{"", east2, east}},
		{name: "raw: fromArn equal to the source header's identity",
			env:    rawEnvelope("X-SES-SOURCE-ARN: "+east+"\r\n"+guideMessage, map[string]any{"fromArn": east}),
			region: "us-east-1",
			raw:    "X-SES-FROM-ARN: " + east + "\r\nX-SES-SOURCE-ARN: " + east + "\r\n" + guideMessage,
			arns:   [3]string{east, east, ""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := start(t)
			tr := newTransport(t, srv.URL)
			e := conformance.Envelope(t, c.env)
			if err := tr.Validate(e); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			id, err := tr.Send(context.Background(), e)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			sent := srv.Sent()
			if len(sent) != 1 || sent[0].MessageID != id {
				t.Fatalf("sent %+v, id %q", sent, id)
			}
			r := sent[0]
			if r.Region != c.region {
				t.Errorf("signed for %q, want %q", r.Region, c.region)
			}
			got := r.Input
			if c.raw != "" {
				if got.Content == nil || got.Content.Raw == nil || string(r.Raw) != c.raw {
					t.Errorf("raw content %q\nwant %q", r.Raw, c.raw)
				}
				got.Content = nil
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("SendEmail input\n got %+v\nwant %+v", got, c.want)
			}
			if s, f, rp := r.ARNs(); [3]string{s, f, rp} != c.arns {
				t.Errorf("ARNs as SES v2 reads them %q, want %q", [3]string{s, f, rp}, c.arns)
			}
			if c.check != nil {
				c.check(t, r)
			}
		})
	}
}
