package deadletter_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"sort"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/sesq/sesq/deadletter"
	"github.com/sesq/sesq/internal/testsupport/sqsfake"
)

const (
	standardDLQ = "https://sqs.us-east-1.amazonaws.com/123456789012/mail-dlq"
	fifoDLQ     = "https://sqs.us-east-1.amazonaws.com/123456789012/mail-dlq.fifo"
)

// sends is an SQS that takes every send and keeps its input.
type sends struct{ in []*sqs.SendMessageInput }

func (s *sends) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	s.in = append(s.in, in)
	return &sqs.SendMessageOutput{MessageId: aws.String("dead-1")}, nil
}

// The exact send of Write: into a standard dead-letter queue the message's
// group if it has one and no deduplication id; into a FIFO one its group
// (DeadLetterGroup when it has none SQS would take) and its MessageId as
// the deduplication id (the body's SHA-256 without one).
func TestWriteIntoStandardAndFIFODeadLetterQueues(t *testing.T) {
	f := deadletter.Failure{Reason: "rejected", Code: "MessageRejected", Error: "no", Attempts: 2, At: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC), Tenant: "acme"}
	const src = "https://sqs.us-east-1.amazonaws.com/123456789012/mail.fifo"
	producer := map[string]types.MessageAttributeValue{"traceparent": str(traceparent)}
	xray := map[string]types.MessageSystemAttributeValue{"AWSTraceHeader": {DataType: aws.String("String"), StringValue: aws.String(xrayHeader)}}
	bodySum := sha256.Sum256([]byte("body"))
	msg := func(id, group string) types.Message {
		m := types.Message{Body: aws.String("body"), MessageAttributes: producer, Attributes: map[string]string{"AWSTraceHeader": xrayHeader}}
		if id != "" {
			m.MessageId = aws.String(id)
		}
		if group != "" {
			m.Attributes["MessageGroupId"] = group
		}
		return m
	}
	cases := []struct {
		name         string
		dlq          string
		m            types.Message
		group, dedup *string
	}{
		{"standard, with a group", standardDLQ, msg("m-1", "acme"), aws.String("acme"), nil},
		{"standard, without", standardDLQ, msg("m-1", ""), nil, nil},
		{"FIFO, with a group", fifoDLQ, msg("m-1", "recipient@example.com"), aws.String("recipient@example.com"), aws.String("m-1")},
		{"FIFO, without", fifoDLQ, msg("m-1", ""), aws.String(deadletter.DeadLetterGroup), aws.String("m-1")},
		{"FIFO, a group SQS would not take", fifoDLQ, msg("m-1", "has space"), aws.String(deadletter.DeadLetterGroup), aws.String("m-1")},
		{"FIFO, no MessageId", fifoDLQ, msg("", "g"), aws.String("g"), aws.String(hex.EncodeToString(bodySum[:]))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &sends{}
			w := &deadletter.Writer{Client: s, QueueURL: c.dlq, SourceQueue: src}
			if err := w.Write(context.Background(), c.m, f); err != nil {
				t.Fatal(err)
			}
			want := &sqs.SendMessageInput{
				QueueUrl: aws.String(c.dlq), MessageBody: aws.String("body"),
				MessageAttributes:       deadletter.Attributes(producer, f, src),
				MessageSystemAttributes: xray,
				MessageGroupId:          c.group, MessageDeduplicationId: c.dedup,
			}
			if len(s.in) != 1 || !reflect.DeepEqual(s.in[0], want) {
				t.Errorf("sent %+v\nwant %+v", s.in, want)
			}
		})
	}
}

// refusesFirst is an SQS that refuses its first send for a parameter and
// takes the next.
type refusesFirst struct{ in []*sqs.SendMessageInput }

func (r *refusesFirst) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	r.in = append(r.in, in)
	if len(r.in) == 1 {
		return nil, &smithy.GenericAPIError{Code: "InvalidParameterValue", Message: "no", Fault: smithy.FaultClient}
	}
	return &sqs.SendMessageOutput{MessageId: aws.String("m")}, nil
}

