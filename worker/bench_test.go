package worker_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/sesq/sesq/envelope"
	"github.com/sesq/sesq/idempotency"
	"github.com/sesq/sesq/internal/telemetry"
	"github.com/sesq/sesq/transport"
	"github.com/sesq/sesq/worker"
)

// nopQueue answers every SQS call at once.
type nopQueue struct{}

func (nopQueue) ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	return &sqs.ReceiveMessageOutput{}, nil
}

func (nopQueue) DeleteMessageBatch(context.Context, *sqs.DeleteMessageBatchInput, ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	return &sqs.DeleteMessageBatchOutput{}, nil
}

func (nopQueue) ChangeMessageVisibilityBatch(context.Context, *sqs.ChangeMessageVisibilityBatchInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	return &sqs.ChangeMessageVisibilityBatchOutput{}, nil
}

func (nopQueue) SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return &sqs.SendMessageOutput{}, nil
}

// acceptingSES accepts every send at once.
type acceptingSES struct{}

func (acceptingSES) Send(context.Context, *envelope.Envelope) (string, error) { return "ses-id", nil }
func (acceptingSES) Validate(*envelope.Envelope) error                        { return nil }
func (acceptingSES) SendQuota(context.Context, string) (float64, error) {
	return 0, transport.ErrNoQuota
}
func (acceptingSES) Close() error { return nil }

// newStore is an idempotency store that lets every delivery send.
type newStore struct{}

func (newStore) Claim(context.Context, string, string, time.Duration) (idempotency.Claim, error) {
	return idempotency.Claim{State: idempotency.New}, nil
}
func (newStore) Renew(context.Context, string, string, time.Duration) error { return nil }
func (newStore) Done(context.Context, string, string) error                 { return nil }
func (newStore) Release(context.Context, string, string) error              { return nil }

// nopTracer is a worker.Tracer that does nothing, at no cost of its own.
type nopTracer struct{}

func nopEnd(worker.MessageEnd)  {}
func nopSendEnd(worker.SendEnd) {}

func (nopTracer) StartMessage(ctx context.Context, _ string, _ types.Message) (context.Context, func(worker.MessageEnd)) {
	return ctx, nopEnd
}

func (nopTracer) StartSend(ctx context.Context, _ worker.SendStart) (context.Context, func(worker.SendEnd)) {
	return ctx, nopSendEnd
}

// discard is a span exporter that drops what it is given.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkMessage is the worker's per-message path (decide, claim, send,
// act, log) for a message SES accepts, with tracing off (no tracer: the
// default), with a tracer that does nothing, with OpenTelemetry's no-op
// provider, and on: sampled (spans batched to an exporter that drops
// them) and a producer's trace that is not sampled.
func BenchmarkMessage(b *testing.B) {
	sampled := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}, sdktrace.WithMaxQueueSize(1<<16)))
	defer sampled.Shutdown(context.Background())
	for _, c := range []struct {
		name        string
		tracer      worker.Tracer
		traceparent string
	}{
		{"off", nil, ""},
		{"nop-tracer", nopTracer{}, ""},
		{"otel-noop-provider", telemetry.NewTracer(noop.NewTracerProvider()), ""},
		{"otel-sampled", telemetry.NewTracer(sampled), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		{"otel-parent-not-sampled", telemetry.NewTracer(sampled), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"},
	} {
		b.Run(c.name, func(b *testing.B) {
			cfg := worker.DefaultConfig()
			cfg.QueueURL, cfg.DLQURL = "https://sqs.us-east-1.amazonaws.com/1/mail", "https://sqs.us-east-1.amazonaws.com/1/mail-dlq"
			w := worker.New(cfg, nopQueue{}, acceptingSES{}, worker.Options{
				Logger: slog.New(slog.DiscardHandler), Idempotency: newStore{}, Tracer: c.tracer,
			})
			handle, stop := worker.HandleOne(w)
			defer stop()
			body := aws.String(`{"version":1,"id":"bench","action":"SendEmail","sourceArn":"arn:aws:ses:us-east-1:123456789012:identity/example.com","source":"s@example.com","destination":{"to":["r@example.net"]},"message":{"subject":{"data":"s"},"body":{"text":{"data":"b"}}}}`)
			msgs := make([]types.Message, 1024)
			for i := range msgs {
				msgs[i] = types.Message{MessageId: aws.String(fmt.Sprint("m-", i)), ReceiptHandle: aws.String(fmt.Sprint("h-", i)), Body: body,
					Attributes: map[string]string{"SentTimestamp": "1764590000000", "ApproximateReceiveCount": "1"}}
				if c.traceparent != "" {
					msgs[i].MessageAttributes = map[string]types.MessageAttributeValue{"traceparent": {DataType: aws.String("String"), StringValue: aws.String(c.traceparent)}}
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				handle(msgs[i%len(msgs)])
			}
		})
	}
}
