package worker_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sesq/sesq/deadletter"
	"github.com/sesq/sesq/envelope"
	"github.com/sesq/sesq/internal/ledger"
	"github.com/sesq/sesq/internal/testsupport/sestest"
	"github.com/sesq/sesq/internal/testsupport/testkit"
	"github.com/sesq/sesq/retry"
	"github.com/sesq/sesq/transport"
	"github.com/sesq/sesq/transport/sesapi"
	"github.com/sesq/sesq/worker"
)

var emu *testkit.Emulators

func TestMain(m *testing.M) { os.Exit(testkit.Main(m, &emu)) }

// bundle is one test's queues and SES endpoint, and the settings of the
// worker it runs: short timings, so that faults play out in seconds.
type bundle struct {
	*testkit.Bundle
	Config worker.Config
}

func setup(t testing.TB) *bundle {
	b := emu.Setup(t)
	cfg := worker.DefaultConfig()
	cfg.QueueURL, cfg.DLQURL = b.QueueURL, b.DLQURL
	cfg.Concurrency, cfg.WaitTime, cfg.VisibilityTimeout = 8, time.Second, 10*time.Second
	cfg.MaxAttempts, cfg.BackoffInitial, cfg.BackoffMax = 4, 10*time.Millisecond, 100*time.Millisecond
	cfg.QuotaDelay, cfg.ShutdownTimeout, cfg.SendTimeout = 2*time.Second, 5*time.Second, 5*time.Second
	return &bundle{Bundle: b, Config: cfg}
}

// api is the SES v1 API transport pointed at the bundle's SES endpoint.
func (b *bundle) api() transport.Transport {
	return sesapi.Transport{Mailers: sesapi.NewClients(b.AWS, b.Config.Concurrency)}
}

// startWorker runs the real worker with the SES v1 API transport against
// the bundle's queues and SES test endpoint until stop or the test's end.
func startWorker(t *testing.T, b *bundle, opts worker.Options) (stop func()) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testkit.TestLogger(t)
	}
	return b.Run(t, worker.New(b.Config, b.SQS, b.api(), opts))
}

func arn(region, identity string) string {
	return "arn:aws:ses:" + region + ":123456789012:identity/" + identity
}

// sendEmail is a SendEmail envelope for identity, with extra fields merged in.
func sendEmail(identity string, extra map[string]any) string {
	e := map[string]any{
		"version": 1, "action": "SendEmail",
		"sourceArn": identity, "returnPathArn": identity,
		"source": "sender@example.com", "returnPath": "feedback@example.com",
		"destination": map[string]any{"to": []string{"recipient@example.com"}},
		"message": map[string]any{
			"subject": map[string]any{"data": "Amazon SES Test", "charset": "UTF-8"},
			"body":    map[string]any{"html": map[string]any{"data": "This email was sent with Amazon SES.", "charset": "UTF-8"}},
		},
	}
	return string(testkit.JSONWith(e, extra))
}

// rawEmail is a SendRawEmail envelope whose message starts with headers.
func rawEmail(headers string, extra map[string]any) string {
	msg := strings.ReplaceAll(headers+"From: sender@example.com\nTo: recipient@example.com\nSubject: subject\n\nbody\n", "\n", "\r\n")
	e := map[string]any{"version": 1, "action": "SendRawEmail", "raw": base64.StdEncoding.EncodeToString([]byte(msg))}
	for k, v := range extra {
		e[k] = v
	}
	b, _ := json.Marshal(e)
	return string(b)
}

// drained waits until the source queue is empty and the SES endpoint has
// seen n requests at least.
func drained(t *testing.T, b *bundle, sesRequests int) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, "the queue to drain", func() bool {
		return len(b.SES.Requests()) >= sesRequests && b.Empty(t)
	})
}

func TestRoutesEachActionToItsIdentityRegion(t *testing.T) {
	t.Parallel()
	b := setup(t)
	regions := []string{"us-east-1", "eu-west-1", "ap-southeast-2"}
	for _, r := range regions {
		id := arn(r, "example.com")
		b.Enqueue(t,
			sendEmail(id, nil),
			sendEmail(id, map[string]any{"action": "SendTemplatedEmail", "message": nil, "template": "Welcome", "templateData": `{"name":"Ana"}`}),
			rawEmail("", map[string]any{"sourceArn": id, "fromArn": id, "returnPathArn": id}),
		)
	}
	startWorker(t, b, worker.Options{})
	drained(t, b, 9)

	sent := b.SES.Sent()
	if len(sent) != 9 {
		t.Fatalf("SES accepted %d sends, want 9", len(sent))
	}
	seen := map[string]int{}
	for _, r := range sent {
		src, from, rp := r.ARNs()
		if src == "" || rp == "" {
			t.Errorf("%s in %s: SourceArn %q ReturnPathArn %q, want both", r.Action, r.Region, src, rp)
		}
		if want := arn(r.Region, "example.com"); src != want {
			t.Errorf("%s signed for %s but SourceArn is %s", r.Action, r.Region, src)
		}
		if r.Action == "SendRawEmail" && from == "" || r.Action != "SendRawEmail" && r.Params.Has("FromArn") {
			t.Errorf("%s: FromArn %q", r.Action, from)
		}
		seen[r.Action+" "+r.Region]++
	}
	for _, r := range regions {
		for _, a := range []string{"SendEmail", "SendTemplatedEmail", "SendRawEmail"} {
			if seen[a+" "+r] != 1 {
				t.Errorf("%s in %s sent %d times, want 1", a, r, seen[a+" "+r])
			}
		}
	}
	if n := b.SES.RegionMismatches(); n != 0 {
		t.Errorf("%d sends signed for the wrong region", n)
	}
	if dl := b.DeadLetters(t); len(dl) != 0 {
		t.Errorf("%d dead letters, want 0", len(dl))
	}
}

