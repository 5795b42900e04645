package sesmtp_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sesq/sesq/envelope"
	"github.com/sesq/sesq/internal/sesmtp"
	"github.com/sesq/sesq/internal/testkit"
)

// The derived SMTP password matches an independent computation of SES's
// algorithm with openssl: HMAC-SHA256 chained over "11111111", the region,
// "ses", "aws4_request", "SendRawEmail", version byte 4, base64.
func TestPasswordMatchesOpenSSL(t *testing.T) {
	secret := "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" // AWS's documentation example key
	for _, region := range []string{"us-east-1", "eu-west-1", "ap-southeast-2"} {
		key := hex.EncodeToString([]byte("AWS4" + secret))
		for _, msg := range []string{"11111111", region, "ses", "aws4_request", "SendRawEmail"} {
			cmd := exec.Command("openssl", "dgst", "-sha256", "-mac", "HMAC", "-macopt", "hexkey:"+key)
			cmd.Stdin = strings.NewReader(msg)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("openssl: %v", err)
			}
			f := strings.Fields(string(out))
			key = f[len(f)-1]
		}
		raw, _ := hex.DecodeString("04" + key)
		want := base64.StdEncoding.EncodeToString(raw)
		if got := sesmtp.Password(secret, region); got != want {
			t.Errorf("%s: Password = %s, openssl says %s", region, got, want)
		}
	}
	if sesmtp.Password("k", "us-east-1") == sesmtp.Password("k", "eu-west-1") {
		t.Error("the password does not depend on the region")
	}
}

const east = "arn:aws:ses:us-east-1:123456789012:identity/example.com"

