package envelope_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sesq/sesq/envelope"
	"github.com/sesq/sesq/internal/emulator"
	"github.com/sesq/sesq/internal/testsupport/testkit"
)

// The producer tests need fauxqs (Node); the package's other tests are pure
// and must run without it, so fauxqs starts on the first test that asks.
var (
	emuOnce sync.Once
	emu     *testkit.Emulators
	emuErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if emu != nil {
		emu.Fauxqs.Stop()
	}
	os.Exit(code)
}

// emulators starts fauxqs once for the test binary. Without the emulators
// installed (`make deps`) the test is skipped, except in CI (CI=true), where
// it fails.
func emulators(t *testing.T) *testkit.Emulators {
	t.Helper()
	emuOnce.Do(func() {
		dir, err := emulator.Dir()
		if err != nil {
			emuErr = err
			return
		}
		var logw io.Writer
		if testing.Verbose() {
			logw = os.Stderr
		}
		p, err := emulator.StartFauxqs(context.Background(), dir, logw)
		if err != nil {
			emuErr = err
			return
		}
		emu = &testkit.Emulators{Dir: dir, Fauxqs: p}
	})
	if emuErr != nil {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); !ci {
			t.Skipf("no SQS emulator (%v); CI=true makes this a failure", emuErr)
		}
		t.Fatal(emuErr)
	}
	return emu
}

func TestProducerEnqueuesValidEnvelopesInBatches(t *testing.T) {
	b := emulators(t).Setup(t)
	p := &envelope.Producer{Client: b.SQS, QueueURL: b.QueueURL}
	var envs []*envelope.Envelope
	for i := 0; i < 23; i++ {
		envs = append(envs, &envelope.Envelope{
			Version: 1, ID: fmt.Sprintf("order-%d", i), Action: envelope.SendEmail,
			SourceArn: east, Source: "sender@example.com",
			Destination: &envelope.Destination{To: []string{"recipient@example.com"}},
			Message:     &envelope.Message{Subject: &envelope.Content{Data: "Receipt"}, Body: &envelope.Body{Text: &envelope.Content{Data: "Thanks"}}},
		})
	}
	envs[5].FromArn = east     // rule 2
	envs[17].Destination = nil // no recipient
	results, err := p.Enqueue(context.Background(), envs)
	if err != nil {
		t.Fatal(err)
	}
	var ve *envelope.Error
	for i, r := range results {
		bad := i == 5 || i == 17
		if bad != (r.Err != nil) || bad && !errors.As(r.Err, &ve) || !bad && r.MessageID == "" {
			t.Errorf("envelope %d: %+v", i, r)
		}
	}
	v, _, _ := b.Counts(t, b.QueueURL)
	if v != 21 {
		t.Fatalf("queue holds %d, want 21", v)
	}
	out, err := b.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(b.QueueURL), MaxNumberOfMessages: 1})
	if err != nil || len(out.Messages) != 1 {
		t.Fatal(err)
	}
	got, err := envelope.Parse([]byte(aws.ToString(out.Messages[0].Body)))
	if err != nil || !strings.HasPrefix(got.Key(), "order-") || got.Region() != "us-east-1" {
		t.Errorf("enqueued body does not parse back: %v %+v", err, got)
	}
}

func TestProducerKeepsBodiesByteForByte(t *testing.T) {
	b := emulators(t).Setup(t)
	p := &envelope.Producer{Client: b.SQS, QueueURL: b.QueueURL}
	body := []byte("{ \"version\": 1,\n \"action\": \"SendEmail\", " + strings.TrimPrefix(string(env(map[string]any{"version": nil, "action": nil})), "{"))
	if _, err := envelope.Parse(body); err != nil {
		t.Fatal(err)
	}
	results, err := p.EnqueueBodies(context.Background(), [][]byte{body, []byte("nope")})
	if err != nil || results[0].Err != nil || results[1].Err == nil {
		t.Fatalf("results %+v, err %v", results, err)
	}
	out, _ := b.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(b.QueueURL)})
	if len(out.Messages) != 1 || aws.ToString(out.Messages[0].Body) != string(body) {
		t.Fatalf("body changed on the way")
	}
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		t.Fatal("test body is not JSON")
	}
}
