package worker_test

// The worker's state machine, exactly: the real worker against an in-memory
// SQS (internal/testsupport/sqsfake) and a scripted SES, in testing/synctest bubbles, so
// every time below is the fake clock's and exact: no sleeps, no tolerances.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sesq/sesq/deadletter"
	"github.com/sesq/sesq/envelope"
	"github.com/sesq/sesq/idempotency"
	"github.com/sesq/sesq/internal/ledger"
	"github.com/sesq/sesq/internal/testsupport/sqsfake"
	"github.com/sesq/sesq/internal/testsupport/testkit"
	"github.com/sesq/sesq/retry"
	"github.com/sesq/sesq/transport"
	"github.com/sesq/sesq/worker"
)

// fakeSES answers sends by envelope id: the scripted errors in order, then
// always (nil: success), after latency. Every call is recorded with the
// time it was answered.
type fakeSES struct {
	mu      sync.Mutex
	start   time.Time
	script  map[string][]error
	always  map[string]error
	latency time.Duration
	calls   []sesCall
}

type sesCall struct {
	id  string
	at  time.Duration // since start
	err error
}

func newFakeSES() *fakeSES {
	return &fakeSES{start: time.Now(), script: map[string][]error{}, always: map[string]error{}}
}

// send is one call by a worker process; once cut is set (the process is
// gone) its sends reach nothing, those under way included.
func (f *fakeSES) send(ctx context.Context, e *envelope.Envelope, cut *atomic.Bool) (string, error) {
	f.mu.Lock()
	latency := f.latency
	f.mu.Unlock()
	if latency > 0 {
		t := time.NewTimer(latency)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if cut.Load() {
		return "", context.Canceled
	}
	var err error
	if s := f.script[e.Key()]; len(s) > 0 {
		err, f.script[e.Key()] = s[0], s[1:]
	} else {
		err = f.always[e.Key()]
	}
	f.calls = append(f.calls, sesCall{id: e.Key(), at: time.Since(f.start), err: err})
	if err != nil {
		return "", err
	}
	return "ses-" + e.Key(), nil
}

// setLatency changes how long SES takes from now on.
func (f *fakeSES) setLatency(d time.Duration) {
	f.mu.Lock()
	f.latency = d
	f.mu.Unlock()
}

// of returns the call times of one envelope id.
func (f *fakeSES) of(id string) []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []time.Duration
	for _, c := range f.calls {
		if c.id == id {
			out = append(out, c.at)
		}
	}
	return out
}

// view is one worker's SES: the shared fake, cut off when its process dies.
type view struct {
	ses *fakeSES
	cut *atomic.Bool
}

func (v view) Send(ctx context.Context, e *envelope.Envelope) (string, error) {
	return v.ses.send(ctx, e, v.cut)
}

func (view) Validate(*envelope.Envelope) error { return nil }

func (view) SendQuota(context.Context, string) (float64, error) { return 0, transport.ErrNoQuota }

func (view) Close() error { return nil }

