package sessmtp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sesq/sesq/deadletter"
	"github.com/sesq/sesq/internal/testsupport/smtptest"
	"github.com/sesq/sesq/internal/testsupport/testkit"
	"github.com/sesq/sesq/transport/sessmtp"
	"github.com/sesq/sesq/worker"
)

// bundle is one end-to-end test's queues, SMTP server and transport, and
// the settings of the worker it runs: short timings, so that faults play
// out in seconds.
type bundle struct {
	*testkit.Bundle
	Config worker.Config
	srv    *smtptest.Server
	tr     *sessmtp.Transport
}

func setup(t *testing.T, mode string) *bundle {
	t.Helper()
	srv := startServer(t, mode)
	tr := newTransport(t, srv, mode, nil)
	b := emu.Setup(t)
	cfg := worker.DefaultConfig()
	cfg.QueueURL, cfg.DLQURL = b.QueueURL, b.DLQURL
	cfg.Concurrency, cfg.WaitTime, cfg.VisibilityTimeout = 4, time.Second, 10*time.Second
	cfg.MaxAttempts, cfg.BackoffInitial, cfg.BackoffMax = 4, 10*time.Millisecond, 100*time.Millisecond
	cfg.QuotaDelay, cfg.ShutdownTimeout, cfg.SendTimeout = 2*time.Second, 5*time.Second, 5*time.Second
	return &bundle{Bundle: b, Config: cfg, srv: srv, tr: tr}
}

// start runs the real worker with the SMTP transport until the test ends.
func (b *bundle) start(t *testing.T, log *slog.Logger) (stop func()) {
	if log == nil {
		log = testkit.TestLogger(t)
	}
	return b.Run(t, worker.New(b.Config, b.SQS, b.tr, worker.Options{Logger: log}))
}

func envelopeJSON(v map[string]any) string {
	if _, ok := v["version"]; !ok {
		v["version"] = 1
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Every TLS mode delivers through the worker, each message in its
// identity's region with all three X-SES headers first.
func TestSMTPDelivers(t *testing.T) {
	for _, mode := range []string{smtptest.StartTLS, smtptest.Implicit, smtptest.Plain} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			b := setup(t, mode)
			east, west := arnIn("us-east-1", "example.com"), arnIn("eu-west-1", "example.com")
			b.Enqueue(t,
				envelopeJSON(raw("X-SES-SOURCE-ARN: "+east+"\r\n"+rawBody, nil)),
				envelopeJSON(raw("X-Mailer: x\r\nX-SES-FROM-ARN: "+west+"\r\n"+rawBody, map[string]any{"fromArn": west})),
				envelopeJSON(simple(west, nil)),
			)
			b.start(t, nil)
			testkit.Eventually(t, 20*time.Second, "three messages", func() bool { return len(b.srv.Accepted()) == 3 && b.Empty(t) })
			for _, m := range b.srv.Accepted() {
				arn := m.Header("X-SES-SOURCE-ARN")
				if arn == "" {
					arn = m.Header("X-SES-FROM-ARN")
				}
				if m.Region != regionOf(arn) || m.TLS != (mode != smtptest.Plain) {
					t.Errorf("sent in %q over TLS %v for %s", m.Region, m.TLS, arn)
				}
				if h := m.Headers(); !strings.HasPrefix(h[0], "X-SES-") {
					t.Errorf("first header %q", h[0])
				}
			}
		})
	}
}

// Connections are pooled: many messages, few connections.
func TestSMTPReusesConnections(t *testing.T) {
	b := setup(t, smtptest.StartTLS)
	for i := range 30 {
		b.Enqueue(t, envelopeJSON(raw(rawBody, map[string]any{"sourceArn": arnIn("us-east-1", "example.com"), "id": fmt.Sprint("m", i)})))
	}
	b.start(t, nil)
	testkit.Eventually(t, 20*time.Second, "30 messages", func() bool { return len(b.srv.Accepted()) == 30 && b.Empty(t) })
	if n := b.srv.Conns(); n > 4 {
		t.Errorf("%d connections for 30 messages with at most 4 per region", n)
	}
}

// Each SMTP reply ends in its outcome, end to end.
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
			return envelopeJSON(simple(id, map[string]any{"action": "SendTemplatedEmail", "message": nil, "template": "T", "templateData": "{}"}))
		}, wantReason: "invalid", wantCode: "InvalidEnvelope"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, smtptest.StartTLS)
			id := arnIn("eu-west-1", "example.com")
			b.srv.Fail(id, c.replies...)
			if c.always != nil {
				b.srv.FailAlways(id, *c.always)
			}
			body := envelopeJSON(raw(rawBody, map[string]any{"sourceArn": id}))
			if c.body != nil {
				body = c.body(id)
			}
			b.Enqueue(t, body)
			b.start(t, nil)
			testkit.Eventually(t, 20*time.Second, "the queue to drain", func() bool { return b.Empty(t) && len(b.srv.Messages()) >= c.wantSMTP })
			if got := len(b.srv.Messages()); got != c.wantSMTP {
				t.Errorf("SMTP messages %d, want %d", got, c.wantSMTP)
			}
			dl := b.DeadLetters(t)
			if c.wantReason == "" {
				if len(dl) != 0 || len(b.srv.Accepted()) != 1 {
					t.Errorf("dead letters %d, accepted %d", len(dl), len(b.srv.Accepted()))
				}
				return
			}
			if len(dl) != 1 || testkit.Attr(dl[0], deadletter.AttrReason) != c.wantReason || testkit.Attr(dl[0], deadletter.AttrErrorCode) != c.wantCode {
				t.Errorf("dead letters %v, want %s/%s", describe(dl), c.wantReason, c.wantCode)
			}
		})
	}
}

