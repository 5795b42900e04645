package sesmtp_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesq/sesq/deadletter"
	"github.com/sesq/sesq/internal/sesmtp"
	"github.com/sesq/sesq/internal/smtptest"
	"github.com/sesq/sesq/internal/testkit"
	"github.com/sesq/sesq/worker"
)

var emu *testkit.Emulators

func TestMain(m *testing.M) { os.Exit(testkit.Main(m, &emu)) }

const (
	accessKey = "AKIAIOSFODNN7EXAMPLE"
	secretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

func arnIn(region, identity string) string {
	return "arn:aws:ses:" + region + ":123456789012:identity/" + identity
}

// setup starts an SMTP server in mode and an SMTP transport for it, with
// credentials derived from static keys, and the queues.
func setup(t *testing.T, mode string) (*testkit.Bundle, *smtptest.Server, *sesmtp.Transport) {
	t.Helper()
	srv, err := smtptest.Start(mode)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	tlsMode := map[string]string{smtptest.StartTLS: sesmtp.TLSStartTLS, smtptest.Implicit: sesmtp.TLSImplicit, smtptest.Plain: sesmtp.TLSNone}[mode]
	tr, err := sesmtp.New(sesmtp.Config{
		Endpoint: srv.Addr, TLS: tlsMode, AccessKeyID: accessKey, SecretAccessKey: secretKey,
		MaxConns: 4, RootCAs: srv.Roots, CommandTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.Close)
	b := emu.Setup(t)
	b.Config.Concurrency = 4
	return b, srv, tr
}

func rawEnvelope(headers string, extra map[string]any) string {
	raw := headers + "From: Sender <sender@example.com>\r\nTo: recipient@example.net\r\nSubject: hello\r\n\r\nbody\r\n"
	e := map[string]any{"version": 1, "action": "SendRawEmail", "raw": base64.StdEncoding.EncodeToString([]byte(raw))}
	for k, v := range extra {
		e[k] = v
	}
	b, _ := json.Marshal(e)
	return string(b)
}

// Every transport mode delivers; the X-SES headers come first and once, the
// SMTP envelope is right, and each region's password is derived for it.
func TestSMTPDelivers(t *testing.T) {
	for _, mode := range []string{smtptest.StartTLS, smtptest.Implicit, smtptest.Plain} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			b, srv, tr := setup(t, mode)
			east, west := arnIn("us-east-1", "example.com"), arnIn("eu-west-1", "example.com")
			b.Enqueue(t,
				rawEnvelope("X-SES-SOURCE-ARN: "+east+"\r\n", nil),                                          // ARN in the producer's header
				rawEnvelope("X-Mailer: x\r\nX-SES-FROM-ARN: "+west+"\r\n", map[string]any{"fromArn": west}), // agreeing header further down
				sendEmail(map[string]any{"sourceArn": west, "returnPathArn": west}),
			)
			b.StartWorkerWith(t, tr, worker.Options{})
			testkit.Eventually(t, 20*time.Second, "three messages", func() bool { return len(srv.Accepted()) == 3 && b.Empty(t) })

			for _, m := range srv.Accepted() {
				if m.TLS != (mode != smtptest.Plain) {
					t.Errorf("TLS %v in mode %s", m.TLS, mode)
				}
				h := m.Headers()
				region := strings.Split(m.Identity, ":")[3]
				if m.User != accessKey || m.Password != sesmtp.Password(secretKey, region) {
					t.Errorf("%s: authenticated as %s with a password not derived for the region", region, m.User)
				}
				// sesq's X-SES headers come first, each once; below them the
				// message as the producer made it (an agreeing X-SES header of
				// theirs stays).
				seen := map[string]bool{}
				for _, l := range h {
					k, _, _ := strings.Cut(l, ":")
					k = strings.ToUpper(k)
					if !strings.HasPrefix(k, "X-SES-") || seen[k] {
						break
					}
					seen[k] = true
				}
				if len(seen) == 0 {
					t.Errorf("first header %q is not an X-SES header", h[0])
				}
				switch {
				case strings.Contains(string(m.Data), "X-Mailer"): // raw with fromArn
					if h[0] != "X-SES-FROM-ARN: "+west || m.From != "sender@example.com" || strings.Join(m.To, ",") != "recipient@example.net" {
						t.Errorf("raw: headers %q, from %s, to %v", h[:2], m.From, m.To)
					}
				case strings.Contains(string(m.Data), "X-SES-SOURCE-ARN: "+east):
					if h[0] != "X-SES-SOURCE-ARN: "+east || h[1] != h[0] || region != "us-east-1" {
						t.Errorf("raw with header: %q in %s; want sesq's header, then the producer's own", h[:2], region)
					}
				default: // SendEmail
					if h[0] != "X-SES-SOURCE-ARN: "+west || h[1] != "X-SES-RETURN-PATH-ARN: "+west || m.From != "bounces@example.com" ||
						strings.Join(m.To, ",") != "a@example.net,b@example.net,c@example.net,hidden@example.net" {
						t.Errorf("SendEmail: headers %q, from %s, to %v", h[:4], m.From, m.To)
					}
				}
			}
		})
	}
}

