package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sesq/sesq/deadletter"
	"github.com/sesq/sesq/internal/emulator"
	"github.com/sesq/sesq/internal/testsupport/testkit"
)

var (
	emu *testkit.Emulators
	bin string // the sesq binary under test
)

// TestMain builds the binary under test, or takes SESQ_TEST_BIN: the tests
// then run against another build (an earlier commit's, to see a test fail
// before a fix).
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sesq-bin")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "sesq")
	if other := os.Getenv("SESQ_TEST_BIN"); other != "" {
		bin = other
	} else if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build sesq: %v\n%s", err, out)
		os.Exit(1)
	}
	code := testkit.Main(m, &emu)
	os.RemoveAll(dir)
	os.Exit(code)
}

// sesqEnv is a clean environment for the binary: test credentials, the
// emulators through the SDK's standard endpoint variables, nothing from the
// machine's AWS configuration.
func sesqEnv(sesURL string, extra ...string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(),
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=secret",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_ENDPOINT_URL_SQS=" + emu.Fauxqs.URL, "AWS_ENDPOINT_URL_SES=" + sesURL,
		"SESQ_HTTP_ADDR=", // off, unless a test sets it (the last value wins)
	}
	return append(env, extra...)
}

func sesq(t *testing.T, env []string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), 0
}

func TestVersionAndUsage(t *testing.T) {
	out, _, code := sesq(t, nil, "", "version")
	if code != 0 || !strings.HasPrefix(out, "sesq ") {
		t.Errorf("version: %q, exit %d", out, code)
	}
	_, errOut, code := sesq(t, nil, "", "frobnicate")
	if code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Errorf("unknown command: %q, exit %d", errOut, code)
	}
}

func TestBadConfigurationExits2WithOneLine(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"run"}, nil, "SESQ_QUEUE_URL: required"},
		{[]string{"run"}, []string{"SESQ_QUEUE_URL=http://127.0.0.1:1/0/q", "SESQ_DLQ_URL=http://127.0.0.1:1/0/d", "SESQ_WAIT_TIME=forever"}, "SESQ_WAIT_TIME"},
		{[]string{"run"}, []string{"SESQ_QUEUE_URL=http://127.0.0.1:1/0/q", "SESQ_DLQ_URL=http://127.0.0.1:1/0/d", "SESQ_BATCH_SIZE=50"}, "SESQ_BATCH_SIZE: must be between 1 and 10"},
		{[]string{"enqueue"}, nil, "SESQ_QUEUE_URL: required"},
		{[]string{"run"}, []string{"SESQ_QUEUE_URL=http://127.0.0.1:1/0/q", "SESQ_DLQ_URL=http://127.0.0.1:1/0/d", "AWS_REGION="}, "AWS_REGION"},
	} {
		_, errOut, code := sesq(t, sesqEnv("http://127.0.0.1:1", c.env...), "", c.args...)
		if code != 2 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v %v: exit %d, stderr %q; want exit 2 and one line naming %s", c.args, c.env, code, errOut, c.want)
		}
	}
}