// The two examples of the SES sending-authorization guide, verbatim.
func TestSESGuideExamples(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := "arn:aws:ses:us-east-1:123456789012:identity/example.com"
	raw := "X-SES-SOURCE-ARN: " + id + "\r\nX-SES-FROM-ARN: " + id + "\r\nX-SES-RETURN-PATH-ARN: " + id + "\r\n" +
		"From: sender@example.com\r\nTo: recipient@example.com\r\nReturn-Path: feedback@example.com\r\nSubject: subject\r\n" +
		"Content-Type: multipart/alternative; boundary=\"----=_boundary\"\r\n\r\n" +
		"------=_boundary\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\nbody\r\n" +
		"------=_boundary\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\nbody\r\n------=_boundary--\r\n"
	rawEnv, _ := json.Marshal(map[string]any{"version": 1, "action": "SendRawEmail", "raw": base64.StdEncoding.EncodeToString([]byte(raw))})
	b.Enqueue(t, string(rawEnv), sendEmail(id, nil))
	startWorker(t, b, worker.Options{})
	drained(t, b, 2)

	for _, r := range b.SES.Sent() {
		if r.Region != "us-east-1" {
			t.Errorf("%s signed for %s, want us-east-1", r.Action, r.Region)
		}
		switch r.Action {
		case "SendRawEmail":
			for _, p := range []string{"SourceArn", "FromArn", "ReturnPathArn"} {
				if r.Params.Has(p) {
					t.Errorf("SendRawEmail has %s parameter; the ARNs travel in the headers", p)
				}
			}
			if string(r.Raw) != raw {
				t.Errorf("raw message changed on the way")
			}
		case "SendEmail":
			want := map[string]string{"SourceArn": id, "ReturnPathArn": id, "Source": "sender@example.com", "ReturnPath": "feedback@example.com",
				"Destination.ToAddresses.member.1": "recipient@example.com", "Message.Subject.Data": "Amazon SES Test",
				"Message.Body.Html.Data": "This email was sent with Amazon SES.", "Message.Body.Html.Charset": "UTF-8"}
			for k, v := range want {
				if got := r.Params.Get(k); got != v {
					t.Errorf("SendEmail %s = %q, want %q", k, got, v)
				}
			}
		}
	}
	if len(b.SES.Sent()) != 2 {
		t.Errorf("sent %d, want 2", len(b.SES.Sent()))
	}
}

