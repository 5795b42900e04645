package sessmtp_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/kelseyhightower/envconfig"
	"golang.org/x/text/encoding/charmap"

	"github.com/sesq/sesq/envelope"
	"github.com/sesq/sesq/internal/testsupport/conformance"
	"github.com/sesq/sesq/internal/testsupport/smtptest"
	"github.com/sesq/sesq/transport"
	"github.com/sesq/sesq/transport/sessmtp"
)

// simple is a SendEmail envelope with only a sourceArn, with over merged
// in (a nil value removes the field).
func simple(arn string, over map[string]any) map[string]any {
	e := map[string]any{
		"action": "SendEmail", "sourceArn": arn, "source": "Shop <sender@example.com>",
		"destination": map[string]any{"to": []string{"a@example.net"}, "cc": []string{"c@example.net"}, "bcc": []string{"hidden@example.net"}},
		"message": map[string]any{
			"subject": map[string]any{"data": "Your receipt"},
			"body":    map[string]any{"text": map[string]any{"data": "Thanks."}},
		},
	}
	for k, v := range over {
		if v == nil {
			delete(e, k)
			continue
		}
		e[k] = v
	}
	return e
}

const rawBody = "From: Sender <sender@example.com>\r\nTo: recipient@example.net\r\nSubject: hello\r\n\r\nbody\r\n"

func raw(msg string, params map[string]any) map[string]any {
	e := map[string]any{"action": "SendRawEmail", "raw": base64.StdEncoding.EncodeToString([]byte(msg))}
	for k, v := range params {
		e[k] = v
	}
	return e
}

func send(t *testing.T, tr transport.Transport, env map[string]any) (string, error) {
	t.Helper()
	e := conformance.Envelope(t, env)
	if err := tr.Validate(e); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return tr.Send(context.Background(), e)
}

// Every TLS mode delivers: each message in its identity's region, logged
// in with the password derived for that region, all three X-SES headers
// first, and the SMTP envelope right.
func TestSendsInEveryMode(t *testing.T) {
	for _, mode := range []string{smtptest.StartTLS, smtptest.Implicit, smtptest.Plain} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, mode)
			tr := newTransport(t, srv, mode, nil)
			east, west := arnIn("us-east-1", "example.com"), arnIn("eu-west-1", "example.com")
			if _, err := send(t, tr, simple(west, nil)); err != nil {
				t.Fatal(err)
			}
			id, err := send(t, tr, raw(rawBody, map[string]any{"sourceArn": east}))
			if err != nil {
				t.Fatal(err)
			}
			ms := srv.Accepted()
			if len(ms) != 2 || id != ms[1].ID {
				t.Fatalf("accepted %d, id %q", len(ms), id)
			}
			for i, want := range []struct{ arn, from, to string }{
				{west, "sender@example.com", "a@example.net,c@example.net,hidden@example.net"},
				{east, "sender@example.com", "recipient@example.net"},
			} {
				m := ms[i]
				if m.TLS != (mode != smtptest.Plain) || m.Region != regionOf(want.arn) || m.User != accessKey || m.Password != sessmtp.Password(secretKey, m.Region) {
					t.Errorf("message %d: TLS %v, region %q, user %s", i, m.TLS, m.Region, m.User)
				}
				h := m.Headers()
				top := []string{"X-SES-SOURCE-ARN: " + want.arn, "X-SES-FROM-ARN: " + want.arn, "X-SES-RETURN-PATH-ARN: " + want.arn}
				if strings.Join(h[:3], "\n") != strings.Join(top, "\n") {
					t.Errorf("message %d begins\n%s", i, strings.Join(h[:3], "\n"))
				}
				if m.From != want.from || strings.Join(m.To, ",") != want.to {
					t.Errorf("message %d: MAIL FROM %s, RCPT TO %v", i, m.From, m.To)
				}
			}
		})
	}
}

