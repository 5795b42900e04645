package worker_test

// Tenants, FIFO groups and lanes against fauxqs and the SES test endpoint.

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sesq/sesq/deadletter"
	"github.com/sesq/sesq/internal/testsupport/sestest"
	"github.com/sesq/sesq/internal/testsupport/testkit"
	"github.com/sesq/sesq/retry"
	"github.com/sesq/sesq/worker"
)

// fifoQueues creates FIFO queues beside the bundle's (named after them, so
// that a test run again in the same emulator gets new ones) and points the
// bundle and its worker at them.
func fifoQueues(t *testing.T, b *bundle) {
	t.Helper()
	name := path.Base(b.QueueURL) + "-f"
	ctx := context.Background()
	fifo := map[string]string{"FifoQueue": "true"}
	dlq, err := b.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-dlq.fifo"), Attributes: fifo})
	if err != nil {
		t.Fatalf("create FIFO dead-letter queue: %v", err)
	}
	q, err := b.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + ".fifo"), Attributes: fifo})
	if err != nil {
		t.Fatalf("create FIFO queue: %v", err)
	}
	b.QueueURL, b.DLQURL = aws.ToString(q.QueueUrl), aws.ToString(dlq.QueueUrl)
	b.Config.QueueURL, b.Config.DLQURL = b.QueueURL, b.DLQURL
}

// enqueueFIFO sends body to the FIFO queue in group, deduplicated by id.
func enqueueFIFO(t *testing.T, b *bundle, group, id, body string) {
	t.Helper()
	b.Send(t, &sqs.SendMessageInput{MessageBody: aws.String(body), MessageGroupId: aws.String(group), MessageDeduplicationId: aws.String(id)})
}

// numbered is a SendEmail envelope for identity whose subject is "seq N".
func numbered(identity string, n int, extra map[string]any) string {
	m := map[string]any{"id": fmt.Sprintf("%s-%d", identity, n), "message": map[string]any{
		"subject": map[string]any{"data": "seq " + strconv.Itoa(n)},
		"body":    map[string]any{"text": map[string]any{"data": "body"}},
	}}
	for k, v := range extra {
		m[k] = v
	}
	return sendEmail(identity, m)
}

// accepted is the sequence numbers SES accepted for identity, in the order
// it accepted them.
func accepted(b *bundle, identity string) []int {
	var out []int
	for _, r := range b.SES.Sent() {
		if r.Identity == identity {
			n, _ := strconv.Atoi(strings.TrimPrefix(r.Params.Get("Message.Subject.Data"), "seq "))
			out = append(out, n)
		}
	}
	return out
}

func calls(b *bundle, identity string) int {
	n := 0
	for _, r := range b.SES.Requests() {
		if r.Identity == identity && r.Action != "GetSendQuota" {
			n++
		}
	}
	return n
}

// A FIFO group's messages reach SES in their order although sends of it
// fail: retried in process, or handed back (made visible again later, the
// group held behind it), never overtaken by a later one of the group.
func TestFIFOKeepsGroupOrderUnderRetries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	fifoQueues(t, b)
	b.Config.MaxAttempts = 8
	b.Config.BackoffInitial, b.Config.BackoffMax = 50*time.Millisecond, 300*time.Millisecond
	const groups, per = 4, 6
	ids := make([]string, groups)
	for g := range groups {
		ids[g] = arn("us-east-1", fmt.Sprintf("g%d.example.com", g))
	}
	// g0 fails once (retried in process), g1 three times (the third retry
	// waits 200 ms: handed back), g2 every third send, g3 never.
	b.SES.Fail(ids[0], sestest.ServiceUnavailable)
	b.SES.Fail(ids[1], sestest.InternalFailure, sestest.InternalFailure, sestest.InternalFailure)
	b.SES.FailEvery(ids[2], 3, sestest.ServiceUnavailable)
	for n := range per {
		for g := range groups {
			enqueueFIFO(t, b, fmt.Sprintf("group-%d", g), fmt.Sprintf("%d-%d", g, n), numbered(ids[g], n, nil))
		}
	}
	// One that can never be sent, in a group of its own: it goes to the
	// FIFO dead-letter queue, keeping its group.
	enqueueFIFO(t, b, "group-bad", "bad", `{"version":1,"action":"Nope"}`)
	startWorker(t, b, worker.Options{Policy: func(p *retry.Policy) { p.InProcess = 100 * time.Millisecond }})
	testkit.Eventually(t, 30*time.Second, "every message sent", func() bool { return len(b.SES.Sent()) >= groups*per && b.Empty(t) })
	for g := range groups {
		if got, want := accepted(b, ids[g]), []int{0, 1, 2, 3, 4, 5}; !slices.Equal(got, want) {
			t.Errorf("group %d accepted in order %v, want %v", g, got, want)
		}
	}
	if dl := b.DeadLetters(t); len(dl) != 1 || testkit.Attr(dl[0], deadletter.AttrReason) != "invalid" {
		t.Errorf("dead letters %v, want the invalid one", dl)
	}
}

