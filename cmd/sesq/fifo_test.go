package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sesq/sesq/deadletter"
	"github.com/sesq/sesq/envelope"
	"github.com/sesq/sesq/internal/testsupport/testkit"
)

var fifoQueues atomic.Int64

// createFIFOQueues runs `sesq queues create --fifo` for a fresh name and
// returns the queue and dead-letter queue URLs it printed.
func createFIFOQueues(t *testing.T) (name, queueURL, dlqURL string) {
	t.Helper()
	name = fmt.Sprintf("fifo-%d-%d", time.Now().UnixNano()%1e9, fifoQueues.Add(1))
	out, errOut, code := sesq(t, sesqEnv("http://127.0.0.1:1"), "", "queues", "create", "--fifo", name)
	if code != 0 {
		t.Fatalf("queues create --fifo: exit %d: %s", code, errOut)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		vars[k] = v
	}
	return name, vars["SESQ_QUEUE_URL"], vars["SESQ_DLQ_URL"]
}

// fifoBody is a valid envelope of id in group.
func fifoBody(id, group string) []byte {
	return []byte(fmt.Sprintf(`{"version":1,"id":%q,"action":"SendEmail","sourceArn":%q,"source":"s@example.com","destination":{"to":["r@example.com"]},"message":{"subject":{"data":"x"},"body":{"text":{"data":"y"}}},"group":%q}`, id, idEast, group))
}

// receiveFIFO receives what url hands out in one call, with the group and
// deduplication id of each message.
func receiveFIFO(t *testing.T, c *sqs.Client, url string) []types.Message {
	t.Helper()
	out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(url), MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"},
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameMessageGroupId, types.MessageSystemAttributeNameMessageDeduplicationId},
	})
	if err != nil {
		t.Fatalf("receive from %s: %v", url, err)
	}
	return out.Messages
}