// Failures as a transport reports them.
var (
	errUnavailable = &transport.Error{Class: transport.Retry, Code: "ServiceUnavailable", Message: "Service Unavailable"}
	errDenied      = &transport.Error{Class: transport.Authorization, Code: "AccessDenied", Message: "User arn:aws:iam::1:user/sesq is not authorized to perform ses:SendEmail"}
	errToken       = &transport.Error{Class: transport.Unavailable, Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid."}
	errDaily       = &transport.Error{Class: transport.Quota, Code: "Throttling", Message: "Daily message quota exceeded."}
	// errRefused is a recipient refused in the SMTP conversation: about
	// the message only.
	errRefused = &transport.Error{Class: transport.Retry, Code: "SMTP450 4.2.1", Message: "mailbox busy", PerMessage: true}
)

// rig is one test's queues, SES and configuration.
type rig struct {
	t          *testing.T
	sqs        *sqsfake.SQS
	queue, dlq string
	ses        *fakeSES
	cfg        worker.Config
	start      time.Time
}

func newRig(t *testing.T) *rig {
	s := sqsfake.New()
	dlq := s.CreateQueue("mail-dlq", sqsfake.QueueOptions{})
	q := s.CreateQueue("mail", sqsfake.QueueOptions{VisibilityTimeout: time.Minute, RedriveTo: dlq, MaxReceiveCount: 20})
	return &rig{t: t, sqs: s, queue: q, dlq: dlq, ses: newFakeSES(), start: time.Now(),
		cfg: worker.Config{
			QueueURL: q, DLQURL: dlq, Concurrency: 4, BatchSize: 10, WaitTime: 20 * time.Second, VisibilityTimeout: time.Minute,
			MaxAttempts: 8, BackoffInitial: 200 * time.Millisecond, BackoffMax: 30 * time.Second, QuotaDelay: 15 * time.Minute,
			MaxDeferrals: 96, ShutdownTimeout: 25 * time.Second, SendTimeout: 30 * time.Second,
		}}
}

// since is the fake time since the rig was made.
func (r *rig) since() time.Duration { return time.Since(r.start) }

// run starts a worker reading through the SQS client called name, with a
// store of its own unless one is given; stop cancels it and waits for Run
// to return, reporting when it did; cut, once set, cuts its SES calls off.
func (r *rig) run(name string, store worker.Idempotency) (stop func() time.Duration, cut *atomic.Bool) {
	_, stop, cut = r.launch(name, store)
	return stop, cut
}

func (r *rig) launch(name string, store worker.Idempotency) (w *worker.Worker, stop func() time.Duration, cut *atomic.Bool) {
	cut = new(atomic.Bool)
	w = worker.New(r.cfg, r.sqs.Client(name), view{ses: r.ses, cut: cut}, worker.Options{
		Logger:      testkit.TestLogger(r.t),
		Policy:      func(p *retry.Policy) { p.Jitter = 0 },
		Idempotency: store,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan time.Duration, 1)
	go func() {
		if err := w.Run(ctx); err != nil {
			r.t.Errorf("Run: %v", err)
		}
		done <- r.since()
	}()
	return w, func() time.Duration { cancel(); return <-done }, cut
}

// crash makes the worker that reads through client name vanish as kill -9
// would: none of its calls reach SQS or SES any more.
func (r *rig) crash(name string, cut *atomic.Bool) {
	cut.Store(true)
	r.sqs.SetFaults(func(c sqsfake.Call) sqsfake.Fault {
		if c.Client == name {
			return sqsfake.Refuse
		}
		return sqsfake.Works
	})
}

// dlqDown refuses every call to the dead-letter queue until the returned
// flag is cleared.
func (r *rig) dlqDown() *atomic.Bool {
	down := new(atomic.Bool)
	down.Store(true)
	r.sqs.SetFaults(func(c sqsfake.Call) sqsfake.Fault {
		if c.QueueURL == r.dlq && down.Load() {
			return sqsfake.Refuse
		}
		return sqsfake.Works
	})
	return down
}

func body(id string) string {
	return fmt.Sprintf(`{"version":1,"id":%q,"action":"SendEmail","sourceArn":"arn:aws:ses:us-east-1:123456789012:identity/example.com","source":"s@example.com","destination":{"to":["r@example.net"]},"message":{"subject":{"data":"s"},"body":{"text":{"data":"b"}}}}`, id)
}

// bodyFor is body with another identity ARN.
func bodyFor(arn, id string) string {
	return strings.Replace(body(id), "arn:aws:ses:us-east-1:123456789012:identity/example.com", arn, 1)
}

func (r *rig) enqueue(bodies ...string) {
	for _, b := range bodies {
		if _, err := r.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(r.queue), MessageBody: aws.String(b)}); err != nil {
			r.t.Fatal(err)
		}
	}
}

// deadLetters is the dead-letter queue's messages by envelope id.
func (r *rig) deadLetters() map[string]sqsfake.Message {
	out := map[string]sqsfake.Message{}
	for _, m := range r.sqs.Messages(r.dlq) {
		env, err := envelope.Parse([]byte(m.Body))
		if err != nil {
			r.t.Fatalf("dead letter %s: %v", m.ID, err)
		}
		out[env.Key()] = m
	}
	return out
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func sameTimes(got, want []time.Duration) bool { return slices.Equal(got, want) }

// A send that keeps failing: attempts 1 to 6 wait in the worker (0.2, 0.4,
// 0.8, 1.6, 3.2 s), the 6.4 s and 12.8 s delays hand the message back as a
// new message carrying its ledger (delays round up to whole seconds), and
// the 8th failure dead-letters it as exhausted with sesq-attempts 8.
func TestStateRetriesThenExhausted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.ses.always["e"] = errUnavailable
		r.enqueue(body("e"))
		stop, _ := r.run("a", nil)
		time.Sleep(time.Minute)
		stop()
		want := []time.Duration{0, ms(200), ms(600), ms(1400), ms(3000), ms(6200), ms(13200), ms(26200)}
		if got := r.ses.of("e"); !sameTimes(got, want) {
			t.Errorf("sends at %v, want %v", got, want)
		}
		dl := r.deadLetters()["e"]
		if got := []string{dl.Attributes[deadletter.AttrReason], dl.Attributes[deadletter.AttrErrorCode], dl.Attributes[deadletter.AttrAttempts]}; !slices.Equal(got, []string{"exhausted", "ServiceUnavailable", "8"}) {
			t.Errorf("dead letter reason, code, attempts = %v", got)
		}
		if n := len(r.sqs.Messages(r.queue)); n != 0 {
			t.Errorf("%d messages left in the queue", n)
		}
		if n := r.sqs.CallCount(sqsfake.OpSendMessage, r.queue); n != 1+2 {
			t.Errorf("%d SendMessage calls, want the producer's and 2 re-enqueues (after attempts 6 and 7)", n)
		}
	})
}

