package sqsfake_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	smithy "github.com/aws/smithy-go"

	"github.com/sesq/sesq/internal/testsupport/sqsfake"
)

// bundle is what most tests need: a fake with one queue, and the instant
// the bubble started.
type bundle struct {
	s     *sqsfake.SQS
	url   string
	start time.Time
}

func setup(t *testing.T, o sqsfake.QueueOptions) bundle {
	t.Helper()
	s := sqsfake.New()
	return bundle{s: s, url: s.CreateQueue("work", o), start: time.Now()}
}

func send(t *testing.T, c sqsfake.API, url, body string, delay int32) string {
	t.Helper()
	out, err := c.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: &body, DelaySeconds: delay})
	if err != nil {
		t.Fatalf("send %q to %s: %v", body, url, err)
	}
	return *out.MessageId
}

// receive is a short poll for up to max messages.
func receive(t *testing.T, c sqsfake.API, url string, max int32) []types.Message {
	t.Helper()
	out, err := c.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: max})
	if err != nil {
		t.Fatalf("receive from %s: %v", url, err)
	}
	return out.Messages
}

func receiveOne(t *testing.T, c sqsfake.API, url string) types.Message {
	t.Helper()
	got := receive(t, c, url, 1)
	if len(got) != 1 {
		t.Fatalf("receive from %s at %v: got %d messages, want 1", url, time.Now(), len(got))
	}
	return got[0]
}

func ids(ms []types.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, *m.MessageId)
	}
	return out
}

func code(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

type polled struct {
	out     *sqs.ReceiveMessageOutput
	err     error
	elapsed time.Duration
}

// poll starts a receive in its own goroutine; its result arrives on the
// channel.
func poll(ctx context.Context, c sqsfake.API, in *sqs.ReceiveMessageInput) <-chan polled {
	ch := make(chan polled, 1)
	start := time.Now()
	go func() {
		out, err := c.ReceiveMessage(ctx, in)
		ch <- polled{out, err, time.Since(start)}
	}()
	return ch
}

func TestLongPollReturnsWhenMessageArrives(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, sqsfake.QueueOptions{})
		res := poll(t.Context(), b.s, &sqs.ReceiveMessageInput{QueueUrl: &b.url, WaitTimeSeconds: 20, MaxNumberOfMessages: 10})

		time.Sleep(7 * time.Second)
		first := send(t, b.s, b.url, "one", 0)
		second := send(t, b.s, b.url, "two", 0)

		r := <-res
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.elapsed != 7*time.Second {
			t.Errorf("long poll returned after %v, want 7s", r.elapsed)
		}
		// The poll is answered by the first send, with what was visible then.
		if got := ids(r.out.Messages); !slices.Equal(got, []string{first}) {
			t.Errorf("long poll got %v, want [%s]", got, first)
		}
		if got := ids(receive(t, b.s, b.url, 10)); !slices.Equal(got, []string{second}) {
			t.Errorf("next receive got %v, want [%s]", got, second)
		}
	})
}

func TestLongPollEndsEmptyAfterWaitTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, sqsfake.QueueOptions{})
		r := <-poll(t.Context(), b.s, &sqs.ReceiveMessageInput{QueueUrl: &b.url, WaitTimeSeconds: 5})
		if r.err != nil || len(r.out.Messages) != 0 {
			t.Fatalf("long poll: %d messages, err %v; want none, nil", len(r.out.Messages), r.err)
		}
		if r.elapsed != 5*time.Second {
			t.Errorf("long poll returned after %v, want 5s", r.elapsed)
		}
	})
}

func TestLongPollEndingAtSendInstantLeavesMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, sqsfake.QueueOptions{})
		res := poll(t.Context(), b.s, &sqs.ReceiveMessageInput{QueueUrl: &b.url, WaitTimeSeconds: 5})
		time.Sleep(5 * time.Second)
		id := send(t, b.s, b.url, "late", 0)
		if r := <-res; r.err != nil || len(r.out.Messages) != 0 {
			t.Fatalf("long poll ending at the send: %d messages, err %v; want none", len(r.out.Messages), r.err)
		}
		if m := b.s.Messages(b.url); len(m) != 1 || m[0].ID != id || m[0].ReceiveCount != 0 {
			t.Errorf("queue holds %+v, want %s never received", m, id)
		}
	})
}

func TestLongPollGetsMessageBecomingVisibleAtItsEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, sqsfake.QueueOptions{})
		id := send(t, b.s, b.url, "delayed", 5)
		r := <-poll(t.Context(), b.s, &sqs.ReceiveMessageInput{QueueUrl: &b.url, WaitTimeSeconds: 5})
		if r.err != nil || !slices.Equal(ids(r.out.Messages), []string{id}) || r.elapsed != 5*time.Second {
			t.Fatalf("got %v after %v (err %v), want [%s] after 5s", ids(r.out.Messages), r.elapsed, r.err, id)
		}
	})
}

func TestLongPollCancelTakesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, sqsfake.QueueOptions{})
		ctx, cancel := context.WithCancel(t.Context())
		res := poll(ctx, b.s, &sqs.ReceiveMessageInput{QueueUrl: &b.url, WaitTimeSeconds: 20})

		time.Sleep(3 * time.Second)
		cancel()
		id := send(t, b.s, b.url, "after cancel", 0)

		r := <-res
		if !errors.Is(r.err, context.Canceled) {
			t.Fatalf("cancelled long poll: err %v, want context.Canceled", r.err)
		}
		if r.elapsed != 3*time.Second {
			t.Errorf("cancelled long poll returned after %v, want 3s", r.elapsed)
		}
		var apiErr smithy.APIError
		if errors.As(r.err, &apiErr) {
			t.Errorf("cancellation is an API error %v", apiErr)
		}
		m := b.s.Messages(b.url)
		if len(m) != 1 || m[0].ID != id || m[0].ReceiveCount != 0 || m[0].InFlight {
			t.Errorf("queue holds %+v, want %s untouched", m, id)
		}
	})
}

func TestCancelledContextMakesNoCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, sqsfake.QueueOptions{})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := b.s.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &b.url, MessageBody: aws.String("x")})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("send with a cancelled context: %v", err)
		}
		if n := len(b.s.Calls()); n != 0 {
			t.Errorf("%d calls recorded, want 0", n)
		}
		if n := len(b.s.Messages(b.url)); n != 0 {
			t.Errorf("%d messages stored, want 0", n)
		}
	})
}

func TestDelaySeconds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, sqsfake.QueueOptions{})
		id := send(t, b.s, b.url, "later", 5)

		if got := receive(t, b.s, b.url, 10); len(got) != 0 {
			t.Fatalf("delayed message received at once: %v", ids(got))
		}
		attrs := queueAttrs(t, b.s, b.url)
		if attrs["ApproximateNumberOfMessagesDelayed"] != "1" || attrs["ApproximateNumberOfMessages"] != "0" {
			t.Errorf("attributes while delayed: %v", attrs)
		}
		time.Sleep(5*time.Second - time.Nanosecond)
		if got := receive(t, b.s, b.url, 10); len(got) != 0 {
			t.Fatalf("delayed message received 1ns early: %v", ids(got))
		}
		time.Sleep(time.Nanosecond)
		if m := receiveOne(t, b.s, b.url); *m.MessageId != id {
			t.Errorf("got %s, want %s", *m.MessageId, id)
		}

		_, err := b.s.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &b.url, MessageBody: aws.String("x"), DelaySeconds: 901})
		if code(err) != "InvalidParameterValue" {
			t.Errorf("delay 901: %v, want InvalidParameterValue", err)
		}
		if _, err := b.s.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &b.url, MessageBody: aws.String("x"), DelaySeconds: 900}); err != nil {
			t.Errorf("delay 900: %v", err)
		}
	})
}

func TestVisibilityExpiryRedelivers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, sqsfake.QueueOptions{VisibilityTimeout: 30 * time.Second})
		id := send(t, b.s, b.url, "body", 0)
		all := []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}

		out, err := b.s.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: &b.url, MessageSystemAttributeNames: all})
		if err != nil {
			t.Fatal(err)
		}
		m := out.Messages[0]
		if *m.ReceiptHandle != id+"#1" || m.Attributes["ApproximateReceiveCount"] != "1" {
			t.Fatalf("first receive: handle %s, count %s", *m.ReceiptHandle, m.Attributes["ApproximateReceiveCount"])
		}
		first := m.Attributes["ApproximateFirstReceiveTimestamp"]
		if first != strconv.FormatInt(b.start.UnixMilli(), 10) {
			t.Errorf("first receive timestamp %s, want %d", first, b.start.UnixMilli())
		}

		time.Sleep(10 * time.Second)
		res := poll(t.Context(), b.s, &sqs.ReceiveMessageInput{QueueUrl: &b.url, WaitTimeSeconds: 20, MessageSystemAttributeNames: all})
		time.Sleep(20*time.Second - time.Nanosecond)
		if got := b.s.Messages(b.url); !got[0].InFlight || got[0].ReceiveCount != 1 {
			t.Fatalf("1ns before the timeout ends: %+v", got[0])
		}
		r := <-res
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.elapsed != 20*time.Second {
			t.Errorf("message reappeared %v after the poll began, want 20s", r.elapsed)
		}
		m = r.out.Messages[0]
		if *m.MessageId != id || *m.ReceiptHandle != id+"#2" || m.Attributes["ApproximateReceiveCount"] != "2" {
			t.Errorf("second receive: %s %s count %s", *m.MessageId, *m.ReceiptHandle, m.Attributes["ApproximateReceiveCount"])
		}
		if m.Attributes["ApproximateFirstReceiveTimestamp"] != first {
			t.Errorf("first receive timestamp changed to %s", m.Attributes["ApproximateFirstReceiveTimestamp"])
		}
		if got := b.s.Messages(b.url)[0].VisibleAt; !got.Equal(b.start.Add(60 * time.Second)) {
			t.Errorf("visible again at %v, want start+60s", got.Sub(b.start))
		}
	})
}

func TestReceiveVisibilityTimeoutFromRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, sqsfake.QueueOptions{})
		send(t, b.s, b.url, "x", 0)
		if _, err := b.s.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: &b.url, VisibilityTimeout: 7}); err != nil {
			t.Fatal(err)
		}
		if got := b.s.Messages(b.url)[0].VisibleAt.Sub(b.start); got != 7*time.Second {
			t.Errorf("visible again after %v, want 7s", got)
		}
	})
}

func TestVisibleMessagesOldestFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, sqsfake.QueueOptions{})
		m1 := send(t, b.s, b.url, "1", 0)
		m2 := send(t, b.s, b.url, "2", 3) // visible at 3s
		m3 := send(t, b.s, b.url, "3", 0)
		if _, err := b.s.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: &b.url, VisibilityTimeout: 2}); err != nil {
			t.Fatal(err) // m1, visible again at 2s
		}
		time.Sleep(3 * time.Second)
		if got, want := ids(receive(t, b.s, b.url, 10)), []string{m3, m1, m2}; !slices.Equal(got, want) {
			t.Errorf("order %v, want %v (m3 visible since 0s, m1 since 2s, m2 since 3s)", got, want)
		}
	})
}

func TestWaitingReceivesServedInArrivalOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, sqsfake.QueueOptions{})
		a := poll(t.Context(), b.s.Client("a"), &sqs.ReceiveMessageInput{QueueUrl: &b.url, WaitTimeSeconds: 20})
		synctest.Wait()
		bb := poll(t.Context(), b.s.Client("b"), &sqs.ReceiveMessageInput{QueueUrl: &b.url, WaitTimeSeconds: 10})
		time.Sleep(time.Second)
		id := send(t, b.s, b.url, "x", 0)

		ra, rb := <-a, <-bb
		if !slices.Equal(ids(ra.out.Messages), []string{id}) || ra.elapsed != time.Second {
			t.Errorf("first receive got %v after %v, want [%s] after 1s", ids(ra.out.Messages), ra.elapsed, id)
		}
		if len(rb.out.Messages) != 0 || rb.elapsed != 10*time.Second {
			t.Errorf("second receive got %v after %v, want none after 10s", ids(rb.out.Messages), rb.elapsed)
		}
	})
}

func TestChangeVisibility(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, sqsfake.QueueOptions{VisibilityTimeout: 30 * time.Second})
		id := send(t, b.s, b.url, "x", 0)
		h1 := *receiveOne(t, b.s, b.url).ReceiptHandle
		change := func(handle string, seconds int32) error {
			_, err := b.s.ChangeMessageVisibility(t.Context(), &sqs.ChangeMessageVisibilityInput{QueueUrl: &b.url, ReceiptHandle: &handle, VisibilityTimeout: seconds})
			return err
		}

		time.Sleep(10 * time.Second)
		if err := change(h1, 60); err != nil {
			t.Fatalf("extend: %v", err)
		}
		if got := b.s.Messages(b.url)[0].VisibleAt.Sub(b.start); got != 70*time.Second {
			t.Errorf("extended to %v, want 70s (60s from the change)", got)
		}

		time.Sleep(60 * time.Second) // visible again at 70s, not yet received
		err := change(h1, 30)
		var notInflight *types.MessageNotInflight
		if !errors.As(err, &notInflight) {
			t.Errorf("change after the timeout ended: %v, want MessageNotInflight", err)
		}

		h2 := *receiveOne(t, b.s, b.url).ReceiptHandle
		err = change(h1, 30)
		var invalid *types.ReceiptHandleIsInvalid
		if !errors.As(err, &invalid) {
			t.Errorf("change with a stale handle: %v, want ReceiptHandleIsInvalid", err)
		}
		if got := b.s.Messages(b.url)[0].VisibleAt.Sub(b.start); got != 100*time.Second {
			t.Errorf("stale change moved visibility to %v, want 100s", got)
		}

		out, err := b.s.ChangeMessageVisibilityBatch(t.Context(), &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: &b.url, Entries: []types.ChangeMessageVisibilityBatchRequestEntry{
			{Id: aws.String("stale"), ReceiptHandle: &h1, VisibilityTimeout: 5},
			{Id: aws.String("now"), ReceiptHandle: &h2, VisibilityTimeout: 0},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Failed) != 1 || *out.Failed[0].Id != "stale" || *out.Failed[0].Code != "ReceiptHandleIsInvalid" || !out.Failed[0].SenderFault {
			t.Errorf("failed entries %+v", out.Failed)
		}
		if len(out.Successful) != 1 || *out.Successful[0].Id != "now" {
			t.Errorf("successful entries %+v", out.Successful)
		}
		if m := b.s.Messages(b.url)[0]; m.InFlight || !m.VisibleAt.Equal(time.Now()) {
			t.Errorf("after timeout 0: %+v, want visible now", m)
		}

		// At most 12 hours from the receive that issued the handle.
		r3, err := b.s.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: &b.url, VisibilityTimeout: 43200})
		if err != nil {
			t.Fatal(err)
		}
		h3 := *r3.Messages[0].ReceiptHandle
		time.Sleep(time.Hour)
		if err := change(h3, 11*3600+1); code(err) != "InvalidParameterValue" {
			t.Errorf("change past 12h from the receive: %v, want InvalidParameterValue", err)
		}
		if err := change(h3, 11*3600); err != nil {
			t.Errorf("change to exactly 12h from the receive: %v", err)
		}
		if err := change(h3, 43201); code(err) != "InvalidParameterValue" {
			t.Errorf("timeout 43201: %v, want InvalidParameterValue", err)
		}

		if err := change(id+"#99", 5); code(err) != "ReceiptHandleIsInvalid" {
			t.Errorf("made-up handle: %v, want ReceiptHandleIsInvalid", err)
		}
	})
}

func TestDeleteHandles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, sqsfake.QueueOptions{VisibilityTimeout: 10 * time.Second})
		id := send(t, b.s, b.url, "x", 0)
		h1 := *receiveOne(t, b.s, b.url).ReceiptHandle
		time.Sleep(10 * time.Second)
		h2 := *receiveOne(t, b.s, b.url).ReceiptHandle
		del := func(handle string) error {
			_, err := b.s.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: &b.url, ReceiptHandle: &handle})
			return err
		}

		if err := del(h1); err != nil {
			t.Fatalf("delete with a stale handle: %v, want success", err)
		}
		if m := b.s.Messages(b.url); len(m) != 1 || m[0].ID != id {
			t.Fatalf("stale delete removed the message: %+v", m)
		}
		if err := del(h2); err != nil {
			t.Fatalf("delete with the latest handle: %v", err)
		}
		if m := b.s.Messages(b.url); len(m) != 0 {
			t.Fatalf("message still there after delete: %+v", m)
		}
		if err := del(h2); err != nil {
			t.Errorf("delete again: %v, want success", err)
		}
		err := del("no-such-handle")
		var invalid *types.ReceiptHandleIsInvalid
		if !errors.As(err, &invalid) {
			t.Errorf("delete with a made-up handle: %v, want ReceiptHandleIsInvalid", err)
		}
		// SQS counts the time; a deleted message never comes back.
		time.Sleep(time.Hour)
		if got := receive(t, b.s, b.url, 10); len(got) != 0 {
			t.Errorf("deleted message came back: %v", ids(got))
		}
	})
}