func TestOutcomeClasses(t *testing.T) {
	t.Parallel()
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	cases := []struct {
		name        string
		faults      []sestest.Fault // scripted, then success
		always      *sestest.Fault
		body        func(id string) string
		allow       []string
		wantReason  string // "" = sent
		wantCode    string
		wantSES     int // SES requests
		wantAttempt string
	}{
		{name: "sent", wantSES: 1},
		{name: "access denied", always: &sestest.AccessDenied, wantReason: "authorization", wantCode: "AccessDenied", wantSES: 1, wantAttempt: "1"},
		{name: "not authorized message", always: &sestest.Fault{Status: 400, Type: "Sender", Code: "InvalidParameterValue", Message: "User is not authorized to perform `ses:SendEmail' on resource"},
			wantReason: "authorization", wantSES: 1, wantAttempt: "1"},
		{name: "message rejected", always: &sestest.MessageRejected, wantReason: "rejected", wantCode: "MessageRejected", wantSES: 1, wantAttempt: "1"},
		{name: "template missing", always: &sestest.TemplateMissing, wantReason: "rejected", wantCode: "TemplateDoesNotExist", wantSES: 1,
			body: func(id string) string {
				return sendEmail(id, map[string]any{"action": "SendTemplatedEmail", "message": nil, "template": "Nope", "templateData": "{}"})
			}},
		{name: "throttled then sent", faults: []sestest.Fault{sestest.ThrottleRate, sestest.ThrottleRate}, wantSES: 3},
		{name: "5xx then sent", faults: []sestest.Fault{sestest.ServiceUnavailable, sestest.InternalFailure}, wantSES: 3},
		{name: "5xx exhausted", always: &sestest.ServiceUnavailable, wantReason: "exhausted", wantCode: "ServiceUnavailable", wantSES: 4, wantAttempt: "4"},
		// Rate throttling is retried 50 times without using up attempts (the
		// limiter slows down meanwhile), then counts like other faults.
		{name: "throttled exhausted", always: &sestest.ThrottleRate, wantReason: "exhausted", wantCode: "Throttling", wantSES: 54, wantAttempt: "4"},
		{name: "invalid json", body: func(string) string { return `{"version":1,` }, wantReason: "invalid", wantCode: "InvalidEnvelope", wantAttempt: "0"},
		{name: "invalid rule", body: func(id string) string { return sendEmail(id, map[string]any{"fromArn": id}) }, wantReason: "invalid", wantAttempt: "0"},
		{name: "forbidden", allow: []string{"arn:aws:ses:*:123456789012:identity/other.example"}, wantReason: "forbidden", wantCode: "IdentityNotAllowed", wantAttempt: "0"},
		{name: "allowed", allow: []string{"arn:aws:ses:*:123456789012:identity/*"}, wantSES: 1},
		{name: "expired", body: func(id string) string { return sendEmail(id, map[string]any{"notAfter": past}) }, wantReason: "expired", wantCode: "Expired", wantAttempt: "0"},
		{name: "daily quota deferred then sent", faults: []sestest.Fault{sestest.ThrottleDaily}, wantSES: 2},
		{name: "account paused deferred then sent", faults: []sestest.Fault{sestest.AccountPaused}, wantSES: 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.Config.AllowedIdentities = c.allow
			id := arn("eu-west-1", "example.com")
			b.SES.Fail(id, c.faults...)
			if c.always != nil {
				b.SES.FailAlways(id, *c.always)
			}
			body := sendEmail(id, nil)
			if c.body != nil {
				body = c.body(id)
			}
			b.Send(t, &sqs.SendMessageInput{MessageBody: aws.String(body), MessageAttributes: map[string]types.MessageAttributeValue{
				"producer": {DataType: aws.String("String"), StringValue: aws.String("billing")},
			}})
			startWorker(t, b, worker.Options{})
			testkit.Eventually(t, 20*time.Second, "the queue to drain", func() bool { return b.Empty(t) && len(b.SES.Requests()) >= c.wantSES })
			time.Sleep(100 * time.Millisecond) // a stray extra attempt would show now

			if got := len(b.SES.Requests()); got != c.wantSES {
				t.Errorf("SES requests = %d, want %d", got, c.wantSES)
			}
			dl := b.DeadLetters(t)
			if c.wantReason == "" {
				if len(dl) != 0 || len(b.SES.Sent()) != 1 {
					t.Fatalf("sent %d, dead letters %d; want sent once", len(b.SES.Sent()), len(dl))
				}
				return
			}
			if len(dl) != 1 {
				t.Fatalf("dead letters = %d, want 1", len(dl))
			}
			m := dl[0]
			if aws.ToString(m.Body) != body {
				t.Errorf("dead-lettered body changed:\n got %s\nwant %s", aws.ToString(m.Body), body)
			}
			if got := testkit.Attr(m, deadletter.AttrReason); got != c.wantReason {
				t.Errorf("reason = %q, want %q (error %q)", got, c.wantReason, testkit.Attr(m, deadletter.AttrError))
			}
			if c.wantCode != "" && testkit.Attr(m, deadletter.AttrErrorCode) != c.wantCode {
				t.Errorf("error code = %q, want %q", testkit.Attr(m, deadletter.AttrErrorCode), c.wantCode)
			}
			if c.wantAttempt != "" && testkit.Attr(m, deadletter.AttrAttempts) != c.wantAttempt {
				t.Errorf("attempts = %q, want %q", testkit.Attr(m, deadletter.AttrAttempts), c.wantAttempt)
			}
			if testkit.Attr(m, deadletter.AttrError) == "" || testkit.Attr(m, deadletter.AttrSourceQueue) != b.QueueURL {
				t.Errorf("error %q, source queue %q", testkit.Attr(m, deadletter.AttrError), testkit.Attr(m, deadletter.AttrSourceQueue))
			}
			if at, err := time.Parse(time.RFC3339, testkit.Attr(m, deadletter.AttrFailedAt)); err != nil || time.Since(at) > time.Minute {
				t.Errorf("failed-at %q", testkit.Attr(m, deadletter.AttrFailedAt))
			}
			if testkit.Attr(m, "producer") != "billing" {
				t.Errorf("producer's attribute lost")
			}
		})
	}
}