// kill -9 while sends are in flight: the messages come back after their
// visibility timeout, and the delivery that never finished costs exactly
// one attempt: the always-failing envelope gets 7 more sends, not fewer.
func TestStateCrashCostsOneAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.ses.latency = 10 * time.Second // in flight at the crash
		r.ses.always["fails"] = errUnavailable
		r.enqueue(body("ok"), body("fails"))
		stopA, cutA := r.run("a", nil)
		time.Sleep(time.Second)
		r.crash("a", cutA)
		r.ses.setLatency(0)
		stop, _ := r.run("b", nil)
		time.Sleep(3 * time.Minute)
		stop()
		stopA()
		// Received by b when their visibility ran out, 60 s after a got them.
		if got := r.ses.of("ok"); !sameTimes(got, []time.Duration{time.Minute}) {
			t.Errorf("ok sent at %v, want once at 1m", got)
		}
		if got := len(r.ses.of("fails")); got != 7 {
			t.Errorf("fails: %d sends after the crash, want 7 (8 attempts, the crashed delivery counted one)", got)
		}
		dl := r.deadLetters()
		if len(dl) != 1 || dl["fails"].Attributes[deadletter.AttrReason] != "exhausted" || dl["fails"].Attributes[deadletter.AttrAttempts] != "8" {
			t.Errorf("dead letters %v", dl)
		}
	})
}

// A receive whose answer is lost on the way: its message stays hidden for
// its visibility timeout, then comes again; that delivery costs one
// attempt, nothing more, and the envelope is sent once.
func TestStateLostReceiveAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.ses.script["e"] = []error{errUnavailable, errUnavailable, errUnavailable, errUnavailable, errUnavailable, errUnavailable}
		r.enqueue(body("e"))
		var lost atomic.Bool
		r.sqs.SetFaults(func(c sqsfake.Call) sqsfake.Fault {
			if c.Op == sqsfake.OpReceiveMessage && lost.CompareAndSwap(false, true) {
				return sqsfake.LoseAnswer
			}
			return sqsfake.Works
		})
		stop, _ := r.run("a", nil)
		time.Sleep(5 * time.Minute)
		stop()
		// At 60 s: attempts 2..6 fail, the first four followed by 0.4, 0.8,
		// 1.6, 3.2 s in process (the lost delivery was charged one), then
		// 6.4 s and 12.8 s hand it back (7 and 13 s: whole seconds), and
		// the 8th attempt is sent.
		want := []time.Duration{time.Minute, time.Minute + ms(400), time.Minute + ms(1200), time.Minute + ms(2800), time.Minute + ms(6000), time.Minute + ms(13000), time.Minute + ms(26000)}
		if got := r.ses.of("e"); !sameTimes(got, want) {
			t.Errorf("sends at %v, want %v", got, want)
		}
		if len(r.deadLetters()) != 0 || len(r.sqs.Messages(r.queue)) != 0 {
			t.Errorf("dead letters %d, left %d", len(r.deadLetters()), len(r.sqs.Messages(r.queue)))
		}
	})
}

