package worker_test

// Envelopes in S3 (the SQS Extended Client's pointers) against fauxqs's S3
// and the SES test endpoint.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/sesq/sesq/deadletter"
	"github.com/sesq/sesq/internal/testsupport/sestest"
	"github.com/sesq/sesq/internal/testsupport/testkit"
	"github.com/sesq/sesq/payload"
	"github.com/sesq/sesq/retry"
	"github.com/sesq/sesq/worker"
)

// payloads is a bucket of fauxqs's S3 for one test, and the store the
// worker reads it through.
type payloads struct {
	s3     *s3.Client
	bucket string
	store  *payload.Store
}

func newPayloads(t testing.TB) *payloads {
	t.Helper()
	c, bucket := emu.Bucket(t) // a bucket of its own, whatever runs before
	return &payloads{s3: c, bucket: bucket, store: &payload.Store{Client: c, Buckets: []string{bucket}, MaxSize: 20 << 20}}
}

// put stores body under key and returns the pointer message's body.
func (p *payloads) put(t testing.TB, key, body string) string {
	t.Helper()
	if _, err := p.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(p.bucket), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
		t.Fatalf("put payload: %v", err)
	}
	return payload.Pointer{Bucket: p.bucket, Key: key}.Body()
}

// exists tells whether key is still in the bucket.
func (p *payloads) exists(t testing.TB, key string) bool {
	t.Helper()
	_, err := p.s3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(p.bucket), Key: aws.String(key)})
	var nf *s3types.NotFound
	var nsk *s3types.NoSuchKey
	if errors.As(err, &nf) || errors.As(err, &nsk) {
		return false
	}
	if err != nil {
		t.Fatalf("head payload: %v", err)
	}
	return true
}

// sendPointer enqueues a pointer body with the extended client's size
// attribute.
func sendPointer(t testing.TB, b *bundle, body string, size int) {
	t.Helper()
	b.Send(t, &sqs.SendMessageInput{MessageBody: aws.String(body), MessageAttributes: map[string]types.MessageAttributeValue{payload.AttrSize: payload.SizeAttr(size)}})
}

// attachment is a MIME message of about n bytes with a base64 attachment.
func attachment(n int) []byte {
	var b bytes.Buffer
	b.WriteString("From: sender@example.com\r\nTo: recipient@example.com\r\nSubject: the report\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nAttached.\r\n--b1\r\n" +
		"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"report.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	data := make([]byte, n*3/4)
	for i := range data {
		data[i] = byte(i * 7)
	}
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--b1--\r\n")
	return b.Bytes()
}

// A 5 MB raw message with an attachment, in S3 behind a pointer: SES gets
// it byte for byte, and the payload is deleted once the message is.
func TestPayloadFromS3SentByteForByte(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := newPayloads(t)
	id := arn("us-east-1", "example.com")
	msg := attachment(5 << 20)
	env := rawEmail("", map[string]any{"sourceArn": id, "fromArn": id, "returnPathArn": id})
	var e map[string]any
	json.Unmarshal([]byte(env), &e)
	e["raw"] = base64.StdEncoding.EncodeToString(msg)
	body, _ := json.Marshal(e)
	sendPointer(t, b, p.put(t, "report", string(body)), len(body))
	// The Python extended client writes the pointer with spaces.
	small := sendEmail(id, map[string]any{"id": "from-python"})
	py := fmt.Sprintf(`["%s", {"s3BucketName": "%s", "s3Key": "python-key"}]`, payload.PointerClass, p.bucket)
	p.put(t, "python-key", small)
	b.Send(t, &sqs.SendMessageInput{MessageBody: aws.String(py), MessageAttributes: map[string]types.MessageAttributeValue{payload.AttrSizeLegacy: payload.SizeAttr(len(small))}})

	startWorker(t, b, worker.Options{Payloads: p.store})
	drained(t, b, 2)
	var raws [][]byte
	for _, r := range b.SES.Sent() {
		raws = append(raws, r.Raw)
	}
	if len(raws) != 2 || !(bytes.Equal(raws[0], msg) || bytes.Equal(raws[1], msg)) {
		t.Fatalf("SES got %d messages, none the 5 MB one byte for byte", len(raws))
	}
	testkit.Eventually(t, 10*time.Second, "the payloads deleted", func() bool { return !p.exists(t, "report") && !p.exists(t, "python-key") })

	// A copy of a sent message comes back (a delete SQS lost): its payload
	// is gone, and it is dropped as sent, not dead-lettered as missing.
	b.Send(t, &sqs.SendMessageInput{MessageBody: aws.String(py)})
	testkit.Eventually(t, 10*time.Second, "the copy handled", func() bool { return b.Empty(t) })
	if dl := b.DeadLetters(t); len(dl) != 0 {
		t.Errorf("the copy was dead-lettered: %s", testkit.Attr(dl[0], deadletter.AttrErrorCode))
	}
	if n := len(b.SES.Requests()); n != 2 {
		t.Errorf("%d SES calls, want the 2 first ones", n)
	}
}

// flakyStore fails the first fetches with an S3 fault that may pass.
type flakyStore struct {
	*payload.Store
	fails atomic.Int32
}

func (f *flakyStore) Fetch(ctx context.Context, p payload.Pointer) ([]byte, error) {
	if f.fails.Add(-1) >= 0 {
		return nil, &smithy.GenericAPIError{Code: "SlowDown", Message: "Please reduce your request rate. s3://" + p.Bucket + "/" + p.Key}
	}
	return f.Store.Fetch(ctx, p)
}

// S3 faults hold the message back without using up its send attempts
// (one attempt here).
func TestPayloadFetchFaultsHoldWithoutAttempts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.Config.MaxAttempts = 1
	p := newPayloads(t)
	body := sendEmail(arn("us-east-1", "example.com"), map[string]any{"id": "held"})
	sendPointer(t, b, p.put(t, "secret-customer-key", body), len(body))
	store := &flakyStore{Store: p.store}
	store.fails.Store(3)
	startWorker(t, b, worker.Options{Payloads: store})
	testkit.Eventually(t, 20*time.Second, "sent after the S3 faults", func() bool { return len(b.SES.Sent()) == 1 && b.Empty(t) })
	if dl := b.DeadLetters(t); len(dl) != 0 {
		t.Errorf("dead-lettered: %s", testkit.Attr(dl[0], deadletter.AttrError))
	}
}

