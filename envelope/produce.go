package envelope

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/sesq/sesq/payload"
)

// SQS limits on one SendMessageBatch call: ten entries, and their
// messages (bodies and attributes) together no larger than the largest
// message, 1 MiB since 2025. A Producer keeps a batch within the queue's
// MaximumMessageSize too, which is at most that.
const (
	maxBatchEntries = 10
	maxBatchBytes   = 1 << 20
)

// DefaultMaxMessage is the MaximumMessageSize a Producer assumes when it
// cannot ask the queue (a client without GetQueueAttributes, or a producer
// not allowed sqs:GetQueueAttributes): 256 KiB, the limit before 2025 and
// the smallest default a queue has had since.
const DefaultMaxMessage = 256 * 1024

// AttributeHeadroom is the room, in bytes of a message's size as SQS
// counts it (body, and each attribute's name, type and value), that a
// Producer leaves below the queue's MaximumMessageSize for what sesq adds
// when it writes the message again, so that a message it accepted can
// always be re-enqueued and dead-lettered. The larger of:
//
//   - a dead-letter write (deadletter.Attributes): seven String attributes,
//     sesq-reason (at most 13 bytes, "authorization"), sesq-error-code
//     (SES's or sesq's code, taken as at most 128), sesq-error (at most
//     deadletter.MaxErrorLength, 1024), sesq-attempts (10 digits),
//     sesq-failed-at (RFC 3339, 20), sesq-source-queue (a queue URL, taken
//     as at most 256) and sesq-tenant (at most MaxTenantNameLength, 64):
//     1648 bytes with names and types;
//   - a re-enqueue (a retry, a deferral): the sesq-ledger attribute, whose
//     value is URL-encoded and signed, about 3.6 KB at most when the error
//     text it may carry is at most 1024 bytes (3072 once escaped);
//
// plus sesq-replays (28 bytes), which a replay from the dead-letter queue
// adds. Either way the producer's own attributes are carried along, never
// more of them than the message had. deadletter's TestAttributeHeadroom
// computes both from the code and fails when they outgrow this.
const AttributeHeadroom = 4096

// MaxBodySize is the largest envelope body a Producer enqueues: 40 MB, the
// largest message SES takes at all (the v2 API; transport.MaxMessageV2).
// The body is compared, not the mail: an envelope's base64 raw field is a
// third larger than the mail it carries.
const MaxBodySize = 40 * 1000 * 1000

// ErrTooLarge is the error (wrapped, with the sizes) of an envelope a
// Producer refuses for its size: a body over MaxBodySize, or over what a
// message may hold when the Producer has no Payloads to keep it in.
var ErrTooLarge = errors.New("the envelope is too large to enqueue")

