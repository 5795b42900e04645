package telemetry_test

// A traced run: the real worker against an in-memory SQS and a scripted
// SES, in a testing/synctest bubble, its spans kept by OpenTelemetry's
// in-memory exporter and checked: the delivery's span continues the
// producer's trace (traceparent, AWSTraceHeader, envelope.Producer), each
// SES call is its child, the attributes are there, and none names a
// recipient, a subject or a body.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/sesq/sesq/envelope"
	"github.com/sesq/sesq/internal/telemetry"
	"github.com/sesq/sesq/internal/testsupport/sqsfake"
	"github.com/sesq/sesq/internal/testsupport/testkit"
	"github.com/sesq/sesq/transport"
	"github.com/sesq/sesq/worker"
)

// What no span may carry.
var private = []string{"private-recipient", "secret subject", "secret body", "private-sender"}

func body(id string) string {
	return fmt.Sprintf(`{"version":1,"id":%q,"action":"SendEmail","sourceArn":"arn:aws:ses:eu-west-1:123456789012:identity/example.com","source":"private-sender@example.com","destination":{"to":["private-recipient@example.net"]},"message":{"subject":{"data":"secret subject"},"body":{"text":{"data":"secret body"}}}}`, id)
}

// ses is a scripted SES v1 API: each envelope id's errors in order, then
// success. It keeps the span context each call was made in.
type ses struct {
	mu     sync.Mutex
	script map[string][]error
	spans  map[string][]trace.SpanContext
}

func (s *ses) Send(ctx context.Context, e *envelope.Envelope) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.spans[e.Key()] = append(s.spans[e.Key()], trace.SpanContextFromContext(ctx))
	if errs := s.script[e.Key()]; len(errs) > 0 {
		s.script[e.Key()] = errs[1:]
		return "", errs[0]
	}
	return "ses-" + e.Key(), nil
}

func (*ses) Validate(*envelope.Envelope) error                  { return nil }
func (*ses) SendQuota(context.Context, string) (float64, error) { return 0, transport.ErrNoQuota }
func (*ses) Close() error                                       { return nil }

func (*ses) Call(action string) transport.Call {
	return transport.Call{System: "aws-api", Service: "SES", Method: action}
}

var (
	errRejected = &transport.Error{Class: transport.Rejected, Code: "MessageRejected", Message: "Email address is not verified: [address]", PerMessage: true}
	errDaily    = &transport.Error{Class: transport.Quota, Code: "Throttling", Message: "Daily message quota exceeded."}
)

// rig is one traced run's queues, SES and spans.
type rig struct {
	t          *testing.T
	sqs        *sqsfake.SQS
	queue, dlq string
	ses        *ses
	spans      *tracetest.InMemoryExporter
	tp         *sdktrace.TracerProvider
}

func newRig(t *testing.T) *rig {
	s := sqsfake.New()
	dlq := s.CreateQueue("mail-dlq", sqsfake.QueueOptions{})
	q := s.CreateQueue("mail", sqsfake.QueueOptions{VisibilityTimeout: time.Minute, RedriveTo: dlq, MaxReceiveCount: 20})
	spans := tracetest.NewInMemoryExporter()
	return &rig{t: t, sqs: s, queue: q, dlq: dlq, spans: spans,
		ses: &ses{script: map[string][]error{}, spans: map[string][]trace.SpanContext{}},
		tp:  sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))}
}

// run runs a traced worker for d of the bubble's time.
func (r *rig) run(d time.Duration) {
	cfg := worker.DefaultConfig()
	cfg.QueueURL, cfg.DLQURL, cfg.Concurrency = r.queue, r.dlq, 4
	w := worker.New(cfg, r.sqs.Client("worker"), r.ses, worker.Options{
		Logger: testkit.TestLogger(r.t), Tracer: telemetry.NewTracer(r.tp),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := w.Run(ctx); err != nil {
			r.t.Errorf("Run: %v", err)
		}
	}()
	time.Sleep(d)
	cancel()
	<-done
}

func (r *rig) enqueue(body string, attrs map[string]string, xray string) {
	in := &sqs.SendMessageInput{QueueUrl: aws.String(r.queue), MessageBody: aws.String(body)}
	for k, v := range attrs {
		if in.MessageAttributes == nil {
			in.MessageAttributes = map[string]types.MessageAttributeValue{}
		}
		in.MessageAttributes[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	if xray != "" {
		in.MessageSystemAttributes = map[string]types.MessageSystemAttributeValue{
			"AWSTraceHeader": {DataType: aws.String("String"), StringValue: aws.String(xray)},
		}
	}
	if _, err := r.sqs.SendMessage(context.Background(), in); err != nil {
		r.t.Fatal(err)
	}
}

// processSpans are the delivery spans of envelope id, in the order they
// ended.
func (r *rig) processSpans(id string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range r.spans.GetSpans() {
		if s.SpanKind == trace.SpanKindConsumer && attr(s, "sesq.envelope.id") == id {
			out = append(out, s)
		}
	}
	return out
}

// children are the spans whose parent is span.
func (r *rig) children(span tracetest.SpanStub) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range r.spans.GetSpans() {
		if s.Parent.SpanID() == span.SpanContext.SpanID() && s.Parent.TraceID() == span.SpanContext.TraceID() {
			out = append(out, s)
		}
	}
	return out
}

func attr(s tracetest.SpanStub, key string) string {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value.Emit()
		}
	}
	return ""
}

