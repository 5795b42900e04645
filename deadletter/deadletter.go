// Package deadletter writes messages that can never be sent to the
// dead-letter queue, with the reason attached as message attributes, so that
// operators can inspect, filter and replay them.
package deadletter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/sesq/sesq/envelope"
	"github.com/sesq/sesq/payload"
)

// The String message attributes of a dead-lettered message.
const (
	AttrReason      = "sesq-reason"       // contract word: authorization, rejected, invalid, forbidden, expired, exhausted, unavailable, quota
	AttrErrorCode   = "sesq-error-code"   // SES error code, or sesq's own (retry.Code*)
	AttrError       = "sesq-error"        // the error text, at most MaxErrorLength bytes
	AttrAttempts    = "sesq-attempts"     // send calls made over all deliveries (an unfinished delivery counts one)
	AttrFailedAt    = "sesq-failed-at"    // RFC 3339
	AttrSourceQueue = "sesq-source-queue" // URL of the queue the message came from
	AttrTenant      = "sesq-tenant"       // the envelope's tenant (envelope.Envelope.Tenant); "-" when the body is no valid envelope
	// AttrReplays counts replays from the dead-letter queue; it is kept
	// through dead-lettering so that a replay limit holds.
	AttrReplays = "sesq-replays"
)

// SQS allows this many message attributes per message.
const maxAttributes = 10

// MaxErrorLength caps the sesq-error attribute.
const MaxErrorLength = 1024

// Sender is the one SQS call the Writer makes; *sqs.Client has it.
type Sender interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Writer writes failed messages to one dead-letter queue.
type Writer struct {
	Client      Sender
	QueueURL    string // the dead-letter queue
	SourceQueue string // recorded in sesq-source-queue
}

// Failure says why a message is dead-lettered.
type Failure struct {
	Reason   string // the outcome class word
	Code     string
	Error    string
	Attempts int
	At       time.Time
	Tenant   string // the envelope's tenant; "" when the body could not be parsed
}

// DeadLetterGroup is the MessageGroupId of a message written to a FIFO
// dead-letter queue (which takes no message without one) when the original
// message had none: one from a standard queue without a fair-queue group.
const DeadLetterGroup = "sesq-dead-letter"

// Write sends message m, received from the source queue, to the
// dead-letter queue: its body byte for byte, the failure attributes, as
// many of the producer's attributes as room is left for, its X-Ray trace
// header and its MessageGroupId. The caller deletes the source message only
// when Write succeeded.
//
// A FIFO dead-letter queue needs a group and a deduplication id on every
// message: the group is the original's (DeadLetterGroup when it had none),
// so that a redrive from the console puts the message back into its group,
// and the deduplication id is the original's MessageId, so that a Write
// retried within five minutes (the delete of the source failed, the message
// came again) leaves one dead letter.
func (w *Writer) Write(ctx context.Context, m types.Message, f Failure) error {
	in := &sqs.SendMessageInput{
		QueueUrl:                aws.String(w.QueueURL),
		MessageBody:             m.Body,
		MessageAttributes:       Attributes(m.MessageAttributes, f, w.SourceQueue),
		MessageSystemAttributes: CarriedSystem(m),
		MessageGroupId:          CarriedGroup(m),
	}
	if envelope.IsFIFO(w.QueueURL) {
		in.MessageGroupId, in.MessageDeduplicationId = fifoIDs(m)
	}
	_, err := SendCarried(ctx, w.Client, in)
	if err != nil {
		return fmt.Errorf("write to dead-letter queue (reason %s): %w", f.Reason, err)
	}
	return nil
}

// Attributes builds the attributes of a dead-lettered message: the seven sesq
// failure attributes, then the producer's own while fewer than ten are set
// (sesq-replays first, then by name; sesq's other attributes and the rest are
// dropped).
func Attributes(orig map[string]types.MessageAttributeValue, f Failure, sourceQueue string) map[string]types.MessageAttributeValue {
	out := map[string]types.MessageAttributeValue{
		AttrReason:      str(f.Reason),
		AttrErrorCode:   str(orDash(ErrorCode(f.Code))),
		AttrError:       str(orDash(ErrorText(f.Error))),
		AttrAttempts:    str(strconv.Itoa(f.Attempts)),
		AttrFailedAt:    str(f.At.UTC().Format(time.RFC3339)),
		AttrSourceQueue: str(orDash(sourceQueue)),
		AttrTenant:      str(orDash(f.Tenant)),
	}
	for _, k := range Carried(orig) {
		if len(out) == maxAttributes {
			break
		}
		out[k] = orig[k]
	}
	return out
}

// Carried lists the attributes of orig that sesq carries along when it
// writes a message again, in order of preference: sesq-replays, the W3C
// traceparent, the producer's others by name, then tracestate (optional
// vendor data, which must not push out the producer's own). sesq's own
// bookkeeping attributes are left out.
func Carried(orig map[string]types.MessageAttributeValue) []string {
	keys := make([]string, 0, len(orig))
	for k := range orig {
		if k == AttrReplays || !strings.HasPrefix(k, "sesq-") {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if ri, rj := rank(keys[i]), rank(keys[j]); ri != rj {
			return ri < rj
		}
		return keys[i] < keys[j]
	})
	return keys
}