// A quota deferral re-enqueues the message with a delay; it is sent later,
// not dead-lettered, and uses up no attempt.
func TestQuotaDefersWithoutUsingAttempts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.Config.MaxAttempts = 1
	b.Config.QuotaDelay = time.Second
	id := arn("us-east-1", "example.com")
	b.SES.Fail(id, sestest.ThrottleDaily, sestest.ThrottleDaily, sestest.AccountPaused)
	b.Enqueue(t, sendEmail(id, nil))
	start := time.Now()
	startWorker(t, b, worker.Options{})
	drained(t, b, 4)
	if d := time.Since(start); d < 3*time.Second {
		t.Errorf("three deferrals of 1s took %v", d)
	}
	if len(b.SES.Sent()) != 1 || len(b.DeadLetters(t)) != 0 {
		t.Errorf("sent %d, dead letters %d; want 1 and 0", len(b.SES.Sent()), len(b.DeadLetters(t)))
	}
}

// What a producer puts in sesq's attribute names steers nothing: a
// deferral until 2099, 99 attempts, a made-up ledger are ignored, and the
// envelope is sent at once.
func TestProducerAttributesCannotSteerTheLedger(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := arn("us-east-1", "example.com")
	str := func(s string) types.MessageAttributeValue {
		return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(s)}
	}
	b.Send(t, &sqs.SendMessageInput{MessageBody: aws.String(sendEmail(id, nil)), MessageAttributes: map[string]types.MessageAttributeValue{
		"sesq-defer-until": str("2099-01-01T00:00:00Z"),
		"sesq-deferrals":   str("4"),
		"sesq-attempts":    str("99"),
		"sesq-ledger":      str("v1&a=99&due=4070908800000&w=1&mac=AAAAAAAAAAAAAAAAAAAAAA"),
		"sesq-reason":      str("exhausted"),
	}})
	start := time.Now()
	startWorker(t, b, worker.Options{})
	drained(t, b, 1)
	if sent := b.SES.Sent(); len(sent) != 1 || sent[0].At.Sub(start) > 5*time.Second {
		t.Fatalf("sent %d; want once, at once", len(sent))
	}
	if dl := b.DeadLetters(t); len(dl) != 0 {
		t.Errorf("%d dead letters", len(dl))
	}
}

// A delay longer than the in-process limit hands the message back (a new
// message carrying its ledger, delayed); the attempt count carries over.
func TestLongRetryDelayHandsBackAndCountsAcrossDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.Config.MaxAttempts = 3
	b.Config.BackoffInitial = time.Second
	b.Config.BackoffMax = time.Second
	id := arn("us-east-1", "example.com")
	b.SES.FailAlways(id, sestest.ServiceUnavailable)
	b.Enqueue(t, sendEmail(id, nil))
	startWorker(t, b, worker.Options{Policy: func(p *retry.Policy) { p.InProcess = 0; p.Jitter = 0 }})
	testkit.Eventually(t, 20*time.Second, "a dead letter", func() bool { return b.Empty(t) && len(b.SES.Requests()) == 3 })
	reqs := b.SES.Requests()
	for i := 1; i < len(reqs); i++ {
		if gap := reqs[i].At.Sub(reqs[i-1].At); gap < 900*time.Millisecond {
			t.Errorf("attempt %d came %v after the previous one, want >= 1s", i+1, gap)
		}
	}
	dl := b.DeadLetters(t)
	if len(dl) != 1 || testkit.Attr(dl[0], deadletter.AttrReason) != "exhausted" || testkit.Attr(dl[0], deadletter.AttrAttempts) != "3" {
		t.Fatalf("dead letters %d, want one exhausted after 3 attempts", len(dl))
	}
}

