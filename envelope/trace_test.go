package envelope_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel/trace"

	"github.com/sesq/sesq/envelope"
)

// recorder is an SQS that accepts every batch and keeps its entries.
type recorder struct {
	entries []types.SendMessageBatchRequestEntry
}

func (r *recorder) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		r.entries = append(r.entries, e)
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String("m-" + aws.ToString(e.Id))})
	}
	return out, nil
}

// A producer whose context carries a span gives every message the span's
// W3C trace context; one without a span adds nothing.
func TestProducerInjectsTheTraceContext(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ts, _ := trace.ParseTraceState("vendor=opaque")
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, TraceState: ts})
	bodies := [][]byte{env(nil), env(map[string]any{"id": "second"})}

	r := &recorder{}
	p := &envelope.Producer{Client: r, QueueURL: "https://sqs.us-east-1.amazonaws.com/1/mail"}
	results, err := p.EnqueueBodies(trace.ContextWithSpanContext(context.Background(), sc), bodies)
	if err != nil || results[0].Err != nil || results[1].Err != nil {
		t.Fatalf("enqueue: %v %+v", err, results)
	}
	for _, e := range r.entries {
		if got := aws.ToString(e.MessageAttributes["traceparent"].StringValue); got != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
			t.Errorf("traceparent %q", got)
		}
		if got := aws.ToString(e.MessageAttributes["tracestate"].StringValue); got != "vendor=opaque" {
			t.Errorf("tracestate %q", got)
		}
		if len(e.MessageAttributes) != 2 {
			t.Errorf("attributes %v", e.MessageAttributes)
		}
	}

	r = &recorder{}
	p.Client = r
	if _, err := p.EnqueueBodies(context.Background(), bodies); err != nil {
		t.Fatal(err)
	}
	for _, e := range r.entries {
		if e.MessageAttributes != nil {
			t.Errorf("attributes without a span: %v", e.MessageAttributes)
		}
	}
}

// The trace context counts toward the message's size: a body that fits
// alone (a client without GetQueueAttributes: DefaultMaxMessage less
// AttributeHeadroom) does not fit beside it.
func TestProducerCountsTheTraceContextInTheSize(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
	withText := func(text string) []byte {
		return env(map[string]any{"message": map[string]any{"subject": map[string]any{"data": "s"}, "body": map[string]any{"text": map[string]any{"data": text}}}})
	}
	limit := envelope.DefaultMaxMessage - envelope.AttributeHeadroom
	body := withText(strings.Repeat("x", limit-len(withText(""))))
	if len(body) != limit {
		t.Fatalf("test body is %d bytes", len(body))
	}
	p := &envelope.Producer{Client: &recorder{}, QueueURL: "q"}
	if res, _ := p.EnqueueBodies(context.Background(), [][]byte{body}); res[0].Err != nil {
		t.Fatalf("a body of exactly the limit refused without a span: %v", res[0].Err)
	}
	if res, _ := p.EnqueueBodies(ctx, [][]byte{body}); !errors.Is(res[0].Err, envelope.ErrTooLarge) || !strings.Contains(res[0].Err.Error(), fmt.Sprintf("body is %d bytes (%d with its message attributes)", limit, limit+len("traceparent")+len("String")+55)) {
		t.Fatalf("a body of exactly the limit taken beside the trace context: %v", res[0].Err)
	}
}

// cancels is an SQS whose first batch is cut off by the caller's context.
type cancels struct {
	cancel func()
	calls  int
}

func (c *cancels) SendMessageBatch(ctx context.Context, _ *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	c.calls++
	c.cancel()
	return nil, ctx.Err()
}

// A send cut off by the context leaves no envelope looking sent: every one
// neither sent nor refused carries the error.
func TestProducerMarksUnsentEnvelopes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bodies := [][]byte{[]byte(`{"version":1}`)}
	for i := range 12 { // two batches
		bodies = append(bodies, env(map[string]any{"id": fmt.Sprint("e", i)}))
	}
	c := &cancels{cancel: cancel}
	results, err := (&envelope.Producer{Client: c, QueueURL: "https://sqs.us-east-1.amazonaws.com/1/mail"}).EnqueueBodies(ctx, bodies)
	if !errors.Is(err, context.Canceled) || c.calls != 1 {
		t.Fatalf("err %v after %d calls", err, c.calls)
	}
	for i, r := range results {
		if r.Err == nil || r.MessageID != "" {
			t.Errorf("envelope %d: %+v, want an error and no id", i, r)
		}
	}
	if strings.HasPrefix(results[0].Err.Error(), "not sent") || !strings.HasPrefix(results[12].Err.Error(), "not sent: ") {
		t.Errorf("errors %v, %v: want the invalid one as invalid, the unsent marked", results[0].Err, results[12].Err)
	}
}

// Every message's MessageGroupId is its envelope's tenant (an SQS fair
// queue on a standard queue), unless the producer turns it off.
func TestProducerGroupsByTenant(t *testing.T) {
	bodies := [][]byte{env(nil), env(map[string]any{"id": "t", "tenantName": "customer-42"})}
	r := &recorder{}
	p := &envelope.Producer{Client: r, QueueURL: "https://sqs.us-east-1.amazonaws.com/1/mail"}
	if _, err := p.EnqueueBodies(context.Background(), bodies); err != nil {
		t.Fatal(err)
	}
	if len(r.entries) != 2 || aws.ToString(r.entries[0].MessageGroupId) != "123456789012" || aws.ToString(r.entries[1].MessageGroupId) != "customer-42" {
		t.Errorf("groups %q, %q; want the owner's account id, then the SES tenant", aws.ToString(r.entries[0].MessageGroupId), aws.ToString(r.entries[1].MessageGroupId))
	}
	r = &recorder{}
	p = &envelope.Producer{Client: r, QueueURL: "https://sqs.us-east-1.amazonaws.com/1/mail", NoGroupID: true}
	if _, err := p.EnqueueBodies(context.Background(), bodies); err != nil || r.entries[0].MessageGroupId != nil || r.entries[1].MessageGroupId != nil {
		t.Errorf("NoGroupID: %v, groups %v %v", err, r.entries[0].MessageGroupId, r.entries[1].MessageGroupId)
	}
}