// A payload that cannot be had ends in the dead-letter queue with its
// reason, the pointer kept; nothing is fetched from a bucket not listed.
func TestPayloadRefusalsAreDeadLettered(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := newPayloads(t)
	other := newPayloads(t)
	id := arn("us-east-1", "example.com")
	sendPointer(t, b, payload.Pointer{Bucket: p.bucket, Key: "gone"}.Body(), 100)
	sendPointer(t, b, other.put(t, "elsewhere", sendEmail(id, nil)), 100)
	big := p.put(t, "big", strings.Repeat("x", 2<<20))
	sendPointer(t, b, big, 2<<20)
	b.Enqueue(t, `["`+payload.PointerClass+`", {"s3BucketName": "only"}]`)
	store := *p.store
	store.MaxSize = 1 << 20
	startWorker(t, b, worker.Options{Payloads: &store})
	testkit.Eventually(t, 20*time.Second, "the queue to drain", func() bool { return b.Empty(t) })
	codes := map[string]string{}
	for _, m := range b.DeadLetters(t) {
		if testkit.Attr(m, deadletter.AttrReason) != "invalid" || !payload.IsPointer(aws.ToString(m.Body)) {
			t.Errorf("dead letter %q: reason %q", aws.ToString(m.Body), testkit.Attr(m, deadletter.AttrReason))
		}
		codes[testkit.Attr(m, deadletter.AttrErrorCode)] = testkit.Attr(m, deadletter.AttrError)
	}
	for _, c := range []string{retry.CodePayloadMissing, retry.CodePayloadBucketNotAllowed, retry.CodePayloadTooLarge, retry.CodePayloadPointer} {
		if _, ok := codes[c]; !ok {
			t.Errorf("no dead letter with code %s (got %v)", c, codes)
		}
	}
	if len(b.SES.Requests()) != 0 {
		t.Errorf("%d SES calls", len(b.SES.Requests()))
	}
	if !other.exists(t, "elsewhere") || !p.exists(t, "big") {
		t.Error("a refused payload was deleted")
	}
}

