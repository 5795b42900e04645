package deadletter

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Queue is the SQS calls the dead-letter tools make; *sqs.Client has them.
type Queue interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// holdSeconds is how long a scan keeps what it received invisible, so that
// one pass sees each message once. Everything still held when the scan ends
// is made visible again at once.
const holdSeconds = 120

// receiveHoldSeconds is the visibility a scan's receive asks for; what
// arrives is held for holdSeconds at once. A receive whose answer is lost on
// the way (a connection that breaks after SQS handed the messages out: rare,
// but possible on any network) costs this long, not holdSeconds: when the
// queue says more messages are in flight than the scan holds, the scan
// waits this long once and looks again.
const receiveHoldSeconds = 10

// scanner walks a queue once: it receives every message, holding each
// invisible until release, and remembers which it has seen (receipt
// handles change with each receive; message ids do not).
type scanner struct {
	q    Queue
	url  string
	held map[string]string // message id -> latest receipt handle
	// waited: the scan has waited once for messages in flight it did not see
	waited bool
	pause  time.Duration // how long that wait is
}

func newScanner(q Queue, url string) *scanner {
	return &scanner{q: q, url: url, held: map[string]string{}, pause: (receiveHoldSeconds + 1) * time.Second}
}

// next returns the next page of messages not seen before; an empty page
// means the scan is done (two receives in a row brought nothing new, and
// the queue has no more messages in flight than the scan holds, or the scan
// has waited for them once already).
func (s *scanner) next(ctx context.Context) ([]types.Message, error) {
	for empty := 0; ; {
		if empty == 2 {
			if s.waited || !s.missing(ctx) {
				return nil, nil
			}
			s.waited, empty = true, 0
			select {
			case <-time.After(s.pause):
			case <-ctx.Done():
				return nil, nil
			}
		}
		out, err := s.q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(s.url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: receiveHoldSeconds,
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameSentTimestamp, types.MessageSystemAttributeNameAWSTraceHeader, types.MessageSystemAttributeNameMessageGroupId},
		})
		if err != nil {
			return nil, fmt.Errorf("receive from %s: %w", s.url, err)
		}
		var fresh []types.Message
		for _, m := range out.Messages {
			id := aws.ToString(m.MessageId)
			if _, seen := s.held[id]; !seen {
				fresh = append(fresh, m)
			}
			s.held[id] = aws.ToString(m.ReceiptHandle)
		}
		if err := s.hold(ctx, out.Messages); err != nil {
			return nil, err
		}
		if len(fresh) > 0 {
			return fresh, nil
		}
		empty++
	}
}

// hold keeps what a receive brought invisible for holdSeconds.
func (s *scanner) hold(ctx context.Context, msgs []types.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(msgs))
	for i, m := range msgs {
		entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: holdSeconds}
	}
	out, err := s.q.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(s.url), Entries: entries})
	if err == nil && len(out.Failed) > 0 {
		err = fmt.Errorf("%s: %s", aws.ToString(out.Failed[0].Code), aws.ToString(out.Failed[0].Message))
	}
	if err != nil {
		return fmt.Errorf("hold messages of %s: %w", s.url, err)
	}
	return nil
}

// missing tells whether the queue counts more messages in flight than the
// scan holds: another consumer's, or a receive answer lost on the way.
func (s *scanner) missing(ctx context.Context) bool {
	out, err := s.q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(s.url),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		return false // the scan stands as it is; the counts are a hint only
	}
	inFlight, _ := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	held := 0
	for _, h := range s.held {
		if h != "" {
			held++
		}
	}
	return inFlight > held
}

// each calls fn with each page of messages not seen before, until the queue
// is done, fn returns false, or ctx ends; then it calls finish (when not
// nil) and makes what is still held visible again. The error is the first
// failure to receive or release, else ctx's.
func (s *scanner) each(ctx context.Context, fn func([]types.Message) bool, finish func()) error {
	var err error
	for ctx.Err() == nil {
		msgs, e := s.next(ctx)
		if e != nil {
			err = e
			break
		}
		if len(msgs) == 0 || !fn(msgs) {
			break
		}
	}
	if finish != nil {
		finish()
	}
	if rerr := s.release(context.WithoutCancel(ctx)); err == nil {
		err = rerr
	}
	if err == nil {
		err = ctx.Err()
	}
	return err
}

// forget drops a message the caller deleted.
func (s *scanner) forget(id string) { s.held[id] = "" }

// release makes every held message visible again at once.
func (s *scanner) release(ctx context.Context) error {
	var batch []types.ChangeMessageVisibilityBatchRequestEntry
	var firstErr error
	flush := func() {
		if len(batch) == 0 {
			return
		}
		out, err := s.q.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(s.url), Entries: batch})
		if err == nil && len(out.Failed) > 0 {
			err = fmt.Errorf("%s: %s", aws.ToString(out.Failed[0].Code), aws.ToString(out.Failed[0].Message))
		}
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("make messages visible again in %s: %w", s.url, err)
		}
		batch = batch[:0]
	}
	for _, h := range s.held {
		if h == "" {
			continue
		}
		batch = append(batch, types.ChangeMessageVisibilityBatchRequestEntry{
			Id: aws.String(strconv.Itoa(len(batch))), ReceiptHandle: aws.String(h), VisibilityTimeout: 0,
		})
		if len(batch) == 10 {
			flush()
		}
	}
	flush()
	return firstErr
}