// The five rules of the contract, end to end: what breaks one is dead-lettered
// as invalid without an SES call; what keeps one is sent in the right region.
func TestSendingAuthorizationRules(t *testing.T) {
	t.Parallel()
	east, west := arn("us-east-1", "example.com"), arn("eu-west-1", "example.com")
	cases := []struct {
		name       string
		body       string
		wantRegion string // "" = invalid
	}{
		{"1 mixed regions in parameters", sendEmail(east, map[string]any{"returnPathArn": west}), ""},
		{"1 mixed regions parameter and header", rawEmail("X-SES-FROM-ARN: "+west+"\n", map[string]any{"sourceArn": east}), ""},
		{"2 fromArn with SendEmail", sendEmail(east, map[string]any{"fromArn": east}), ""},
		{"2 raw with SendEmail", sendEmail(east, map[string]any{"raw": "Zm9v"}), ""},
		{"3 header only sets the region", rawEmail("X-SES-SOURCE-ARN: "+west+"\n", nil), "eu-west-1"},
		{"3 later header instance ignored", rawEmail("X-SES-SOURCE-ARN: "+west+"\nX-SES-SOURCE-ARN: "+east+"\n", nil), "eu-west-1"},
		{"3 parameter agrees with header", rawEmail("X-SES-SOURCE-ARN: "+west+"\n", map[string]any{"sourceArn": west}), "eu-west-1"},
		{"3 parameter disagrees with header", rawEmail("X-SES-SOURCE-ARN: "+west+"\n", map[string]any{"sourceArn": arn("eu-west-1", "other.example")}), ""},
		{"4 no ARN", sendEmail(east, map[string]any{"sourceArn": nil, "returnPathArn": nil}), ""},
		{"4 raw without ARN", rawEmail("", nil), ""},
		{"5 DKIM signs an X-SES header", rawEmail("DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1;\n h=From:To:Subject:X-SES-SOURCE-ARN; bh=abc=; b=def=\nX-SES-SOURCE-ARN: "+east+"\n", nil), ""},
		{"5 DKIM without X-SES headers", rawEmail("DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1; h=From:To:Subject; bh=abc=; b=def=\nX-SES-SOURCE-ARN: "+east+"\n", nil), "us-east-1"},
	}
	b := setup(t)
	for _, c := range cases {
		b.Send(t, &sqs.SendMessageInput{MessageBody: aws.String(c.body), MessageAttributes: map[string]types.MessageAttributeValue{
			"case": {DataType: aws.String("String"), StringValue: aws.String(c.name)},
		}})
	}
	startWorker(t, b, worker.Options{})
	nValid := 0
	for _, c := range cases {
		if c.wantRegion != "" {
			nValid++
		}
	}
	drained(t, b, nValid)
	invalid := map[string]string{}
	for _, m := range b.DeadLetters(t) {
		if testkit.Attr(m, deadletter.AttrReason) != "invalid" {
			t.Errorf("%s: reason %s", testkit.Attr(m, "case"), testkit.Attr(m, deadletter.AttrReason))
		}
		invalid[aws.ToString(m.Body)] = testkit.Attr(m, deadletter.AttrError)
	}
	sentIn := map[string]string{}
	for _, r := range b.SES.Requests() {
		if r.Raw != nil {
			sentIn[string(r.Raw)] = r.Region
		}
		sentIn[r.Params.Get("SourceArn")+r.Params.Get("Message.Subject.Data")] = r.Region
	}
	for _, c := range cases {
		errText, dead := invalid[c.body]
		if c.wantRegion == "" {
			if !dead {
				t.Errorf("%s: not dead-lettered as invalid", c.name)
			} else {
				t.Logf("%s: %s", c.name, errText)
			}
			continue
		}
		if dead {
			t.Errorf("%s: dead-lettered: %s", c.name, errText)
		}
	}
	if got := len(b.SES.Sent()); got != nValid {
		t.Errorf("SES sent %d, want %d", got, nValid)
	}
	for _, r := range b.SES.Sent() {
		src, _, _ := r.ARNs()
		if !strings.Contains(src, ":"+r.Region+":") {
			t.Errorf("sent for %s signed in %s", src, r.Region)
		}
	}
	if b.SES.RegionMismatches() != 0 {
		t.Errorf("%d region mismatches", b.SES.RegionMismatches())
	}
}

// A mixed run of a few hundred envelopes: every one ends sent once or
// dead-lettered once.
func TestNothingLostInAMixedRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.Config.Concurrency = 32
	b.Config.MaxAttempts = 8
	regions := []string{"us-east-1", "eu-west-1", "ap-southeast-2"}
	flaky, denied, rejected := arn("us-east-1", "flaky.example"), arn("eu-west-1", "denied.example"), arn("ap-southeast-2", "rejected.example")
	b.SES.FailAlways(denied, sestest.AccessDenied)
	b.SES.FailAlways(rejected, sestest.MessageRejected)
	b.SES.Latency("", 5*time.Millisecond)
	const n = 300
	b.SES.FailEvery(flaky, 3, sestest.ThrottleRate)
	want := map[string]string{} // token -> "sent" or reason
	for i := 0; i < n; i++ {
		tok := fmt.Sprintf("tok-%03d", i)
		subject := map[string]any{
			"subject": map[string]any{"data": "Receipt " + tok},
			"body":    map[string]any{"text": map[string]any{"data": "Hello"}},
		}
		var body string
		switch i % 6 {
		case 0, 1:
			body, want[tok] = sendEmail(arn(regions[i%3], "example.com"), map[string]any{"id": tok, "message": subject}), "sent"
		case 2:
			body, want[tok] = sendEmail(flaky, map[string]any{"id": tok, "message": subject}), "sent"
		case 3:
			body, want[tok] = sendEmail(denied, map[string]any{"id": tok}), "authorization"
		case 4:
			body, want[tok] = sendEmail(rejected, map[string]any{"id": tok}), "rejected"
		case 5:
			body, want[tok] = `{"version":1,"id":"`+tok+`","action":"SendEmail"}`, "invalid"
		}
		b.Enqueue(t, body)
	}
	startWorker(t, b, worker.Options{})
	testkit.Eventually(t, 60*time.Second, "the queue to drain", func() bool { return b.Empty(t) })

	got := map[string][]string{}
	for _, r := range b.SES.Sent() {
		tok := strings.TrimPrefix(r.Params.Get("Message.Subject.Data"), "Receipt ")
		got[tok] = append(got[tok], "sent")
	}
	for _, m := range b.DeadLetters(t) {
		var e struct {
			ID string `json:"id"`
		}
		json.Unmarshal([]byte(aws.ToString(m.Body)), &e)
		got[e.ID] = append(got[e.ID], testkit.Attr(m, deadletter.AttrReason))
	}
	lost, dup, wrong := 0, 0, 0
	for tok, w := range want {
		g := got[tok]
		switch {
		case len(g) == 0:
			lost++
			t.Logf("lost %s (want %s)", tok, w)
		case len(g) > 1:
			dup++
		case g[0] != w:
			wrong++
			t.Errorf("%s ended %s, want %s", tok, g[0], w)
		}
	}
	t.Logf("%d envelopes: %d sent, lost %d, duplicated %d, wrong outcome %d", n, len(b.SES.Sent()), lost, dup, wrong)
	if lost > 0 {
		v, f, d := b.Counts(t, b.DLQURL)
		t.Logf("dead-letter queue now: visible %d, in flight %d, delayed %d", v, f, d)
	}
	if lost+dup+wrong != 0 || len(got[""]) != 0 {
		t.Fatalf("lost %d, duplicated %d, wrong %d, unattributed %d", lost, dup, wrong, len(got[""]))
	}
}