// rank orders carried attributes: sesq-replays first (a replay limit must
// hold), then the size of an S3 payload (the extended clients read a
// pointer only with it), traceparent next (a trace must not break on the
// way through sesq), the producer's others, tracestate last.
func rank(k string) int {
	switch k {
	case AttrReplays:
		return 0
	case payload.AttrSize, payload.AttrSizeLegacy:
		return 1
	case "traceparent":
		return 2
	case "tracestate":
		return 4
	}
	return 3
}

// CarriedSystem is the system attribute sesq carries along when it writes
// a message again: its X-Ray trace header (AWSTraceHeader, the one system
// attribute a sender may set), so that the message's trace goes on. nil
// when it has none.
func CarriedSystem(m types.Message) map[string]types.MessageSystemAttributeValue {
	h := m.Attributes[string(types.MessageSystemAttributeNameAWSTraceHeader)]
	if !validTraceHeader(h) {
		return nil
	}
	return map[string]types.MessageSystemAttributeValue{
		string(types.MessageSystemAttributeNameForSendsAWSTraceHeader): {DataType: aws.String("String"), StringValue: aws.String(h)},
	}
}

// validTraceHeader tells whether h is an X-Ray trace header SQS takes on a
// send: printable ASCII, at most 512 bytes, with a Root=1-XXXXXXXX-
// XXXXXXXXXXXXXXXXXXXXXXXX field. SQS may have taken a looser one from a
// producer's X-Amzn-Trace-Id; such a header is dropped, not copied into a
// send it could fail.
func validTraceHeader(h string) bool {
	if h == "" || len(h) > 512 {
		return false
	}
	for i := 0; i < len(h); i++ {
		if h[i] < ' ' || h[i] > '~' {
			return false
		}
	}
	for _, f := range strings.Split(h, ";") {
		root, ok := strings.CutPrefix(strings.TrimSpace(f), "Root=")
		if !ok {
			continue
		}
		p := strings.Split(root, "-")
		return len(p) == 3 && p[0] == "1" && len(p[1]) == 8 && len(p[2]) == 24 && isHex(p[1]) && isHex(p[2])
	}
	return false
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// fifoIDs are the MessageGroupId and MessageDeduplicationId with which m
// is written to a FIFO queue: its group (DeadLetterGroup when it has none)
// and its MessageId (the SHA-256 of its body for a message without one,
// which only a caller that built it can give).
func fifoIDs(m types.Message) (group, dedup *string) {
	group = CarriedGroup(m)
	if group == nil {
		group = aws.String(DeadLetterGroup)
	}
	dedup = m.MessageId
	if aws.ToString(dedup) == "" {
		sum := sha256.Sum256([]byte(aws.ToString(m.Body)))
		dedup = aws.String(hex.EncodeToString(sum[:]))
	}
	return group, dedup
}

// SendCarried sends in; when SQS refuses a send that carries the trace
// header or, on a standard queue, a message group, it sends again once
// without them: the trace and the fair-queue group are optional, the
// message is not. On a FIFO queue the group is required, so it stays (with
// the deduplication id), and only the trace header is dropped.
func SendCarried(ctx context.Context, c Sender, in *sqs.SendMessageInput) (*sqs.SendMessageOutput, error) {
	out, err := c.SendMessage(ctx, in)
	fifo := envelope.IsFIFO(aws.ToString(in.QueueUrl))
	optional := in.MessageSystemAttributes != nil || (in.MessageGroupId != nil && !fifo)
	if err != nil && optional && refusedParameter(err) && ctx.Err() == nil {
		again := *in
		again.MessageSystemAttributes = nil
		if !fifo {
			again.MessageGroupId = nil
		}
		return c.SendMessage(ctx, &again)
	}
	return out, err
}

// refusedParameter tells whether SQS refused a send for what it carried
// (a parameter or attribute it would not take), rather than for a fault
// that another send would meet too (throttling, 5xx, KMS, a missing
// queue): only then is it worth sending again without the extras.
func refusedParameter(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorFault() == smithy.FaultServer {
		return false
	}
	code := api.ErrorCode()
	return strings.Contains(code, "InvalidParameter") || strings.Contains(code, "InvalidAttribute") ||
		strings.Contains(code, "MissingParameter") || strings.Contains(code, "UnsupportedOperation")
}

// CarriedGroup is the message's MessageGroupId, which sesq keeps when it
// writes the message again, so that a put-back or dead-lettered message
// stays with its tenant in an SQS fair queue, or in its group's order on a
// FIFO queue; nil when it has none (or one SQS would not take back: 1-128
// characters of letters, digits and punctuation). The group may be
// personal data (a producer's per-recipient group): never log it.
func CarriedGroup(m types.Message) *string {
	g := m.Attributes[string(types.MessageSystemAttributeNameMessageGroupId)]
	if g == "" || len(g) > 128 {
		return nil
	}
	for i := 0; i < len(g); i++ {
		if g[i] < '!' || g[i] > '~' {
			return nil
		}
	}
	return aws.String(g)
}

func str(s string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(s)}
}

// orDash keeps String attributes non-empty, as SQS requires.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// MaxCodeLength caps the sesq-error-code attribute (codes are short; a
// transport's own may come from a reply).
const MaxCodeLength = 128

// ErrorText is an error text as sesq keeps it on a message (the sesq-error
// attribute, a ledger's final reason): at most MaxErrorLength bytes, so
// that a message near SQS's size limit can still take it.
func ErrorText(s string) string { return truncate(s, MaxErrorLength) }

// ErrorCode is an error code as sesq keeps it: at most MaxCodeLength bytes.
func ErrorCode(s string) string { return truncate(s, MaxCodeLength) }

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i]
}