// A quota refusal on a FIFO queue defers the message by its visibility (a
// FIFO queue takes no per-message delay), its group waiting behind it; the
// tenant's other messages are deferred without a send meanwhile, and other
// tenants go on.
func TestFIFOQuotaDeferralHoldsTheGroupAndTheTenant(t *testing.T) {
	t.Parallel()
	b := setup(t)
	fifoQueues(t, b)
	b.Config.QuotaDelay = 2 * time.Second
	paused, other, same := arn("us-east-1", "paused.example.com"), arn("us-east-1", "other.example.com"), arn("us-east-1", "second.example.com")
	b.SES.Fail(paused, sestest.AccountPaused)
	for n := range 3 {
		enqueueFIFO(t, b, "a", fmt.Sprintf("a-%d", n), numbered(paused, n, map[string]any{"tenant": "tenant-a"}))
		enqueueFIFO(t, b, "b", fmt.Sprintf("b-%d", n), numbered(other, n, map[string]any{"tenant": "tenant-b"}))
	}
	start := time.Now()
	startWorker(t, b, worker.Options{})
	testkit.Eventually(t, 10*time.Second, "the refusal", func() bool { return calls(b, paused) >= 1 })
	refused := time.Now()
	// Another group of the held tenant, enqueued after the refusal: it is
	// deferred without reaching SES until the hold ends.
	enqueueFIFO(t, b, "c", "c-0", numbered(same, 0, map[string]any{"tenant": "tenant-a"}))
	testkit.Eventually(t, 30*time.Second, "every message sent", func() bool { return len(b.SES.Sent()) >= 7 && b.Empty(t) })

	if got := accepted(b, paused); !slices.Equal(got, []int{0, 1, 2}) {
		t.Errorf("the deferred group accepted in order %v, want [0 1 2]", got)
	}
	if n := calls(b, paused); n != 4 {
		t.Errorf("%d sends for the deferred group, want 4 (the refused one, then three)", n)
	}
	if n := calls(b, same); n != 1 {
		t.Errorf("the held tenant's other group was sent %d times, want once (held back without a send)", n)
	}
	var firstA, lastB time.Time
	for _, r := range b.SES.Sent() {
		switch r.Identity {
		case paused:
			if firstA.IsZero() {
				firstA = r.At
			}
		case other:
			lastB = r.At
		}
	}
	if d := firstA.Sub(start); d < 2*time.Second {
		t.Errorf("the refused message went again after %v, want its 2 s deferral", d)
	}
	if !lastB.Before(refused.Add(time.Second)) {
		t.Errorf("the other tenant's group waited (last sent %v after the refusal)", lastB.Sub(refused))
	}
	if dl := b.DeadLetters(t); len(dl) != 0 {
		t.Errorf("%d dead letters", len(dl))
	}
}

