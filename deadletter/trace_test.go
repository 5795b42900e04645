package deadletter_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/sesq/sesq/deadletter"
	"github.com/sesq/sesq/internal/testsupport/sqsfake"
)

const (
	traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	xrayHeader  = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
)

// receiveOne receives the one message of url with every attribute.
func receiveOne(t *testing.T, s *sqsfake.SQS, url string) types.Message {
	t.Helper()
	out, err := s.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(url), MessageAttributeNames: []string{"All"},
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
	})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("receive from %s: %v, %d messages", url, err, len(out.Messages))
	}
	return out.Messages[0]
}

// A message's trace goes on through the dead-letter queue: Write keeps its
// W3C trace context and its X-Ray header, and so does a replay.
func TestWriteAndReplayKeepTheTrace(t *testing.T) {
	s := sqsfake.New()
	src := s.CreateQueue("mail", sqsfake.QueueOptions{})
	dlq := s.CreateQueue("mail-dlq", sqsfake.QueueOptions{})
	ctx := context.Background()
	_, err := s.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(src), MessageBody: aws.String("body"),
		MessageAttributes: map[string]types.MessageAttributeValue{"traceparent": str(traceparent), "tracestate": str("v=1")},
		MessageSystemAttributes: map[string]types.MessageSystemAttributeValue{
			"AWSTraceHeader": {DataType: aws.String("String"), StringValue: aws.String(xrayHeader)},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(where string, m types.Message) {
		t.Helper()
		if got := aws.ToString(m.MessageAttributes["traceparent"].StringValue); got != traceparent {
			t.Errorf("%s: traceparent %q", where, got)
		}
		if got := aws.ToString(m.MessageAttributes["tracestate"].StringValue); got != "v=1" {
			t.Errorf("%s: tracestate %q", where, got)
		}
		if got := m.Attributes["AWSTraceHeader"]; got != xrayHeader {
			t.Errorf("%s: AWSTraceHeader %q", where, got)
		}
	}
	m := receiveOne(t, s, src)
	check("received", m)

	w := &deadletter.Writer{Client: s, QueueURL: dlq, SourceQueue: src}
	if err := w.Write(ctx, m, deadletter.Failure{Reason: "rejected", Code: "MessageRejected"}); err != nil {
		t.Fatal(err)
	}
	s.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(src), ReceiptHandle: m.ReceiptHandle})
	dead := receiveOne(t, s, dlq)
	check("dead-lettered", dead)
	s.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(dlq), ReceiptHandle: dead.ReceiptHandle, VisibilityTimeout: 0})

	sum, err := deadletter.Replay(ctx, s, dlq, deadletter.ReplayOptions{To: src})
	if err != nil || sum.Moved != 1 {
		t.Fatalf("replay: %+v, %v", sum, err)
	}
	check("replayed", receiveOne(t, s, src))
}

// A trace header SQS would refuse on a send is not copied; and when SQS
// refuses a send that carries one all the same, the message goes again
// without it: the trace is optional, the message is not.
func TestTraceHeaderNeverBlocksASend(t *testing.T) {
	for h, valid := range map[string]bool{
		"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1": true,
		"Root=1-5759e988-bd862e3fe1be46a994272793":                                   true,
		"":                                  false,
		"Root=1-5759e988-bd862e3fe1be46a9":  false,
		"Parent=53995c3f42cd8ad8;Sampled=1": false,
		"Root=1-5759e98g-bd862e3fe1be46a994272793":                    false,
		"Root=1-5759e988-bd862e3fe1be46a994272793;Note=\u00e9t\u00e9": false,
	} {
		got := deadletter.CarriedSystem(types.Message{Attributes: map[string]string{"AWSTraceHeader": h}}) != nil
		if got != valid {
			t.Errorf("%q carried %v, want %v", h, got, valid)
		}
	}
	s := &refusesTrace{}
	w := deadletter.Writer{Client: s, QueueURL: "https://sqs.us-east-1.amazonaws.com/1/q-dlq"}
	m := types.Message{Body: aws.String("b"), Attributes: map[string]string{"AWSTraceHeader": xrayHeader}}
	if err := w.Write(context.Background(), m, deadletter.Failure{Reason: "rejected", At: time.Now()}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if s.calls != 2 || s.sent == nil || s.sent.MessageSystemAttributes != nil {
		t.Errorf("%d sends, last %+v; want a second send without the trace header", s.calls, s.sent)
	}
}

// refusesTrace is an SQS that refuses every send carrying a trace header.
type refusesTrace struct {
	calls int
	sent  *sqs.SendMessageInput
}

func (r *refusesTrace) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	r.calls++
	if in.MessageSystemAttributes != nil {
		return nil, &smithy.GenericAPIError{Code: "InvalidParameterValue", Message: "AWSTraceHeader is not a valid trace header"}
	}
	r.sent = in
	return &sqs.SendMessageOutput{MessageId: aws.String("m")}, nil
}