func parse(t *testing.T, body string) *envelope.Envelope {
	t.Helper()
	e, err := envelope.Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func sendEmail(over map[string]any) string {
	e := map[string]any{
		"version": 1, "action": "SendEmail", "sourceArn": east, "returnPathArn": east,
		"source": "Shop <sender@example.com>", "returnPath": "bounces@example.com",
		"destination": map[string]any{"to": []string{"a@example.net", "b@example.net"}, "cc": []string{"c@example.net"}, "bcc": []string{"hidden@example.net"}},
		"replyTo":     []string{"help@example.com"},
		"message": map[string]any{
			"subject": map[string]any{"data": "Grüße, your receipt", "charset": "UTF-8"},
			"body": map[string]any{
				"text": map[string]any{"data": "Hallo Ana,\nthanks — 42 €.\n.\nA line that is longer than seventy-six characters so that quoted-printable must wrap it somewhere.", "charset": "UTF-8"},
				"html": map[string]any{"data": "<p>Hallo Ana, 42 €</p>", "charset": "UTF-8"},
			},
		},
		"configurationSetName": "transactional",
		"tags":                 []map[string]string{{"name": "campaign", "value": "receipt"}, {"name": "tenant", "value": "acme"}},
	}
	return string(testkit.JSONWith(e, over))
}

func TestMessageRendersSendEmail(t *testing.T) {
	e := parse(t, sendEmail(nil))
	data, err := sesmtp.Message(e, time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\r\n")
	wantTop := []string{
		"X-SES-SOURCE-ARN: " + east,
		"X-SES-RETURN-PATH-ARN: " + east,
		"X-SES-CONFIGURATION-SET: transactional",
		"X-SES-MESSAGE-TAGS: campaign=receipt, tenant=acme",
	}
	for i, w := range wantTop {
		if lines[i] != w {
			t.Errorf("header %d = %q, want %q", i, lines[i], w)
		}
	}
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	dec := new(mime.WordDecoder)
	subject, _ := dec.DecodeHeader(m.Header.Get("Subject"))
	if subject != "Grüße, your receipt" || !strings.HasPrefix(m.Header.Get("Subject"), "=?UTF-8?") {
		t.Errorf("Subject %q decodes to %q", m.Header.Get("Subject"), subject)
	}
	if m.Header.Get("From") != "Shop <sender@example.com>" || m.Header.Get("To") != "a@example.net, b@example.net" ||
		m.Header.Get("Cc") != "c@example.net" || m.Header.Get("Reply-To") != "help@example.com" {
		t.Errorf("address headers: %v", m.Header)
	}
	if m.Header.Get("Bcc") != "" || strings.Contains(string(data), "hidden@example.net") {
		t.Error("Bcc must be only on the SMTP envelope")
	}
	if m.Header.Get("Date") == "" || m.Header.Get("Message-Id") == "" {
		t.Error("Date or Message-ID missing")
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q", m.Header.Get("Content-Type"))
	}
	r := multipart.NewReader(m.Body, params["boundary"])
	var parts []string
	for {
		p, err := r.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		parts = append(parts, p.Header.Get("Content-Type")+"|"+string(b))
	}
	wantText := "text/plain; charset=UTF-8|Hallo Ana,\r\nthanks — 42 €.\r\n.\r\nA line that is longer than seventy-six characters so that quoted-printable must wrap it somewhere."
	if len(parts) != 2 || parts[0] != wantText || parts[1] != "text/html; charset=UTF-8|<p>Hallo Ana, 42 €</p>" {
		t.Errorf("parts:\n%q", parts)
	}
	for _, l := range lines {
		if len(l) > 998 {
			t.Error("a line over 998 octets")
		}
	}
	rcpts, _ := sesmtp.Recipients(e)
	from, _ := sesmtp.MailFrom(e)
	if strings.Join(rcpts, ",") != "a@example.net,b@example.net,c@example.net,hidden@example.net" || from != "bounces@example.com" {
		t.Errorf("envelope: from %s to %v", from, rcpts)
	}
}

func TestMessageSinglePart(t *testing.T) {
	e := parse(t, sendEmail(map[string]any{"message": map[string]any{
		"subject": map[string]any{"data": "Plain"}, "body": map[string]any{"text": map[string]any{"data": "just text"}}}}))
	data, _ := sesmtp.Message(e, time.Now())
	m, _ := mail.ReadMessage(bytes.NewReader(data))
	b, _ := io.ReadAll(quotedprintable.NewReader(m.Body))
	if m.Header.Get("Subject") != "Plain" || m.Header.Get("Content-Type") != "text/plain; charset=UTF-8" || strings.TrimSpace(string(b)) != "just text" {
		t.Errorf("single part: %v %q", m.Header, b)
	}
}

// A raw message stays as it is below the X-SES headers sesq puts on top;
// a producer's agreeing X-SES header stays where it was.
func TestMessageRawKeepsTheMessage(t *testing.T) {
	raw := "From: Sender <sender@example.com>\r\nTo: a@example.net, \"B\" <b@example.net>\r\nBcc: hidden@example.net\r\nX-SES-FROM-ARN: " + east +
		"\r\nDKIM-Signature: v=1; h=From:To; b=abc\r\nSubject: s\r\n\r\nbody\r\n"
	body, _ := json.Marshal(map[string]any{"version": 1, "action": "SendRawEmail", "sourceArn": east, "raw": []byte(raw)})
	e := parse(t, string(body))
	data, err := sesmtp.Message(e, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := "X-SES-SOURCE-ARN: " + east + "\r\nX-SES-FROM-ARN: " + east + "\r\n" + raw
	if string(data) != want {
		t.Errorf("message:\n%q\nwant\n%q", data, want)
	}
	rcpts, _ := sesmtp.Recipients(e)
	from, _ := sesmtp.MailFrom(e)
	if strings.Join(rcpts, ",") != "a@example.net,b@example.net,hidden@example.net" || from != "sender@example.com" {
		t.Errorf("envelope: from %s to %v", from, rcpts)
	}
}

func TestTemplatedCannotGoOverSMTP(t *testing.T) {
	tr, err := sesmtp.New(sesmtp.Config{Username: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	e := parse(t, sendEmail(map[string]any{"action": "SendTemplatedEmail", "message": nil, "template": "T", "templateData": "{}"}))
	if err := tr.Validate(e); err == nil || !strings.Contains(err.Error(), "SMTP") {
		t.Errorf("Validate = %v", err)
	}
}

func TestNewRefusesPlainTextBeyondLoopback(t *testing.T) {
	for _, c := range []struct {
		cfg     sesmtp.Config
		wantErr string
	}{
		{sesmtp.Config{TLS: sesmtp.TLSNone, Username: "u", Password: "p"}, "loopback"},
		{sesmtp.Config{TLS: sesmtp.TLSNone, Endpoint: "mail.example.com:25", Username: "u", Password: "p"}, "loopback"},
		{sesmtp.Config{TLS: sesmtp.TLSNone, Endpoint: "127.0.0.1:2525", Username: "u", Password: "p"}, ""},
		{sesmtp.Config{Username: "u"}, "both"},
		{sesmtp.Config{}, "no SMTP credentials"},
		{sesmtp.Config{AccessKeyID: "AKID", SecretAccessKey: "s"}, ""},
	} {
		_, err := sesmtp.New(c.cfg)
		if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.wantErr)
		}
	}
}
