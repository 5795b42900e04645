package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sesq/sesq/internal/awsclient"
)

const region = "us-east-1"

// newSQS is the bench's own SQS client: the producers and the queue watch.
// No client-side retry quota: a burst of 20 000 must not trip it.
func newSQS(endpoint string) *sqs.Client {
	return sqs.New(sqs.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("bench", "bench", ""),
		HTTPClient:   awsclient.HTTPClient(0),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 5
			o.RateLimiter = ratelimit.None
		}),
	})
}

// queuePair is a source queue and its dead-letter queue.
type queuePair struct{ URL, DLQ string }

// createQueues creates NAME-dlq and NAME with a redrive policy to it after
// maxReceive receives, as `sesq queues create` does; FIFO queues when name
// ends in .fifo (the dead-letter queue is NAME-dlq.fifo).
func createQueues(ctx context.Context, c *sqs.Client, name string, maxReceive int) (queuePair, error) {
	base, fifo := name, false
	if n := len(name) - len(".fifo"); n > 0 && name[n:] == ".fifo" {
		base, fifo = name[:n], true
	}
	attrs := map[string]string{}
	dlqName := base + "-dlq"
	if fifo {
		attrs["FifoQueue"] = "true"
		dlqName += ".fifo"
	}
	dlq, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(dlqName), Attributes: attrs})
	if err != nil {
		return queuePair{}, fmt.Errorf("create %s: %w", dlqName, err)
	}
	a, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		return queuePair{}, fmt.Errorf("attributes of %s: %w", dlqName, err)
	}
	redrive, _ := json.Marshal(map[string]any{"deadLetterTargetArn": a.Attributes["QueueArn"], "maxReceiveCount": maxReceive})
	qattrs := map[string]string{"RedrivePolicy": string(redrive)}
	for k, v := range attrs {
		qattrs[k] = v
	}
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: qattrs})
	if err != nil {
		return queuePair{}, fmt.Errorf("create %s: %w", name, err)
	}
	return queuePair{URL: aws.ToString(q.QueueUrl), DLQ: aws.ToString(dlq.QueueUrl)}, nil
}

// message is one envelope to enqueue.
type message struct {
	ID, Tenant, Group string
	FIFO              bool // MessageDeduplicationId = ID
	Body              string
}

// enqueued records when each envelope was enqueued: when the call that
// sent it returned, so the message was certainly in the queue by then.
type enqueued struct {
	mu sync.Mutex
	at map[string]time.Time
}

func newEnqueued() *enqueued { return &enqueued{at: map[string]time.Time{}} }

func (e *enqueued) mark(ids []string, t time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, id := range ids {
		e.at[id] = t
	}
}

func (e *enqueued) snapshot() map[string]time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]time.Time, len(e.at))
	for k, v := range e.at {
		out[k] = v
	}
	return out
}

// enqueueStreams sends each stream's messages in order, in batches of 10,
// one goroutine per stream: within a stream, and so within a FIFO group
// that only one stream carries, the queue gets them in order.
func enqueueStreams(ctx context.Context, c *sqs.Client, queueURL string, streams [][]message, rec *enqueued) error {
	errs := make(chan error, len(streams))
	var wg sync.WaitGroup
	for _, st := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < len(st); i += 10 {
				batch := st[i:min(i+10, len(st))]
				if err := sendBatch(ctx, c, queueURL, batch, rec); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func sendBatch(ctx context.Context, c *sqs.Client, queueURL string, batch []message, rec *enqueued) error {
	entries := make([]types.SendMessageBatchRequestEntry, len(batch))
	ids := make([]string, len(batch))
	for j, m := range batch {
		entries[j] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(j)), MessageBody: aws.String(m.Body), MessageGroupId: aws.String(m.Group)}
		if m.FIFO {
			entries[j].MessageDeduplicationId = aws.String(m.ID)
		}
		ids[j] = m.ID
	}
	out, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: entries})
	if err == nil && len(out.Failed) > 0 {
		err = fmt.Errorf("%d of %d entries failed: %s", len(out.Failed), len(entries), aws.ToString(out.Failed[0].Message))
	}
	if err != nil {
		return fmt.Errorf("SendMessageBatch to %s: %w", queueURL, err)
	}
	rec.mark(ids, time.Now())
	return nil
}

// splitStreams deals msgs into n streams of contiguous runs.
func splitStreams(msgs []message, n int) [][]message {
	var out [][]message
	per := (len(msgs) + n - 1) / n
	for i := 0; i < len(msgs); i += per {
		out = append(out, msgs[i:min(i+per, len(msgs))])
	}
	return out
}

// paced sends msgs one SendMessage each, the k-th at start + k×every (or
// at once when behind), until they are all sent or ctx ends.
func paced(ctx context.Context, c *sqs.Client, queueURL string, msgs []message, start time.Time, every time.Duration, rec *enqueued) error {
	for k, m := range msgs {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Until(start.Add(time.Duration(k) * every))):
		}
		if err := sendBatch(ctx, c, queueURL, []message{m}, rec); err != nil {
			return err
		}
	}
	return nil
}

// depth is a queue's visible + in flight + delayed messages.
func depth(ctx context.Context, c *sqs.Client, queueURL string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
		},
	})
	if err != nil {
		return 0, fmt.Errorf("depth of %s: %w", queueURL, err)
	}
	total := 0
	for _, v := range out.Attributes {
		n, _ := strconv.Atoi(v)
		total += n
	}
	return total, nil
}

// deadLettered receives everything in a dead-letter queue (hiding it for
// ten minutes, deleting nothing) and returns the envelope ids found.
func deadLettered(ctx context.Context, c *sqs.Client, dlqURL string) (map[string]bool, error) {
	ids := map[string]bool{}
	for empty := 0; empty < 2; {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlqURL), MaxNumberOfMessages: 10, VisibilityTimeout: 600})
		if err != nil {
			return ids, fmt.Errorf("receive from %s: %w", dlqURL, err)
		}
		if len(out.Messages) == 0 {
			empty++
			continue
		}
		empty = 0
		for _, m := range out.Messages {
			var e struct {
				ID string `json:"id"`
			}
			json.Unmarshal([]byte(aws.ToString(m.Body)), &e)
			ids[e.ID] = true
		}
	}
	return ids, nil
}
