package envelope

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
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
//
// When the context carries an OpenTelemetry span (or a remote span
// context), every message carries its W3C trace context, the traceparent
// and tracestate message attributes, and sesq's worker continues that
// trace into the SES call. Without one, nothing is added.
//
// On a standard queue every message carries its envelope's tenant
// (Envelope.Tenant) as its MessageGroupId: that makes it an SQS fair queue,
// where a tenant that holds a disproportionate share of the messages in
// flight does not hold the quiet tenants' back (SQS hands theirs out
// first). NoGroupID turns that off.
//
// On a FIFO queue (QueueURL ends in .fifo) every message carries
// Envelope.GroupID as its MessageGroupId, which SQS keeps in order, and
// Envelope.DeduplicationID as its MessageDeduplicationId, so that an
// envelope enqueued again within five minutes (a producer's retry) is
// stored once. The order kept is the order of the envelopes handed to one
// call: once an envelope of a group is not enqueued, the call enqueues no
// later envelope of that group (they fail with ErrGroupHeld), so that the
// caller can send them again in order.
type Producer struct {
	Client   BatchSender
	QueueURL string
	// NoGroupID sends without MessageGroupId (no fair-queue ordering). A
	// FIFO queue needs a group: there every envelope fails with
	// ErrFIFONeedsGroup.
	NoGroupID bool
}

// ErrFIFONeedsGroup is each envelope's error when a Producer with NoGroupID
// sends to a FIFO queue, which takes no message without a MessageGroupId.
var ErrFIFONeedsGroup = errors.New("a FIFO queue needs a MessageGroupId on every message: NoGroupID (--no-group-id) is for standard queues")

// ErrGroupHeld is the error of an envelope not sent to a FIFO queue
// because an earlier envelope of its group in the same call was not
// enqueued: sending it would put it ahead of that one.
var ErrGroupHeld = errors.New("not sent: an earlier envelope of its group was not enqueued, and a FIFO queue keeps the group's order")

// IsFIFO tells whether queueURL names an SQS FIFO queue, whose name SQS
// requires to end in .fifo.
func IsFIFO(queueURL string) bool { return strings.HasSuffix(queueURL, ".fifo") }

// messageIDs are the SQS ids one envelope is sent with ("" for none).
type messageIDs struct {
	group string // MessageGroupId
	dedup string // MessageDeduplicationId, FIFO only
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
	fifo := IsFIFO(p.QueueURL)
	if fifo && p.NoGroupID {
		for i := range results {
			if results[i].Err == nil {
				results[i].Err = ErrFIFONeedsGroup
			}
		}
		return results, nil
	}
	attrs := traceAttributes(ctx)
	// SQS counts message attributes, names and types included, toward a
	// message's size.
	extra := 0
	for k, v := range attrs {
		extra += len(k) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue))
	}
	ids := make([]messageIDs, len(bodies))
	held := map[string]bool{} // FIFO: groups with an envelope this call did not enqueue
	var batch []int
	size := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := p.sendBatch(ctx, bodies, ids, batch, attrs, results, fifo)
		for _, i := range batch {
			if fifo && results[i].Err != nil {
				held[ids[i].group] = true
			}
		}
		batch, size = batch[:0], 0
		return err
	}
	for i, b := range bodies {
		if results[i].Err != nil {
			continue
		}
		e, err := Parse(b)
		if err != nil {
			results[i].Err = err
			continue
		}
		switch {
		case fifo:
			ids[i] = messageIDs{group: e.GroupID(), dedup: e.DeduplicationID()}
		case !p.NoGroupID:
			ids[i].group = e.Tenant()
		}
		n := len(b) + extra
		if n > maxBatchBytes {
			results[i].Err = fmt.Errorf("body is %d bytes, over the SQS limit of %d", len(b), maxBatchBytes)
			if extra > 0 {
				results[i].Err = fmt.Errorf("body is %d bytes, over the SQS limit of %d less %d for the trace context", len(b), maxBatchBytes, extra)
			}
			continue
		}
		if len(batch) == maxBatchEntries || size+n > maxBatchBytes {
			if err := flush(); err != nil {
				return unsent(results, err), err
			}
		}
		if held[ids[i].group] { // FIFO only: held stays empty otherwise
			results[i].Err = ErrGroupHeld
			continue
		}
		batch = append(batch, i)
		size += n
	}
	if err := flush(); err != nil {
		return unsent(results, err), err
	}
	return results, nil
}

