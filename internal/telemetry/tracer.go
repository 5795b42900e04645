package telemetry

import (
	"context"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/sesq/sesq/transport"
	"github.com/sesq/sesq/worker"
)

// Attributes of sesq's own, beside the semantic conventions'. None names
// a recipient, a subject or a body.
const (
	AttrEnvelopeID   = attribute.Key("sesq.envelope.id")    // the envelope's idempotency key
	AttrRegion       = attribute.Key("sesq.region")         // the identity's region
	AttrAction       = attribute.Key("sesq.action")         // SendEmail, SendTemplatedEmail, SendRawEmail
	AttrOutcome      = attribute.Key("sesq.outcome")        // the word of sesq_messages_total
	AttrReason       = attribute.Key("sesq.reason")         // the dead-letter reason
	AttrCode         = attribute.Key("sesq.code")           // the error code behind the outcome
	AttrAttempts     = attribute.Key("sesq.attempts")       // send calls over all deliveries
	AttrSESMessageID = attribute.Key("sesq.ses.message_id") // SES's id of the sent message
)

// Attributes of the AWS SDK conventions that semconv v1.43.0 no longer
// defines (the RPC conventions moved to rpc.system.name), as AWS SDK
// instrumentations and X-Ray still read them.
const (
	attrRPCSystem  = attribute.Key("rpc.system")
	attrRPCService = attribute.Key("rpc.service")
	attrAWSRegion  = attribute.Key("aws.region")
)

// Tracer is the worker.Tracer that makes OpenTelemetry spans.
type Tracer struct {
	tracer trace.Tracer
	queue  atomic.Pointer[queueNames] // the last queue's, computed once
}

// queueNames are a queue's name and the name of its delivery spans.
type queueNames struct{ url, name, span string }

func (t *Tracer) names(queueURL string) *queueNames {
	if q := t.queue.Load(); q != nil && q.url == queueURL {
		return q
	}
	q := &queueNames{url: queueURL, name: QueueName(queueURL)}
	q.span = "process " + q.name
	t.queue.Store(q)
	return q
}

var _ worker.Tracer = (*Tracer)(nil)

// NewTracer makes spans with tp's tracer.
func NewTracer(tp trace.TracerProvider) *Tracer {
	return &Tracer{tracer: tp.Tracer("github.com/sesq/sesq/worker", trace.WithSchemaURL(semconv.SchemaURL))}
}

// StartMessage begins the consumer span "process QUEUE" of one delivery, a
// child of the trace context the message carries (Parent).
func (t *Tracer) StartMessage(ctx context.Context, queueURL string, m types.Message) (context.Context, func(worker.MessageEnd)) {
	if parent := Parent(m); parent.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, parent)
	}
	q := t.names(queueURL)
	ctx, span := t.tracer.Start(ctx, q.span, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
		semconv.MessagingSystemAWSSQS,
		semconv.MessagingOperationTypeProcess,
		semconv.MessagingOperationName("process"),
		semconv.MessagingDestinationName(q.name),
		semconv.AWSSQSQueueURL(queueURL),
		semconv.MessagingMessageID(aws.ToString(m.MessageId)),
		semconv.MessagingMessageBodySize(len(aws.ToString(m.Body))),
	))
	return ctx, func(e worker.MessageEnd) {
		if span.IsRecording() {
			attrs := []attribute.KeyValue{AttrOutcome.String(e.Outcome), AttrAttempts.Int(e.Attempts)}
			if e.EnvelopeID != "" {
				attrs = append(attrs, AttrEnvelopeID.String(e.EnvelopeID), AttrRegion.String(e.Region), AttrAction.String(e.Action))
			}
			if e.Reason != "" {
				attrs = append(attrs, AttrReason.String(e.Reason))
			}
			if e.Code != "" {
				attrs = append(attrs, AttrCode.String(e.Code))
			}
			if e.SESMessageID != "" {
				attrs = append(attrs, AttrSESMessageID.String(e.SESMessageID))
			}
			span.SetAttributes(attrs...)
			if e.DeadLettered {
				span.SetAttributes(semconv.ErrorTypeKey.String(orOther(e.Code)))
				span.SetStatus(codes.Error, "dead-lettered: "+e.Reason)
			}
		}
		span.End()
	}
}

// StartSend begins the client span of one SES call: SERVICE.METHOD
// ("SES.SendRawEmail", "SESv2.SendEmail") with the AWS SDK conventions'
// attributes, or "smtp" for an SMTP conversation.
func (t *Tracer) StartSend(ctx context.Context, s worker.SendStart) (context.Context, func(worker.SendEnd)) {
	c := s.Call
	attrs := []attribute.KeyValue{semconv.CloudRegion(s.Region), attrAWSRegion.String(s.Region), AttrAction.String(s.Action)}
	if c.System != "" {
		attrs = append(attrs, attrRPCSystem.String(c.System))
	}
	if c.System == "smtp" {
		attrs = append(attrs, semconv.NetworkProtocolName("smtp"))
	}
	if c.Service != "" {
		attrs = append(attrs, attrRPCService.String(c.Service))
	}
	if c.Method != "" {
		attrs = append(attrs, semconv.RPCMethod(c.Method))
	}
	ctx, span := t.tracer.Start(ctx, spanName(c), trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return ctx, func(e worker.SendEnd) {
		if span.IsRecording() {
			if e.Failed {
				span.SetAttributes(semconv.ErrorTypeKey.String(orOther(e.Code)), AttrCode.String(e.Code))
				span.SetStatus(codes.Error, e.Code+": "+e.Message)
			} else if e.MessageID != "" {
				span.SetAttributes(AttrSESMessageID.String(e.MessageID))
			}
		}
		span.End()
	}
}

// spanName is an SES call's span name: Service.Operation, as the AWS SDK
// conventions name it, else the system's name.
func spanName(c transport.Call) string {
	switch {
	case c.Service != "" && c.Method != "":
		return c.Service + "." + c.Method
	case c.System != "":
		return c.System
	case c.Method != "":
		return c.Method
	}
	return "send"
}

func orOther(code string) string {
	if code == "" {
		return "_OTHER"
	}
	return code
}

// QueueName is the queue's name, the last part of its URL
// (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME).
func QueueName(queueURL string) string {
	return queueURL[strings.LastIndexByte(queueURL, '/')+1:]
}

// Parent is the producer's trace context that m carries: its W3C
// traceparent (and tracestate) message attributes, else its X-Ray
// AWSTraceHeader system attribute. Invalid when it carries neither, or
// neither parses.
func Parent(m types.Message) trace.SpanContext {
	if _, ok := m.MessageAttributes[AttrTraceParent]; ok {
		ctx := propagation.TraceContext{}.Extract(context.Background(), attributeCarrier(m.MessageAttributes))
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			return sc
		}
	}
	if h := m.Attributes[string(types.MessageSystemAttributeNameAWSTraceHeader)]; h != "" {
		if sc, ok := ParseXRay(h); ok {
			return sc
		}
	}
	return trace.SpanContext{}
}