// logs records what the worker logs, and shows it with the test.
type logs struct {
	slog.Handler
	mu   *sync.Mutex
	msgs *[]string
}

func newLogs(t *testing.T) (*slog.Logger, func() []string) {
	l := logs{Handler: testkit.TestLogger(t).Handler(), mu: new(sync.Mutex), msgs: new([]string)}
	return slog.New(l), func() []string {
		l.mu.Lock()
		defer l.mu.Unlock()
		return append([]string(nil), *l.msgs...)
	}
}

func (l logs) Handle(ctx context.Context, r slog.Record) error {
	l.mu.Lock()
	*l.msgs = append(*l.msgs, r.Message)
	l.mu.Unlock()
	return l.Handler.Handle(ctx, r)
}

// Refusals of one message in the SMTP conversation (a recipient refused
// with 550, another put off with 450, a recipient sesq cannot address)
// are that message's: they are dead-lettered (rejected at once, or
// exhausted after their retries) while the other mail of the same region
// flows, and the region's breaker never opens, however many there are in
// a row.
func TestSMTPPerMessageRefusalsLeaveTheRegionWorking(t *testing.T) {
	b := setup(t, smtptest.StartTLS)
	b.Config.Concurrency = 1 // one send at a time: the refusals come in a row
	arn := arnIn("us-east-1", "example.com")
	b.srv.RefuseRecipient("gone@example.net", smtptest.MailboxUnknown)
	b.srv.RefuseRecipient("busy@example.net", smtptest.Reply{Code: 450, Enhanced: [3]int{4, 2, 1}, Msg: "Mailbox busy"})
	to := func(rcpts ...string) map[string]any { return map[string]any{"to": rcpts} }
	var bodies []string
	for i := range 8 {
		bodies = append(bodies, envelopeJSON(simple(arn, map[string]any{"id": fmt.Sprint("gone-", i), "destination": to("a@example.net", "gone@example.net")})))
	}
	for i := range 2 {
		bodies = append(bodies, envelopeJSON(simple(arn, map[string]any{"id": fmt.Sprint("busy-", i), "destination": to("busy@example.net")})))
	}
	bodies = append(bodies, envelopeJSON(raw("From: sender@example.com\r\nSubject: s\r\n\r\nno recipient\r\n", map[string]any{"sourceArn": arn, "id": "none"})))
	for i := range 5 {
		bodies = append(bodies, envelopeJSON(simple(arn, map[string]any{"id": fmt.Sprint("good-", i)})))
	}
	b.Enqueue(t, bodies...)
	log, logged := newLogs(t)
	b.start(t, log)
	testkit.Eventually(t, 30*time.Second, "the queue to drain", func() bool { return b.Empty(t) && len(b.srv.Accepted()) == 5 })

	reasons := map[string]int{}
	for _, m := range b.DeadLetters(t) {
		reasons[testkit.Attr(m, deadletter.AttrReason)+"/"+testkit.Attr(m, deadletter.AttrErrorCode)]++
		if e := testkit.Attr(m, deadletter.AttrError); strings.Contains(e, "@") {
			t.Errorf("a dead letter's error names an address: %s", e)
		}
	}
	want := map[string]int{"rejected/SMTP550 5.1.1": 8, "exhausted/SMTP450 4.2.1": 2, "invalid/InvalidEnvelope": 1}
	if fmt.Sprint(reasons) != fmt.Sprint(want) {
		t.Errorf("dead letters %v, want %v", reasons, want)
	}
	for _, m := range logged() {
		if strings.Contains(m, "paused") {
			t.Errorf("the region paused: %q", m)
		}
	}

	// And a message that comes after them goes out at once.
	before := len(b.srv.Accepted())
	began := time.Now()
	b.Enqueue(t, envelopeJSON(simple(arn, map[string]any{"id": "after"})))
	testkit.Eventually(t, 10*time.Second, "the next message", func() bool { return len(b.srv.Accepted()) == before+1 })
	t.Logf("the next message went out %v after it was enqueued", time.Since(began).Round(time.Millisecond))
}

// A refused login is sesq's problem in that region, not the message's:
// the region pauses and the message is handed back, never dead-lettered;
// once the login passes, it is sent.
func TestSMTPAuthFailureHandsBack(t *testing.T) {
	b := setup(t, smtptest.StartTLS)
	b.Config.BackoffMax = time.Second // the pause
	var ok atomic.Bool
	b.srv.CheckAuth(func(string, string) bool { return ok.Load() })
	b.Enqueue(t, envelopeJSON(raw(rawBody, map[string]any{"sourceArn": arnIn("us-east-1", "example.com")})))
	w := worker.New(b.Config, b.SQS, b.tr, worker.Options{Logger: testkit.TestLogger(t)})
	b.Run(t, w)
	testkit.Eventually(t, 10*time.Second, "the message handed back after the refusal", func() bool {
		v, f, d := b.Counts(t, b.QueueURL)
		return b.srv.AuthFailures() > 0 && v+f+d == 1
	})
	if len(b.DeadLetters(t)) != 0 {
		t.Fatal("dead-lettered a message for the worker's own credentials")
	}
	if !w.Ready() {
		t.Error("a region paused for its credentials made the worker unready")
	}
	ok.Store(true)
	testkit.Eventually(t, 15*time.Second, "sent after the pause", func() bool { return len(b.srv.Accepted()) == 1 && b.Empty(t) })
	if len(b.DeadLetters(t)) != 0 {
		t.Error("dead letters after recovery")
	}
}

func describe(dl []types.Message) []string {
	var out []string
	for _, m := range dl {
		out = append(out, testkit.Attr(m, deadletter.AttrReason)+"/"+testkit.Attr(m, deadletter.AttrErrorCode)+": "+testkit.Attr(m, deadletter.AttrError))
	}
	return out
}