// FIFO end to end, from the producer's side to the dead-letter queue and
// back: `queues create --fifo` makes a FIFO queue and a FIFO dead-letter
// queue; the producer (what `sesq enqueue` runs) sends two envelopes of one
// group in order, and a retried one is stored once; a dead letter keeps its
// group, and a retried write leaves one; a replay into the FIFO queue puts
// it back into its group, and one into a standard queue works too.
// (`sesq enqueue` and `sesq dlq` themselves: TestEnqueueAndDLQOnFIFOWithTheCLI.)
func TestQueuesCreateFIFOEnqueueAndDLQReplay(t *testing.T) {
	ctx := context.Background()
	env := sesqEnv("http://127.0.0.1:1")
	name, qURL, dlqURL := createFIFOQueues(t)
	if !strings.HasSuffix(qURL, "/"+name+".fifo") || !strings.HasSuffix(dlqURL, "/"+name+"-dlq.fifo") {
		t.Fatalf("queues create --fifo: %q and %q", qURL, dlqURL)
	}
	// Again, named with the suffix, as JSON: the same queues.
	out, errOut, code := sesq(t, env, "", "queues", "create", "--fifo", "--json", name+".fifo")
	var again map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &again) != nil || again["SESQ_QUEUE_URL"] != qURL || again["SESQ_DLQ_URL"] != dlqURL {
		t.Errorf("queues create --fifo --json NAME.fifo: exit %d, %q %q", code, out, errOut)
	}
	if _, errOut, code := sesq(t, env, "", "queues", "create", name+".fifo"); code != 2 || !strings.Contains(errOut, "add --fifo") {
		t.Errorf("queues create NAME.fifo without --fifo: exit %d, %q", code, errOut)
	}
	client := testkit.NewSQS(emu.Fauxqs.URL)
	attrs := func(url string) map[string]string {
		out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Attributes
	}
	src, dlq := attrs(qURL), attrs(dlqURL)
	for url, a := range map[string]map[string]string{qURL: src, dlqURL: dlq} {
		if a["FifoQueue"] != "true" || a["ContentBasedDeduplication"] != "false" {
			t.Errorf("%s: FifoQueue %q, ContentBasedDeduplication %q", url, a["FifoQueue"], a["ContentBasedDeduplication"])
		}
	}
	if rp := src["RedrivePolicy"]; !strings.Contains(rp, ":"+name+"-dlq.fifo\"") || !strings.Contains(rp, `"maxReceiveCount":1000`) ||
		src["VisibilityTimeout"] != "60" || dlq["MessageRetentionPeriod"] != "1209600" {
		t.Errorf("source: redrive policy %q, visibility %q; dead-letter queue: retention %q", rp, src["VisibilityTimeout"], dlq["MessageRetentionPeriod"])
	}

	// Two envelopes of one group, then the first again (a producer's retry).
	first, second := fifoBody("order-1", "r@example.com"), fifoBody("order-2", "r@example.com")
	p := &envelope.Producer{Client: client, QueueURL: qURL}
	results, err := p.EnqueueBodies(ctx, [][]byte{first, second})
	if err != nil || results[0].Err != nil || results[1].Err != nil {
		t.Fatalf("enqueue: %v %+v", err, results)
	}
	retried, err := p.EnqueueBodies(ctx, [][]byte{first})
	if err != nil || retried[0].Err != nil || retried[0].MessageID != results[0].MessageID {
		t.Errorf("enqueue again: %v %+v, want the first's MessageId %s", err, retried, results[0].MessageID)
	}
	// Each dead-lettered as the worker does, the first written twice (its
	// source message's delete failed, say). A FIFO queue hands out the
	// second only once the first is gone.
	w := &deadletter.Writer{Client: client, QueueURL: dlqURL, SourceQueue: qURL}
	for i, want := range [][]byte{first, second} {
		msgs := receiveFIFO(t, client, qURL)
		if len(msgs) == 0 || aws.ToString(msgs[0].Body) != string(want) {
			t.Fatalf("receive %d: %+v, want %s first", i, msgs, want)
		}
		m := msgs[0]
		e, _ := envelope.Parse(want)
		if g, d := m.Attributes["MessageGroupId"], m.Attributes["MessageDeduplicationId"]; g != "r@example.com" || d != e.DeduplicationID() {
			t.Errorf("message %d: group %q, deduplication id %q; want r@example.com, %s", i, g, d, e.DeduplicationID())
		}
		for range 2 - i {
			if err := w.Write(ctx, m, deadletter.Failure{Reason: "rejected", Code: "MessageRejected", Attempts: 1, At: time.Now(), Tenant: "123456789012"}); err != nil {
				t.Fatalf("write to the FIFO dead-letter queue: %v", err)
			}
		}
		if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(qURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
	}
	if v, f, _ := (&testkit.Bundle{SQS: client}).Counts(t, qURL); v+f != 0 {
		t.Errorf("the FIFO queue still holds %d: the retried enqueue was not deduplicated", v+f)
	}
	if v, _, _ := (&testkit.Bundle{SQS: client}).Counts(t, dlqURL); v != 2 {
		t.Fatalf("dead-letter queue holds %d, want 2 (a retried write deduplicated)", v)
	}

	// The first back into the FIFO queue, in its group; the second into a
	// standard queue.
	sum, err := deadletter.Replay(ctx, client, dlqURL, deadletter.ReplayOptions{To: qURL, Max: 1})
	if err != nil || sum.Moved != 1 {
		t.Fatalf("replay into the FIFO queue: %+v, %v", sum, err)
	}
	back := receiveFIFO(t, client, qURL)
	if len(back) != 1 || aws.ToString(back[0].Body) != string(first) || back[0].Attributes["MessageGroupId"] != "r@example.com" ||
		back[0].Attributes["MessageDeduplicationId"] == "" || testkit.Attr(back[0], deadletter.AttrReplays) != "1" {
		t.Errorf("replayed into the FIFO queue: %+v", back)
	}
	standard := emu.Setup(t)
	sum, err = deadletter.Replay(ctx, client, dlqURL, deadletter.ReplayOptions{To: standard.QueueURL})
	if err != nil || sum.Moved != 1 {
		t.Fatalf("replay into a standard queue: %+v, %v", sum, err)
	}
	r, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(standard.QueueURL), MaxNumberOfMessages: 10})
	if err != nil || len(r.Messages) != 1 || aws.ToString(r.Messages[0].Body) != string(second) {
		t.Errorf("replayed into a standard queue: %v %+v", err, r)
	}
	if v, f, _ := (&testkit.Bundle{SQS: client}).Counts(t, dlqURL); v+f != 0 {
		t.Errorf("dead-letter queue still holds %d", v+f)
	}
}