// wantAttrs checks span's attributes against want ("" wants it absent).
func wantAttrs(t *testing.T, s tracetest.SpanStub, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := attr(s, k); got != v {
			t.Errorf("span %q: %s = %q, want %q", s.Name, k, got, v)
		}
	}
}

// noPII fails on any span attribute or status that carries a private word.
func (r *rig) noPII() {
	r.t.Helper()
	for _, s := range r.spans.GetSpans() {
		texts := []string{s.Name, s.Status.Description}
		for _, a := range s.Attributes {
			texts = append(texts, a.Value.Emit())
		}
		for _, e := range s.Events {
			texts = append(texts, e.Name)
			for _, a := range e.Attributes {
				texts = append(texts, a.Value.Emit())
			}
		}
		for _, text := range texts {
			for _, p := range private {
				if strings.Contains(text, p) {
					r.t.Errorf("span %q carries %q: %q", s.Name, p, text)
				}
			}
		}
	}
}

const (
	traceID     = "4bf92f3577b34da6a3ce929d0e0e4736"
	parentID    = "00f067aa0ba902b7"
	traceparent = "00-" + traceID + "-" + parentID + "-01"
	xray        = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
)

// A message with a traceparent: its delivery's span is a child of the
// producer's span, in its trace (tracestate kept), the SES call's span a
// child of the delivery's, and the transport is called within it.
func TestTraceparentIsContinuedIntoTheSESCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.enqueue(body("w3c"), map[string]string{"traceparent": traceparent, "tracestate": "vendor=opaque"}, "")
		r.run(time.Minute)

		ps := r.processSpans("w3c")
		if len(ps) != 1 {
			t.Fatalf("%d process spans, want 1: %v", len(ps), r.spans.GetSpans())
		}
		p := ps[0]
		if p.Parent.TraceID().String() != traceID || p.Parent.SpanID().String() != parentID || !p.Parent.IsRemote() {
			t.Errorf("process span's parent %v, want the producer's %s/%s", p.Parent, traceID, parentID)
		}
		if p.SpanContext.TraceID().String() != traceID || p.SpanContext.TraceState().Get("vendor") != "opaque" {
			t.Errorf("process span %v is not in the producer's trace, with its tracestate", p.SpanContext)
		}
		if p.Name != "process mail" || p.SpanKind != trace.SpanKindConsumer || p.Status.Code == codes.Error {
			t.Errorf("process span %q kind %v status %v", p.Name, p.SpanKind, p.Status)
		}
		wantAttrs(t, p, map[string]string{
			"messaging.system": "aws_sqs", "messaging.operation.type": "process", "messaging.operation.name": "process",
			"messaging.destination.name": "mail", "aws.sqs.queue.url": r.queue,
			"sesq.envelope.id": "w3c", "sesq.region": "eu-west-1", "sesq.action": "SendEmail",
			"sesq.outcome": "sent", "sesq.attempts": "1", "sesq.ses.message_id": "ses-w3c",
			"sesq.reason": "", "sesq.code": "", "error.type": "",
		})
		if attr(p, "messaging.message.id") == "" || attr(p, "messaging.message.body.size") != fmt.Sprint(len(body("w3c"))) {
			t.Errorf("message id %q, body size %q", attr(p, "messaging.message.id"), attr(p, "messaging.message.body.size"))
		}

		calls := r.children(p)
		if len(calls) != 1 {
			t.Fatalf("%d children of the process span, want the one SES call", len(calls))
		}
		c := calls[0]
		if c.Name != "SES.SendEmail" || c.SpanKind != trace.SpanKindClient || c.Status.Code == codes.Error {
			t.Errorf("SES span %q kind %v status %v", c.Name, c.SpanKind, c.Status)
		}
		wantAttrs(t, c, map[string]string{
			"rpc.system": "aws-api", "rpc.service": "SES", "rpc.method": "SendEmail",
			"cloud.region": "eu-west-1", "aws.region": "eu-west-1", "sesq.action": "SendEmail", "sesq.ses.message_id": "ses-w3c",
		})
		if got := r.ses.spans["w3c"]; len(got) != 1 || !got[0].Equal(c.SpanContext) {
			t.Errorf("the transport was called in span %v, want the SES span's %v", got, c.SpanContext)
		}
		r.noPII()
	})
}