func TestRedriveOnReceiveExceedingMaxReceiveCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := sqsfake.New()
		dlq := s.CreateQueue("work-dlq", sqsfake.QueueOptions{})
		url := s.CreateQueue("work", sqsfake.QueueOptions{VisibilityTimeout: 10 * time.Second, RedriveTo: dlq, MaxReceiveCount: 2})
		start := time.Now()
		out, err := s.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("poison"), MessageAttributes: map[string]types.MessageAttributeValue{
			"kind": {DataType: aws.String("String"), StringValue: aws.String("mail")},
		}})
		if err != nil {
			t.Fatal(err)
		}
		id := *out.MessageId
		other := send(t, s, url, "fine", 20) // visible at 20s
		receiveOne(t, s, url)                // count 1
		time.Sleep(10 * time.Second)
		receiveOne(t, s, url) // count 2
		time.Sleep(10 * time.Second)

		// The third receive finds the poison message first, moves it, and
		// hands out the next one.
		got := receive(t, s, url, 10)
		if !slices.Equal(ids(got), []string{other}) {
			t.Fatalf("third receive got %v, want [%s]", ids(got), other)
		}
		moved := s.Messages(dlq)
		if len(moved) != 1 {
			t.Fatalf("dead-letter queue holds %+v", moved)
		}
		m := moved[0]
		if m.ID != id || m.Body != "poison" || m.ReceiveCount != 2 || m.Attributes["kind"] != "mail" ||
			!m.SentAt.Equal(start) || !m.VisibleAt.Equal(start.Add(20*time.Second)) || m.InFlight || m.Handle != "" {
			t.Errorf("moved message %+v", m)
		}
		log := s.Log()
		if e := log[len(log)-2]; e.Kind != sqsfake.EventMovedToDLQ || e.MessageID != id || e.To != dlq || !e.At.Equal(start.Add(20*time.Second)) {
			t.Errorf("log entry %+v, want the move at 20s", e)
		}

		r, err := s.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: &dlq, MessageSystemAttributeNames: []types.MessageSystemAttributeName{"All"}, MessageAttributeNames: []string{"All"}})
		if err != nil || len(r.Messages) != 1 {
			t.Fatalf("receive from the dead-letter queue: %v, %v", r, err)
		}
		dm := r.Messages[0]
		if dm.Attributes["ApproximateReceiveCount"] != "3" || dm.Attributes["DeadLetterQueueSourceArn"] != "arn:aws:sqs:us-east-1:000000000000:work" ||
			dm.Attributes["SentTimestamp"] != strconv.FormatInt(start.UnixMilli(), 10) || *dm.MessageAttributes["kind"].StringValue != "mail" {
			t.Errorf("from the dead-letter queue: attributes %v, message attributes %v", dm.Attributes, dm.MessageAttributes)
		}
	})
}

func TestRedriveWakesLongPollOnDeadLetterQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := sqsfake.New()
		dlq := s.CreateQueue("dlq", sqsfake.QueueOptions{})
		url := s.CreateQueue("work", sqsfake.QueueOptions{VisibilityTimeout: 5 * time.Second, RedriveTo: dlq, MaxReceiveCount: 1})
		id := send(t, s, url, "x", 0)
		receiveOne(t, s, url)
		res := poll(t.Context(), s, &sqs.ReceiveMessageInput{QueueUrl: &dlq, WaitTimeSeconds: 20})
		// The work queue's own long poll moves the message when it becomes
		// visible again at 5s, and goes on waiting.
		work := poll(t.Context(), s, &sqs.ReceiveMessageInput{QueueUrl: &url, WaitTimeSeconds: 8})
		r := <-res
		if !slices.Equal(ids(r.out.Messages), []string{id}) || r.elapsed != 5*time.Second {
			t.Errorf("dead-letter long poll got %v after %v, want [%s] after 5s", ids(r.out.Messages), r.elapsed, id)
		}
		if w := <-work; len(w.out.Messages) != 0 || w.elapsed != 8*time.Second {
			t.Errorf("work long poll got %v after %v, want none after 8s", ids(w.out.Messages), w.elapsed)
		}
	})
}

func TestLoseAnswerOnReceiveLeavesMessagesInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, sqsfake.QueueOptions{VisibilityTimeout: 30 * time.Second})
		id := send(t, b.s, b.url, "x", 0)
		b.s.SetFaults(func(c sqsfake.Call) sqsfake.Fault {
			if c.Op == sqsfake.OpReceiveMessage {
				return sqsfake.LoseAnswer
			}
			return sqsfake.Works
		})
		out, err := b.s.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: &b.url})
		if err == nil || out != nil {
			t.Fatalf("lost answer: out %v, err %v", out, err)
		}
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) {
			t.Errorf("lost answer is an API error: %v", apiErr)
		}
		var fe *sqsfake.FaultError
		if !errors.As(err, &fe) || fe.Fault != sqsfake.LoseAnswer || !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("lost answer error %v", err)
		}
		m := b.s.Messages(b.url)[0]
		if !m.InFlight || m.ReceiveCount != 1 || m.Handle != id+"#1" || !m.VisibleAt.Equal(b.start.Add(30*time.Second)) {
			t.Errorf("after a lost receive answer: %+v", m)
		}

		b.s.SetFaults(nil)
		time.Sleep(30 * time.Second)
		if got := receiveOne(t, b.s, b.url); *got.ReceiptHandle != id+"#2" {
			t.Errorf("redelivered with handle %s, want %s#2", *got.ReceiptHandle, id)
		}
	})
}

func TestLoseAnswerOnSendStoresMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, sqsfake.QueueOptions{})
		b.s.SetFaults(func(sqsfake.Call) sqsfake.Fault { return sqsfake.LoseAnswer })
		_, err := b.s.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &b.url, MessageBody: aws.String("x")})
		if err == nil || code(err) != "" {
			t.Fatalf("lost send answer: %v", err)
		}
		if m := b.s.Messages(b.url); len(m) != 1 || m[0].Body != "x" {
			t.Errorf("queue after a lost send answer: %+v", m)
		}
	})
}

func TestRefuseLeavesStateUnchanged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, sqsfake.QueueOptions{})
		send(t, b.s, b.url, "x", 0)
		h := *receiveOne(t, b.s, b.url).ReceiptHandle
		before := b.s.Messages(b.url)
		events := len(b.s.Log())

		b.s.SetFaults(func(sqsfake.Call) sqsfake.Fault { return sqsfake.Refuse })
		ctx := t.Context()
		errs := map[string]error{}
		_, errs["send"] = b.s.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &b.url, MessageBody: aws.String("y")})
		_, errs["send batch"] = b.s.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &b.url, Entries: []types.SendMessageBatchRequestEntry{{Id: aws.String("a"), MessageBody: aws.String("y")}}})
		_, errs["receive"] = b.s.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &b.url, WaitTimeSeconds: 20})
		_, errs["delete"] = b.s.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &b.url, ReceiptHandle: &h})
		_, errs["delete batch"] = b.s.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &b.url, Entries: []types.DeleteMessageBatchRequestEntry{{Id: aws.String("a"), ReceiptHandle: &h}}})
		_, errs["change"] = b.s.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &b.url, ReceiptHandle: &h, VisibilityTimeout: 0})
		_, errs["change batch"] = b.s.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: &b.url, Entries: []types.ChangeMessageVisibilityBatchRequestEntry{{Id: aws.String("a"), ReceiptHandle: &h}}})
		_, errs["attributes"] = b.s.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &b.url})
		for name, err := range errs {
			var fe *sqsfake.FaultError
			if !errors.Is(err, syscall.ECONNREFUSED) || !errors.As(err, &fe) || fe.Fault != sqsfake.Refuse || code(err) != "" ||
				!strings.Contains(err.Error(), "connection refused") {
				t.Errorf("%s: %v, want a refused connection", name, err)
			}
		}
		if !time.Now().Equal(b.start) {
			t.Errorf("refused calls took %v", time.Since(b.start))
		}
		if after := b.s.Messages(b.url); !slices.EqualFunc(before, after, sameMessage) {
			t.Errorf("state changed: %+v, was %+v", after, before)
		}
		if n := len(b.s.Log()); n != events {
			t.Errorf("refused calls logged %d effects", n-events)
		}
		if n := b.s.CallCount("", b.url); n != 2+len(errs) {
			t.Errorf("%d calls recorded, want %d", n, 2+len(errs))
		}
	})
}

func sameMessage(a, b sqsfake.Message) bool {
	return a.ID == b.ID && a.Body == b.Body && maps.Equal(a.Attributes, b.Attributes) && a.ReceiveCount == b.ReceiveCount &&
		a.SentAt.Equal(b.SentAt) && a.VisibleAt.Equal(b.VisibleAt) && a.InFlight == b.InFlight && a.Handle == b.Handle
}

func TestClientFaultsAreIsolated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, sqsfake.QueueOptions{})
		a, other := b.s.Client("a"), b.s.Client("b")
		send(t, a, b.url, "from a", 0)
		h := *receiveOne(t, a, b.url).ReceiptHandle

		// a is killed: every call of a refused from now on.
		b.s.SetFaults(func(c sqsfake.Call) sqsfake.Fault {
			if c.Client == "a" {
				return sqsfake.Refuse
			}
			return sqsfake.Works
		})
		if _, err := a.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: &b.url, ReceiptHandle: &h}); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("killed client's delete: %v", err)
		}
		time.Sleep(30 * time.Second)
		got := receiveOne(t, other, b.url)
		if *got.Body != "from a" || *got.ReceiptHandle != *got.MessageId+"#2" {
			t.Errorf("b got %s %s", *got.Body, *got.ReceiptHandle)
		}
		if _, err := other.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: &b.url, ReceiptHandle: got.ReceiptHandle}); err != nil {
			t.Errorf("b's delete: %v", err)
		}
		if n := b.s.CallCount(sqsfake.OpDeleteMessage, b.url); n != 2 {
			t.Errorf("%d DeleteMessage calls, want 2", n)
		}
		var byClient []string
		for _, c := range b.s.Calls() {
			byClient = append(byClient, c.Client+" "+c.Op)
		}
		want := []string{"a SendMessage", "a ReceiveMessage", "a DeleteMessage", "b ReceiveMessage", "b DeleteMessage"}
		if !slices.Equal(byClient, want) {
			t.Errorf("calls %v, want %v", byClient, want)
		}
		if sender := b.s.Log()[0].Client; sender != "a" {
			t.Errorf("send logged for client %q", sender)
		}
	})
}