// SESQ_SMTP_CREDENTIALS gives each region its own login; a region it does
// not name is unavailable (the region pauses), and nothing is dialled for
// it.
func TestPerRegionCredentials(t *testing.T) {
	srv, err := smtptest.Start(smtptest.StartTLS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	creds := map[string]sessmtp.Credential{
		"us-east-1": {Username: "AKIAEAST", Password: "east-password"},
		"eu-west-1": {Username: "AKIAWEST", Password: "west-password"},
	}
	for r, c := range creds {
		srv.AddLogin(c.Username, c.Password, r)
	}
	js, _ := json.Marshal(creds)
	t.Setenv("SESQ_SMTP_ENDPOINT", srv.Addr)
	t.Setenv("SESQ_SMTP_CA_FILE", caFile(t, srv))
	t.Setenv("SESQ_SMTP_CREDENTIALS", string(js))
	tr, err := sessmtp.New(context.Background(), transport.Setup{MaxConns: 2, SendTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	for _, r := range []string{"eu-west-1", "us-east-1"} {
		if _, err := send(t, tr, simple(arnIn(r, "example.com"), nil)); err != nil {
			t.Fatalf("%s: %v", r, err)
		}
	}
	for i, m := range srv.Accepted() {
		if want := []string{"eu-west-1", "us-east-1"}[i]; m.Region != want || m.User != creds[want].Username {
			t.Errorf("message %d sent in %s as %s, want %s", i, m.Region, m.User, want)
		}
	}
	conns := srv.Conns()
	_, err = send(t, tr, simple(arnIn("ap-southeast-2", "example.com"), nil))
	te := transport.Classify(err)
	if te.Class != transport.Unavailable || te.Code != sessmtp.CodeNoCredentials || te.PerMessage || !strings.Contains(te.Message, "ap-southeast-2") {
		t.Errorf("a region without a credential: %+v", te)
	}
	if srv.Conns() != conns {
		t.Error("dialled a region without a credential")
	}
}

// One SESQ_SMTP_USERNAME/PASSWORD is used for every region, as given
// (SES takes it in the one region its password was derived for; a 535
// elsewhere is unavailable, the region's, as the reply table says).
func TestSinglePairServesEveryRegion(t *testing.T) {
	srv, err := smtptest.Start(smtptest.StartTLS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	tr := newTransport(t, srv, smtptest.StartTLS, func(c *sessmtp.Config) {
		c.AccessKeyID, c.SecretAccessKey = "", ""
		c.Username, c.Password = "AKIAPAIR", "pair-password"
	})
	for _, r := range regions {
		if _, err := send(t, tr, simple(arnIn(r, "example.com"), nil)); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range srv.Accepted() {
		if m.User != "AKIAPAIR" || m.Password != "pair-password" {
			t.Errorf("logged in as %s", m.User)
		}
	}
}

// The server's CA is trusted through SESQ_SMTP_CA_FILE, added to the
// system's roots; without it the certificate is not trusted, and that is
// what the failure says: unavailable, TLSVerification, nothing sent, no
// login tried.
func TestCAFile(t *testing.T) {
	for _, mode := range []string{smtptest.StartTLS, smtptest.Implicit} {
		t.Run(mode, func(t *testing.T) {
			srv := startServer(t, mode)
			trusted := newTransport(t, srv, mode, nil)
			if _, err := send(t, trusted, simple(arnIn("us-east-1", "example.com"), nil)); err != nil {
				t.Fatalf("with the CA file: %v", err)
			}
			untrusted := newTransport(t, srv, mode, func(c *sessmtp.Config) { c.CAFile = "" })
			_, err := send(t, untrusted, simple(arnIn("us-east-1", "example.com"), nil))
			te := transport.Classify(err)
			if te.Class != transport.Unavailable || te.Code != transport.CodeTLS || te.PerMessage || te.Uncertain {
				t.Errorf("an untrusted certificate: %+v", te)
			}
			if !strings.Contains(te.Message, "not trusted") || strings.Contains(strings.ToLower(te.Message), "credentials") {
				t.Errorf("message %q", te.Message)
			}
			if len(srv.Accepted()) != 1 || srv.AuthFailures() != 0 {
				t.Errorf("accepted %d, logins refused %d", len(srv.Accepted()), srv.AuthFailures())
			}
		})
	}
}

// A raw message without source goes out with MAIL FROM its Return-Path
// header, where the API takes the sender from; then its From.
func TestMailFromRawReturnPath(t *testing.T) {
	srv := startServer(t, smtptest.StartTLS)
	tr := newTransport(t, srv, smtptest.StartTLS, nil)
	arn := arnIn("us-east-1", "example.com")
	if _, err := send(t, tr, raw("Return-Path: <bounces@example.com>\r\n"+rawBody, map[string]any{"sourceArn": arn})); err != nil {
		t.Fatal(err)
	}
	if _, err := send(t, tr, raw(rawBody, map[string]any{"sourceArn": arn})); err != nil {
		t.Fatal(err)
	}
	ms := srv.Accepted()
	if ms[0].From != "bounces@example.com" || ms[1].From != "sender@example.com" {
		t.Errorf("MAIL FROM %q, %q", ms[0].From, ms[1].From)
	}
}

// Text in ISO-8859-1 arrives in ISO-8859-1, labelled so, and reads as the
// producer wrote it.
func TestLatin1ArrivesReadable(t *testing.T) {
	srv := startServer(t, smtptest.StartTLS)
	tr := newTransport(t, srv, smtptest.StartTLS, nil)
	text := "Grüße aus Köln, à bientôt: 3 × 5 ¤ für Sie."
	_, err := send(t, tr, simple(arnIn("eu-west-1", "example.com"), map[string]any{"message": map[string]any{
		"subject": map[string]any{"data": "Grüße", "charset": "ISO-8859-1"},
		"body": map[string]any{
			"text": map[string]any{"data": text, "charset": "ISO-8859-1"},
			"html": map[string]any{"data": "<p>" + text + "</p>", "charset": "ISO-8859-1"},
		}}}))
	if err != nil {
		t.Fatal(err)
	}
	m, err := mail.ReadMessage(strings.NewReader(string(srv.Accepted()[0].Data)))
	if err != nil {
		t.Fatal(err)
	}
	_, params, _ := mime.ParseMediaType(m.Header.Get("Content-Type"))
	r := multipart.NewReader(m.Body, params["boundary"])
	var got []string
	for {
		p, err := r.NextPart() // takes quoted-printable off
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		_, ps, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if ps["charset"] != "ISO-8859-1" {
			t.Errorf("charset %q", ps["charset"])
		}
		b, _ := io.ReadAll(p)
		s, err := charmap.ISO8859_1.NewDecoder().String(string(b))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	if len(got) != 2 || got[0] != text || got[1] != "<p>"+text+"</p>" {
		t.Errorf("parts read as ISO-8859-1: %q", got)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if subject != "Grüße" {
		t.Errorf("subject %q", subject)
	}
}

// A 1 200-character subject and 45 recipients arrive without a line over
// 998 octets.
func TestLongHeadersArriveFolded(t *testing.T) {
	srv := startServer(t, smtptest.StartTLS)
	tr := newTransport(t, srv, smtptest.StartTLS, nil)
	var to []string
	for i := range 45 {
		to = append(to, fmt.Sprintf("\"Recipient %d\" <recipient%02d@example.net>", i, i))
	}
	subject := strings.Repeat("Über 1 200 Zeichen im Betreff — ", 40)[:1200]
	subject = strings.ToValidUTF8(subject, "")
	_, err := send(t, tr, simple(arnIn("us-east-1", "example.com"), map[string]any{
		"destination": map[string]any{"to": to},
		"message":     map[string]any{"subject": map[string]any{"data": subject}, "body": map[string]any{"text": map[string]any{"data": "body"}}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	m := srv.Accepted()[0]
	longest := 0
	for _, l := range m.Lines() {
		longest = max(longest, len(l))
	}
	if longest > 998 || len(m.To) != 45 {
		t.Errorf("longest line %d octets, %d recipients", longest, len(m.To))
	}
	t.Logf("longest line %d octets", longest)
}

// Connections are reused; a refusal leaves the connection in use (RSET);
// a pooled connection the server closed while idle is dialled anew once,
// and the send goes out.
func TestConnectionReuse(t *testing.T) {
	srv := startServer(t, smtptest.StartTLS)
	tr := newTransport(t, srv, smtptest.StartTLS, nil)
	arn := arnIn("us-east-1", "example.com")
	for range 5 {
		if _, err := send(t, tr, simple(arn, nil)); err != nil {
			t.Fatal(err)
		}
	}
	srv.RefuseRecipient("refused@example.net", smtptest.MailboxUnknown)
	_, err := send(t, tr, simple(arn, map[string]any{"destination": map[string]any{"to": []string{"a@example.net", "refused@example.net"}}}))
	if te := transport.Classify(err); te.Class != transport.Rejected || !te.PerMessage || te.Message != "recipient 2 of 2 refused: 550 5.1.1 Recipient address rejected: User unknown" {
		t.Errorf("refused recipient: %+v", te)
	}
	if _, err := send(t, tr, simple(arn, nil)); err != nil {
		t.Fatal(err)
	}
	if n := srv.Conns(); n != 1 {
		t.Errorf("%d connections for 7 sequential sends", n)
	}
	srv.DropConnections()
	if _, err := send(t, tr, simple(arn, nil)); err != nil {
		t.Fatalf("after the server closed the idle connection: %v", err)
	}
	if n := srv.Conns(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

// A send cut off after the message's final dot, before the reply, may
// have been accepted: uncertain. One cut off earlier is not.
func TestCutOffAfterDataIsUncertain(t *testing.T) {
	srv := startServer(t, smtptest.StartTLS)
	tr := newTransport(t, srv, smtptest.StartTLS, nil)
	arn := arnIn("us-east-1", "example.com")
	if _, err := send(t, tr, simple(arn, nil)); err != nil { // a pooled connection
		t.Fatal(err)
	}
	srv.Latency(2 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := tr.Send(ctx, conformance.Envelope(t, simple(arn, nil)))
	te := transport.Classify(err)
	if te.Class != transport.Retry || te.Code != transport.CodeTimeout || !te.Uncertain || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cut off waiting for the reply: %+v", te)
	}
	srv.Latency(0)
	if _, err := send(t, tr, simple(arn, nil)); err != nil {
		t.Fatalf("the next send: %v", err)
	}
}

// The configuration comes from SESQ_SMTP_* through Setup.Getenv; every
// problem is reported at once.
func TestNewConfiguration(t *testing.T) {
	static := aws.Config{Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")}
	temporary := aws.Config{Credentials: credentials.NewStaticCredentialsProvider("ASIATEST", "secret", "session")}
	for _, c := range []struct {
		name string
		env  map[string]string
		aws  aws.Config
		want []string // in the error; none: no error
	}{
		{"derived from static keys", nil, static, nil},
		{"one pair", map[string]string{"SESQ_SMTP_USERNAME": "u", "SESQ_SMTP_PASSWORD": "p"}, aws.Config{}, nil},
		{"per region", map[string]string{"SESQ_SMTP_CREDENTIALS": `{"eu-west-1": {"username": "u", "password": "p"}}`}, temporary, nil},
		{"temporary keys", nil, temporary, []string{"SESQ_SMTP_CREDENTIALS", "temporary"}},
		{"no credentials at all", nil, aws.Config{}, []string{"SESQ_SMTP_CREDENTIALS", "no AWS credentials"}},
		{"every problem at once", map[string]string{
			"SESQ_SMTP_PORT": "25", "SESQ_SMTP_TLS": "sometimes", "SESQ_SMTP_USERNAME": "u", "SESQ_SMTP_CA_FILE": "/nonexistent/ca.pem",
		}, static, []string{"SESQ_SMTP_PORT", "SESQ_SMTP_TLS", "SESQ_SMTP_PASSWORD", "SESQ_SMTP_CA_FILE"}},
		{"plain text beyond loopback", map[string]string{"SESQ_SMTP_TLS": "none", "SESQ_SMTP_ENDPOINT": "mail.example.com:25"}, static, []string{"loopback"}},
		{"plain text on loopback", map[string]string{"SESQ_SMTP_TLS": "none", "SESQ_SMTP_ENDPOINT": "127.0.0.1:2525"}, static, nil},
		{"a port that is no number", map[string]string{"SESQ_SMTP_PORT": "smtp"}, static, []string{"SESQ_SMTP_PORT"}},
		{"a bad endpoint", map[string]string{"SESQ_SMTP_ENDPOINT": "mail.example.com"}, static, []string{"SESQ_SMTP_ENDPOINT"}},
		{"credentials not JSON", map[string]string{"SESQ_SMTP_CREDENTIALS": `{"eu-west-1": {"username": "u", "password": "hunter2"`}, static, []string{"SESQ_SMTP_CREDENTIALS", "JSON"}},
		{"credentials as the one pair the module's secret held before", map[string]string{"SESQ_SMTP_CREDENTIALS": `{"username": "u", "password": "hunter2"}`}, static, []string{"SESQ_SMTP_CREDENTIALS", "not one", "per region"}},
		{"credentials of a misspelt field", map[string]string{"SESQ_SMTP_CREDENTIALS": `{"eu-west-1": {"user": "u", "password": "hunter2"}}`}, static, []string{"SESQ_SMTP_CREDENTIALS", "username"}},
		{"credentials without a password", map[string]string{"SESQ_SMTP_CREDENTIALS": `{"eu-west-1": {"username": "u"}, "Europe": {"username": "u", "password": "hunter2"}}`}, static, []string{"eu-west-1 needs", `"Europe" is not a region`}},
		{"credentials and a pair", map[string]string{"SESQ_SMTP_CREDENTIALS": `{"eu-west-1": {"username": "u", "password": "hunter2"}}`, "SESQ_SMTP_USERNAME": "u", "SESQ_SMTP_PASSWORD": "p"}, static, []string{"not both"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			getenv := func(k string) string { return c.env[k] }
			tr, err := sessmtp.New(context.Background(), transport.Setup{AWS: c.aws, MaxConns: 2, SendTimeout: time.Second, Getenv: getenv})
			if len(c.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				tr.Close()
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error shows a password: %v", err)
			}
		})
	}
}

// Over SMTP SES can neither render templates nor take tenants.
func TestValidateRefusesAPIFeatures(t *testing.T) {
	tr, err := sessmtp.NewWithConfig(sessmtp.Config{Username: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	e := conformance.Envelope(t, simple(arnIn("us-east-1", "example.com"), map[string]any{"action": "SendTemplatedEmail", "message": nil, "template": "T", "templateData": "{}"}))
	var ve *envelope.Error
	if err := tr.Validate(e); !errors.As(err, &ve) || ve.Field != "action" || !strings.Contains(err.Error(), "SMTP") {
		t.Errorf("Validate = %v", err)
	}
	e = conformance.Envelope(t, simple(arnIn("us-east-1", "example.com"), map[string]any{"tenantName": "customer-42"}))
	if err := tr.Validate(e); !errors.As(err, &ve) || ve.Field != "tenantName" {
		t.Errorf("Validate = %v", err)
	}
}

// Load reads what envconfig.Process reads by the same tags, so the tags
// document the variables.
func TestLoadIsEnvconfig(t *testing.T) {
	t.Setenv("SESQ_SMTP_ENDPOINT", "127.0.0.1:2525")
	t.Setenv("SESQ_SMTP_TLS", "none")
	t.Setenv("SESQ_SMTP_CREDENTIALS", `{"eu-west-1": {"username": "u", "password": "p"}}`)
	t.Setenv("SESQ_SMTP_CA_FILE", "/etc/ca.pem")
	got, probs := sessmtp.Load(nil)
	var want sessmtp.Config
	if err := envconfig.Process(sessmtp.Prefix, &want); err != nil || len(probs) > 0 {
		t.Fatal(err, probs)
	}
	if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) || got.Port != 587 || got.Credentials["eu-west-1"].Password != "p" {
		t.Errorf("Load\n%#v\nenvconfig\n%#v", got, want)
	}
}
