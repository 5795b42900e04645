package envelope_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel/trace"

	"github.com/sesq/sesq/envelope"
	"github.com/sesq/sesq/payload"
)

// sizedQueue is an SQS that answers GetQueueAttributes with its
// MaximumMessageSize (or fails it) and records every batch.
type sizedQueue struct {
	recorder
	maxSize string // "": GetQueueAttributes fails
	asked   int
	batches [][]string // entry ids by call
}

func (q *sizedQueue) GetQueueAttributes(_ context.Context, in *sqs.GetQueueAttributesInput, _ ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	q.asked++
	if q.maxSize == "" {
		return nil, errors.New("AccessDenied: not authorized to perform sqs:GetQueueAttributes")
	}
	if !reflect.DeepEqual(in.AttributeNames, []types.QueueAttributeName{types.QueueAttributeNameMaximumMessageSize}) {
		return nil, fmt.Errorf("asked for %v", in.AttributeNames)
	}
	return &sqs.GetQueueAttributesOutput{Attributes: map[string]string{"MaximumMessageSize": q.maxSize}}, nil
}

func (q *sizedQueue) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	var ids []string
	for _, e := range in.Entries {
		ids = append(ids, aws.ToString(e.Id))
	}
	q.batches = append(q.batches, ids)
	return q.recorder.SendMessageBatch(ctx, in, opts...)
}

// bucket is an S3 that keeps what is put, and refuses bodies it is told to.
type bucket struct {
	puts   []put
	refuse func(body []byte) bool
}

type put struct {
	bucket, key, contentType string
	body                     []byte
}

func (b *bucket) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	body, _ := io.ReadAll(in.Body)
	if aws.ToInt64(in.ContentLength) != int64(len(body)) {
		return nil, fmt.Errorf("content length %d for %d bytes", aws.ToInt64(in.ContentLength), len(body))
	}
	if b.refuse != nil && b.refuse(body) {
		return nil, errors.New("SlowDown: please reduce your request rate")
	}
	b.puts = append(b.puts, put{aws.ToString(in.Bucket), aws.ToString(in.Key), aws.ToString(in.ContentType), body})
	return &s3.PutObjectOutput{}, nil
}

func (b *bucket) GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return nil, errors.New("a producer reads nothing")
}

func (b *bucket) DeleteObject(context.Context, *s3.DeleteObjectInput, ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	return nil, errors.New("a producer deletes nothing")
}

// sized is an envelope whose body is exactly n bytes.
func sized(t *testing.T, id string, n int) []byte {
	t.Helper()
	with := func(text string) []byte {
		return env(map[string]any{"id": id, "message": map[string]any{"subject": map[string]any{"data": "s"}, "body": map[string]any{"text": map[string]any{"data": text}}}})
	}
	b := with(strings.Repeat("x", n-len(with(""))))
	if len(b) != n {
		t.Fatalf("test body is %d bytes, want %d", len(b), n)
	}
	return b
}

var uuidKey = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

const payloadBucket = "mail-payloads"

