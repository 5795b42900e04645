package main_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dyntypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sesq/sesq/internal/awsclient"
	"github.com/sesq/sesq/internal/emulator"
	"github.com/sesq/sesq/internal/sestest"
	"github.com/sesq/sesq/internal/testkit"
)

// enqueueTokens puts n SendEmail envelopes whose subjects carry tok-I.
func enqueueTokens(t *testing.T, b *testkit.Bundle, n int) {
	t.Helper()
	var batch []types.SendMessageBatchRequestEntry
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if _, err := b.SQS.SendMessageBatch(t.Context(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(b.QueueURL), Entries: batch}); err != nil {
			t.Fatal(err)
		}
		batch = nil
	}
	for i := 0; i < n; i++ {
		body := fmt.Sprintf(`{"version":1,"id":"tok-%d","action":"SendEmail","sourceArn":%q,"source":"s@example.com","destination":{"to":["r@example.net"]},"message":{"subject":{"data":"tok-%d"},"body":{"text":{"data":"x"}}}}`,
			i, "arn:aws:ses:us-east-1:123456789012:identity/example.com", i)
		batch = append(batch, types.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), MessageBody: aws.String(body)})
		if len(batch) == 10 {
			flush()
		}
	}
	flush()
}

// tally counts each token's accepted sends and dead letters.
func tally(t *testing.T, b *testkit.Bundle, ses *sestest.Server, n int) (sent, dead, lost, duplicated int) {
	t.Helper()
	sends := map[string]int{}
	for _, r := range ses.Sent() {
		sends[r.Params.Get("Message.Subject.Data")]++
	}
	deadSet := map[string]bool{}
	for _, m := range b.DeadLetters(t) {
		body := aws.ToString(m.Body)
		i := strings.Index(body, `"id":"`)
		deadSet[strings.SplitN(body[i+6:], `"`, 2)[0]] = true
	}
	for i := 0; i < n; i++ {
		tok := fmt.Sprint("tok-", i)
		switch {
		case sends[tok] > 0:
			sent++
			duplicated += sends[tok] - 1
		case deadSet[tok]:
			dead++
		default:
			lost++
		}
	}
	return
}

// kill -9 in the middle of a backlog, then a restart: nothing is lost, and
// the duplicates are bounded by what was in flight; with the DynamoDB
// idempotency store (dynalite) fewer of them get through.
func TestKill9MidRunLosesNothing(t *testing.T) {
	dyn, err := emulator.StartDynalite(t.Context(), emu.Dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dyn.Stop()
	for _, store := range []string{"memory", "dynamodb"} {
		t.Run(store, func(t *testing.T) {
			ses := startSES(t, 20*time.Millisecond)
			b := emu.Setup(t)
			const n = 2000
			enqueueTokens(t, b, n)
			env := sesqEnv(ses.URL, "SESQ_QUEUE_URL="+b.QueueURL, "SESQ_DLQ_URL="+b.DLQURL, "SESQ_WAIT_TIME=1s", "SESQ_VISIBILITY_TIMEOUT=4s", "SESQ_SEND_TIMEOUT=2s")
			if store == "dynamodb" {
				env = append(env, "AWS_ENDPOINT_URL_DYNAMODB="+dyn.URL, "SESQ_IDEMPOTENCY_TABLE="+createIdempotencyTable(t, dyn.URL))
			}
			first, _ := startWorker(t, env)
			testkit.Eventually(t, 30*time.Second, "a third of the backlog sent", func() bool { return len(ses.Sent()) >= n/3 })
			first.Process.Signal(syscall.SIGKILL)
			first.Wait()
			atKill := len(ses.Sent())
			second, _ := startWorker(t, env)
			testkit.Eventually(t, 60*time.Second, "the backlog to drain after the restart", func() bool { return b.Empty(t) })
			second.Process.Signal(syscall.SIGTERM)
			if err := second.Wait(); err != nil {
				t.Errorf("restarted worker: %v", err)
			}
			sent, dead, lost, dup := tally(t, b, ses, n)
			t.Logf("%s store: kill -9 after %d sends of %d: sent %d, dead-lettered %d, lost %d, duplicated %d", store, atKill, n, sent, dead, lost, dup)
			// In flight at the kill: 32 sends, 20 prefetched, deletes not yet flushed.
			if lost != 0 || sent+dead != n || dup > 100 {
				t.Errorf("sent %d, dead %d, lost %d, duplicated %d", sent, dead, lost, dup)
			}
		})
	}
}

// createIdempotencyTable makes the table the Terraform module makes.
func createIdempotencyTable(t *testing.T, endpoint string) string {
	t.Helper()
	c := dynamodb.New(dynamodb.Options{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""), BaseEndpoint: aws.String(endpoint),
		HTTPClient: awsclient.HTTPClient(0)})
	name := fmt.Sprintf("sesq-idempotency-%d", time.Now().UnixNano())
	_, err := c.CreateTable(t.Context(), &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []dyntypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: dyntypes.ScalarAttributeTypeS}},
		KeySchema:            []dyntypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: dyntypes.KeyTypeHash}},
		BillingMode:          dyntypes.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatal(err)
	}
	waiter := dynamodb.NewTableExistsWaiter(c, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
	if err := waiter.Wait(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	return name
}

// SIGTERM under load: exit 0 within the shutdown timeout, what was not
// finished is visible again at once, nothing is lost.
func TestSIGTERMUnderLoad(t *testing.T) {
	ses := startSES(t, 50*time.Millisecond)
	b := emu.Setup(t)
	const n = 1000
	enqueueTokens(t, b, n)
	env := sesqEnv(ses.URL, "SESQ_QUEUE_URL="+b.QueueURL, "SESQ_DLQ_URL="+b.DLQURL, "SESQ_WAIT_TIME=1s", "SESQ_SHUTDOWN_TIMEOUT=5s", "SESQ_VISIBILITY_TIMEOUT=60s")
	cmd, _ := startWorker(t, env)
	testkit.Eventually(t, 20*time.Second, "sends under way", func() bool { return len(ses.Sent()) >= 200 })
	began := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v", err)
	}
	took := time.Since(began)
	// Nothing waits out the 60 s visibility timeout: what is left is visible.
	time.Sleep(300 * time.Millisecond)
	v, f, _ := b.Counts(t, b.QueueURL)
	sentBefore := len(ses.Sent())
	t.Logf("SIGTERM after %d sends: exited 0 in %v; %d visible, %d in flight", sentBefore, took.Round(time.Millisecond), v, f)
	if took > 5*time.Second+2*time.Second || f != 0 || v+sentBefore < n {
		t.Errorf("took %v, %d still invisible, %d visible + %d sent < %d", took, f, v, sentBefore, n)
	}
	// A second worker finishes the rest: nothing lost.
	cmd, _ = startWorker(t, env)
	testkit.Eventually(t, 30*time.Second, "the rest sent", func() bool { return b.Empty(t) })
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	sent, dead, lost, dup := tally(t, b, ses, n)
	t.Logf("after the restart: sent %d, dead-lettered %d, lost %d, duplicated %d", sent, dead, lost, dup)
	if lost != 0 || dup != 0 {
		t.Errorf("lost %d, duplicated %d", lost, dup)
	}
}