// With a visibility timeout shorter than an SES call, the worker extends
// visibility, so the message is not delivered (and sent) twice.
func TestSlowSESExtendsVisibility(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.Config.VisibilityTimeout = 2 * time.Second
	b.Config.SendTimeout = 10 * time.Second
	id := arn("us-east-1", "example.com")
	b.SES.Latency(id, 4*time.Second)
	b.Enqueue(t, sendEmail(id, nil), sendEmail(id, map[string]any{"id": "second"}))
	startWorker(t, b, worker.Options{})
	drained(t, b, 2)
	time.Sleep(500 * time.Millisecond)
	if n := len(b.SES.Requests()); n != 2 {
		t.Errorf("SES got %d requests for 2 messages: visibility ran out mid-send", n)
	}
}

// Stopping the worker hands back a message waiting for a retry at once, so
// it does not wait out its visibility timeout; and Run returns promptly.
func TestShutdownHandsBackUnfinished(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.Config.VisibilityTimeout = 60 * time.Second
	b.Config.BackoffInitial = 3 * time.Second
	b.Config.BackoffMax = 3 * time.Second
	id := arn("us-east-1", "example.com")
	b.SES.FailAlways(id, sestest.ServiceUnavailable)
	b.Enqueue(t, sendEmail(id, nil))
	stop := startWorker(t, b, worker.Options{})
	testkit.Eventually(t, 10*time.Second, "the first attempt", func() bool { return len(b.SES.Requests()) == 1 })
	start := time.Now()
	stop()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("shutdown took %v while the only message waited for a retry", d)
	}
	testkit.Eventually(t, 3*time.Second, "the message to be visible again", func() bool {
		v, _, _ := b.Counts(t, b.QueueURL)
		return v == 1
	})
	// It was re-enqueued with the one attempt it had, not handed back with a
	// receive count that would read as more.
	out, err := b.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(b.QueueURL), MessageAttributeNames: []string{"All"},
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount}})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("receive: %v", err)
	}
	m := out.Messages[0]
	l, st := ledger.NewSigner(nil, b.QueueURL, b.DLQURL).Read(testkit.Attr(m, ledger.Attr), aws.ToString(m.Body), time.Time{})
	if st != ledger.Valid || l.Attempts != 1 || m.Attributes["ApproximateReceiveCount"] != "1" {
		t.Errorf("ledger %s %+v, receive count %s; want 1 attempt and receive count 1", st, l, m.Attributes["ApproximateReceiveCount"])
	}
}

// When the dead-letter queue cannot be written, the message stays in the
// source queue with the reason it was dead-lettered for; once the queue
// can be written, it goes there with that reason, and SES was called no
// more than the reason took.
func TestDeadLetterWriteFailureKeepsTheMessageAndItsReason(t *testing.T) {
	t.Parallel()
	b := setup(t)
	name := strings.TrimSuffix(b.DLQURL[strings.LastIndex(b.DLQURL, "/")+1:], "-dlq") + "-later"
	b.Config.DLQURL = strings.TrimSuffix(b.DLQURL, "-dlq") + "-later" // no such queue yet
	id := arn("us-east-1", "example.com")
	b.SES.FailAlways(id, sestest.AccessDenied)
	b.Enqueue(t, `not json`, sendEmail(id, nil))
	startWorker(t, b, worker.Options{})
	testkit.Eventually(t, 10*time.Second, "both tried", func() bool { return len(b.SES.Requests()) == 1 })
	time.Sleep(2 * time.Second) // the dead-letter writes fail meanwhile
	if _, err := b.SQS.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	testkit.Eventually(t, 20*time.Second, "both dead-lettered", func() bool {
		out, err := b.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(b.Config.DLQURL), MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			got[aws.ToString(m.Body)] = testkit.Attr(m, deadletter.AttrReason) + "/" + testkit.Attr(m, deadletter.AttrErrorCode) + "/" + testkit.Attr(m, deadletter.AttrAttempts)
		}
		return len(got) == 2 && b.Empty(t)
	})
	if want := map[string]string{`not json`: "invalid/InvalidEnvelope/0", sendEmail(id, nil): "authorization/AccessDenied/1"}; !maps.Equal(got, want) {
		t.Errorf("dead letters %v, want %v", got, want)
	}
	if n := len(b.SES.Requests()); n != 1 {
		t.Errorf("SES called %d times, want once", n)
	}
}