// The dead-letter queue is unreachable when an authorization failure is to
// be written: the message goes back with its reason and, once the queue is
// back, is dead-lettered as authorization, not exhausted; SES was called
// once.
func TestStateDeadLetterOutageKeepsTheReason(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.ses.always["e"] = errDenied
		r.enqueue(body("e"))
		down := r.dlqDown()
		stop, _ := r.run("a", nil)
		time.Sleep(45 * time.Second) // tried at 0 and 30 s
		down.Store(false)
		time.Sleep(time.Minute)
		stop()
		if got := r.ses.of("e"); !sameTimes(got, []time.Duration{0}) {
			t.Errorf("SES calls at %v, want one at 0", got)
		}
		dl := r.deadLetters()["e"]
		if got := []string{dl.Attributes[deadletter.AttrReason], dl.Attributes[deadletter.AttrErrorCode], dl.Attributes[deadletter.AttrAttempts]}; !slices.Equal(got, []string{"authorization", "AccessDenied", "1"}) {
			t.Errorf("dead letter reason, code, attempts = %v", got)
		}
		if dl.SentAt.Sub(r.start) != time.Minute {
			t.Errorf("dead-lettered at %v, want at 1m (the third try, 30 s apart)", dl.SentAt.Sub(r.start))
		}
		if n := len(r.sqs.Messages(r.queue)); n != 0 {
			t.Errorf("%d messages left in the queue", n)
		}
	})
}

// Shutdown while a message waits for its retry: it is put back at once,
// visible, with a ledger of the one attempt made.
func TestStateShutdownHandsBackWithTheLedger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.ses.script["e"] = []error{errUnavailable}
		r.enqueue(body("e"))
		stop, _ := r.run("a", nil)
		time.Sleep(ms(100)) // waiting 200 ms to retry
		ended := stop()
		msgs := r.sqs.Messages(r.queue)
		if len(msgs) != 1 {
			t.Fatalf("%d messages in the queue, want the one handed back", len(msgs))
		}
		m := msgs[0]
		l, st := ledger.NewSigner(nil, r.queue, r.dlq).Read(m.Attributes[ledger.Attr], m.Body, m.SentAt)
		if st != ledger.Valid || l.Attempts != 1 || m.VisibleAt.Sub(r.start) != ms(100) || m.ReceiveCount != 0 {
			t.Errorf("handed back: ledger %s %+v, visible at %v, receive count %d; want 1 attempt, visible at 100ms", st, l, m.VisibleAt.Sub(r.start), m.ReceiveCount)
		}
		// The long polls under way are let finish: the hand-back itself
		// ends them (each brings it, and hands it back unstarted).
		if ended != ms(100) {
			t.Errorf("Run returned at %v, want at once (100ms)", ended)
		}
		// A new worker sends it with its next attempt at once.
		stop2, _ := r.run("b", nil)
		time.Sleep(time.Second)
		stop2()
		if got := r.ses.of("e"); !sameTimes(got, []time.Duration{0, ended}) {
			t.Errorf("sends at %v", got)
		}
	})
}

// Producer-set attributes steer nothing: sesq-attempts=99, a deferral to
// 2099, a forged ledger; and a dead letter copied back with its attributes
// (the console's redrive keeps them) starts with a fresh budget.
func TestStateForeignAttributesAreIgnored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		str := func(s string) types.MessageAttributeValue {
			return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(s)}
		}
		forged := ledger.NewSigner([]byte("not the fleet's key"), r.queue, r.dlq).Encode(ledger.Ledger{Attempts: 7, Due: time.Now().Add(time.Hour)}, body("forged"), time.Now())
		for id, attrs := range map[string]map[string]types.MessageAttributeValue{
			"producer": {"sesq-attempts": str("99"), "sesq-defer-until": str("2099-01-01T00:00:00Z"), "sesq-deferrals": str("4")},
			"forged":   {ledger.Attr: str(forged)},
			"redriven": {deadletter.AttrReason: str("exhausted"), deadletter.AttrAttempts: str("8"), deadletter.AttrErrorCode: str("ServiceUnavailable")},
		} {
			if _, err := r.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(r.queue), MessageBody: aws.String(body(id)), MessageAttributes: attrs}); err != nil {
				t.Fatal(err)
			}
		}
		r.ses.script["redriven"] = []error{errUnavailable, errUnavailable}
		stop, _ := r.run("a", nil)
		time.Sleep(time.Minute)
		stop()
		for id, want := range map[string][]time.Duration{"producer": {0}, "forged": {0}, "redriven": {0, ms(200), ms(600)}} {
			if got := r.ses.of(id); !sameTimes(got, want) {
				t.Errorf("%s: sends at %v, want %v", id, got, want)
			}
		}
		if len(r.deadLetters()) != 0 {
			t.Errorf("dead letters: %v", r.deadLetters())
		}
	})
}

