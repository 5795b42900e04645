package envelope

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQS limits on one SendMessageBatch call.
const (
	maxBatchEntries = 10
	maxBatchBytes   = 256 * 1024
)

// BatchSender is the one SQS call a Producer makes; *sqs.Client has it.
type BatchSender interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Producer enqueues envelopes on a sesq queue with SendMessageBatch. It
// validates before sending, so an envelope that could never be sent is refused
// at the producer instead of dead-lettered later.
type Producer struct {
	Client   BatchSender
	QueueURL string
}

// Result is the fate of one envelope handed to the Producer: the SQS
// MessageId, or why it was not enqueued.
type Result struct {
	MessageID string
	Err       error
}

// Enqueue validates and enqueues envelopes. The results are in the order of
// envs; the error is for a failure of the whole call (a cancelled context).
func (p *Producer) Enqueue(ctx context.Context, envs []*Envelope) ([]Result, error) {
	bodies := make([][]byte, len(envs))
	results := make([]Result, len(envs))
	for i, e := range envs {
		b, err := json.Marshal(e)
		if err != nil {
			results[i].Err = fmt.Errorf("encode envelope: %w", err)
			continue
		}
		bodies[i] = b
	}
	return p.send(ctx, bodies, results)
}

// EnqueueBodies validates and enqueues envelopes already encoded as JSON,
// byte for byte (the default idempotency key is a hash of the body).
func (p *Producer) EnqueueBodies(ctx context.Context, bodies [][]byte) ([]Result, error) {
	return p.send(ctx, bodies, make([]Result, len(bodies)))
}

func (p *Producer) send(ctx context.Context, bodies [][]byte, results []Result) ([]Result, error) {
	var batch []int
	size := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := p.sendBatch(ctx, bodies, batch, results)
		batch, size = batch[:0], 0
		return err
	}
	for i, b := range bodies {
		if results[i].Err != nil {
			continue
		}
		if _, err := Parse(b); err != nil {
			results[i].Err = err
			continue
		}
		if len(b) > maxBatchBytes {
			results[i].Err = fmt.Errorf("body is %d bytes, over the SQS limit of %d", len(b), maxBatchBytes)
			continue
		}
		if len(batch) == maxBatchEntries || size+len(b) > maxBatchBytes {
			if err := flush(); err != nil {
				return results, err
			}
		}
		batch = append(batch, i)
		size += len(b)
	}
	return results, flush()
}

// sendBatch sends one batch, retrying entries SQS failed on its side (not the
// sender's fault) a few times.
func (p *Producer) sendBatch(ctx context.Context, bodies [][]byte, idx []int, results []Result) error {
	pending := append([]int(nil), idx...)
	for try := 0; len(pending) > 0; try++ {
		entries := make([]types.SendMessageBatchRequestEntry, len(pending))
		for j, i := range pending {
			entries[j] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(bodies[i]))}
		}
		out, err := p.Client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(p.QueueURL), Entries: entries})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			for _, i := range pending {
				results[i].Err = fmt.Errorf("send message batch: %w", err)
			}
			return nil
		}
		for _, s := range out.Successful {
			i, _ := strconv.Atoi(aws.ToString(s.Id))
			results[i] = Result{MessageID: aws.ToString(s.MessageId)}
		}
		pending = pending[:0]
		for _, f := range out.Failed {
			i, err := strconv.Atoi(aws.ToString(f.Id))
			if err != nil || i < 0 || i >= len(results) {
				continue
			}
			results[i].Err = fmt.Errorf("sqs refused the message: %s: %s", aws.ToString(f.Code), aws.ToString(f.Message))
			if !f.SenderFault && try < 3 {
				pending = append(pending, i)
			}
		}
	}
	return nil
}