// BatchSender is the one SQS call a Producer must be able to make;
// *sqs.Client has it.
type BatchSender interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// QueueAttributes is the SQS call with which a Producer reads the queue's
// MaximumMessageSize, when its client has it (*sqs.Client does); without
// it the Producer assumes DefaultMaxMessage.
type QueueAttributes interface {
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

var _ QueueAttributes = (*sqs.Client)(nil)

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
//
// A message may hold the queue's MaximumMessageSize (read once with
// GetQueueAttributes) less AttributeHeadroom. A larger body is kept in S3
// when Payloads is set, in the format of the SQS Extended Client (package
// payload): the message carries a pointer to it and its size, so that
// Amazon's Java and Python extended clients could read it too. Without
// Payloads it is refused with ErrTooLarge. An object whose message was
// not enqueued in the end stays in S3 until the bucket's lifecycle rule
// expires it.
type Producer struct {
	Client   BatchSender
	QueueURL string
	// NoGroupID sends without MessageGroupId (no fair-queue ordering). A
	// FIFO queue needs a group: there every envelope fails with
	// ErrFIFONeedsGroup.
	NoGroupID bool

	// Payloads, when set, keeps bodies too large for a message in S3, in
	// PayloadBucket (which the worker must list in SESQ_PAYLOAD_BUCKETS to
	// read them). nil: such bodies are refused.
	Payloads      *payload.Store
	PayloadBucket string
	// Threshold is the largest message (the body and the attributes the
	// Producer adds, in bytes) sent as it is; a larger one goes to S3. 0:
	// the queue's MaximumMessageSize less AttributeHeadroom, which is also
	// the most it can be: a larger Threshold is lowered to that.
	Threshold int

	mu       sync.Mutex
	queueMax int // the queue's MaximumMessageSize, once asked; 0: not yet
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
	// Payload is where the body was kept when it was too large for a
	// message (set once it is stored, even when the message was not
	// enqueued after all); nil when the message carries it.
	Payload *payload.Pointer
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

// message is what one envelope is sent as.
type message struct {
	body  string
	attrs map[string]types.MessageAttributeValue
	ids   messageIDs
}

// limits are the sizes a Producer keeps messages and batches within.
type limits struct {
	queueMax  int // the queue's MaximumMessageSize
	threshold int // the largest message sent as it is
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
	lim := p.limits(ctx)
	batchMax := min(lim.queueMax, maxBatchBytes)
	attrs := traceAttributes(ctx)
	extra := attributesSize(attrs)
	msgs := make([]message, len(bodies))
	held := map[string]bool{} // FIFO: groups with an envelope this call did not enqueue
	refuse := func(i int, err error) {
		results[i].Err = err
		if fifo {
			held[msgs[i].ids.group] = true
		}
	}
	var batch []int
	size := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := p.sendBatch(ctx, msgs, batch, results, fifo)
		for _, i := range batch {
			if fifo && results[i].Err != nil {
				held[msgs[i].ids.group] = true
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
			msgs[i].ids = messageIDs{group: e.GroupID(), dedup: e.DeduplicationID()}
		case !p.NoGroupID:
			msgs[i].ids.group = e.Tenant()
		}
		n := len(b) + extra
		offload := n > lim.threshold
		switch {
		case len(b) > MaxBodySize:
			refuse(i, fmt.Errorf("body is %d bytes, over %d, the largest mail SES takes: %w", len(b), MaxBodySize, ErrTooLarge))
			continue
		case offload && (p.Payloads == nil || p.PayloadBucket == ""):
			with := ""
			if extra > 0 {
				with = fmt.Sprintf(" (%d with its message attributes)", n)
			}
			refuse(i, fmt.Errorf("body is %d bytes%s, over %s; a payload bucket (Producer.Payloads, SESQ_PAYLOAD_BUCKET) would keep it in S3: %w",
				len(b), with, p.describe(lim), ErrTooLarge))
			continue
		case offload:
			// The pointer's size, known before the upload: Store.Put's keys
			// are UUIDs.
			n = len(payload.Pointer{Bucket: p.PayloadBucket, Key: "00000000-0000-4000-8000-000000000000"}.Body()) +
				extra + attributeSize(payload.AttrSize, payload.SizeAttr(len(b)))
		}
		if len(batch) == maxBatchEntries || size+n > batchMax {
			if err := flush(); err != nil {
				return unsent(results, err), err
			}
		}
		if held[msgs[i].ids.group] { // FIFO only: held stays empty otherwise
			results[i].Err = ErrGroupHeld
			continue
		}
		msgs[i].body, msgs[i].attrs = string(b), attrs
		if offload {
			ptr, err := p.Payloads.Put(ctx, p.PayloadBucket, b)
			if err != nil {
				if ctx.Err() != nil {
					return unsent(results, ctx.Err()), ctx.Err()
				}
				refuse(i, err)
				continue
			}
			results[i].Payload = &ptr
			msgs[i].body = ptr.Body()
			msgs[i].attrs = make(map[string]types.MessageAttributeValue, len(attrs)+1)
			maps.Copy(msgs[i].attrs, attrs)
			msgs[i].attrs[payload.AttrSize] = payload.SizeAttr(len(b))
			if m := len(msgs[i].body) + attributesSize(msgs[i].attrs); size+m > batchMax { // not with Store.Put's keys
				if err := flush(); err != nil {
					return unsent(results, err), err
				}
				n = m
			}
		}
		batch = append(batch, i)
		size += n
	}
	if err := flush(); err != nil {
		return unsent(results, err), err
	}
	return results, nil
}

// limits reads the queue's MaximumMessageSize once (DefaultMaxMessage when
// the client cannot ask, or the answer does not come: a producer without
// sqs:GetQueueAttributes would be refused on every call) and derives the
// threshold from it.
func (p *Producer) limits(ctx context.Context) limits {
	p.mu.Lock()
	defer p.mu.Unlock()
	queueMax := p.queueMax
	if queueMax == 0 {
		queueMax = DefaultMaxMessage
		asked := true
		if q, ok := p.Client.(QueueAttributes); ok {
			name := types.QueueAttributeNameMaximumMessageSize
			out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(p.QueueURL), AttributeNames: []types.QueueAttributeName{name}})
			if err == nil {
				if v, err := strconv.Atoi(out.Attributes[string(name)]); err == nil && v > 0 {
					queueMax = min(v, maxBatchBytes)
				}
			}
			asked = ctx.Err() == nil // else asked again next time
		}
		if asked {
			p.queueMax = queueMax
		}
	}
	l := limits{queueMax: queueMax, threshold: max(queueMax-AttributeHeadroom, 0)}
	if p.Threshold > 0 {
		l.threshold = min(l.threshold, p.Threshold)
	}
	return l
}