func TestBatchResultIDs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, sqsfake.QueueOptions{})
		out, err := b.s.SendMessageBatch(t.Context(), &sqs.SendMessageBatchInput{QueueUrl: &b.url, Entries: []types.SendMessageBatchRequestEntry{
			{Id: aws.String("first"), MessageBody: aws.String("1")},
			{Id: aws.String("bad"), MessageBody: aws.String("2"), MessageAttributes: map[string]types.MessageAttributeValue{
				"a": {DataType: aws.String("String"), StringValue: aws.String("")},
			}},
			{Id: aws.String("third"), MessageBody: aws.String("3"), DelaySeconds: 2},
		}})
		if err != nil {
			t.Fatal(err)
		}
		var ok []string
		for _, e := range out.Successful {
			ok = append(ok, *e.Id+"="+*e.MessageId)
		}
		if !slices.Equal(ok, []string{"first=m-1", "third=m-2"}) {
			t.Errorf("successful %v", ok)
		}
		if len(out.Failed) != 1 || *out.Failed[0].Id != "bad" || *out.Failed[0].Code != "InvalidParameterValue" || !out.Failed[0].SenderFault {
			t.Errorf("failed %+v", out.Failed)
		}
		if m := b.s.Messages(b.url); len(m) != 2 || !m[1].VisibleAt.Equal(b.start.Add(2*time.Second)) {
			t.Errorf("stored %+v", m)
		}

		time.Sleep(2 * time.Second)
		got := receive(t, b.s, b.url, 10)
		h1 := *got[0].ReceiptHandle
		del, err := b.s.DeleteMessageBatch(t.Context(), &sqs.DeleteMessageBatchInput{QueueUrl: &b.url, Entries: []types.DeleteMessageBatchRequestEntry{
			{Id: aws.String("x"), ReceiptHandle: &h1},
			{Id: aws.String("y"), ReceiptHandle: aws.String("bogus")},
			{Id: aws.String("z"), ReceiptHandle: got[1].ReceiptHandle},
		}})
		if err != nil {
			t.Fatal(err)
		}
		var deleted []string
		for _, e := range del.Successful {
			deleted = append(deleted, *e.Id)
		}
		if !slices.Equal(deleted, []string{"x", "z"}) || len(del.Failed) != 1 || *del.Failed[0].Id != "y" || *del.Failed[0].Code != "ReceiptHandleIsInvalid" {
			t.Errorf("delete batch: successful %v, failed %+v", deleted, del.Failed)
		}
	})
}

func TestBatchRequestErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, sqsfake.QueueOptions{})
		entries := func(ids ...string) []types.SendMessageBatchRequestEntry {
			var es []types.SendMessageBatchRequestEntry
			for _, id := range ids {
				es = append(es, types.SendMessageBatchRequestEntry{Id: aws.String(id), MessageBody: aws.String("b")})
			}
			return es
		}
		eleven := make([]string, 11)
		for i := range eleven {
			eleven[i] = "e" + strconv.Itoa(i)
		}
		for _, tc := range []struct {
			name    string
			entries []types.SendMessageBatchRequestEntry
			code    string
		}{
			{"empty", []types.SendMessageBatchRequestEntry{}, "EmptyBatchRequest"},
			{"eleven", entries(eleven...), "TooManyEntriesInBatchRequest"},
			{"repeated id", entries("a", "b", "a"), "BatchEntryIdsNotDistinct"},
			{"bad id", entries("a b"), "InvalidBatchEntryId"},
		} {
			_, err := b.s.SendMessageBatch(t.Context(), &sqs.SendMessageBatchInput{QueueUrl: &b.url, Entries: tc.entries})
			if code(err) != tc.code {
				t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
			}
		}
		_, err := b.s.DeleteMessageBatch(t.Context(), &sqs.DeleteMessageBatchInput{QueueUrl: &b.url, Entries: []types.DeleteMessageBatchRequestEntry{
			{Id: aws.String("a"), ReceiptHandle: aws.String("h")}, {Id: aws.String("a"), ReceiptHandle: aws.String("h")},
		}})
		var notDistinct *types.BatchEntryIdsNotDistinct
		if !errors.As(err, &notDistinct) {
			t.Errorf("delete batch with repeated ids: %v", err)
		}
		if n := len(b.s.Messages(b.url)); n != 0 {
			t.Errorf("rejected batches stored %d messages", n)
		}
	})
}

func TestAttributeFiltering(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, sqsfake.QueueOptions{VisibilityTimeout: 1 * time.Second})
		str := func(v string) types.MessageAttributeValue {
			return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
		_, err := b.s.Client("producer").SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &b.url, MessageBody: aws.String("x"), MessageAttributes: map[string]types.MessageAttributeValue{
			"alpha":    str("1"),
			"beta":     {DataType: aws.String("Number.int"), StringValue: aws.String("42")},
			"trace.id": str("t"),
			"trace.by": {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		sent := strconv.FormatInt(b.start.UnixMilli(), 10)
		for _, tc := range []struct {
			name   string
			in     sqs.ReceiveMessageInput
			system map[string]string
			attrs  []string
		}{
			{name: "nothing asked"},
			{name: "one name", in: sqs.ReceiveMessageInput{MessageAttributeNames: []string{"alpha"}}, attrs: []string{"alpha"}},
			{name: "prefix", in: sqs.ReceiveMessageInput{MessageAttributeNames: []string{"trace.*"}}, attrs: []string{"trace.by", "trace.id"}},
			{name: "All", in: sqs.ReceiveMessageInput{MessageAttributeNames: []string{"All"}}, attrs: []string{"alpha", "beta", "trace.by", "trace.id"}},
			{name: ".*", in: sqs.ReceiveMessageInput{MessageAttributeNames: []string{".*"}}, attrs: []string{"alpha", "beta", "trace.by", "trace.id"}},
			{
				name:   "one system attribute",
				in:     sqs.ReceiveMessageInput{MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount}},
				system: map[string]string{"ApproximateReceiveCount": "COUNT"},
			},
			{
				name:   "deprecated AttributeNames",
				in:     sqs.ReceiveMessageInput{AttributeNames: []types.QueueAttributeName{"SentTimestamp"}},
				system: map[string]string{"SentTimestamp": sent},
			},
			{
				name: "all system attributes",
				in:   sqs.ReceiveMessageInput{MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}},
				system: map[string]string{
					"ApproximateReceiveCount": "COUNT", "SentTimestamp": sent, "SenderId": "producer",
					"ApproximateFirstReceiveTimestamp": strconv.FormatInt(b.start.Add(time.Second).UnixMilli(), 10),
				},
			},
		} {
			time.Sleep(time.Second) // the previous receive's visibility ends
			in := tc.in
			in.QueueUrl = &b.url
			out, err := b.s.ReceiveMessage(t.Context(), &in)
			if err != nil || len(out.Messages) != 1 {
				t.Fatalf("%s: %v, %v", tc.name, out, err)
			}
			m := out.Messages[0]
			count := strconv.Itoa(int(time.Since(b.start) / time.Second))
			want := map[string]string{}
			for k, v := range tc.system {
				want[k] = strings.ReplaceAll(v, "COUNT", count)
			}
			if len(want) == 0 {
				want = nil
			}
			if !maps.Equal(m.Attributes, want) {
				t.Errorf("%s: system attributes %v, want %v", tc.name, m.Attributes, want)
			}
			if got := slices.Sorted(maps.Keys(m.MessageAttributes)); !slices.Equal(got, tc.attrs) {
				t.Errorf("%s: message attributes %v, want %v", tc.name, got, tc.attrs)
			}
			if (m.MD5OfMessageAttributes == nil) != (len(tc.attrs) == 0) {
				t.Errorf("%s: MD5 of message attributes %v", tc.name, m.MD5OfMessageAttributes)
			}
		}
	})
}