// A quota deferral longer than SQS's 15-minute delay: the message goes back
// every 15 minutes until it is due, uncounted, and is sent then.
func TestStateLongQuotaDeferral(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.cfg.QuotaDelay = 40 * time.Minute
		r.ses.script["e"] = []error{errDaily}
		r.enqueue(body("e"))
		stop, _ := r.run("a", nil)
		time.Sleep(time.Hour)
		stop()
		if got := r.ses.of("e"); !sameTimes(got, []time.Duration{0, 40 * time.Minute}) {
			t.Errorf("sends at %v, want at 0 and 40m", got)
		}
		if n := r.sqs.CallCount(sqsfake.OpSendMessage, r.queue); n != 1+3 {
			t.Errorf("%d SendMessage calls, want the producer's and 3 re-enqueues (the deferral, at 15m, at 30m)", n)
		}
	})
}

// A deferral whose end is past the envelope's notAfter does not wait past
// it: the envelope is dead-lettered as expired then and there.
func TestStateQuotaDeferralPastNotAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.ses.script["e"] = []error{errDaily}
		notAfter := time.Now().Add(10 * time.Minute).UTC().Format(time.RFC3339)
		r.enqueue(strings.Replace(body("e"), `"version":1,`, `"version":1,"notAfter":"`+notAfter+`",`, 1))
		stop, _ := r.run("a", nil)
		time.Sleep(time.Minute)
		stop()
		dl := r.deadLetters()["e"]
		if dl.Attributes[deadletter.AttrReason] != "expired" || dl.SentAt != r.start {
			t.Errorf("dead letter %v at %v, want expired at once", dl.Attributes, dl.SentAt.Sub(r.start))
		}
	})
}

// The worker's credentials are refused in one region: that region pauses
// (30 s, doubling), its envelopes wait unsent meanwhile while another
// region's go out at once; after 8 refusals in a row everything of it is
// dead-lettered as unavailable, and nothing cycles for ever.
func TestStateRefusedCredentialsPauseOneRegion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		// One sender: which of two concurrent sends reaches a region first
		// is the scheduler's choice; one at a time, the order is exact.
		r.cfg.Concurrency = 1
		for i := range 3 {
			r.ses.always[fmt.Sprint("cn-", i)] = errToken
			r.enqueue(bodyFor("arn:aws-cn:ses:cn-north-1:123456789012:identity/example.cn", fmt.Sprint("cn-", i)), body(fmt.Sprint("us-", i)))
		}
		stop, _ := r.run("a", nil)
		time.Sleep(2 * time.Hour)
		stop()
		for i := range 3 {
			if got := r.ses.of(fmt.Sprint("us-", i)); !sameTimes(got, []time.Duration{0}) {
				t.Errorf("us-%d sent at %v, want at once", i, got)
			}
		}
		var refused []time.Duration
		for i := range 3 {
			refused = append(refused, r.ses.of(fmt.Sprint("cn-", i))...)
		}
		slices.Sort(refused)
		// One send at first, then one probe per pause: 30 s, 1, 2, 4, 8,
		// 15, 15 min: the 8th refusal at 45 min 30 s.
		want := []time.Duration{0, 30 * time.Second, 90 * time.Second, 210 * time.Second, 450 * time.Second, 930 * time.Second, 1830 * time.Second, 2730 * time.Second}
		if !sameTimes(refused, want) {
			t.Errorf("refused sends at %v, want %v", refused, want)
		}
		// The 8th refusal dead-letters the probe, and the others with it.
		dl := r.deadLetters()
		for i := range 3 {
			m := dl[fmt.Sprint("cn-", i)]
			if m.Attributes[deadletter.AttrReason] != "unavailable" || m.Attributes[deadletter.AttrErrorCode] != "InvalidClientTokenId" || m.SentAt.Sub(r.start) != 2730*time.Second {
				t.Errorf("cn-%d: dead letter %v at %v", i, m.Attributes, m.SentAt.Sub(r.start))
			}
		}
		if len(dl) != 3 || len(r.sqs.Messages(r.queue)) != 0 {
			t.Errorf("dead letters %d, left %d", len(dl), len(r.sqs.Messages(r.queue)))
		}
	})
}

