package deadletter_test

import (
	"context"
	"errors"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sesq/sesq/deadletter"
	"github.com/sesq/sesq/internal/testsupport/sqsfake"
	"github.com/sesq/sesq/payload"
)

// objects is an S3 of a few objects that records every call.
type objects struct {
	mu      sync.Mutex
	objs    map[string]bool // bucket/key
	failing map[string]bool // bucket/key whose delete fails
	calls   []string        // "delete bucket/key"
}

func (o *objects) DeleteObject(_ context.Context, in *s3.DeleteObjectInput, _ ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	k := aws.ToString(in.Bucket) + "/" + aws.ToString(in.Key)
	o.calls = append(o.calls, "delete "+k)
	if o.failing[k] {
		return nil, errors.New("AccessDenied: not allowed")
	}
	delete(o.objs, k)
	return &s3.DeleteObjectOutput{}, nil
}

func (o *objects) GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return nil, errors.New("the dead-letter tools read no payload")
}

func (o *objects) PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	return nil, errors.New("the dead-letter tools write no payload")
}

func (o *objects) left() []string {
	var out []string
	for k := range o.objs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func pointerMessage(bucket, key string) types.Message {
	return types.Message{
		Body:              aws.String(payload.Pointer{Bucket: bucket, Key: key}.Body()),
		MessageAttributes: map[string]types.MessageAttributeValue{payload.AttrSize: payload.SizeAttr(2 << 20)},
	}
}

type payloadSeed struct {
	msg    types.Message
	reason string
}

// payloadSeeds: pointers to a bucket the purge may touch (one whose delete
// fails), to one it may not, an inline envelope, and a pointer the filter
// keeps.
var payloadSeeds = []payloadSeed{
	{pointerMessage("mail-payloads", "k1"), "rejected"},
	{pointerMessage("elsewhere", "k2"), "rejected"},
	{pointerMessage("mail-payloads", "k3"), "rejected"},
	{types.Message{Body: aws.String(tenantBody("i1", arnA, ""))}, "rejected"},
	{pointerMessage("mail-payloads", "k4"), "exhausted"},
}

func seedPayloads(t *testing.T) (*sqsfake.SQS, string, string, *objects) {
	t.Helper()
	s := sqsfake.New()
	src := s.CreateQueue("mail", sqsfake.QueueOptions{})
	dlq := s.CreateQueue("mail-dlq", sqsfake.QueueOptions{})
	w := &deadletter.Writer{Client: s, QueueURL: dlq, SourceQueue: src}
	for _, sd := range payloadSeeds {
		if err := w.Write(t.Context(), sd.msg, deadletter.Failure{Reason: sd.reason, Attempts: 1, At: time.Now(), Tenant: "acme"}); err != nil {
			t.Fatal(err)
		}
	}
	o := &objects{
		objs:    map[string]bool{"mail-payloads/k1": true, "elsewhere/k2": true, "mail-payloads/k3": true, "mail-payloads/k4": true},
		failing: map[string]bool{"mail-payloads/k3": true},
	}
	return s, src, dlq, o
}

// A purge deletes the payloads of what it purges, after the messages, in
// the buckets it may touch; a payload elsewhere is counted as left and
// never touched, a failed delete is counted with its error, and what the
// filter keeps keeps its payload.
func TestPurgeDeletesPayloads(t *testing.T) {
	for _, c := range []struct {
		name                  string
		store                 bool
		deleted, left, failed int
		calls, objectsLeft    []string
		payloadErr            string
		deletedBuckets        []string
	}{
		{"payload buckets listed", true, 1, 1, 1,
			[]string{"delete mail-payloads/k1", "delete mail-payloads/k3"},
			[]string{"elsewhere/k2", "mail-payloads/k3", "mail-payloads/k4"}, "AccessDenied", nil},
		{"no payload buckets", false, 0, 3, 0, nil,
			[]string{"elsewhere/k2", "mail-payloads/k1", "mail-payloads/k3", "mail-payloads/k4"}, "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s, _, dlq, o := seedPayloads(t)
				opts := deadletter.PurgeOptions{Filter: deadletter.Filter{Reason: "rejected"}}
				if c.store {
					opts.Payloads = &payload.Store{Client: o, Buckets: []string{"mail-payloads"}}
				}
				sum, err := deadletter.Purge(t.Context(), s, dlq, opts)
				if err != nil || len(sum.Deleted) != 4 || sum.Kept != 1 || sum.Failed != 0 {
					t.Fatalf("purge: %+v, %v", sum, err)
				}
				if sum.PayloadsDeleted != c.deleted || sum.PayloadsLeft != c.left || sum.PayloadsFailed != c.failed {
					t.Errorf("payloads deleted %d, left %d, failed %d; want %d, %d, %d", sum.PayloadsDeleted, sum.PayloadsLeft, sum.PayloadsFailed, c.deleted, c.left, c.failed)
				}
				if (c.payloadErr == "") != (sum.PayloadErr == nil) || sum.PayloadErr != nil && !strings.Contains(sum.PayloadErr.Error(), c.payloadErr) {
					t.Errorf("payload error %v, want %q", sum.PayloadErr, c.payloadErr)
				}
				if !reflect.DeepEqual(o.calls, c.calls) {
					t.Errorf("S3 calls %q, want %q", o.calls, c.calls)
				}
				if got := o.left(); !reflect.DeepEqual(got, c.objectsLeft) {
					t.Errorf("objects left %q, want %q", got, c.objectsLeft)
				}
				var buckets []string
				for _, e := range sum.Deleted {
					buckets = append(buckets, e.PayloadBucket)
				}
				sort.Strings(buckets)
				if want := []string{"", "elsewhere", "mail-payloads", "mail-payloads"}; !reflect.DeepEqual(buckets, want) {
					t.Errorf("deleted entries' payload buckets %q, want %q", buckets, want)
				}
				if left := receiveAll(t, s, dlq); len(left) != 1 || aws.ToString(left[0].Body) != aws.ToString(payloadSeeds[4].msg.Body) {
					t.Errorf("left in the dead-letter queue: %d", len(left))
				}
			})
		})
	}
}

