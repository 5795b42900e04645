package deadletter_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sesq/sesq/deadletter"
	"github.com/sesq/sesq/envelope"
	"github.com/sesq/sesq/internal/ledger"
)

// size is a message's attributes as SQS counts them: name, type, value.
func size(attrs map[string]types.MessageAttributeValue) int {
	n := 0
	for k, v := range attrs {
		n += len(k) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue)) + len(v.BinaryValue)
	}
	return n
}

// What sesq adds to a message when it writes it again, at its largest,
// fits envelope.AttributeHeadroom, the room a Producer leaves: a
// dead-letter write's attributes, or a re-enqueue's ledger, each beside
// the sesq-replays a replay adds. The bounds taken for what sesq does not
// cut itself (an error code, a queue URL) are envelope.AttributeHeadroom's.
func TestAttributeHeadroom(t *testing.T) {
	const (
		maxCode     = 128 // an SES error code, or "SMTP550 5.1.1"
		maxQueueURL = 256 // https://sqs.REGION.amazonaws.com/ACCOUNT/NAME (80), or a VPC endpoint's
		maxCount    = 1<<31 - 1
	)
	replays := map[string]types.MessageAttributeValue{
		deadletter.AttrReplays: {DataType: aws.String("String"), StringValue: aws.String(strconv.Itoa(maxCount))},
	}
	escaped := strings.Repeat("é%", deadletter.MaxErrorLength/3) // every byte URL-escaped: three bytes each
	code := strings.Repeat("%", maxCode)

	dead := deadletter.Attributes(replays, deadletter.Failure{
		Reason: "authorization", Code: code, Error: strings.Repeat("e", 4*deadletter.MaxErrorLength),
		Attempts: maxCount, At: time.Date(9999, 12, 31, 23, 59, 59, 999, time.UTC),
		Tenant: strings.Repeat("t", envelope.MaxTenantNameLength),
	}, "https://"+strings.Repeat("q", maxQueueURL-len("https://")))
	if len(dead) != 8 {
		t.Fatalf("dead-letter attributes %v: want the seven and sesq-replays", dead)
	}

	// A ledger at its largest, as the worker writes it when its error text
	// is cut to deadletter.MaxErrorLength.
	signer := ledger.NewSigner(nil, "https://sqs.us-east-1.amazonaws.com/123456789012/mail", "")
	value := signer.Encode(ledger.Ledger{
		Attempts: maxCount, Unfinished: maxCount, Holds: maxCount, Deferrals: maxCount,
		Due:   time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		Final: &ledger.Final{Reason: "authorization", Code: code, Message: escaped},
	}, "{}", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC))
	requeued := map[string]types.MessageAttributeValue{ledger.Attr: {DataType: aws.String("String"), StringValue: aws.String(value)}}
	for k, v := range replays {
		requeued[k] = v
	}

	for what, attrs := range map[string]map[string]types.MessageAttributeValue{"dead-letter write": dead, "re-enqueue": requeued} {
		n := size(attrs)
		t.Logf("%s: %d bytes of sesq's attributes, headroom %d", what, n, envelope.AttributeHeadroom)
		if n > envelope.AttributeHeadroom {
			t.Errorf("a %s adds %d bytes of attributes, over envelope.AttributeHeadroom (%d)", what, n, envelope.AttributeHeadroom)
		}
	}
}