// The fallback of SendCarried drops what is optional where it is sent: on
// a standard queue the trace header and the fair-queue group, on a FIFO
// queue the trace header only (the group and deduplication id are
// required); with nothing optional to drop it does not send again.
func TestSendCarriedNeverDropsTheGroupOnFIFO(t *testing.T) {
	xray := map[string]types.MessageSystemAttributeValue{"AWSTraceHeader": {DataType: aws.String("String"), StringValue: aws.String(xrayHeader)}}
	in := func(url string, trace bool, dedup *string) *sqs.SendMessageInput {
		i := &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("b"), MessageGroupId: aws.String("g"), MessageDeduplicationId: dedup}
		if trace {
			i.MessageSystemAttributes = xray
		}
		return i
	}
	cases := []struct {
		name    string
		in      *sqs.SendMessageInput
		again   *sqs.SendMessageInput // the second send; nil: none, the error returned
		wantErr bool
	}{
		{"standard, group and trace", in(standardDLQ, true, nil), &sqs.SendMessageInput{QueueUrl: aws.String(standardDLQ), MessageBody: aws.String("b")}, false},
		{"standard, group only", in(standardDLQ, false, nil), &sqs.SendMessageInput{QueueUrl: aws.String(standardDLQ), MessageBody: aws.String("b")}, false},
		{"FIFO, group and trace", in(fifoDLQ, true, aws.String("d")), in(fifoDLQ, false, aws.String("d")), false},
		{"FIFO, group only", in(fifoDLQ, false, aws.String("d")), nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &refusesFirst{}
			_, err := deadletter.SendCarried(context.Background(), r, c.in)
			if (err != nil) != c.wantErr {
				t.Errorf("err %v, want an error: %v", err, c.wantErr)
			}
			want := []*sqs.SendMessageInput{c.in}
			if c.again != nil {
				want = append(want, c.again)
			}
			if !reflect.DeepEqual(r.in, want) {
				t.Errorf("sends %+v\nwant %+v", r.in, want)
			}
		})
	}
}

// batchTaker is a dead-letter queue (sqsfake) whose sends to other queues
// are taken and kept, not delivered: sqsfake has no FIFO queues.
type batchTaker struct {
	*sqsfake.SQS
	sent []types.SendMessageBatchRequestEntry
}

func (b *batchTaker) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		b.sent = append(b.sent, e)
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String("new-" + aws.ToString(e.Id))})
	}
	return out, nil
}

// The exact entries of a replay: into a standard queue the group if any
// and no deduplication id, into a FIFO queue the group (DeadLetterGroup
// when none) and the dead letter's MessageId as the deduplication id.
func TestReplayIntoStandardAndFIFOQueues(t *testing.T) {
	for _, to := range []string{"https://sqs.us-east-1.amazonaws.com/123456789012/mail", "https://sqs.us-east-1.amazonaws.com/123456789012/mail.fifo"} {
		t.Run(to, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := &batchTaker{SQS: sqsfake.New()}
				dlq := s.CreateQueue("mail-dlq", sqsfake.QueueOptions{})
				ids := map[string]string{} // body -> MessageId in the dead-letter queue
				for body, group := range map[string]*string{"grouped": aws.String("recipient@example.com"), "plain": nil} {
					out, err := s.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(dlq), MessageBody: aws.String(body), MessageGroupId: group})
					if err != nil {
						t.Fatal(err)
					}
					ids[body] = aws.ToString(out.MessageId)
				}
				sum, err := deadletter.Replay(t.Context(), s, dlq, deadletter.ReplayOptions{To: to})
				if err != nil || sum.Moved != 2 {
					t.Fatalf("replay: %+v, %v", sum, err)
				}
				sort.Slice(s.sent, func(i, j int) bool { return aws.ToString(s.sent[i].MessageBody) < aws.ToString(s.sent[j].MessageBody) })
				entry := func(body string, group *string) types.SendMessageBatchRequestEntry {
					e := types.SendMessageBatchRequestEntry{MessageBody: aws.String(body), MessageGroupId: group,
						MessageAttributes: map[string]types.MessageAttributeValue{deadletter.AttrReplays: str("1")}}
					if strings.HasSuffix(to, ".fifo") {
						e.MessageDeduplicationId = aws.String(ids[body])
						if group == nil {
							e.MessageGroupId = aws.String(deadletter.DeadLetterGroup)
						}
					}
					return e
				}
				want := []types.SendMessageBatchRequestEntry{entry("grouped", aws.String("recipient@example.com")), entry("plain", nil)}
				for i := range s.sent {
					s.sent[i].Id = nil // the batch's own numbering
				}
				if !reflect.DeepEqual(s.sent, want) {
					t.Errorf("sent %+v\nwant %+v", s.sent, want)
				}
			})
		})
	}
}
