package sessmtp

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/sesq/sesq/transport"
)

// The reply table: each SMTP reply, as the SES SMTP interface words it, to
// the stage it answers, ends in its class, code and message. The cases of
// the worker's former SMTP table come first (at DATA, where SES answers
// them), then the stage-dependent ones.
func TestClassifyReplies(t *testing.T) {
	none := smtp.EnhancedCode{}
	cases := []struct {
		stage      stage
		code       int
		enh        smtp.EnhancedCode
		msg        string
		class      transport.Class
		perMessage bool
		wantCode   string
	}{
		{stageDataEnd, 454, none, "Throttling failure: Maximum sending rate exceeded.", transport.Throttled, false, "Throttling"},
		{stageDataEnd, 454, none, "Throttling failure: Daily message quota exceeded.", transport.Quota, false, "Throttling"},
		{stageDataEnd, 454, none, "Temporary service failure.", transport.Retry, false, "SMTP454"},
		{stageMail, 421, none, "Too many concurrent SMTP connections.", transport.Retry, false, "SMTP421"},
		{stageDataEnd, 451, none, "Temporary service failure.", transport.Retry, false, "SMTP451"},
		{stageAuth, 535, none, "Authentication Credentials Invalid", transport.Unavailable, false, "SMTP535"},
		{stageMail, 530, none, "Authentication required", transport.Unavailable, false, "SMTP530"},
		{stageDataEnd, 554, none, "Access denied: User arn:aws:iam::1:user/x is not authorized to perform ses:SendRawEmail on resource arn:aws:ses:us-east-1:1:identity/x", transport.Authorization, false, "SMTP554"},
		{stageDataEnd, 554, none, "Message rejected: Email address is not verified. The following identities failed the check in region US-EAST-1: a@example.com", transport.Rejected, true, "SMTP554"},
		{stageDataEnd, 554, none, "Transaction failed: Duplicate header 'Subject'.", transport.Rejected, true, "SMTP554"},
		{stageDataEnd, 554, none, "Sending paused for this account.", transport.Quota, false, "SMTP554"},
		{stageDataEnd, 550, none, "Mailbox unavailable", transport.Rejected, true, "SMTP550"},

		// RCPT: a recipient refused is this message's, never the region's.
		{stageRcpt, 550, smtp.EnhancedCode{5, 1, 1}, "<refused@example.net>: Recipient address rejected: User unknown", transport.Rejected, true, "SMTP550 5.1.1"},
		{stageRcpt, 553, smtp.EnhancedCode{5, 1, 3}, "Bad recipient address syntax", transport.Rejected, true, "SMTP553 5.1.3"},
		{stageRcpt, 501, none, "Invalid RCPT TO address provided", transport.Rejected, true, "SMTP501"},
		{stageRcpt, 450, smtp.EnhancedCode{4, 2, 1}, "Mailbox busy", transport.Retry, true, "SMTP450 4.2.1"},
		{stageRcpt, 451, smtp.EnhancedCode{4, 7, 1}, "Greylisted, try again", transport.Retry, false, "SMTP451 4.7.1"},
		{stageRcpt, 451, none, "Temporary service failure.", transport.Retry, false, "SMTP451"},
		{stageRcpt, 450, smtp.EnhancedCode{4, 1, 1}, "Bad destination mailbox address", transport.Retry, true, "SMTP450 4.1.1"},
		{stageRcpt, 451, smtp.EnhancedCode{4, 3, 0}, "Temporary system failure", transport.Retry, false, "SMTP451 4.3.0"},
		{stageRcpt, 454, smtp.EnhancedCode{4, 7, 0}, "Throttling failure: Maximum sending rate exceeded.", transport.Throttled, false, "Throttling"},
		{stageRcpt, 421, smtp.EnhancedCode{4, 4, 2}, "Timeout waiting for data from client.", transport.Retry, false, "SMTP421 4.4.2"},
		{stageRcpt, 503, smtp.EnhancedCode{5, 5, 1}, "Bad sequence of commands", transport.Retry, false, "SMTP503 5.5.1"},

		// MAIL FROM: the sender refused is the message's.
		{stageMail, 553, smtp.EnhancedCode{5, 1, 7}, "Sender address rejected", transport.Rejected, true, "SMTP553 5.1.7"},
		{stageMail, 451, none, "Temporary service failure.", transport.Retry, false, "SMTP451"},
		{stageMail, 554, smtp.EnhancedCode{5, 7, 1}, "Access denied", transport.Authorization, false, "SMTP554 5.7.1"},

		// DATA.
		{stageData, 554, smtp.EnhancedCode{5, 3, 4}, "Message too big", transport.Rejected, true, "SMTP554 5.3.4"},
		{stageDataEnd, 552, smtp.EnhancedCode{5, 3, 4}, "Message size exceeds fixed limit", transport.Rejected, true, "SMTP552 5.3.4"},
		{stageDataEnd, 554, smtp.EnhancedCode{5, 7, 1}, "Sending is paused for this configuration set", transport.Quota, false, "SMTP554 5.7.1"},

		// The session: sesq's credentials, or the server's refusal to talk,
		// are the region's.
		{stageAuth, 535, smtp.EnhancedCode{5, 7, 8}, "Authentication credentials invalid", transport.Unavailable, false, "SMTP535 5.7.8"},
		{stageAuth, 504, smtp.EnhancedCode{5, 7, 4}, "Unsupported authentication mechanism", transport.Unavailable, false, "SMTP504 5.7.4"},
		{stageAuth, 454, smtp.EnhancedCode{4, 7, 0}, "Temporary authentication failure", transport.Retry, false, "SMTP454 4.7.0"},
		{stageConnect, 554, none, "Access denied", transport.Unavailable, false, "SMTP554"},
		{stageConnect, 421, none, "Service not available", transport.Retry, false, "SMTP421"},
		{stageConnect, 454, none, "Throttling failure: Maximum sending rate exceeded.", transport.Throttled, false, "Throttling"},
	}
	for _, c := range cases {
		name := fmt.Sprintf("%s %d %s", c.stage, c.code, c.msg)
		t.Run(name, func(t *testing.T) {
			f := failure{stage: c.stage, err: fmt.Errorf("x: %w", &smtp.SMTPError{Code: c.code, EnhancedCode: c.enh, Message: c.msg}),
				endpoint: "email-smtp.us-east-1.amazonaws.com:587", region: "us-east-1", rcpt: 2, rcpts: 3}
			te := f.classify(context.Background())
			if te.Class != c.class || te.PerMessage != c.perMessage || te.Code != c.wantCode {
				t.Errorf("%s per-message %v code %q, want %s %v %q", te.Class, te.PerMessage, te.Code, c.class, c.perMessage, c.wantCode)
			}
			if te.Uncertain {
				t.Error("a reply is not uncertain")
			}
			if strings.Contains(te.Message, "@") {
				t.Errorf("the message names an address: %s", te.Message)
			}
			if !strings.Contains(te.Message, fmt.Sprint(c.code)) {
				t.Errorf("the message lacks the reply: %s", te.Message)
			}
		})
	}
}