// The expected digests are the published examples of the SQS algorithm
// (npm aws-md5-of-message-attributes).
func TestMessageAttributesMD5(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, sqsfake.QueueOptions{})
		str := types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String("attribValue 1")}
		num := types.MessageAttributeValue{DataType: aws.String("Number.float"), StringValue: aws.String("4563442423554324324264524243.32543234")}
		bin := types.MessageAttributeValue{DataType: aws.String("Binary"), BinaryValue: []byte("Hello binary world!")}
		for _, tc := range []struct {
			name  string
			attrs map[string]types.MessageAttributeValue
			want  string
		}{
			{"string", map[string]types.MessageAttributeValue{"attribName1": str}, "19e27d4e946b072f3f58da80d94fd778"},
			{"custom number", map[string]types.MessageAttributeValue{"customNumberTypeAttrib": num}, "9fe1b90bbd9965bdf77bac517c7d2495"},
			{"binary", map[string]types.MessageAttributeValue{"binaryAttribute": bin}, "31a92b15d92f8db860eda32aceb656c3"},
			{"all three", map[string]types.MessageAttributeValue{"attribName1": str, "customNumberTypeAttrib": num, "binaryAttribute": bin}, "c932db14a896c663f83c260297d594ff"},
		} {
			out, err := b.s.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &b.url, MessageBody: aws.String("hello"), MessageAttributes: tc.attrs})
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if *out.MD5OfMessageBody != "5d41402abc4b2a76b9719d911017c592" {
				t.Errorf("%s: MD5 of body %s", tc.name, *out.MD5OfMessageBody)
			}
			if out.MD5OfMessageAttributes == nil || *out.MD5OfMessageAttributes != tc.want {
				t.Errorf("%s: MD5 of attributes on send %v, want %s", tc.name, aws.ToString(out.MD5OfMessageAttributes), tc.want)
			}
			r, err := b.s.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: &b.url, MessageAttributeNames: []string{"All"}})
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if got := aws.ToString(r.Messages[0].MD5OfMessageAttributes); got != tc.want {
				t.Errorf("%s: MD5 of attributes on receive %s, want %s", tc.name, got, tc.want)
			}
		}
	})
}

func TestSendValidation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, sqsfake.QueueOptions{})
		str := func(v string) types.MessageAttributeValue {
			return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
		many := map[string]types.MessageAttributeValue{}
		for i := range 11 {
			many["a"+strconv.Itoa(i)] = str("v")
		}
		for _, tc := range []struct {
			name  string
			body  string
			attrs map[string]types.MessageAttributeValue
			code  string
		}{
			{"1 MiB body", strings.Repeat("x", 1<<20), nil, ""},
			{"body over 1 MiB", strings.Repeat("x", 1<<20+1), nil, "InvalidParameterValue"},
			{"attributes count toward the size", strings.Repeat("x", 1<<20-4), map[string]types.MessageAttributeValue{"a": str("v")}, "InvalidParameterValue"},
			{"empty body", "", nil, "MissingParameter"},
			{"control character", "a\x00b", nil, "InvalidMessageContents"},
			{"eleven attributes", "x", many, "InvalidParameterValue"},
			{"empty string value", "x", map[string]types.MessageAttributeValue{"a": str("")}, "InvalidParameterValue"},
			{"unknown data type", "x", map[string]types.MessageAttributeValue{"a": {DataType: aws.String("Text"), StringValue: aws.String("v")}}, "InvalidParameterValue"},
			{"not a number", "x", map[string]types.MessageAttributeValue{"a": {DataType: aws.String("Number"), StringValue: aws.String("NaN")}}, "InvalidParameterValue"},
			{"empty binary", "x", map[string]types.MessageAttributeValue{"a": {DataType: aws.String("Binary")}}, "InvalidParameterValue"},
			{"reserved name", "x", map[string]types.MessageAttributeValue{"AWS.x": str("v")}, "InvalidParameterValue"},
			{"negative float", "x", map[string]types.MessageAttributeValue{"n": {DataType: aws.String("Number"), StringValue: aws.String("-1.5e3")}}, ""},
		} {
			_, err := b.s.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &b.url, MessageBody: &tc.body, MessageAttributes: tc.attrs})
			if code(err) != tc.code || (tc.code == "") != (err == nil) {
				t.Errorf("%s: %v, want code %q", tc.name, err, tc.code)
			}
		}
		if n := len(b.s.Messages(b.url)); n != 2 {
			t.Errorf("%d messages stored, want the 2 valid ones", n)
		}
	})
}

func TestUnknownQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := sqsfake.New()
		url := "https://sqs.us-east-1.amazonaws.com/000000000000/missing"
		_, err := s.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: &url, WaitTimeSeconds: 20})
		var missing *types.QueueDoesNotExist
		if !errors.As(err, &missing) {
			t.Errorf("receive from an unknown queue: %v", err)
		}
		if !time.Now().Equal(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("the failed receive waited")
		}
		if _, err := s.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("x")}); code(err) != "QueueDoesNotExist" {
			t.Errorf("send to an unknown queue: %v", err)
		}
	})
}

func queueAttrs(t *testing.T, c sqsfake.API, url string) map[string]string {
	t.Helper()
	out, err := c.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll}})
	if err != nil {
		t.Fatalf("queue attributes of %s: %v", url, err)
	}
	return out.Attributes
}

func TestGetQueueAttributes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := sqsfake.New()
		dlq := s.CreateQueue("dlq", sqsfake.QueueOptions{})
		url := s.CreateQueue("work", sqsfake.QueueOptions{VisibilityTimeout: 45 * time.Second, RedriveTo: dlq, MaxReceiveCount: 4})
		send(t, s, url, "visible", 0)
		send(t, s, url, "in flight", 0)
		send(t, s, url, "delayed", 60)
		receiveOne(t, s, url)

		a := queueAttrs(t, s, url)
		want := map[string]string{
			"ApproximateNumberOfMessages":           "1",
			"ApproximateNumberOfMessagesNotVisible": "1",
			"ApproximateNumberOfMessagesDelayed":    "1",
			"QueueArn":                              "arn:aws:sqs:us-east-1:000000000000:work",
			"VisibilityTimeout":                     "45",
			"RedrivePolicy":                         `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":4}`,
		}
		for k, v := range want {
			if a[k] != v {
				t.Errorf("%s = %q, want %q", k, a[k], v)
			}
		}
		out, err := s.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []types.QueueAttributeName{"QueueArn"}})
		if err != nil || len(out.Attributes) != 1 {
			t.Errorf("only QueueArn: %v, %v", out, err)
		}
		if _, err := s.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []types.QueueAttributeName{"Nonsense"}}); code(err) != "InvalidAttributeName" {
			t.Errorf("unknown attribute: %v", err)
		}
	})
}

func TestLogHasExactTimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := setup(t, sqsfake.QueueOptions{VisibilityTimeout: 10 * time.Second})
		id := send(t, b.s.Client("w"), b.url, "x", 1)
		res := poll(t.Context(), b.s.Client("w"), &sqs.ReceiveMessageInput{QueueUrl: &b.url, WaitTimeSeconds: 20})
		h := *(<-res).out.Messages[0].ReceiptHandle
		time.Sleep(4 * time.Second)
		if _, err := b.s.Client("w").ChangeMessageVisibility(t.Context(), &sqs.ChangeMessageVisibilityInput{QueueUrl: &b.url, ReceiptHandle: &h, VisibilityTimeout: 20}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		if _, err := b.s.Client("w").DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: &b.url, ReceiptHandle: &h}); err != nil {
			t.Fatal(err)
		}
		at := func(d time.Duration) time.Time { return b.start.Add(d) }
		want := []sqsfake.Event{
			{At: at(0), Kind: sqsfake.EventSent, QueueURL: b.url, MessageID: id, VisibleAt: at(time.Second), Client: "w"},
			{At: at(time.Second), Kind: sqsfake.EventReceived, QueueURL: b.url, MessageID: id, Handle: h, ReceiveCount: 1, VisibleAt: at(11 * time.Second), Client: "w"},
			{At: at(5 * time.Second), Kind: sqsfake.EventVisibilityChanged, QueueURL: b.url, MessageID: id, Handle: h, ReceiveCount: 1, VisibleAt: at(25 * time.Second), Client: "w"},
			{At: at(6 * time.Second), Kind: sqsfake.EventDeleted, QueueURL: b.url, MessageID: id, Handle: h, ReceiveCount: 1, Client: "w"},
		}
		got := b.s.Log()
		if len(got) != len(want) {
			t.Fatalf("log %+v, want %+v", got, want)
		}
		for i := range want {
			g, w := got[i], want[i]
			if !g.At.Equal(w.At) || !g.VisibleAt.Equal(w.VisibleAt) {
				t.Errorf("event %d at %v visible %v, want at %v visible %v", i, g.At.Sub(b.start), g.VisibleAt.Sub(b.start), w.At.Sub(b.start), w.VisibleAt.Sub(b.start))
			}
			g.At, g.VisibleAt, w.At, w.VisibleAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			if g != w {
				t.Errorf("event %d: %+v, want %+v", i, g, w)
			}
		}
	})
}

func TestMissingRequiredParameterIsClientSide(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := sqsfake.New()
		_, err := s.SendMessage(t.Context(), &sqs.SendMessageInput{MessageBody: aws.String("x")})
		var invalid *smithy.InvalidParamsError
		if !errors.As(err, &invalid) {
			t.Errorf("send without a queue URL: %v", err)
		}
		if n := len(s.Calls()); n != 0 {
			t.Errorf("%d calls recorded, want 0", n)
		}
	})
}