// Two messages with one envelope id at once: one sends, the other is handed
// back while the first holds the claim (30 s, the longest backoff) and is
// then deleted as a duplicate; SES is called once.
func TestStateSameEnvelopeTwiceAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.ses.latency = 5 * time.Second
		r.enqueue(body("e"), body("e"))
		stop, _ := r.run("a", nil)
		time.Sleep(time.Minute)
		stop()
		if n := r.sqs.CallCount(sqsfake.OpSendMessage, r.queue); n != 2+1 {
			t.Errorf("%d SendMessage calls, want the producer's two and one hand-back", n)
		}
		if got := r.ses.of("e"); !sameTimes(got, []time.Duration{5 * time.Second}) {
			t.Errorf("sends at %v, want one, taken at 5s", got)
		}
		if len(r.sqs.Messages(r.queue)) != 0 || len(r.deadLetters()) != 0 {
			t.Errorf("left %d, dead letters %d", len(r.sqs.Messages(r.queue)), len(r.deadLetters()))
		}
	})
}

// A send whose result is unknown (cut off by SESQ_SEND_TIMEOUT) may have
// been accepted: a second delivery of the same envelope id, by another
// worker sharing the store, waits until the claim lapses before it sends.
func TestStateUncertainSendIsNotRepeatedBeforeTheClaimLapses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.cfg.SendTimeout = 5 * time.Second
		r.cfg.MaxAttempts = 1 // the timed-out send is dead-lettered: the copy is what matters
		store := idempotency.NewMemory(2*r.cfg.VisibilityTimeout, time.Now)
		r.ses.latency = 10 * time.Second // longer than the send timeout
		r.enqueue(body("e"))
		stopA, _ := r.run("a", store)
		time.Sleep(time.Second)
		r.ses.setLatency(0)
		r.enqueue(body("e")) // a producer's retry of the same envelope
		stopB, _ := r.run("b", store)
		time.Sleep(3 * time.Minute)
		stopA()
		stopB()
		// a's send timed out at 5 s; its claim (60 s from 0) lapses at 60 s.
		got := r.ses.of("e")
		if len(got) != 1 || got[0] < time.Minute {
			t.Errorf("sends completed at %v; want b's one send, not before the claim lapsed at 1m", got)
		}
	})
}

// /readyz: not ready within twice the long-poll wait (at least 2 s) of SQS
// becoming unreachable, ready again once it is back.
func TestStateReadiness(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.cfg.WaitTime = time.Second
		var down atomic.Bool
		r.sqs.SetFaults(func(c sqsfake.Call) sqsfake.Fault {
			if down.Load() {
				return sqsfake.Refuse
			}
			return sqsfake.Works
		})
		w, stop, _ := r.launch("a", nil)
		time.Sleep(5 * time.Second)
		if !w.Ready() || !w.Alive() {
			t.Fatalf("ready %v, alive %v while SQS answers", w.Ready(), w.Alive())
		}
		time.Sleep(5*time.Second - time.Nanosecond)
		down.Store(true) // polls under way end at 10 s, the last answers
		time.Sleep(time.Nanosecond)
		var turned time.Duration
		for turned = 0; w.Ready() && turned < time.Minute; turned += 10 * time.Millisecond {
			time.Sleep(10 * time.Millisecond)
		}
		if turned > w.ReadyWindow() {
			t.Errorf("still ready %v after SQS went away, want at most %v", turned, w.ReadyWindow())
		}
		if !w.Alive() {
			t.Error("not alive during an SQS outage: it must stay up")
		}
		time.Sleep(30 * time.Second)
		down.Store(false)
		time.Sleep(w.ReadyWindow() + 5*time.Second) // the receive backoff is 5 s at most
		if !w.Ready() {
			t.Error("not ready after SQS came back")
		}
		stop()
	})
}

// A claim lasts as long as its delivery: a send slower than the
// visibility timeout keeps its claim renewed with the visibility, so a
// copy of the envelope that another worker (sharing the store) receives
// meanwhile is held back, then deleted as a duplicate once the first send
// is done; SES is called once.
func TestStateClaimIsRenewedWhileItsDeliveryLives(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.cfg.SendTimeout = 5 * time.Minute
		store := idempotency.NewMemory(2*r.cfg.VisibilityTimeout, time.Now)
		r.ses.latency = 110 * time.Second
		r.enqueue(body("e"))
		stopA, _ := r.run("a", store)
		time.Sleep(70 * time.Second)
		r.ses.setLatency(0)
		r.enqueue(body("e")) // a producer's retry of the same envelope
		stopB, _ := r.run("b", store)
		time.Sleep(3 * time.Minute)
		stopA()
		stopB()
		if got := r.ses.of("e"); !sameTimes(got, []time.Duration{110 * time.Second}) {
			t.Errorf("sends at %v, want one, a's, answered at 1m50s", got)
		}
		if n := len(r.sqs.Messages(r.queue)); n != 0 {
			t.Errorf("%d messages left", n)
		}
	})
}