// A payload survives a hand-back (the pointer is re-enqueued, nothing
// uploaded again), a dead letter and a replay: it is deleted only once the
// message is sent.
func TestPayloadTravelsThroughRetriesAndReplay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := newPayloads(t)
	retried, denied := arn("us-east-1", "retried.example.com"), arn("us-east-1", "denied.example.com")
	b.SES.Fail(retried, sestest.ServiceUnavailable)
	b.SES.FailAlways(denied, sestest.AccessDenied)
	one, two := sendEmail(retried, map[string]any{"id": "one"}), sendEmail(denied, map[string]any{"id": "two"})
	sendPointer(t, b, p.put(t, "one", one), len(one))
	sendPointer(t, b, p.put(t, "two", two), len(two))
	// Every retry hands the message back: it comes again as a new message.
	stop := startWorker(t, b, worker.Options{Payloads: p.store, Policy: func(pol *retry.Policy) { pol.InProcess = 0 }})
	testkit.Eventually(t, 20*time.Second, "one sent and two dead-lettered", func() bool {
		return len(b.SES.Sent()) == 1 && b.Empty(t)
	})
	dl := b.DeadLetters(t)
	if len(dl) != 1 || testkit.Attr(dl[0], deadletter.AttrReason) != "authorization" || !payload.IsPointer(aws.ToString(dl[0].Body)) {
		t.Fatalf("dead letters %v, want two's pointer as authorization", dl)
	}
	if _, ok := payload.Size(dl[0].MessageAttributes); !ok {
		t.Error("the dead letter lost ExtendedPayloadSize")
	}
	testkit.Eventually(t, 10*time.Second, "one's payload deleted", func() bool { return !p.exists(t, "one") })
	if !p.exists(t, "two") {
		t.Fatal("the dead letter's payload was deleted")
	}
	stop()

	// The owner fixes the policy; the operator replays.
	b.SES.Recover(denied)
	// (DeadLetters above held the dead letter invisible for 5 s.)
	testkit.Eventually(t, 20*time.Second, "the replay", func() bool {
		sum, err := deadletter.Replay(context.Background(), b.SQS, b.DLQURL, deadletter.ReplayOptions{To: b.QueueURL})
		if err != nil {
			t.Fatalf("replay: %v", err)
		}
		return sum.Moved == 1
	})
	startWorker(t, b, worker.Options{Payloads: p.store})
	testkit.Eventually(t, 20*time.Second, "two sent after the replay", func() bool { return len(b.SES.Sent()) == 2 && b.Empty(t) })
	testkit.Eventually(t, 10*time.Second, "two's payload deleted", func() bool { return !p.exists(t, "two") })
}

// BenchmarkLargePayloads sends 16 envelopes of a 6 MB raw message each
// (the SES test endpoint reads forms up to Go's 10 MB) from S3 with 32
// senders, and reports the worker process's peak heap (sampled every 5 ms)
// with SESQ_PAYLOAD_FETCHES at 4 and at 32:
//
//	go test ./worker -run '^$' -bench LargePayloads -benchtime 1x
func BenchmarkLargePayloads(b *testing.B) {
	for _, fetches := range []int{4, 32} {
		b.Run(fmt.Sprintf("fetches=%d", fetches), func(b *testing.B) {
			for range b.N {
				bb := setup(b)
				p := newPayloads(b)
				id := arn("us-east-1", "example.com")
				var e map[string]any
				json.Unmarshal([]byte(rawEmail("", map[string]any{"sourceArn": id})), &e)
				e["raw"] = base64.StdEncoding.EncodeToString(attachment(6 << 20))
				for i := range 16 {
					e["id"] = fmt.Sprintf("large-%d", i)
					body, _ := json.Marshal(e)
					sendPointer(b, bb, p.put(b, fmt.Sprintf("k%d", i), string(body)), len(body))
				}
				bb.Config.Concurrency, bb.Config.PayloadFetches = 32, fetches
				runtime.GC()
				var base runtime.MemStats
				runtime.ReadMemStats(&base)
				peak := base.HeapInuse
				done := make(chan struct{})
				go func() {
					defer close(done)
					var m runtime.MemStats
					for len(bb.SES.Sent()) < 16 {
						runtime.ReadMemStats(&m)
						peak = max(peak, m.HeapInuse)
						time.Sleep(5 * time.Millisecond)
					}
				}()
				stop := bb.Run(b, worker.New(bb.Config, bb.SQS, bb.api(), worker.Options{Payloads: p.store, Logger: testkit.TestLogger(b)}))
				<-done
				stop()
				b.ReportMetric(float64(peak-base.HeapInuse)/(1<<20), "peak-heap-MiB")
			}
		})
	}
}