// A message's fair-queue group (its tenant) goes along when it is
// dead-lettered and replayed; a group SQS would not take back is dropped.
func TestWriteAndReplayKeepTheGroup(t *testing.T) {
	s := sqsfake.New()
	src := s.CreateQueue("mail", sqsfake.QueueOptions{})
	dlq := s.CreateQueue("mail-dlq", sqsfake.QueueOptions{})
	ctx := context.Background()
	if _, err := s.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(src), MessageBody: aws.String("body"), MessageGroupId: aws.String("customer-42")}); err != nil {
		t.Fatal(err)
	}
	recv := func(url string) types.Message {
		out, err := s.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 1,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameMessageGroupId}})
		if err != nil || len(out.Messages) != 1 {
			t.Fatalf("receive from %s: %v %v", url, err, out)
		}
		return out.Messages[0]
	}
	m := recv(src)
	w := deadletter.Writer{Client: s, QueueURL: dlq}
	if err := w.Write(ctx, m, deadletter.Failure{Reason: "rejected", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if g := recv(dlq).Attributes["MessageGroupId"]; g != "customer-42" {
		t.Errorf("dead letter's group %q", g)
	}
	for g, kept := range map[string]bool{"customer-42": true, "": false, "has space": false, strings.Repeat("x", 129): false} {
		got := deadletter.CarriedGroup(types.Message{Attributes: map[string]string{"MessageGroupId": g}}) != nil
		if got != kept {
			t.Errorf("group %q carried %v, want %v", g, got, kept)
		}
	}
}

// sqsSaying answers every send carrying a group or trace header with err.
type sqsSaying struct {
	err   error
	calls []*sqs.SendMessageInput
}

func (s *sqsSaying) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	s.calls = append(s.calls, in)
	if in.MessageGroupId != nil || in.MessageSystemAttributes != nil {
		return nil, s.err
	}
	return &sqs.SendMessageOutput{MessageId: aws.String("m")}, nil
}

// A send refused for what it carries goes again without the group and the
// trace; a send that failed for another reason is not sent again (it would
// fail the same, or land twice).
func TestSendCarriedFallsBackOnlyOnARefusedParameter(t *testing.T) {
	in := &sqs.SendMessageInput{QueueUrl: aws.String("q"), MessageBody: aws.String("b"), MessageGroupId: aws.String("t")}
	refused := &sqsSaying{err: &smithy.GenericAPIError{Code: "InvalidParameterValue", Message: "MessageGroupId", Fault: smithy.FaultClient}}
	if _, err := deadletter.SendCarried(context.Background(), refused, in); err != nil || len(refused.calls) != 2 || refused.calls[1].MessageGroupId != nil {
		t.Errorf("refused parameter: %v after %d calls", err, len(refused.calls))
	}
	for _, e := range []error{
		&smithy.GenericAPIError{Code: "RequestThrottled", Message: "slow down", Fault: smithy.FaultClient},
		&smithy.GenericAPIError{Code: "InternalError", Message: "oops", Fault: smithy.FaultServer},
		&smithy.GenericAPIError{Code: "KmsThrottled", Message: "kms", Fault: smithy.FaultClient},
	} {
		s := &sqsSaying{err: e}
		if _, err := deadletter.SendCarried(context.Background(), s, in); err == nil || len(s.calls) != 1 {
			t.Errorf("%v: %d calls, err %v; want one call and the error", e, len(s.calls), err)
		}
	}
}

// dlq replay keeps a dead letter's group (its tenant) too.
func TestReplayKeepsTheGroup(t *testing.T) {
	s := sqsfake.New()
	src := s.CreateQueue("mail", sqsfake.QueueOptions{})
	dlq := s.CreateQueue("mail-dlq", sqsfake.QueueOptions{})
	ctx := context.Background()
	w := deadletter.Writer{Client: s, QueueURL: dlq}
	m := types.Message{Body: aws.String(`{"version":1}`), Attributes: map[string]string{"MessageGroupId": "customer-42"}}
	if err := w.Write(ctx, m, deadletter.Failure{Reason: "rejected", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := deadletter.Replay(ctx, s, dlq, deadletter.ReplayOptions{To: src, IncludeInvalid: true}); err != nil {
		t.Fatal(err)
	}
	out, err := s.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(src), MaxNumberOfMessages: 1,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameMessageGroupId}})
	if err != nil || len(out.Messages) != 1 || out.Messages[0].Attributes["MessageGroupId"] != "customer-42" {
		t.Errorf("replayed: %v %+v", err, out)
	}
}
