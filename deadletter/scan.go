package deadletter

import (
	"context"
	"fmt"
	"strconv"

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
}

// holdSeconds is how long a scan keeps what it received invisible, so that
// one pass sees each message once. Everything still held when the scan ends
// is made visible again at once.
const holdSeconds = 120

// scanner walks a queue once: it receives every message, holding each
// invisible until release, and remembers which it has seen (receipt
// handles change with each receive; message ids do not).
type scanner struct {
	q    Queue
	url  string
	held map[string]string // message id -> latest receipt handle
}

func newScanner(q Queue, url string) *scanner {
	return &scanner{q: q, url: url, held: map[string]string{}}
}

// next returns the next page of messages not seen before; an empty page
// means the scan is done (two receives in a row brought nothing new).
func (s *scanner) next(ctx context.Context) ([]types.Message, error) {
	for empty := 0; empty < 2; {
		out, err := s.q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(s.url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: holdSeconds,
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameSentTimestamp},
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
		if len(fresh) > 0 {
			return fresh, nil
		}
		empty++
	}
	return nil, nil
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