// panicky is a fault injected into the worker: its transport panics,
// standing for any bug in handling one message.
type panicky struct {
	transport.Transport
	calls *atomic.Int32
}

func (p panicky) Send(context.Context, *envelope.Envelope) (string, error) {
	p.calls.Add(1)
	panic("injected fault")
}

// A panic while handling a message does not take the worker down or lose the
// message: it is made visible again and comes again; each panicked delivery
// counts one attempt (it may have sent), so a message that panics every
// time is dead-lettered as exhausted after SESQ_MAX_ATTEMPTS of them.
func TestPanicInHandlerHandsBack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.Config.VisibilityTimeout = 2 * time.Second // a panicked send's claim lapses after it
	b.Enqueue(t, sendEmail(arn("us-east-1", "example.com"), nil))
	p := panicky{Transport: b.api(), calls: new(atomic.Int32)}
	w := worker.New(b.Config, b.SQS, p, worker.Options{Logger: testkit.TestLogger(t)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var dl []types.Message
	testkit.Eventually(t, 40*time.Second, "the message dead-lettered after its panics", func() bool {
		dl = append(dl, b.DeadLetters(t)...)
		return len(dl) > 0
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if p.calls.Load() != int32(b.Config.MaxAttempts) || len(dl) != 1 || testkit.Attr(dl[0], deadletter.AttrReason) != "exhausted" ||
		testkit.Attr(dl[0], deadletter.AttrAttempts) != fmt.Sprint(b.Config.MaxAttempts) || testkit.Attr(dl[0], deadletter.AttrErrorCode) != retry.CodeUnfinished || !b.Empty(t) {
		t.Errorf("panics %d, dead letters %d (%v); want %d panics, then the message dead-lettered as exhausted", p.calls.Load(), len(dl), dl, b.Config.MaxAttempts)
	}
}

// Ready follows receives and goes false while draining; Alive follows Run.
func TestReadyAndAlive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.Config.WaitTime = 2 * time.Second
	b.Config.VisibilityTimeout = 4 * time.Second
	w := worker.New(b.Config, b.SQS, b.api(), worker.Options{Logger: testkit.TestLogger(t)})
	if w.Ready() || w.Alive() {
		t.Fatal("ready or alive before Run")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	testkit.Eventually(t, 5*time.Second, "ready", w.Ready)
	if !w.Alive() {
		t.Error("not alive while running")
	}
	cancel()
	testkit.Eventually(t, time.Second, "not ready while draining", func() bool { return !w.Ready() })
	select {
	case <-done:
		t.Log("drained before the check could see it running")
	default:
		if !w.Alive() {
			t.Error("not alive while draining")
		}
	}
	<-done
	if w.Ready() || w.Alive() {
		t.Error("ready or alive after Run returned")
	}
}

// Against an account limited to 40 sends per second per region, the worker
// starts from GetSendQuota's rate, sends at about that rate, retries what was
// throttled without using up attempts, and dead-letters nothing.
func TestSendsAtTheAccountRate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.Config.Concurrency = 16
	b.SES.RateLimit(40)
	b.SES.Latency("", 20*time.Millisecond)
	const n = 200
	for i := 0; i < n; i++ {
		b.Enqueue(t, sendEmail(arn("eu-west-1", "example.com"), map[string]any{"id": fmt.Sprint("r", i)}))
	}
	start := time.Now()
	startWorker(t, b, worker.Options{})
	testkit.Eventually(t, 30*time.Second, "all sent", func() bool { return len(b.SES.Sent()) == n && b.Empty(t) })
	elapsed := time.Since(start).Seconds()
	rate := float64(n) / elapsed
	throttled := b.SES.Throttled()
	t.Logf("%d sends in %.1fs: %.1f/s against a limit of 40/s (burst 40), %d throttled", n, elapsed, rate, throttled)
	// 40 in the first second's burst, then 40/s: about 4 s.
	if rate > 60 || throttled > n/10 || len(b.DeadLetters(t)) != 0 {
		t.Errorf("rate %.1f/s, %d throttled, dead letters %d", rate, throttled, len(b.DeadLetters(t)))
	}
}

// The hostile corpus of the envelope package, end to end: each envelope SQS
// takes ends in the dead-letter queue as invalid with the error that names
// what is wrong; SES is never called and nothing panics.
func TestHostileEnvelopesAreDeadLettered(t *testing.T) {
	t.Parallel()
	f, err := os.ReadFile("../envelope/testdata/hostile.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	b := setup(t)
	want := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(f)), "\n") {
		var c struct {
			Name, Body, Want string
			SQS              bool
		}
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatal(err)
		}
		if !c.SQS {
			continue
		}
		b.Send(t, &sqs.SendMessageInput{MessageBody: aws.String(c.Body), MessageAttributes: map[string]types.MessageAttributeValue{
			"case": {DataType: aws.String("String"), StringValue: aws.String(c.Name)},
		}})
		want[c.Name] = c.Want
	}
	startWorker(t, b, worker.Options{})
	testkit.Eventually(t, 30*time.Second, "the queue to drain", func() bool { return b.Empty(t) })
	got := map[string]bool{}
	for _, m := range b.DeadLetters(t) {
		name := testkit.Attr(m, "case")
		got[name] = true
		if r := testkit.Attr(m, deadletter.AttrReason); r != "invalid" || !strings.Contains(testkit.Attr(m, deadletter.AttrError), want[name]) {
			t.Errorf("%s: reason %s, error %q; want invalid saying %q", name, r, testkit.Attr(m, deadletter.AttrError), want[name])
		}
	}
	for name := range want {
		if !got[name] {
			t.Errorf("%s: not dead-lettered", name)
		}
	}
	if n := len(b.SES.Requests()); n != 0 {
		t.Errorf("SES was called %d times for hostile envelopes", n)
	}
	t.Logf("%d hostile envelopes through the worker: all dead-lettered as invalid, no SES call", len(want))
}