// A FIFO queue hands out no more of a group while messages of it are held
// (fauxqs hands out one message of a group per receive, AWS up to ten). A
// replay that leaves one group's messages in place (filtered) must still
// move all of another group's, moving what each receive brought before it
// receives again.
func TestDLQReplayOnFIFOMovesPastAGroupItLeaves(t *testing.T) {
	ctx := context.Background()
	_, _, dlqURL := createFIFOQueues(t)
	client := testkit.NewSQS(emu.Fauxqs.URL)
	w := &deadletter.Writer{Client: client, QueueURL: dlqURL}
	write := func(group, tenant string, n int) {
		for i := range n {
			id := group + strconv.Itoa(i)
			m := types.Message{MessageId: aws.String(id), Body: aws.String(envBody(idEast, id)), Attributes: map[string]string{"MessageGroupId": group}}
			if err := w.Write(ctx, m, deadletter.Failure{Reason: "rejected", At: time.Now(), Tenant: tenant}); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("a", "stays", 3) // the first receive brings a's first, and b's
	write("b", "moves", 12)
	target := emu.Setup(t)
	sum, err := deadletter.Replay(ctx, client, dlqURL, deadletter.ReplayOptions{To: target.QueueURL, Filter: deadletter.Filter{Tenant: "moves"}})
	if err != nil || sum.Moved != 12 || sum.Filtered == 0 {
		t.Fatalf("replay: %+v, %v; want 12 moved and a's filtered", sum, err)
	}
	if v, _, _ := target.Counts(t, target.QueueURL); v != 12 {
		t.Errorf("target holds %d, want 12", v)
	}
	if v, f, _ := (&testkit.Bundle{SQS: client}).Counts(t, dlqURL); v+f != 3 {
		t.Errorf("dead-letter queue holds %d, want a's 3", v+f)
	}
}

// `sesq enqueue` and `sesq dlq` on FIFO queues: --no-group-id refused, the
// envelopes enqueued in their group, a dead letter replayed into its group,
// and inspect's note that a FIFO queue counts at most ten of a group.
func TestEnqueueAndDLQOnFIFOWithTheCLI(t *testing.T) {
	_, qURL, dlqURL := createFIFOQueues(t)
	env := sesqEnv("http://127.0.0.1:1", "SESQ_QUEUE_URL="+qURL, "SESQ_DLQ_URL="+dlqURL)
	lines := string(fifoBody("cli-1", "g-1")) + "\n" + string(fifoBody("cli-2", "g-1")) + "\n"
	_, errOut, code := sesq(t, env, lines, "enqueue", "--no-group-id")
	if code != 2 || !strings.Contains(errOut, "--no-group-id is for standard queues") {
		t.Errorf("enqueue --no-group-id to a FIFO queue: exit %d, %q", code, errOut)
	}
	out, errOut, code := sesq(t, env, lines, "enqueue")
	if code != 0 || !strings.HasPrefix(out, "line 1: ") || !strings.Contains(out, "\nline 2: ") {
		t.Fatalf("enqueue: exit %d, %q %q", code, out, errOut)
	}
	client := testkit.NewSQS(emu.Fauxqs.URL)
	w := &deadletter.Writer{Client: client, QueueURL: dlqURL, SourceQueue: qURL}
	for i, id := range []string{"cli-1", "cli-2"} {
		msgs := receiveFIFO(t, client, qURL)
		if len(msgs) == 0 || msgs[0].Attributes["MessageGroupId"] != "g-1" || aws.ToString(msgs[0].Body) != string(fifoBody(id, "g-1")) {
			t.Fatalf("receive %d: %+v, want %s in g-1", i, msgs, id)
		}
		if i == 0 {
			if err := w.Write(context.Background(), msgs[0], deadletter.Failure{Reason: "rejected", At: time.Now()}); err != nil {
				t.Fatal(err)
			}
		}
		client.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(qURL), ReceiptHandle: msgs[0].ReceiptHandle})
	}
	if out, errOut, code := sesq(t, env, "", "dlq", "inspect"); code != 0 || !strings.Contains(out, "1 messages in 1 groups") || !strings.Contains(out, "at most the first 10 of each MessageGroupId") {
		t.Errorf("dlq inspect: exit %d, %q %q", code, out, errOut)
	}
	if out, errOut, code := sesq(t, env, "", "dlq", "replay"); code != 0 || !strings.Contains(out, "moved 1 to "+qURL) {
		t.Fatalf("dlq replay: exit %d, %q %q", code, out, errOut)
	}
	back := receiveFIFO(t, client, qURL)
	if len(back) != 1 || back[0].Attributes["MessageGroupId"] != "g-1" || aws.ToString(back[0].Body) != string(fifoBody("cli-1", "g-1")) {
		t.Errorf("replayed: %+v", back)
	}
}