// A message whose dead-letter write failed comes back while the worker is
// draining and is put back unstarted: it keeps its reason, and the next
// worker dead-letters it as authorization without sending it again.
func TestStateShutdownKeepsAPendingReason(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.ses.always["e"] = errDenied
		r.enqueue(body("e"))
		down := r.dlqDown()
		stopA, _ := r.run("a", nil)
		time.Sleep(29 * time.Second) // put back with its reason, visible at 30 s
		stopped := make(chan time.Duration)
		go func() { stopped <- stopA() }() // the long polls under way take it at 30 s
		if got := <-stopped; got != 30*time.Second {
			t.Errorf("a stopped at %v, want at 30s, when its polls brought the message", got)
		}
		down.Store(false)
		stopB, _ := r.run("b", nil)
		time.Sleep(time.Second)
		stopB()
		if got := r.ses.of("e"); !sameTimes(got, []time.Duration{0}) {
			t.Errorf("SES calls at %v, want one at 0", got)
		}
		if dl := r.deadLetters()["e"]; dl.Attributes[deadletter.AttrReason] != "authorization" || dl.SentAt.Sub(r.start) != 30*time.Second {
			t.Errorf("dead letter %v at %v, want authorization at 30s", dl.Attributes, dl.SentAt.Sub(r.start))
		}
	})
}

// A credential refusal that lasts moments, while many sends are under way:
// their refusals are one refusal of the region, not one each, so a short
// hiccup dead-letters nothing; everything is sent once it passes.
func TestStateRefusalBurstCountsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.cfg.Concurrency = 16
		r.ses.latency = time.Second // 16 sends under way when the refusals come
		for i := range 20 {
			r.ses.script[fmt.Sprint("e-", i)] = []error{errToken}
			r.enqueue(body(fmt.Sprint("e-", i)))
		}
		stop, _ := r.run("a", nil)
		time.Sleep(10 * time.Minute)
		stop()
		if dl := r.deadLetters(); len(dl) != 0 {
			t.Errorf("%d dead-lettered after a refusal burst of one second", len(dl))
		}
		for i := range 20 {
			if got := r.ses.of(fmt.Sprint("e-", i)); len(got) != 2 {
				t.Errorf("e-%d: %d SES calls (%v), want the refused one and the accepted one", i, len(got), got)
			}
		}
	})
}

// hangs is a queue whose calls hang while down is set (a network that
// drops packets), until their context ends.
type hangs struct {
	worker.Queue
	down *atomic.Bool
}

func (q hangs) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	if !q.down.Load() {
		out, err := q.Queue.ReceiveMessage(ctx, in, opts...)
		if !q.down.Load() { // an answer after the network went is not heard
			return out, err
		}
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// /readyz when SQS hangs instead of refusing: the long polls under way
// hold their credits, but no sender is busy, so the worker is not ready
// within its window.
func TestStateReadinessWhenSQSHangs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.cfg.WaitTime = time.Second
		r.cfg.Concurrency = 8 // at most the pollers' batches: credits alone would read as saturated
		var down atomic.Bool
		w := worker.New(r.cfg, hangs{Queue: r.sqs.Client("a"), down: &down}, view{ses: r.ses, cut: new(atomic.Bool)}, worker.Options{Logger: testkit.TestLogger(t)})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { w.Run(ctx); close(done) }()
		time.Sleep(5 * time.Second)
		if !w.Ready() {
			t.Fatal("not ready while SQS answers")
		}
		down.Store(true)
		time.Sleep(w.ReadyWindow())
		if w.Ready() {
			t.Errorf("ready %v after SQS began to hang", w.ReadyWindow())
		}
		down.Store(false)
		time.Sleep(w.ReadyWindow() + 10*time.Second) // the hung polls give up after wait + 5 s
		if !w.Ready() {
			t.Error("not ready after SQS came back")
		}
		cancel()
		<-done
	})
}

// slowDone is a store whose Done takes 3 s and fails if its context ends
// meanwhile, as a remote store's call would.
type slowDone struct {
	*idempotency.Memory
	done atomic.Int32
}