// The same envelope id delivered again after SES accepted it is deleted, not
// sent twice.
func TestDuplicateEnvelopeIsSentOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := arn("us-east-1", "example.com")
	b.Enqueue(t, sendEmail(id, map[string]any{"id": "order-4711-receipt"}))
	startWorker(t, b, worker.Options{})
	testkit.Eventually(t, 10*time.Second, "the first send", func() bool { return len(b.SES.Sent()) == 1 && b.Empty(t) })
	// A redelivery, as SQS's at-least-once delivery or a producer's retry makes it.
	b.Enqueue(t, sendEmail(id, map[string]any{"id": "order-4711-receipt"}), sendEmail(id, map[string]any{"id": "order-4711-receipt"}))
	testkit.Eventually(t, 10*time.Second, "the duplicates to be deleted", func() bool { return b.Empty(t) })
	time.Sleep(200 * time.Millisecond)
	if n := len(b.SES.Requests()); n != 1 {
		t.Errorf("SES got %d sends of one envelope id", n)
	}
	if len(b.DeadLetters(t)) != 0 {
		t.Error("duplicates dead-lettered")
	}
}

// SES answers 503 in one region for a stretch: the other regions' mail flows
// at full speed meanwhile; the failing region's messages wait without using
// up their attempts, and are all sent once it recovers. Nothing is
// dead-lettered.
func TestRegionOutageIsIsolated(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.Config.Concurrency = 8
	b.Config.MaxAttempts = 3
	down, up := arn("eu-west-1", "example.com"), arn("us-east-1", "example.com")
	b.SES.FailAlways(down, sestest.ServiceUnavailable)
	b.SES.Latency("", 10*time.Millisecond)
	for i := 0; i < 60; i++ {
		b.Enqueue(t, sendEmail(down, map[string]any{"id": fmt.Sprint("down-", i)}), sendEmail(up, map[string]any{"id": fmt.Sprint("up-", i)}))
	}
	start := time.Now()
	startWorker(t, b, worker.Options{})
	sentIn := func(region string) int {
		n := 0
		for _, r := range b.SES.Sent() {
			if r.Region == region {
				n++
			}
		}
		return n
	}
	testkit.Eventually(t, 20*time.Second, "the healthy region's mail", func() bool { return sentIn("us-east-1") == 60 })
	healthy := time.Since(start)
	failedCalls := len(b.SES.Requests()) - 60
	time.Sleep(3 * time.Second) // the outage goes on
	during := len(b.SES.Requests()) - 60 - failedCalls
	b.SES.Recover(down)
	testkit.Eventually(t, 60*time.Second, "the failed region's mail after recovery", func() bool { return sentIn("eu-west-1") == 60 && b.Empty(t) })
	t.Logf("healthy region done in %v during the outage; %d failed calls before the breaker opened, %d probes in 3 s of outage; all 60 sent after recovery in %v",
		healthy.Round(time.Millisecond), failedCalls, during, time.Since(start).Round(time.Millisecond))
	if dl := b.DeadLetters(t); len(dl) != 0 {
		t.Errorf("%d dead-lettered during an outage", len(dl))
	}
	if during > 10 {
		t.Errorf("%d calls to the failing region in 3 s: it is hammered", during)
	}
}