func TestClassifyMessages(t *testing.T) {
	f := failure{stage: stageRcpt, rcpt: 3, rcpts: 5, err: &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "<bob@example.net>: Recipient address rejected"}}
	if got, want := f.classify(context.Background()).Message, "recipient 3 of 5 refused: 550 5.1.1 [address] Recipient address rejected"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	f = failure{stage: stageAuth, region: "eu-west-1", err: &smtp.SMTPError{Code: 535, Message: "Authentication Credentials Invalid"}}
	if got, want := f.classify(context.Background()).Message, "the SMTP credentials for eu-west-1 refused: 535 Authentication Credentials Invalid"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
}

// Failures without a reply: a certificate not trusted is the region's
// setup, not its credentials; a connection lost after the final dot
// leaves the outcome uncertain, before it not.
func TestClassifyNoReply(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tlsErr := x509.UnknownAuthorityError{}
	for _, c := range []struct {
		name      string
		ctx       context.Context
		stage     stage
		err       error
		class     transport.Class
		code      string
		uncertain bool
	}{
		{"certificate not trusted", context.Background(), stageConnect, fmt.Errorf("tls: %w", tlsErr), transport.Unavailable, transport.CodeTLS, false},
		{"no STARTTLS", context.Background(), stageConnect, errors.New("smtp: server doesn't support STARTTLS"), transport.Unavailable, CodeNoStartTLS, false},
		{"connection refused", context.Background(), stageConnect, fmt.Errorf("dial: %w", syscall.ECONNREFUSED), transport.Retry, transport.CodeConnection, false},
		{"connection lost at RCPT", context.Background(), stageRcpt, io.EOF, transport.Retry, transport.CodeConnection, false},
		{"connection lost writing the message", context.Background(), stageData, syscall.ECONNRESET, transport.Retry, transport.CodeConnection, false},
		{"connection lost after the final dot", context.Background(), stageDataEnd, io.EOF, transport.Retry, transport.CodeConnection, true},
		{"cancelled before the final dot", cancelled, stageData, io.EOF, transport.Retry, transport.CodeTimeout, false},
		{"cancelled after the final dot", cancelled, stageDataEnd, io.EOF, transport.Retry, transport.CodeTimeout, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			te := failure{stage: c.stage, err: c.err, endpoint: "email-smtp.us-east-1.amazonaws.com:587", region: "us-east-1"}.classify(c.ctx)
			if te.Class != c.class || te.Code != c.code || te.Uncertain != c.uncertain || te.PerMessage {
				t.Errorf("%s %s uncertain %v per-message %v, want %s %s uncertain %v", te.Class, te.Code, te.Uncertain, te.PerMessage, c.class, c.code, c.uncertain)
			}
			if c.code == transport.CodeTLS && (!strings.Contains(te.Message, "not trusted") || strings.Contains(te.Message, "credentials")) {
				t.Errorf("message %q", te.Message)
			}
			if c.ctx.Err() != nil && !errors.Is(te, context.Canceled) {
				t.Error("a cancelled send does not unwrap to context.Canceled")
			}
		})
	}
}

// Every code the transport gives has a bounded metric label: a reply code
// without its enhanced status, the transport's own codes as they are.
func TestCodeLabel(t *testing.T) {
	var tr *Transport
	for code, want := range map[string]string{
		"":                         "",
		"SMTP550 5.1.1":            "SMTP550",
		"SMTP554":                  "SMTP554",
		"SMTP451 4.4.2":            "SMTP451",
		CodeNoCredentials:          CodeNoCredentials,
		CodeInvalidMessage:         CodeInvalidMessage,
		transport.CodeThrottling:   transport.CodeThrottling,
		transport.CodeTimeout:      transport.CodeTimeout,
		"SMTP250":                  transport.CodeOther,
		"SMTP5500":                 transport.CodeOther,
		"SMTP55x":                  transport.CodeOther,
		"SMTP550 whatever follows": "SMTP550",
		"MessageRejected":          transport.CodeOther,
	} {
		if got := tr.CodeLabel(code); got != want {
			t.Errorf("CodeLabel(%q) = %q, want %q", code, got, want)
		}
	}
	if c := tr.Call("SendEmail"); c.System != "smtp" || c.Service != "" || c.Method != "" {
		t.Errorf("Call = %+v", c)
	}
}
