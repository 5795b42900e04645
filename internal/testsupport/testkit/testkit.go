// Package testkit sets up what sesq's end-to-end tests run against: a fauxqs
// process per test binary, fresh queues and an SES test endpoint per test, the
// real AWS SDK clients pointed at them, and the real worker.
package testkit

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sesq/sesq/internal/awsclient"
	"github.com/sesq/sesq/internal/emulator"
	"github.com/sesq/sesq/internal/testsupport/sestest"
)

// Region is the queues' region in tests.
const Region = "us-east-1"

// Emulators are the processes shared by one test binary.
type Emulators struct {
	Dir    string
	Fauxqs *emulator.Process
	queues atomic.Int64
}

// Main starts fauxqs, runs the tests and stops it; use it as
// os.Exit(testkit.Main(m, &emu)) in TestMain.
func Main(m *testing.M, emu **Emulators) int {
	flag.Parse()
	dir, err := emulator.Dir()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testkit:", err)
		return 1
	}
	var logw io.Writer
	if testing.Verbose() {
		logw = os.Stderr
	}
	p, err := emulator.StartFauxqs(context.Background(), dir, logw)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testkit:", err)
		return 1
	}
	*emu = &Emulators{Dir: dir, Fauxqs: p}
	code := m.Run()
	p.Stop()
	return code
}

// Bundle is what one test works with.
type Bundle struct {
	SQS      *sqs.Client
	QueueURL string
	DLQURL   string
	SES      *sestest.Server
	// AWS is an SDK configuration with test credentials whose endpoint is
	// the SES test endpoint (SQS clients get the fauxqs endpoint on their own).
	AWS aws.Config
	emu *Emulators
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// Setup creates a queue and its dead-letter queue in fauxqs and starts an
// SES test endpoint, all removed when the test ends.
func (e *Emulators) Setup(t testing.TB) *Bundle {
	t.Helper()
	ses, err := sestest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ses.Close)
	b := &Bundle{
		SQS: NewSQS(e.Fauxqs.URL),
		SES: ses,
		AWS: aws.Config{
			Region:       Region,
			Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
			BaseEndpoint: aws.String(ses.URL),
		},
		emu: e,
	}
	name := unsafeName.ReplaceAllString(t.Name(), "-")
	if len(name) > 50 {
		name = name[len(name)-50:]
	}
	name = strings.Trim(name, "-") + "-" + strconv.FormatInt(e.queues.Add(1), 10)
	b.QueueURL, b.DLQURL = CreateQueues(t, b.SQS, name, 20)
	return b
}

// NewSQS is an SQS client for the emulator at endpoint.
func NewSQS(endpoint string) *sqs.Client {
	return sqs.New(sqs.Options{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		BaseEndpoint: aws.String(endpoint),
		HTTPClient:   awsclient.HTTPClient(0),
	})
}

// CreateQueues creates name and name-dlq with a redrive policy between them.
func CreateQueues(t testing.TB, c *sqs.Client, name string, maxReceive int) (queueURL, dlqURL string) {
	t.Helper()
	ctx := context.Background()
	dlq, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-dlq")})
	if err != nil {
		t.Fatalf("create %s-dlq: %v", name, err)
	}
	attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	redrive, _ := json.Marshal(map[string]any{"deadLetterTargetArn": attrs.Attributes["QueueArn"], "maxReceiveCount": maxReceive})
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: map[string]string{"RedrivePolicy": string(redrive)}})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return aws.ToString(q.QueueUrl), aws.ToString(dlq.QueueUrl)
}

// stopWithin bounds how long a worker under test may take to stop: longer
// than any test's shutdown timeout.
const stopWithin = 40 * time.Second

// Runner is what Run runs: a worker (worker.Worker).
type Runner interface {
	Run(ctx context.Context) error
}

// Run runs r (the real worker, built by the test against the bundle's
// queues and SES endpoint) until the returned stop is called or the test
// ends. Run's error is reported as a test failure.
func (b *Bundle) Run(t testing.TB, w Runner) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := w.Run(ctx); err != nil {
			t.Errorf("worker.Run: %v", err)
		}
	}()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case <-done:
		case <-time.After(stopWithin):
			t.Errorf("worker did not stop within %s", stopWithin)
		}
	}
	t.Cleanup(stop)
	return stop
}

// Enqueue puts raw bodies on the source queue as they are.
func (b *Bundle) Enqueue(t testing.TB, bodies ...string) {
	t.Helper()
	for _, body := range bodies {
		b.Send(t, &sqs.SendMessageInput{MessageBody: aws.String(body)})
	}
}

// Send sends one message to the source queue.
func (b *Bundle) Send(t testing.TB, in *sqs.SendMessageInput) {
	t.Helper()
	in.QueueUrl = aws.String(b.QueueURL)
	if _, err := b.SQS.SendMessage(context.Background(), in); err != nil {
		t.Fatalf("send message: %v", err)
	}
}

// Counts returns the approximate visible, in-flight and delayed messages of
// a queue.
func (b *Bundle) Counts(t testing.TB, url string) (visible, inFlight, delayed int) {
	t.Helper()
	out, err := b.SQS.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
		},
	})
	if err != nil {
		t.Fatalf("queue attributes: %v", err)
	}
	n := func(k types.QueueAttributeName) int { v, _ := strconv.Atoi(out.Attributes[string(k)]); return v }
	return n(types.QueueAttributeNameApproximateNumberOfMessages),
		n(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible),
		n(types.QueueAttributeNameApproximateNumberOfMessagesDelayed)
}

// Empty tells whether the source queue has nothing visible, in flight or
// delayed.
func (b *Bundle) Empty(t testing.TB) bool {
	v, f, d := b.Counts(t, b.QueueURL)
	return v+f+d == 0
}

// DeadLetters returns every message in the dead-letter queue, each once. It
// holds them invisible for a while, and checks the queue's counts so that a
// receive answer lost on the way (its messages then hidden until their
// visibility runs out) does not go unnoticed.
func (b *Bundle) DeadLetters(t testing.TB) []types.Message {
	t.Helper()
	seen := map[string]bool{}
	var out []types.Message
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := b.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(b.DLQURL), MaxNumberOfMessages: 10, VisibilityTimeout: 5,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatalf("receive from dead-letter queue: %v", err)
		}
		for _, m := range r.Messages {
			if id := aws.ToString(m.MessageId); !seen[id] {
				seen[id] = true
				out = append(out, m)
			}
		}
		if len(r.Messages) > 0 {
			continue
		}
		v, f, d := b.Counts(t, b.DLQURL)
		if v+d == 0 && f <= len(out) || time.Now().After(deadline) {
			return out
		}
		time.Sleep(200 * time.Millisecond) // some are hidden: wait for them to come back
	}
}

// Eventually polls cond every 50 ms until it holds or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// JSONWith marshals base with the fields of over put in (a nil value
// deletes the field): the tests' way to vary an envelope.
func JSONWith(base, over map[string]any) []byte {
	for k, v := range over {
		if v == nil {
			delete(base, k)
		} else {
			base[k] = v
		}
	}
	b, err := json.Marshal(base)
	if err != nil {
		panic(err)
	}
	return b
}

// Attr returns a String message attribute's value.
func Attr(m types.Message, name string) string {
	if v, ok := m.MessageAttributes[name]; ok {
		return aws.ToString(v.StringValue)
	}
	return ""
}
