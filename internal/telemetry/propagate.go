package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/sesq/sesq/envelope"
)

// The message attributes of the W3C trace context (envelope.Producer sets
// them).
const (
	AttrTraceParent = "traceparent"
	AttrTraceState  = "tracestate"
)

// attributeCarrier reads and writes the trace context in SQS message
// attributes.
type attributeCarrier = envelope.AttributeCarrier

// envCarrier reads the trace context from the environment: TRACEPARENT
// and TRACESTATE, as OpenTelemetry's environment-variable propagation
// names them for a process started within a trace (a CI job, a script).
type envCarrier func(string) string

func (e envCarrier) Get(key string) string {
	switch key {
	case AttrTraceParent:
		return e("TRACEPARENT")
	case AttrTraceState:
		return e("TRACESTATE")
	}
	return ""
}

func (envCarrier) Set(string, string) {}

func (envCarrier) Keys() []string { return []string{AttrTraceParent, AttrTraceState} }

// FromEnv returns ctx with the remote span context that TRACEPARENT (and
// TRACESTATE), read through getenv, name; ctx itself when they name none.
func FromEnv(ctx context.Context, getenv func(string) string) context.Context {
	if getenv("TRACEPARENT") == "" {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, envCarrier(getenv))
}

// StartProducer begins the producer span "send QUEUE" of one batch of n
// messages that a producer enqueues on the queue at queueURL: the
// messages' trace context (envelope.Producer injects the span in ctx).
func StartProducer(ctx context.Context, tp trace.TracerProvider, queueURL string, n int) (context.Context, trace.Span) {
	queue := QueueName(queueURL)
	return tp.Tracer("github.com/sesq/sesq/envelope", trace.WithSchemaURL(semconv.SchemaURL)).Start(ctx, "send "+queue,
		trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(
			semconv.MessagingSystemAWSSQS,
			semconv.MessagingOperationTypeSend,
			semconv.MessagingOperationName("send"),
			semconv.MessagingDestinationName(queue),
			semconv.AWSSQSQueueURL(queueURL),
			semconv.MessagingBatchMessageCount(n),
		))
}