// describe says what the threshold is, for errors.
func (p *Producer) describe(l limits) string {
	if p.Threshold > 0 && p.Threshold == l.threshold {
		return fmt.Sprintf("the threshold of %d bytes", l.threshold)
	}
	return fmt.Sprintf("the %d bytes a message may have on this queue (its MaximumMessageSize %d less %d for sesq's attributes)", l.threshold, l.queueMax, AttributeHeadroom)
}

// attributesSize is the size SQS counts for attrs: each name, data type
// and value.
func attributesSize(attrs map[string]types.MessageAttributeValue) int {
	n := 0
	for k, v := range attrs {
		n += attributeSize(k, v)
	}
	return n
}

func attributeSize(name string, v types.MessageAttributeValue) int {
	return len(name) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue)) + len(v.BinaryValue)
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

// sendBatch sends one batch, retrying entries SQS
// failed on its side (not the sender's fault) a few times. On a FIFO queue
// a failed entry is not retried once a later entry of its group is in the
// queue, nor after an earlier one of its group failed for good: either
// would put it out of its group's order.
func (p *Producer) sendBatch(ctx context.Context, msgs []message, idx []int, results []Result, fifo bool) error {
	pending := append([]int(nil), idx...)
	sent := map[string]int{} // FIFO: the last envelope of each group in the queue
	for try := 0; len(pending) > 0; try++ {
		entries := make([]types.SendMessageBatchRequestEntry, len(pending))
		for j, i := range pending {
			m := msgs[i]
			entries[j] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(m.body), MessageAttributes: m.attrs}
			if m.ids.group != "" {
				entries[j].MessageGroupId = aws.String(m.ids.group)
			}
			if m.ids.dedup != "" {
				entries[j].MessageDeduplicationId = aws.String(m.ids.dedup)
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
			i, err := strconv.Atoi(aws.ToString(s.Id))
			if err != nil || i < 0 || i >= len(results) {
				continue
			}
			results[i].MessageID, results[i].Err = aws.ToString(s.MessageId), nil
			if last, ok := sent[msgs[i].ids.group]; fifo && (!ok || i > last) {
				sent[msgs[i].ids.group] = i
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
				g := msgs[i].ids.group
				last, overtaken := sent[g]
				again = again && !stuck[g] && !(overtaken && last > i)
				stuck[g] = stuck[g] || !again
			}
			if again {
				next = append(next, i)
			}
		}
		pending = next
	}
	return nil
}