// downProxy forwards to fauxqs and can refuse every connection for a while.
type downProxy struct {
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	srv    *http.Server
}

func startProxy(t *testing.T, target string) *downProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &downProxy{addr: ln.Addr().String(), target: target}
	p.serve(ln)
	t.Cleanup(p.down)
	return p
}

func (p *downProxy) serve(ln net.Listener) {
	u, _ := url.Parse(p.target)
	p.mu.Lock()
	p.ln, p.srv = ln, &http.Server{Handler: httputil.NewSingleHostReverseProxy(u)}
	srv := p.srv
	p.mu.Unlock()
	go srv.Serve(ln)
}

// down closes the listener and every connection: connections are refused.
func (p *downProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv != nil {
		p.srv.Close()
		p.srv = nil
	}
}

func (p *downProxy) up(t *testing.T) {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.serve(ln)
}

// SQS refuses connections for a stretch: the worker stays up, reports not
// ready, retries with backoff, and resumes when SQS is back.
func TestSQSOutage(t *testing.T) {
	ses := startSES(t, 0)
	b := emu.Setup(t)
	proxy := startProxy(t, emu.Fauxqs.URL)
	port, _ := emulator.FreePort()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// A long poll cut off by the outage can still take messages at fauxqs
	// and answer nobody: they come back after the visibility timeout, kept
	// short here.
	cmd, logs := startWorker(t, sesqEnv(ses.URL, "SESQ_QUEUE_URL="+b.QueueURL, "SESQ_DLQ_URL="+b.DLQURL, "SESQ_WAIT_TIME=1s", "SESQ_VISIBILITY_TIMEOUT=5s",
		"AWS_ENDPOINT_URL_SQS=http://"+proxy.addr, "SESQ_HTTP_ADDR="+addr))
	testkit.Eventually(t, 10*time.Second, "ready", func() bool { return status(addr, "/readyz") == 200 })
	proxy.down()
	enqueueTokens(t, b, 20) // straight to fauxqs: producers still reach it
	testkit.Eventually(t, 15*time.Second, "not ready during the outage", func() bool { return status(addr, "/readyz") == 503 })
	if status(addr, "/healthz") != 200 {
		t.Error("not alive during an SQS outage: it must stay up")
	}
	time.Sleep(2 * time.Second)
	proxy.up(t)
	deadline := time.Now().Add(40 * time.Second)
	for !(b.Empty(t) && len(ses.Sent()) == 20) {
		if time.Now().After(deadline) {
			t.Fatalf("not drained after the outage; sent %d; logs:\n%s", len(ses.Sent()), logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	testkit.Eventually(t, 10*time.Second, "ready again", func() bool { return status(addr, "/readyz") == 200 })
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v", err)
	}
	if !strings.Contains(logs.String(), "receive failed; retrying") {
		t.Error("the outage was not reported in the logs")
	}
	sent, dead, lost, dup := tally(t, b, ses, 20)
	t.Logf("SQS outage: sent %d, dead-lettered %d, lost %d, duplicated %d", sent, dead, lost, dup)
	if lost != 0 {
		t.Errorf("lost %d", lost)
	}
}