// The quick start path, end to end with aws-ses-v2-local: create queues,
// enqueue (the invalid line refused), run the worker, read the mail back from
// the emulator's store, stop with SIGTERM.
func TestQueuesEnqueueRunWithSESLocal(t *testing.T) {
	sesLocal, err := emulator.StartSESLocal(context.Background(), emu.Dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sesLocal.Stop()
	env := sesqEnv(sesLocal.URL)

	out, errOut, code := sesq(t, env, "", "queues", "create", "quickstart")
	if code != 0 {
		t.Fatalf("queues create: exit %d: %s", code, errOut)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		vars[k] = v
	}
	qURL, dlqURL := vars["SESQ_QUEUE_URL"], vars["SESQ_DLQ_URL"]
	if !strings.HasSuffix(qURL, "/quickstart") || !strings.HasSuffix(dlqURL, "/quickstart-dlq") {
		t.Fatalf("queues create printed %q", out)
	}
	// README's quick start: eval "$(sesq queues create NAME)" exports them
	// to what the shell runs next (queues create is idempotent).
	sh := exec.Command("sh", "-c", `eval "$("$SESQ" queues create quickstart)" && sh -c 'echo "$SESQ_QUEUE_URL $SESQ_DLQ_URL"'`)
	sh.Env = append(env, "SESQ="+bin)
	if got, err := sh.Output(); err != nil || strings.TrimSpace(string(got)) != qURL+" "+dlqURL {
		t.Errorf("eval of queues create: a child process sees %q (%v), want %q", got, err, qURL+" "+dlqURL)
	}
	if out, _, code := sesq(t, env, "", "queues", "create", "--json", "quickstart"); code != 0 || !strings.Contains(out, `"SESQ_QUEUE_URL": "`+qURL+`"`) {
		t.Errorf("queues create --json: exit %d, %q", code, out)
	}
	client := testkit.NewSQS(emu.Fauxqs.URL)
	attrs, err := client.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(qURL), AttributeNames: []sqstypesName{"RedrivePolicy"}})
	if err != nil || !strings.Contains(attrs.Attributes["RedrivePolicy"], "quickstart-dlq") || !strings.Contains(attrs.Attributes["RedrivePolicy"], `"maxReceiveCount":20`) {
		t.Fatalf("redrive policy %q, err %v", attrs.Attributes["RedrivePolicy"], err)
	}
	// aws-ses-v2-local has no GetSendQuota: give the rate (SES sandbox: 14/s).
	env = append(env, "SESQ_QUEUE_URL="+qURL, "SESQ_DLQ_URL="+dlqURL, "SESQ_WAIT_TIME=1s", "SESQ_SEND_RATE=14")

	id := "arn:aws:ses:us-east-1:123456789012:identity/example.com"
	sendEmail := `{"version":1,"id":"quickstart-1","action":"SendEmail","sourceArn":"` + id + `","returnPathArn":"` + id + `","source":"sender@example.com","returnPath":"feedback@example.com","destination":{"to":["recipient@example.com"]},"message":{"subject":{"data":"Amazon SES Test","charset":"UTF-8"},"body":{"html":{"data":"This email was sent with Amazon SES.","charset":"UTF-8"}}}}`
	raw := "X-SES-SOURCE-ARN: " + id + "\r\nX-SES-FROM-ARN: " + id + "\r\nX-SES-RETURN-PATH-ARN: " + id + "\r\nFrom: sender@example.com\r\nTo: recipient@example.com\r\nSubject: raw with headers\r\n\r\nbody\r\n"
	rawEnv, _ := json.Marshal(map[string]any{"version": 1, "action": "SendRawEmail", "raw": []byte(raw)})
	invalid := `{"version":1,"action":"SendEmail","sourceArn":"` + id + `","fromArn":"` + id + `"}`
	out, _, code = sesq(t, env, sendEmail+"\n\n"+string(rawEnv)+"\n"+invalid+"\n", "enqueue")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 1 || len(lines) != 3 || !strings.HasPrefix(lines[0], "line 1: ") || !strings.HasPrefix(lines[1], "line 3: ") ||
		!strings.HasPrefix(lines[2], "line 4: error: fromArn") {
		t.Fatalf("enqueue: exit %d, output:\n%s", code, out)
	}
	// An envelope enqueued around the validation, to be dead-lettered.
	if _, err := client.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(qURL), MessageBody: aws.String(invalid)}); err != nil {
		t.Fatal(err)
	}

	cmd, logs := startWorker(t, env)
	type stored struct {
		Emails []struct {
			From    string `json:"from"`
			Subject string `json:"subject"`
		} `json:"emails"`
	}
	var store stored
	testkit.Eventually(t, 20*time.Second, "two emails in aws-ses-v2-local's store", func() bool {
		resp, err := http.Get(sesLocal.URL + "/store")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		store = stored{}
		json.NewDecoder(resp.Body).Decode(&store)
		return len(store.Emails) == 2
	})
	subjects := []string{store.Emails[0].Subject, store.Emails[1].Subject}
	if !(contains(subjects, "Amazon SES Test") && contains(subjects, "raw with headers")) {
		t.Errorf("stored subjects %v", subjects)
	}
	b := &testkit.Bundle{SQS: client, QueueURL: qURL, DLQURL: dlqURL}
	testkit.Eventually(t, 10*time.Second, "the queue to drain", func() bool { return b.Empty(t) })
	dl := b.DeadLetters(t)
	if len(dl) != 1 || testkit.Attr(dl[0], deadletter.AttrReason) != "invalid" {
		t.Errorf("dead letters: %d", len(dl))
	}

	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("sesq run after SIGTERM: %v\n%s", err, logs.String())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("log line is not JSON: %q", line)
		}
	}
}

// SIGTERM lets sends in flight finish and exits 0; the worker starts and
// stays up while SES is unreachable.
func TestSIGTERMDrainsInFlightSends(t *testing.T) {
	ses := startSES(t, 2*time.Second)
	b := emu.Setup(t)
	id := "arn:aws:ses:eu-west-1:123456789012:identity/example.com"
	for i := 0; i < 5; i++ {
		b.Enqueue(t, fmt.Sprintf(`{"version":1,"action":"SendRawEmail","sourceArn":%q,"raw":"RnJvbTogYUBleGFtcGxlLmNvbQ0KDQpoaQ==","id":"m%d"}`, id, i))
	}
	cmd, logs := startWorker(t, sesqEnv(ses.URL, "SESQ_QUEUE_URL="+b.QueueURL, "SESQ_DLQ_URL="+b.DLQURL, "SESQ_WAIT_TIME=1s", "SESQ_SHUTDOWN_TIMEOUT=10s"))
	testkit.Eventually(t, 10*time.Second, "five sends in flight", func() bool { return len(ses.Requests()) == 5 })
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, logs.String())
	}
	if len(ses.Sent()) != 5 {
		t.Errorf("sent %d of 5 in flight", len(ses.Sent()))
	}
	testkit.Eventually(t, 5*time.Second, "the deletes to land", func() bool { return b.Empty(t) })
	for _, r := range ses.Sent() {
		if r.Region != "eu-west-1" {
			t.Errorf("signed for %s", r.Region)
		}
	}
}

func TestStartsWhileSESIsUnreachable(t *testing.T) {
	b := emu.Setup(t)
	b.Enqueue(t, `{"version":1,"action":"SendRawEmail","sourceArn":"arn:aws:ses:us-east-1:123456789012:identity/example.com","raw":"RnJvbTogYUBleGFtcGxlLmNvbQ0KDQpoaQ=="}`)
	cmd, logs := startWorker(t, sesqEnv("http://127.0.0.1:1", "SESQ_QUEUE_URL="+b.QueueURL, "SESQ_DLQ_URL="+b.DLQURL, "SESQ_WAIT_TIME=1s", "SESQ_MAX_ATTEMPTS=100"))
	testkit.Eventually(t, 10*time.Second, "a retried connection error in the logs", func() bool {
		return strings.Contains(logs.String(), "ConnectionError")
	})
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, logs.String())
	}
	if len(b.DeadLetters(t)) != 0 {
		t.Errorf("dead-lettered while attempts remained")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