// The exact messages and uploads of a Producer: a message over the
// threshold (body and the producer's attributes, as the extended clients
// count) goes to S3 and the message carries the pointer and
// ExtendedPayloadSize, as the Java client writes them; one at the
// threshold is sent as it is.
func TestProducerOffloadsAboveTheThreshold(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	traced := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
	const traceparent = len("traceparent") + len("String") + 55
	const queue256 = envelope.DefaultMaxMessage - envelope.AttributeHeadroom // 258048
	const queue1M = 1<<20 - envelope.AttributeHeadroom                       // 1044480
	cases := []struct {
		name      string
		ctx       context.Context
		maxSize   string // the queue's MaximumMessageSize; "": GetQueueAttributes fails
		threshold int    // Producer.Threshold
		sizes     []int  // body sizes
		offloaded []bool // by body
	}{
		{"256 KiB queue: at the threshold and one byte over", context.Background(), "262144", 0,
			[]int{queue256, queue256 + 1}, []bool{false, true}},
		{"1 MiB queue: at the threshold and one byte over", context.Background(), "1048576", 0,
			[]int{queue1M, queue1M + 1, 300_000}, []bool{false, true, false}},
		{"no answer from the queue: 256 KiB", context.Background(), "", 0,
			[]int{queue256, queue256 + 1}, []bool{false, true}},
		{"the trace context counts", traced, "262144", 0,
			[]int{queue256 - traceparent, queue256 - traceparent + 1}, []bool{false, true}},
		{"a lower threshold", context.Background(), "1048576", 100_000,
			[]int{100_000, 100_001}, []bool{false, true}},
		{"a threshold above the queue's is lowered to it", context.Background(), "262144", 1 << 20,
			[]int{queue256, queue256 + 1}, []bool{false, true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := &sizedQueue{maxSize: c.maxSize}
			s3 := &bucket{}
			p := &envelope.Producer{Client: q, QueueURL: standardURL, NoGroupID: true,
				Payloads: &payload.Store{Client: s3}, PayloadBucket: payloadBucket, Threshold: c.threshold}
			var bodies [][]byte
			for i, n := range c.sizes {
				bodies = append(bodies, sized(t, fmt.Sprint("e", i), n))
			}
			results, err := p.EnqueueBodies(c.ctx, bodies)
			if err != nil {
				t.Fatal(err)
			}
			var wantPuts []put
			for i, r := range results {
				if r.Err != nil || r.MessageID != "m-"+strconv.Itoa(i) {
					t.Fatalf("envelope %d: %+v", i, r)
				}
				e := q.entries[i]
				if !c.offloaded[i] {
					if r.Payload != nil || aws.ToString(e.MessageBody) != string(bodies[i]) || e.MessageAttributes[payload.AttrSize].StringValue != nil {
						t.Errorf("envelope %d (%d bytes): not sent as it is (payload %v)", i, len(bodies[i]), r.Payload)
					}
					continue
				}
				if r.Payload == nil || r.Payload.Bucket != payloadBucket || !uuidKey.MatchString(r.Payload.Key) {
					t.Fatalf("envelope %d (%d bytes): payload %+v, want one in %s under a UUID", i, len(bodies[i]), r.Payload, payloadBucket)
				}
				wantBody := `["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"mail-payloads","s3Key":"` + r.Payload.Key + `"}]`
				if got := aws.ToString(e.MessageBody); got != wantBody {
					t.Errorf("envelope %d: message body %s, want %s", i, got, wantBody)
				}
				wantAttrs := map[string]types.MessageAttributeValue{
					"ExtendedPayloadSize": {DataType: aws.String("Number"), StringValue: aws.String(strconv.Itoa(len(bodies[i])))},
				}
				if c.ctx != context.Background() {
					wantAttrs["traceparent"] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")}
				}
				if !reflect.DeepEqual(e.MessageAttributes, wantAttrs) {
					t.Errorf("envelope %d: attributes %v, want %v", i, e.MessageAttributes, wantAttrs)
				}
				wantPuts = append(wantPuts, put{payloadBucket, r.Payload.Key, "application/json", bodies[i]})
			}
			if !reflect.DeepEqual(s3.puts, wantPuts) {
				t.Errorf("%d puts, want %d (or not these)", len(s3.puts), len(wantPuts))
			}
			// The queue is asked once per Producer, whatever its answer.
			if _, err := p.EnqueueBodies(c.ctx, bodies[:1]); err != nil || q.asked != 1 {
				t.Errorf("asked the queue %d times, want once (%v)", q.asked, err)
			}
		})
	}
}

