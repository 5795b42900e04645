package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sesq/sesq/deadletter"
	"github.com/sesq/sesq/internal/testsupport/testkit"
	"github.com/sesq/sesq/payload"
)

// rawEnvelope is a SendRawEmail envelope of size bytes, give or take the
// few of base64's granularity (a mail of filler).
func rawEnvelope(t *testing.T, id string, size int) string {
	t.Helper()
	mk := func(fill int) string {
		raw := "X-SES-SOURCE-ARN: " + idEast + "\r\nFrom: sender@example.com\r\nTo: recipient@example.com\r\nSubject: large\r\n" +
			"Content-Type: text/plain\r\n\r\n" + strings.Repeat("0123456789abcdef\r\n", fill/18+1)[:fill]
		b, _ := json.Marshal(map[string]any{"version": 1, "id": id, "action": "SendRawEmail", "sourceArn": idEast, "raw": []byte(raw)})
		return string(b)
	}
	// base64 grows by 4 bytes per 3: find the filler that gives size.
	fill := (size - len(mk(0))) * 3 / 4
	for len(mk(fill)) < size {
		fill++
	}
	for len(mk(fill)) > size {
		fill--
	}
	return mk(fill)
}

func object(t *testing.T, c *s3.Client, p payload.Pointer) ([]byte, error) {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(p.Bucket), Key: aws.String(p.Key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

func objectCount(t *testing.T, c *s3.Client, bucket string) int {
	t.Helper()
	out, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Contents)
}

// A 2 MB SendRawEmail envelope enqueued with SESQ_PAYLOAD_BUCKET becomes a
// pointer message, in the extended clients' format, whose S3 object is
// the envelope byte for byte; a small one beside it goes as it is.
// --dry-run uploads nothing; without the bucket the large one is refused.
func TestEnqueueOffloadsLargeEnvelopes(t *testing.T) {
	b := emu.Setup(t)
	s3c, bucket := emu.Bucket(t)
	large := rawEnvelope(t, "large", 2_000_000)
	small := envBody(idEast, "small")
	input := small + "\n" + large + "\n"
	env := sesqEnv(b.SES.URL, "SESQ_QUEUE_URL="+b.QueueURL, "AWS_ENDPOINT_URL_S3="+emu.Fauxqs.URL)

	out, errOut, code := sesq(t, append(env, "SESQ_PAYLOAD_BUCKET="+bucket), input, "enqueue", "--dry-run")
	if code != 0 || objectCount(t, s3c, bucket) != 0 || !b.Empty(t) {
		t.Fatalf("dry run: exit %d, %d objects, queue empty %v\n%s%s", code, objectCount(t, s3c, bucket), b.Empty(t), out, errOut)
	}

	out, errOut, code = sesq(t, env, input, "enqueue")
	if code != 1 || !strings.Contains(out, "line 1: ") || !strings.Contains(out, fmt.Sprintf("line 2: error: body is %d bytes", len(large))) || !strings.Contains(out, "SESQ_PAYLOAD_BUCKET") {
		t.Fatalf("without a bucket: exit %d\n%s%s", code, out, errOut)
	}
	drain(t, b)

	out, errOut, code = sesq(t, append(env, "SESQ_PAYLOAD_BUCKET="+bucket), input, "enqueue", "--json")
	if code != 0 {
		t.Fatalf("enqueue: exit %d\n%s%s", code, out, errOut)
	}
	var lines []struct {
		Line      int
		MessageID string
		Payload   *payload.Pointer
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r struct {
			Line      int
			MessageID string
			Payload   *payload.Pointer
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		lines = append(lines, r)
	}
	if len(lines) != 2 || lines[0].Payload != nil || lines[1].Payload == nil || lines[1].Payload.Bucket != bucket {
		t.Fatalf("output:\n%s", out)
	}

	msgs := map[string]types.Message{}
	for len(msgs) < 2 {
		r, err := b.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(b.QueueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"}})
		if err != nil || len(r.Messages) == 0 {
			t.Fatalf("receive: %v, %d of 2 so far", err, len(msgs))
		}
		for _, m := range r.Messages {
			msgs[aws.ToString(m.MessageId)] = m
		}
	}
	if m := msgs[lines[0].MessageID]; aws.ToString(m.Body) != small || len(m.MessageAttributes) != 0 {
		t.Errorf("the small envelope: %.60s… attributes %v", aws.ToString(m.Body), m.MessageAttributes)
	}
	m := msgs[lines[1].MessageID]
	p := *lines[1].Payload
	if want := `["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"` + bucket + `","s3Key":"` + p.Key + `"}]`; aws.ToString(m.Body) != want {
		t.Errorf("message body %s, want %s", aws.ToString(m.Body), want)
	}
	if n, ok := payload.Size(m.MessageAttributes); !ok || n != int64(len(large)) || aws.ToString(m.MessageAttributes[payload.AttrSize].DataType) != "Number" {
		t.Errorf("attributes %v: want ExtendedPayloadSize %d", m.MessageAttributes, len(large))
	}
	got, err := object(t, s3c, p)
	if err != nil || !bytes.Equal(got, []byte(large)) {
		t.Errorf("the S3 object: %d bytes (equal %v), %v", len(got), bytes.Equal(got, []byte(large)), err)
	}
	if n := objectCount(t, s3c, bucket); n != 1 {
		t.Errorf("%d objects in the bucket, want 1", n)
	}
}

// drain deletes whatever the source queue holds.
func drain(t *testing.T, b *testkit.Bundle) {
	t.Helper()
	for !b.Empty(t) {
		r, err := b.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(b.QueueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range r.Messages {
			b.SQS.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(b.QueueURL), ReceiptHandle: m.ReceiptHandle})
		}
	}
}

// seedPointers stores each body in bucket and dead-letters a pointer to
// it as the worker does (the pointer kept, ExtendedPayloadSize carried).
func seedPointers(t *testing.T, b *testkit.Bundle, s3c *s3.Client, bucket, reason string, bodies ...string) []payload.Pointer {
	t.Helper()
	store := &payload.Store{Client: s3c}
	w := &deadletter.Writer{Client: b.SQS, QueueURL: b.DLQURL, SourceQueue: b.QueueURL}
	var ptrs []payload.Pointer
	for _, body := range bodies {
		p, err := store.Put(context.Background(), bucket, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		m := types.Message{Body: aws.String(p.Body()), MessageAttributes: map[string]types.MessageAttributeValue{payload.AttrSize: payload.SizeAttr(len(body))}}
		if err := w.Write(context.Background(), m, deadletter.Failure{Reason: reason, Code: "MessageRejected", Error: "because", Attempts: 1, At: time.Now(), Tenant: "acme"}); err != nil {
			t.Fatal(err)
		}
		ptrs = append(ptrs, p)
	}
	return ptrs
}

// A purge deletes the S3 payloads of what it purges in SESQ_PAYLOAD_BUCKETS,
// leaves (and counts) those in other buckets untouched, and keeps the
// payloads of what the filter keeps.
func TestDLQPurgeDeletesPayloads(t *testing.T) {
	b := emu.Setup(t)
	s3c, listed := emu.Bucket(t)
	_, other := emu.Bucket(t)
	purged := seedPointers(t, b, s3c, listed, "rejected", rawEnvelope(t, "p1", 300_000), rawEnvelope(t, "p2", 2_000_000))
	elsewhere := seedPointers(t, b, s3c, other, "rejected", rawEnvelope(t, "p3", 300_000))
	kept := seedPointers(t, b, s3c, listed, "exhausted", rawEnvelope(t, "p4", 300_000))
	seedDLQ(t, b, []seed{{body: envBody(idEast, "inline"), reason: "rejected", code: "MessageRejected"}})
	env := dlqEnv(b, "AWS_ENDPOINT_URL_S3="+emu.Fauxqs.URL, "SESQ_PAYLOAD_BUCKETS=another-bucket,"+listed)

	out, errOut, code := sesq(t, env, "", "dlq", "inspect")
	if code != 0 || !strings.Contains(out, "5 messages in 3 groups") || !strings.Contains(out, "4 of them carry their envelope in S3") {
		t.Errorf("inspect: exit %d\n%s%s", code, out, errOut)
	}

	out, errOut, code = sesq(t, env, "", "dlq", "purge", "--reason", "rejected", "--yes")
	if code != 0 || !strings.Contains(out, "deleted 4, kept 1, failed 0\n") ||
		!strings.Contains(out, "S3 payloads: deleted 2, left 1 (bucket not in SESQ_PAYLOAD_BUCKETS), failed 0\n") ||
		strings.Count(out, "payload-bucket="+listed+"\n") != 2 || strings.Count(out, "payload-bucket="+other+"\n") != 1 {
		t.Fatalf("purge: exit %d\n%s%s", code, out, errOut)
	}
	for _, p := range purged {
		if _, err := object(t, s3c, p); err == nil || !strings.Contains(err.Error(), "NoSuchKey") {
			t.Errorf("%s after the purge: %v, want NoSuchKey", p, err)
		}
	}
	for _, p := range append(elsewhere, kept...) {
		if _, err := object(t, s3c, p); err != nil {
			t.Errorf("%s after the purge: %v, want it kept", p, err)
		}
	}

	// The rest, as JSON.
	out, errOut, code = sesq(t, env, "", "dlq", "purge", "--yes", "--json")
	var sum struct {
		Deleted  []deadletter.Entry
		Payloads map[string]int
	}
	if err := json.Unmarshal([]byte(out), &sum); code != 0 || err != nil {
		t.Fatalf("purge --json: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	if len(sum.Deleted) != 1 || sum.Deleted[0].PayloadBucket != listed || fmt.Sprint(sum.Payloads) != "map[deleted:1 failed:0 left:0]" {
		t.Errorf("purge --json: %s", out)
	}
	if _, err := object(t, s3c, kept[0]); err == nil {
		t.Errorf("%s kept after its purge", kept[0])
	}
}

// A replay moves the pointer as it is: the same body and
// ExtendedPayloadSize, the S3 object neither copied nor touched.
func TestDLQReplayKeepsThePointer(t *testing.T) {
	b := emu.Setup(t)
	s3c, bucket := emu.Bucket(t)
	body := rawEnvelope(t, "r1", 1_500_000)
	ptrs := seedPointers(t, b, s3c, bucket, "exhausted", body)
	env := dlqEnv(b, "AWS_ENDPOINT_URL_S3="+emu.Fauxqs.URL, "SESQ_PAYLOAD_BUCKETS="+bucket)
	out, errOut, code := sesq(t, env, "", "dlq", "replay")
	if code != 0 || !strings.HasPrefix(out, "moved 1 ") {
		t.Fatalf("replay: exit %d\n%s%s", code, out, errOut)
	}
	r, err := b.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(b.QueueURL), WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"}})
	if err != nil || len(r.Messages) != 1 {
		t.Fatalf("receive: %v, %d", err, len(r.Messages))
	}
	m := r.Messages[0]
	if aws.ToString(m.Body) != ptrs[0].Body() {
		t.Errorf("replayed body %s, want %s", aws.ToString(m.Body), ptrs[0].Body())
	}
	if got := testkit.Attr(m, payload.AttrSize); got != strconv.Itoa(len(body)) || testkit.Attr(m, deadletter.AttrReplays) != "1" {
		t.Errorf("replayed attributes %v", m.MessageAttributes)
	}
	if got, err := object(t, s3c, ptrs[0]); err != nil || string(got) != body || objectCount(t, s3c, bucket) != 1 {
		t.Errorf("the payload after the replay: %d bytes, %v; %d objects", len(got), err, objectCount(t, s3c, bucket))
	}
}
