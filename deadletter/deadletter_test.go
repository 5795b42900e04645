package deadletter_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sesq/sesq/deadletter"
)

func str(s string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(s)}
}

func TestAttributes(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	f := deadletter.Failure{Reason: "authorization", Code: "AccessDenied", Error: "not authorized", Attempts: 1, At: at, Tenant: "acme"}
	orig := map[string]types.MessageAttributeValue{
		"tenant": str("acme"), "b": str("2"), "a": str("1"), "trace": str("t"), "z": str("26"),
		"tracestate": str("vendor=1"), "traceparent": str("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
		deadletter.AttrReplays: str("2"),
		"sesq-deferrals":       str("3"), // sesq's own bookkeeping: dropped
		deadletter.AttrReason:  str("stale"),
		"binary":               {DataType: aws.String("Binary"), BinaryValue: []byte{1, 2}},
	}
	got := deadletter.Attributes(orig, f, "https://sqs.us-east-1.amazonaws.com/1/q")
	want := map[string]string{
		deadletter.AttrReason: "authorization", deadletter.AttrErrorCode: "AccessDenied", deadletter.AttrError: "not authorized",
		deadletter.AttrAttempts: "1", deadletter.AttrFailedAt: "2026-11-27T11:00:00Z", deadletter.AttrSourceQueue: "https://sqs.us-east-1.amazonaws.com/1/q",
		deadletter.AttrTenant: "acme",
		// then sesq-replays, traceparent, then the producer's by name while there is room (tracestate last)
		deadletter.AttrReplays: "2", "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "a": "1",
	}
	if len(got) != 10 {
		t.Errorf("%d attributes, want the SQS maximum of 10", len(got))
	}
	for k, v := range want {
		if aws.ToString(got[k].StringValue) != v {
			t.Errorf("%s = %q, want %q", k, aws.ToString(got[k].StringValue), v)
		}
	}
	for _, k := range []string{"sesq-deferrals", "tenant", "b", "trace", "z", "binary", "tracestate"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s kept, want dropped", k)
		}
	}
}

func TestAttributesNeverEmptyAndBounded(t *testing.T) {
	long := strings.Repeat("é", 1000) // 2000 bytes
	got := deadletter.Attributes(nil, deadletter.Failure{Reason: "invalid", Error: long}, "")
	for k, v := range got {
		if aws.ToString(v.StringValue) == "" {
			t.Errorf("%s is empty; SQS refuses empty String attributes", k)
		}
	}
	e := aws.ToString(got[deadletter.AttrError].StringValue)
	if len(e) > deadletter.MaxErrorLength || !utf8.ValidString(e) {
		t.Errorf("error attribute is %d bytes, valid UTF-8 %v", len(e), utf8.ValidString(e))
	}
	if fmt.Sprint(len(got)) != "7" {
		t.Errorf("%d attributes without producer attributes, want 7", len(got))
	}
	if v := aws.ToString(got[deadletter.AttrTenant].StringValue); v != "-" {
		t.Errorf("no tenant: %s = %q, want -", deadletter.AttrTenant, v)
	}
}