// Without Payloads a body over the threshold is refused, with the sizes;
// over MaxBodySize it is refused even with them, before any upload. On a
// FIFO queue a refused envelope holds its group back, as a failed send
// does.
func TestProducerRefusesWhatItCannotCarry(t *testing.T) {
	huge := sized(t, "huge", envelope.MaxBodySize+1)
	big := sized(t, "big", 300_000)
	small := env(map[string]any{"id": "small"})
	t.Run("no payload store", func(t *testing.T) {
		q := &sizedQueue{maxSize: "262144"}
		results, err := (&envelope.Producer{Client: q, QueueURL: standardURL}).EnqueueBodies(context.Background(), [][]byte{big, small})
		if err != nil {
			t.Fatal(err)
		}
		const want = "body is 300000 bytes, over the 258048 bytes a message may have on this queue (its MaximumMessageSize 262144 less 4096 for sesq's attributes); a payload bucket (Producer.Payloads, SESQ_PAYLOAD_BUCKET) would keep it in S3: the envelope is too large to enqueue"
		if !errors.Is(results[0].Err, envelope.ErrTooLarge) || results[0].Err.Error() != want {
			t.Errorf("error %v\nwant  %s", results[0].Err, want)
		}
		if results[1].Err != nil || len(q.entries) != 1 || aws.ToString(q.entries[0].MessageBody) != string(small) {
			t.Errorf("the small one: %+v, %d sent", results[1], len(q.entries))
		}
	})
	t.Run("no payload store, a threshold", func(t *testing.T) {
		q := &sizedQueue{maxSize: "262144"}
		results, _ := (&envelope.Producer{Client: q, QueueURL: standardURL, Threshold: 1000}).EnqueueBodies(context.Background(), [][]byte{big})
		if err := results[0].Err; !errors.Is(err, envelope.ErrTooLarge) || !strings.Contains(err.Error(), "over the threshold of 1000 bytes") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("a store without a bucket", func(t *testing.T) {
		q := &sizedQueue{maxSize: "262144"}
		s3 := &bucket{}
		results, _ := (&envelope.Producer{Client: q, QueueURL: standardURL, Payloads: &payload.Store{Client: s3}}).EnqueueBodies(context.Background(), [][]byte{big})
		if !errors.Is(results[0].Err, envelope.ErrTooLarge) || len(s3.puts) != 0 || len(q.entries) != 0 {
			t.Errorf("error %v, %d uploads, %d sent", results[0].Err, len(s3.puts), len(q.entries))
		}
	})
	t.Run("over SES's largest", func(t *testing.T) {
		q := &sizedQueue{maxSize: "262144"}
		s3 := &bucket{}
		p := &envelope.Producer{Client: q, QueueURL: standardURL, Payloads: &payload.Store{Client: s3}, PayloadBucket: payloadBucket}
		results, _ := p.EnqueueBodies(context.Background(), [][]byte{huge, small})
		const want = "body is 40000001 bytes, over 40000000, the largest mail SES takes: the envelope is too large to enqueue"
		if !errors.Is(results[0].Err, envelope.ErrTooLarge) || results[0].Err.Error() != want || results[0].Payload != nil {
			t.Errorf("error %v\nwant  %s", results[0].Err, want)
		}
		if len(s3.puts) != 0 || results[1].Err != nil || len(q.entries) != 1 {
			t.Errorf("%d uploads, %d sent; the small one %+v", len(s3.puts), len(q.entries), results[1])
		}
	})
	t.Run("FIFO: a refusal holds the group back", func(t *testing.T) {
		q := &sizedQueue{maxSize: "262144"}
		bodies := [][]byte{
			env(map[string]any{"id": "a1", "group": "a", "message": map[string]any{"subject": map[string]any{"data": "s"}, "body": map[string]any{"text": map[string]any{"data": strings.Repeat("x", 300_000)}}}}),
			env(map[string]any{"id": "b1", "group": "b"}),
			env(map[string]any{"id": "a2", "group": "a"}),
		}
		results, _ := (&envelope.Producer{Client: q, QueueURL: fifoURL}).EnqueueBodies(context.Background(), bodies)
		if !errors.Is(results[0].Err, envelope.ErrTooLarge) || results[1].Err != nil || !errors.Is(results[2].Err, envelope.ErrGroupHeld) {
			t.Errorf("results %+v", results)
		}
	})
}

// An upload that fails fails its envelope only, with S3's error; on a FIFO
// queue the rest of its group is held back. Nothing is sent for it.
func TestProducerUploadFailure(t *testing.T) {
	bodies := [][]byte{
		env(map[string]any{"id": "a1", "group": "a", "message": map[string]any{"subject": map[string]any{"data": "s"}, "body": map[string]any{"text": map[string]any{"data": strings.Repeat("x", 300_000)}}}}),
		env(map[string]any{"id": "b1", "group": "b", "message": map[string]any{"subject": map[string]any{"data": "s"}, "body": map[string]any{"text": map[string]any{"data": strings.Repeat("y", 300_000)}}}}),
		env(map[string]any{"id": "a2", "group": "a"}),
	}
	for _, c := range []struct {
		url   string
		third error // a2's error
	}{{standardURL, nil}, {fifoURL, envelope.ErrGroupHeld}} {
		t.Run(c.url, func(t *testing.T) {
			q := &sizedQueue{maxSize: "262144"}
			s3 := &bucket{refuse: func(body []byte) bool { return strings.Contains(string(body), `"a1"`) }}
			p := &envelope.Producer{Client: q, QueueURL: c.url, Payloads: &payload.Store{Client: s3}, PayloadBucket: payloadBucket}
			results, err := p.EnqueueBodies(context.Background(), bodies)
			if err != nil {
				t.Fatal(err)
			}
			const want = `store payload of 300`
			if e := results[0].Err; e == nil || !strings.HasPrefix(e.Error(), want) || !strings.Contains(e.Error(), "SlowDown") || results[0].Payload != nil {
				t.Errorf("a1: %+v", results[0])
			}
			if results[1].Err != nil || results[1].Payload == nil {
				t.Errorf("b1: %+v", results[1])
			}
			if !errors.Is(results[2].Err, c.third) || (c.third == nil) != (results[2].MessageID != "") {
				t.Errorf("a2: %+v, want error %v", results[2], c.third)
			}
			for _, e := range q.entries {
				if aws.ToString(e.Id) == "0" {
					t.Errorf("a1 was sent: %s", aws.ToString(e.MessageBody))
				}
			}
		})
	}
}

// Batches hold at most ten messages and, together, no more than the
// queue's MaximumMessageSize; a pointer message counts as what it is.
func TestProducerBatchesWithinTheQueuesSize(t *testing.T) {
	n := func(count, size int) []int {
		s := make([]int, count)
		for i := range s {
			s[i] = size
		}
		return s
	}
	for _, c := range []struct {
		name    string
		maxSize string
		sizes   []int
		batches [][]string
	}{
		{"256 KiB: two of 100 KB a batch", "262144", n(5, 100_000),
			[][]string{{"0", "1"}, {"2", "3"}, {"4"}}},
		{"1 MiB: ten of 100 KB in one", "1048576", n(11, 100_000),
			[][]string{{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, {"10"}}},
		{"1 MiB: 300 KB each, three a batch", "1048576", n(7, 300_000),
			[][]string{{"0", "1", "2"}, {"3", "4", "5"}, {"6"}}},
		{"pointers are small: ten in one beside a large message", "262144", append([]int{250_000}, n(10, 258_049)...),
			[][]string{{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, {"10"}}},
		{"no answer from the queue: 256 KiB", "", n(3, 100_000),
			[][]string{{"0", "1"}, {"2"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := &sizedQueue{maxSize: c.maxSize}
			p := &envelope.Producer{Client: q, QueueURL: standardURL, Payloads: &payload.Store{Client: &bucket{}}, PayloadBucket: payloadBucket}
			var bodies [][]byte
			for i, size := range c.sizes {
				bodies = append(bodies, sized(t, fmt.Sprint("e", i), size))
			}
			results, err := p.EnqueueBodies(context.Background(), bodies)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range results {
				if r.Err != nil {
					t.Errorf("envelope %d: %v", i, r.Err)
				}
			}
			if !reflect.DeepEqual(q.batches, c.batches) {
				t.Errorf("batches %v, want %v", q.batches, c.batches)
			}
		})
	}
}