// A message with SQS's AWSTraceHeader (X-Ray's format) and no
// traceparent: its delivery continues the X-Ray trace; a deferral puts it
// back with the header, and the next delivery continues it too.
func TestAWSTraceHeaderIsContinuedAcrossAHandBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.ses.script["xray"] = []error{errDaily}
		r.enqueue(body("xray"), nil, xray)
		r.run(20 * time.Minute) // the quota delay is 15 minutes

		ps := r.processSpans("xray")
		if len(ps) != 2 {
			t.Fatalf("%d process spans, want 2 (deferred, then sent)", len(ps))
		}
		for i, p := range ps {
			if p.Parent.TraceID().String() != "5759e988bd862e3fe1be46a994272793" || p.Parent.SpanID().String() != "53995c3f42cd8ad8" || !p.Parent.IsSampled() {
				t.Errorf("delivery %d: parent %v, want the X-Ray header's", i+1, p.Parent)
			}
		}
		wantAttrs(t, ps[0], map[string]string{"sesq.outcome": "deferred", "sesq.code": "Throttling", "sesq.attempts": "0"})
		wantAttrs(t, ps[1], map[string]string{"sesq.outcome": "sent", "sesq.attempts": "1"})
		first := r.children(ps[0])
		if len(first) != 1 || first[0].Status.Code != codes.Error || attr(first[0], "error.type") != "Throttling" {
			t.Errorf("the throttled SES call's span: %+v", first)
		}
		r.noPII()
	})
}

// A message SES rejects: its SES span and its delivery's span end in
// error, and the dead letter keeps the trace context.
func TestRejectedMessageSpansAndDeadLetter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.ses.script["rej"] = []error{errRejected}
		r.enqueue(body("rej"), map[string]string{"traceparent": traceparent}, xray)
		r.run(time.Minute)

		ps := r.processSpans("rej")
		if len(ps) != 1 {
			t.Fatalf("%d process spans", len(ps))
		}
		p := ps[0]
		if p.Status.Code != codes.Error || p.Status.Description != "dead-lettered: rejected" {
			t.Errorf("process span status %+v", p.Status)
		}
		wantAttrs(t, p, map[string]string{"sesq.outcome": "rejected", "sesq.reason": "rejected", "sesq.code": "MessageRejected", "error.type": "MessageRejected"})
		if p.Parent.TraceID().String() != traceID {
			t.Errorf("traceparent did not win over AWSTraceHeader: parent %v", p.Parent)
		}
		calls := r.children(p)
		if len(calls) != 1 || calls[0].Status.Code != codes.Error || calls[0].Status.Description != "MessageRejected: Email address is not verified: [address]" {
			t.Fatalf("SES span: %+v", calls)
		}
		dead := r.sqs.Messages(r.dlq)
		if len(dead) != 1 || dead[0].Attributes["traceparent"] != traceparent {
			t.Errorf("dead letter %+v lost the trace context", dead)
		}
		r.noPII()
	})
}

// envelope.Producer with a span in its context: the worker's span of the
// message is a child of the producer's.
func TestProducerSpanIsTheParent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		ctx, span := telemetry.StartProducer(context.Background(), r.tp, r.queue, 1)
		p := &envelope.Producer{Client: r.sqs, QueueURL: r.queue}
		if res, err := p.EnqueueBodies(ctx, [][]byte{[]byte(body("produced"))}); err != nil || res[0].Err != nil {
			t.Fatalf("enqueue: %v %+v", err, res)
		}
		span.End()
		r.run(time.Minute)

		ps := r.processSpans("produced")
		if len(ps) != 1 || ps[0].Parent.SpanID() != span.SpanContext().SpanID() || ps[0].SpanContext.TraceID() != span.SpanContext().TraceID() {
			t.Fatalf("process spans %v, want one child of the producer's %v", ps, span.SpanContext())
		}
		var producer tracetest.SpanStub
		for _, s := range r.spans.GetSpans() {
			if s.SpanKind == trace.SpanKindProducer {
				producer = s
			}
		}
		if producer.Name != "send mail" {
			t.Errorf("producer span %q", producer.Name)
		}
		wantAttrs(t, producer, map[string]string{"messaging.system": "aws_sqs", "messaging.operation.type": "send", "messaging.destination.name": "mail", "messaging.batch.message_count": "1"})
	})
}

// A producer that decided not to sample: the worker records nothing of
// the message (the default sampler follows the parent).
func TestUnsampledParentIsNotRecorded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.enqueue(body("unsampled"), map[string]string{"traceparent": "00-" + traceID + "-" + parentID + "-00"}, "")
		r.enqueue(body("unsampled-xray"), nil, strings.Replace(xray, "Sampled=1", "Sampled=0", 1))
		r.enqueue(body("untraced"), nil, "")
		r.run(time.Minute)
		ps := r.processSpans("untraced")
		if len(ps) != 1 || ps[0].Parent.IsValid() {
			t.Fatalf("a message without a trace context: spans %v, want one root span", ps)
		}
		for _, s := range r.spans.GetSpans() {
			if s.SpanContext.TraceID() != ps[0].SpanContext.TraceID() {
				t.Errorf("span %q (%s) of an unsampled parent recorded", s.Name, attr(s, "sesq.envelope.id"))
			}
		}
		if n := len(r.spans.GetSpans()); n != 2 {
			t.Errorf("%d spans, want the untraced message's 2", n)
		}
	})
}