func (s *slowDone) Done(ctx context.Context, key, owner string) error {
	select {
	case <-time.After(3 * time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	s.done.Add(1)
	return s.Memory.Done(ctx, key, owner)
}

// Marking an envelope sent runs to the end though the shutdown deadline
// passes meanwhile: the next delivery of it is a duplicate, not a send.
func TestStateClaimSettlesPastTheShutdownDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.cfg.ShutdownTimeout = 3 * time.Second
		store := &slowDone{Memory: idempotency.NewMemory(2*r.cfg.VisibilityTimeout, time.Now)}
		r.ses.latency = 2 * time.Second
		r.enqueue(body("e"))
		stop, _ := r.run("a", store)
		time.Sleep(time.Second)
		stop() // the deadline is at 4 s; Done runs from 2 s to 5 s
		if store.done.Load() != 1 {
			t.Fatalf("Done completed %d times, want once", store.done.Load())
		}
		r.ses.setLatency(0)
		r.enqueue(body("e")) // a redelivery
		stop2, _ := r.run("b", store)
		time.Sleep(time.Second)
		stop2()
		if got := r.ses.of("e"); len(got) != 1 {
			t.Errorf("sends at %v, want one: the second delivery is a duplicate", got)
		}
	})
}

// A message's fair-queue group (its tenant) stays with it when the worker
// puts it back (a quota deferral) and when it dead-letters it.
func TestStateKeepsTheMessageGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.ses.script["deferred"] = []error{errDaily}
		r.ses.always["denied"] = errDenied
		for _, id := range []string{"deferred", "denied"} {
			if _, err := r.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(r.queue),
				MessageBody: aws.String(body(id)), MessageGroupId: aws.String("tenant-" + id)}); err != nil {
				t.Fatal(err)
			}
		}
		stop, _ := r.run("a", nil)
		time.Sleep(time.Minute)
		stop()
		time.Sleep(r.cfg.QuotaDelay) // the deferred message is visible again
		groups := map[string]string{}
		for _, url := range []string{r.queue, r.dlq} {
			out, err := r.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
				MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameMessageGroupId}})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range out.Messages {
				e, err := envelope.Parse([]byte(aws.ToString(m.Body)))
				if err != nil {
					t.Fatal(err)
				}
				groups[e.Key()] = m.Attributes["MessageGroupId"]
			}
		}
		if groups["deferred"] != "tenant-deferred" || groups["denied"] != "tenant-denied" {
			t.Errorf("groups %v, want each message's own", groups)
		}
	})
}

// bodyOf is body for a tenant.
func bodyOf(tenant, id string) string {
	return strings.Replace(body(id), `"version":1,`, `"version":1,"tenant":"`+tenant+`",`, 1)
}

// When the send rate holds the sends back, a tenant with a few messages is
// not made to wait behind another's backlog received before them: its
// messages take turns with the backlog. With fairness off they go in the
// order received.
func TestStateTenantsShareTheSendRate(t *testing.T) {
	for _, tc := range []struct {
		name string
		off  bool
		want []int // the positions (0-based, among all sends) of b's sends
	}{
		// a's first five took the four senders before b's arrived (a0 at
		// once, then a1); then b's go first: a holds two senders or more
		// while b waits, and b, new at the limiter, has the lower pass.
		{"fair", false, []int{2, 3, 4}},
		{"off", true, []int{10, 11, 12}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t)
				r.cfg.SendRate = 10
				r.cfg.FairnessOff = tc.off
				// a's ten are received first; b's three and twenty more of
				// a's arrive a moment later, b's first.
				for i := range 10 {
					r.enqueue(bodyOf("a", fmt.Sprintf("a%d", i)))
				}
				stop, _ := r.run("w", nil)
				time.Sleep(time.Millisecond)
				r.enqueue(bodyOf("b", "b0"), bodyOf("b", "b1"), bodyOf("b", "b2"))
				for i := 10; i < 30; i++ {
					r.enqueue(bodyOf("a", fmt.Sprintf("a%d", i)))
				}
				time.Sleep(30 * time.Second)
				stop()
				r.ses.mu.Lock()
				defer r.ses.mu.Unlock()
				if len(r.ses.calls) != 33 {
					t.Fatalf("%d sends, want 33", len(r.ses.calls))
				}
				var at []int
				for i, c := range r.ses.calls {
					if strings.HasPrefix(c.id, "b") {
						at = append(at, i)
					}
				}
				if !slices.Equal(at, tc.want) {
					t.Errorf("b's sends are sends %v, want %v", at, tc.want)
				}
			})
		})
	}
}
