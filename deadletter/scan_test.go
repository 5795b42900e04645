package deadletter

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// lossyQueue holds n messages and loses the answer to its first receive:
// the messages go in flight, the caller gets nothing, and they come back
// once the queue's counts have been asked for (their visibility ran out).
type lossyQueue struct {
	Queue
	n        int
	lost     bool // the first answer was lost; its messages are in flight
	back     bool // they are visible again
	receives int
	holds    []int32
}

func (q *lossyQueue) ReceiveMessage(_ context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	q.receives++
	if !q.lost {
		q.lost = true
		return &sqs.ReceiveMessageOutput{}, nil
	}
	if !q.back {
		return &sqs.ReceiveMessageOutput{}, nil
	}
	q.back = false // received now: in flight again
	var msgs []types.Message
	for i := range q.n {
		msgs = append(msgs, types.Message{MessageId: aws.String(fmt.Sprint("m", i)), ReceiptHandle: aws.String(fmt.Sprint("h", i))})
	}
	return &sqs.ReceiveMessageOutput{Messages: msgs}, nil
}

func (q *lossyQueue) GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	inFlight := 0
	if !q.back {
		inFlight = q.n
		q.back = true // the scan waits past the receive's visibility
	}
	return &sqs.GetQueueAttributesOutput{Attributes: map[string]string{"ApproximateNumberOfMessagesNotVisible": fmt.Sprint(inFlight)}}, nil
}

func (q *lossyQueue) ChangeMessageVisibilityBatch(_ context.Context, in *sqs.ChangeMessageVisibilityBatchInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	for _, e := range in.Entries {
		q.holds = append(q.holds, e.VisibilityTimeout)
	}
	return &sqs.ChangeMessageVisibilityBatchOutput{}, nil
}

// A receive answer lost on the way hides its messages for the receive's
// short visibility only; the scan sees the queue count them in flight,
// waits once and finds them.
func TestScanWaitsOnceForMessagesALostAnswerHid(t *testing.T) {
	q := &lossyQueue{n: 3}
	s := newScanner(q, "url")
	s.pause = 0
	msgs, err := s.next(context.Background())
	if err != nil || len(msgs) != 3 {
		t.Fatalf("next: %d messages, %v; want the 3 the lost answer hid", len(msgs), err)
	}
	if len(q.holds) != 3 || q.holds[0] != holdSeconds {
		t.Errorf("held with %v, want each extended to %d s", q.holds, holdSeconds)
	}
	msgs, err = s.next(context.Background())
	if err != nil || len(msgs) != 0 {
		t.Fatalf("second next: %d messages, %v; want the end of the scan", len(msgs), err)
	}
	if !s.waited {
		t.Error("the scan did not wait")
	}
}

// Messages in flight that never come back (another consumer's) cost the
// scan one wait, not more.
func TestScanWaitsOnlyOnce(t *testing.T) {
	q := &stuckQueue{}
	s := newScanner(q, "url")
	s.pause = 0
	if msgs, err := s.next(context.Background()); err != nil || len(msgs) != 0 {
		t.Fatalf("next: %d messages, %v", len(msgs), err)
	}
	if q.receives != 4 || q.asked != 1 {
		t.Errorf("%d receives and %d count queries, want 4 and 1", q.receives, q.asked)
	}
}

type stuckQueue struct {
	Queue
	receives, asked int
}

func (q *stuckQueue) ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	q.receives++
	return &sqs.ReceiveMessageOutput{}, nil
}

func (q *stuckQueue) GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	q.asked++
	return &sqs.GetQueueAttributesOutput{Attributes: map[string]string{"ApproximateNumberOfMessagesNotVisible": "5"}}, nil
}