// Connections are pooled: many messages, few connections.
func TestSMTPReusesConnections(t *testing.T) {
	b, srv, tr := setup(t, smtptest.StartTLS)
	for i := 0; i < 30; i++ {
		b.Enqueue(t, rawEnvelope("", map[string]any{"sourceArn": arnIn("us-east-1", "example.com"), "id": fmt.Sprint("m", i)}))
	}
	b.StartWorkerWith(t, tr, worker.Options{})
	testkit.Eventually(t, 20*time.Second, "30 messages", func() bool { return len(srv.Accepted()) == 30 && b.Empty(t) })
	if n := srv.Conns(); n > 4 {
		t.Errorf("%d connections for 30 messages with at most 4 per region", n)
	}
	t.Logf("30 messages over %d connections", srv.Conns())
}

// Each SMTP reply ends in the contract's outcome, end to end.
func TestSMTPOutcomes(t *testing.T) {
	cases := []struct {
		name       string
		replies    []smtptest.Reply
		always     *smtptest.Reply
		body       func(id string) string
		wantReason string // "" = sent
		wantCode   string
		wantSMTP   int // messages the server saw
	}{
		{name: "sent", wantSMTP: 1},
		{name: "access denied", always: &smtptest.AccessDenied, wantReason: "authorization", wantCode: "SMTP554", wantSMTP: 1},
		{name: "message rejected", always: &smtptest.MessageRejected, wantReason: "rejected", wantCode: "SMTP554", wantSMTP: 1},
		{name: "rate throttled then sent", replies: []smtptest.Reply{smtptest.ThrottleRate, smtptest.ThrottleRate}, wantSMTP: 3},
		{name: "transient 4xx then sent", replies: []smtptest.Reply{smtptest.TemporaryFail}, wantSMTP: 2},
		{name: "transient exhausted", always: &smtptest.TemporaryFail, wantReason: "exhausted", wantCode: "SMTP451", wantSMTP: 4},
		{name: "daily quota deferred then sent", replies: []smtptest.Reply{smtptest.ThrottleDaily}, wantSMTP: 2},
		{name: "templated is invalid over SMTP", body: func(id string) string {
			return sendEmail(map[string]any{"sourceArn": id, "returnPathArn": id, "action": "SendTemplatedEmail", "message": nil, "template": "T", "templateData": "{}"})
		}, wantReason: "invalid", wantCode: "InvalidEnvelope"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b, srv, tr := setup(t, smtptest.StartTLS)
			id := arnIn("eu-west-1", "example.com")
			srv.Fail(id, c.replies...)
			if c.always != nil {
				srv.FailAlways(id, *c.always)
			}
			body := rawEnvelope("", map[string]any{"sourceArn": id})
			if c.body != nil {
				body = c.body(id)
			}
			b.Enqueue(t, body)
			b.StartWorkerWith(t, tr, worker.Options{})
			testkit.Eventually(t, 20*time.Second, "the queue to drain", func() bool { return b.Empty(t) && len(srv.Messages()) >= c.wantSMTP })
			if got := len(srv.Messages()); got != c.wantSMTP {
				t.Errorf("SMTP messages %d, want %d", got, c.wantSMTP)
			}
			dl := b.DeadLetters(t)
			if c.wantReason == "" {
				if len(dl) != 0 || len(srv.Accepted()) != 1 {
					t.Errorf("dead letters %d, accepted %d", len(dl), len(srv.Accepted()))
				}
				return
			}
			if len(dl) != 1 || testkit.Attr(dl[0], deadletter.AttrReason) != c.wantReason || testkit.Attr(dl[0], deadletter.AttrErrorCode) != c.wantCode {
				var got []string
				for _, m := range dl {
					got = append(got, testkit.Attr(m, deadletter.AttrReason)+"/"+testkit.Attr(m, deadletter.AttrErrorCode)+": "+testkit.Attr(m, deadletter.AttrError))
				}
				t.Errorf("dead letters %v, want %s/%s", got, c.wantReason, c.wantCode)
			}
		})
	}
}

// A 535 is the worker's own problem, not the message's: the region is
// paused and the message handed back, not dead-lettered, while the worker
// stays ready for other regions; once the credentials pass, it is sent.
func TestSMTPAuthFailureHandsBack(t *testing.T) {
	b, srv, tr := setup(t, smtptest.StartTLS)
	b.Config.BackoffMax = time.Second // the pause
	var ok atomic.Bool
	srv.CheckAuth(func(string, string) bool { return ok.Load() })
	b.Enqueue(t, rawEnvelope("", map[string]any{"sourceArn": arnIn("us-east-1", "example.com")}))
	w := worker.New(b.Config, b.SQS, tr, worker.Options{Logger: testkit.TestLogger(t)})
	ctx, cancel := contextWithCancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	testkit.Eventually(t, 10*time.Second, "the message handed back after the refusal", func() bool {
		v, f, d := b.Counts(t, b.QueueURL)
		return srv.AuthFailures() > 0 && v+f+d == 1
	})
	if len(b.DeadLetters(t)) != 0 {
		t.Fatal("dead-lettered a message for the worker's own credentials")
	}
	if !w.Ready() {
		t.Error("a region paused for its credentials made the worker unready")
	}
	ok.Store(true)
	testkit.Eventually(t, 15*time.Second, "sent after the pause", func() bool { return len(srv.Accepted()) == 1 && b.Empty(t) })
	if len(b.DeadLetters(t)) != 0 {
		t.Error("dead letters after recovery")
	}
}