// Replay moves a pointer as it is: the same body, ExtendedPayloadSize
// along, no payload read or written (Replay has no S3 client at all).
func TestReplayKeepsThePointer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, src, dlq, _ := seedPayloads(t)
		sum, err := deadletter.Replay(t.Context(), s, dlq, deadletter.ReplayOptions{To: src, Filter: deadletter.Filter{Reason: "exhausted"}})
		if err != nil || sum.Moved != 1 {
			t.Fatalf("replay: %+v, %v", sum, err)
		}
		out, err := s.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(src), MessageAttributeNames: []string{"All"}})
		if err != nil || len(out.Messages) != 1 {
			t.Fatalf("receive: %v, %d", err, len(out.Messages))
		}
		m := out.Messages[0]
		if got, want := aws.ToString(m.Body), aws.ToString(payloadSeeds[4].msg.Body); got != want {
			t.Errorf("replayed body %s, want %s", got, want)
		}
		if v, ok := m.MessageAttributes[payload.AttrSize]; !ok || aws.ToString(v.DataType) != "Number" || aws.ToString(v.StringValue) != "2097152" {
			t.Errorf("replayed attributes %v: want ExtendedPayloadSize", m.MessageAttributes)
		}
	})
}

// Inspect counts the dead letters that carry their envelope in S3; Describe
// names the bucket (never the key) and takes the tenant from sesq-tenant.
func TestInspectCountsPayloads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _, dlq, _ := seedPayloads(t)
		groups, err := deadletter.Inspect(t.Context(), s, dlq)
		if err != nil {
			t.Fatal(err)
		}
		payloads := map[string]int{}
		for _, g := range groups {
			payloads[g.Reason+"/"+g.Region] += g.Payloads
		}
		if want := map[string]int{"rejected/": 3, "rejected/us-east-1": 0, "exhausted/": 1}; !reflect.DeepEqual(payloads, want) {
			t.Errorf("payloads by group %v, want %v", payloads, want)
		}
	})
	e := deadletter.Describe(types.Message{Body: aws.String(`["software.amazon.payloadoffloading.PayloadS3Pointer", {"s3BucketName": "mail-payloads", "s3Key": "jane@example.com/order-1"}]`),
		MessageAttributes: map[string]types.MessageAttributeValue{deadletter.AttrTenant: {DataType: aws.String("String"), StringValue: aws.String("acme")}}})
	if e.PayloadBucket != "mail-payloads" || e.Tenant != "acme" || e.Region != "" || e.Identity != "" {
		t.Errorf("described as %+v", e)
	}
}