// Two lanes with weights 8 and 1, both with a backlog and one sender: the
// heavy lane's messages go eight to one; each lane dead-letters into its
// own dead-letter queue.
func TestLanesShareByWeight(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bulkURL, bulkDLQ := testkit.CreateQueues(t, b.SQS, path.Base(b.QueueURL)+"-bulk", 20)
	b.Config.QueueURL, b.Config.DLQURL = "", ""
	b.Config.Lanes = []worker.Lane{
		{Name: "transactional", QueueURL: b.QueueURL, DLQURL: b.DLQURL, Weight: 8},
		{Name: "bulk", QueueURL: bulkURL, DLQURL: bulkDLQ, Weight: 1},
	}
	b.Config.Concurrency = 1
	hi, lo := arn("us-east-1", "hi.example.com"), arn("us-east-1", "lo.example.com")
	b.SES.Latency(hi, 50*time.Millisecond)
	b.SES.Latency(lo, 50*time.Millisecond)
	send := func(url, body string) {
		if _, err := b.SQS.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	for n := range 20 {
		send(bulkURL, numbered(lo, n, nil))
	}
	for n := range 16 {
		send(b.QueueURL, numbered(hi, n, nil))
	}
	send(b.QueueURL, `{"version":1,"action":"Nope"}`)
	send(bulkURL, `{"version":1,"action":"Nope"}`)
	startWorker(t, b, worker.Options{})
	testkit.Eventually(t, 30*time.Second, "every message sent", func() bool { return len(b.SES.Sent()) >= 36 })

	// Both lanes have a backlog from the start: after the first few sends
	// (while the second lane's first receive lands), every nine sends hold
	// eight of the transactional lane.
	var order strings.Builder
	for _, r := range b.SES.Sent() {
		if r.Identity == hi {
			order.WriteByte('H')
		} else {
			order.WriteByte('l')
		}
	}
	s := order.String()
	last := strings.LastIndexByte(s, 'H')
	if lows := strings.Count(s[:last], "l"); lows > 4 {
		t.Errorf("sends %s: %d of the bulk lane went before the transactional lane's last, want at most 4 (16 at 8:1, plus the start)", s, lows)
	}
	for _, q := range []string{b.DLQURL, bulkDLQ} {
		bb := *b.Bundle
		bb.DLQURL = q
		if dl := bb.DeadLetters(t); len(dl) != 1 {
			t.Errorf("dead-letter queue %s holds %d, want its lane's one invalid envelope", q, len(dl))
		}
	}
}

// On a FIFO queue earlier receives are not charged as deliveries cut
// short: they are mostly hand-backs by visibility, by this worker or
// another, and messages released unstarted behind their group's head. A
// message received three times before, by a worker that is gone, is sent
// with its one attempt.
func TestFIFOEarlierReceivesCostNoAttempt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	fifoQueues(t, b)
	b.Config.MaxAttempts = 1
	id := arn("us-east-1", "example.com")
	enqueueFIFO(t, b, "g", "m-0", numbered(id, 0, nil))
	for range 3 { // another worker's receives, each made visible again
		out, err := b.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(b.QueueURL), MaxNumberOfMessages: 1, WaitTimeSeconds: 1})
		if err != nil || len(out.Messages) != 1 {
			t.Fatalf("receive: %v (%d messages)", err, len(out.Messages))
		}
		if _, err := b.SQS.ChangeMessageVisibility(context.Background(), &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(b.QueueURL), ReceiptHandle: out.Messages[0].ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
	}
	startWorker(t, b, worker.Options{})
	testkit.Eventually(t, 20*time.Second, "the message handled", func() bool { return b.Empty(t) })
	if got := accepted(b, id); !slices.Equal(got, []int{0}) {
		t.Errorf("accepted %v, want the message sent", got)
	}
	if dl := b.DeadLetters(t); len(dl) != 0 {
		t.Errorf("dead-lettered as %s", testkit.Attr(dl[0], deadletter.AttrReason))
	}
}