// unsent marks every envelope neither sent nor refused with err: the
// caller must not read an empty result as sent.
func unsent(results []Result, err error) []Result {
	for i := range results {
		if results[i].Err == nil && results[i].MessageID == "" {
			results[i].Err = fmt.Errorf("not sent: %w", err)
		}
	}
	return results
}

// traceAttributes is the W3C trace context of ctx's span as message
// attributes (traceparent, and tracestate when it has one), nil when ctx
// carries no valid span context.
func traceAttributes(ctx context.Context) map[string]types.MessageAttributeValue {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	c := AttributeCarrier{}
	propagation.TraceContext{}.Inject(ctx, c)
	return c
}

// AttributeCarrier is SQS message attributes as OpenTelemetry's
// propagation.TextMapCarrier: the trace context travels in String
// attributes (traceparent, tracestate).
type AttributeCarrier map[string]types.MessageAttributeValue

// Get returns the attribute's string value, "" when absent.
func (c AttributeCarrier) Get(key string) string { return aws.ToString(c[key].StringValue) }

// Set sets a String attribute.
func (c AttributeCarrier) Set(key, value string) {
	c[key] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(value)}
}

// Keys lists the attributes' names.
func (c AttributeCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// sendBatch sends one batch, each message with attrs, retrying entries SQS
// failed on its side (not the sender's fault) a few times. On a FIFO queue
// a failed entry is not retried once a later entry of its group is in the
// queue, nor after an earlier one of its group failed for good: either
// would put it out of its group's order.
func (p *Producer) sendBatch(ctx context.Context, bodies [][]byte, ids []messageIDs, idx []int, attrs map[string]types.MessageAttributeValue, results []Result, fifo bool) error {
	pending := append([]int(nil), idx...)
	sent := map[string]int{} // FIFO: the last envelope of each group in the queue
	for try := 0; len(pending) > 0; try++ {
		entries := make([]types.SendMessageBatchRequestEntry, len(pending))
		for j, i := range pending {
			entries[j] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(bodies[i])), MessageAttributes: attrs}
			if ids[i].group != "" {
				entries[j].MessageGroupId = aws.String(ids[i].group)
			}
			if ids[i].dedup != "" {
				entries[j].MessageDeduplicationId = aws.String(ids[i].dedup)
			}
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
			if last, ok := sent[ids[i].group]; fifo && (!ok || i > last) {
				sent[ids[i].group] = i
			}
		}
		retry := map[int]bool{}
		for _, f := range out.Failed {
			i, err := strconv.Atoi(aws.ToString(f.Id))
			if err != nil || i < 0 || i >= len(results) {
				continue
			}
			results[i].Err = fmt.Errorf("sqs refused the message: %s: %s", aws.ToString(f.Code), aws.ToString(f.Message))
			retry[i] = !f.SenderFault && try < 3
		}
		// pending is in the envelopes' order, which a FIFO group keeps.
		stuck := map[string]bool{}
		next := pending[:0]
		for _, i := range pending {
			again, failed := retry[i]
			if !failed {
				continue
			}
			if fifo {
				last, overtaken := sent[ids[i].group]
				again = again && !stuck[ids[i].group] && !(overtaken && last > i)
				stuck[ids[i].group] = stuck[ids[i].group] || !again
			}
			if again {
				next = append(next, i)
			}
		}
		pending = next
	}
	return nil
}
