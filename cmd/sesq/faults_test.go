package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dyntypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sesq/sesq/deadletter"
	"github.com/sesq/sesq/internal/awsclient"
	"github.com/sesq/sesq/internal/emulator"
	"github.com/sesq/sesq/internal/testsupport/sestest"
	"github.com/sesq/sesq/internal/testsupport/testkit"
)

// enqueueTokens puts n SendEmail envelopes whose subjects carry tok-I.
func enqueueTokens(t *testing.T, b *testkit.Bundle, n int) {
	t.Helper()
	enqueueTokensFor(t, b, 0, n, "arn:aws:ses:us-east-1:123456789012:identity/example.com")
}

// ledger is what became of each token: its SES requests and acceptances,
// and its dead letters with their reasons.
type ledger struct {
	n        int
	requests map[string]int
	sends    map[string]int
	dead     map[string][]string // reasons, one per dead letter
}

// account reads the SES endpoint and the dead-letter queue.
func account(t *testing.T, b *testkit.Bundle, ses *sestest.Server, n int) ledger {
	t.Helper()
	l := ledger{n: n, requests: map[string]int{}, sends: map[string]int{}, dead: map[string][]string{}}
	for _, r := range ses.Requests() {
		l.requests[r.Params.Get("Message.Subject.Data")]++
	}
	for _, r := range ses.Sent() {
		l.sends[r.Params.Get("Message.Subject.Data")]++
	}
	for _, m := range b.DeadLetters(t) {
		body := aws.ToString(m.Body)
		i := strings.Index(body, `"id":"`)
		if i < 0 {
			l.dead[body] = append(l.dead[body], testkit.Attr(m, deadletter.AttrReason))
			continue
		}
		tok := strings.SplitN(body[i+6:], `"`, 2)[0]
		l.dead[tok] = append(l.dead[tok], testkit.Attr(m, deadletter.AttrReason))
	}
	return l
}

// counts are the numbers the fault tests print, as README's Guarantees
// quotes them: tokens neither sent nor dead-lettered (lost), dead-lettered
// though SES never saw a send of them, dead-lettered for another reason
// than want gives (want returns "" for tokens that must be sent), and
// sends beyond the first.
type counts struct{ sent, dead, lost, deadUnsent, wrongReason, duplicated int }

func (l ledger) count(want func(tok string) string) counts {
	var c counts
	for i := 0; i < l.n; i++ {
		tok := fmt.Sprint("tok-", i)
		w := want(tok)
		switch {
		case l.sends[tok] > 0:
			c.sent++
			c.duplicated += l.sends[tok] - 1
			if w != "" {
				c.wrongReason++
			}
		case len(l.dead[tok]) > 0:
			c.dead++
			if l.requests[tok] == 0 && w == "" {
				c.deadUnsent++
			}
			if l.dead[tok][0] != w {
				c.wrongReason++
			}
		default:
			c.lost++
		}
	}
	return c
}

func (c counts) String() string {
	return fmt.Sprintf("sent %d, dead-lettered %d; lost %d, dead-lettered without a send %d, wrong reason %d, duplicated %d",
		c.sent, c.dead, c.lost, c.deadUnsent, c.wrongReason, c.duplicated)
}

func allSent(string) string { return "" }

// kill -9 in the middle of a backlog, then a restart: nothing is lost, and
// the duplicates are bounded by what was in flight; with the DynamoDB
// idempotency store (dynalite) fewer of them get through.
func TestKill9MidRunLosesNothing(t *testing.T) {
	dyn, err := emulator.StartDynalite(t.Context(), emu.Dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dyn.Stop()
	// The defaults but for the visibility timeout (4 s, so that the test
	// waits seconds, not minutes), and once with 3 attempts whose delays
	// all wait in process: a count that charged an unfinished delivery the
	// whole in-process budget would dead-letter what was in flight unsent.
	for _, store := range []string{"memory", "dynamodb", "memory, 3 attempts"} {
		t.Run(store, func(t *testing.T) {
			ses := startSES(t, 20*time.Millisecond)
			b := emu.Setup(t)
			const n = 2000
			enqueueTokens(t, b, n)
			env := sesqEnv(ses.URL, "SESQ_QUEUE_URL="+b.QueueURL, "SESQ_DLQ_URL="+b.DLQURL, "SESQ_WAIT_TIME=1s", "SESQ_VISIBILITY_TIMEOUT=4s", "SESQ_SEND_TIMEOUT=2s")
			if store == "memory, 3 attempts" {
				env = append(env, "SESQ_MAX_ATTEMPTS=3", "SESQ_BACKOFF_INITIAL=10ms", "SESQ_BACKOFF_MAX=100ms")
			}
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
			c := account(t, b, ses, n).count(allSent)
			t.Logf("kill -9 after %d sends of %d (%s store): %s", atKill, n, store, c)
			// In flight at the kill: 32 sends, 20 prefetched, deletes not yet flushed.
			if c.lost != 0 || c.dead != 0 || c.deadUnsent != 0 || c.wrongReason != 0 || c.duplicated > 100 {
				t.Errorf("%s", c)
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
	c := account(t, b, ses, n).count(allSent)
	t.Logf("SIGTERM under load, then a restart: %s", c)
	if c.lost != 0 || c.dead != 0 || c.duplicated != 0 {
		t.Errorf("%s", c)
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
	// 3 attempts whose delays all wait in process: a count that charged
	// the lost delivery the whole in-process budget would dead-letter its
	// messages unsent.
	cmd, logs := startWorker(t, sesqEnv(ses.URL, "SESQ_QUEUE_URL="+b.QueueURL, "SESQ_DLQ_URL="+b.DLQURL, "SESQ_WAIT_TIME=1s", "SESQ_VISIBILITY_TIMEOUT=5s",
		"SESQ_MAX_ATTEMPTS=3", "SESQ_BACKOFF_INITIAL=10ms", "SESQ_BACKOFF_MAX=100ms",
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
	c := account(t, b, ses, 20).count(allSent)
	t.Logf("SQS outage: %s", c)
	if c.lost != 0 || c.dead != 0 || c.duplicated != 0 {
		t.Errorf("%s", c)
	}
}

// faultProxy forwards SQS requests to fauxqs and, per request, lets a test
// refuse it (the connection closed before any answer: an outage) or lose
// its answer (forwarded, done at fauxqs, and the connection closed instead
// of answering).
type faultProxy struct {
	URL    string
	target string
	client *http.Client
	mu     sync.Mutex
	// refuse and lose decide per SQS operation (SendMessage, ...) and
	// queue URL; lose also sees fauxqs's answer.
	refuse func(op, queueURL string) bool
	lose   func(op, queueURL string, answer []byte) bool
	lost   int
}

func startFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	p := &faultProxy{target: target, client: &http.Client{}}
	srv := httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

func (p *faultProxy) set(refuse func(op, queueURL string) bool, lose func(op, queueURL string, answer []byte) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse, p.lose = refuse, lose
}

func (p *faultProxy) lostAnswers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lost
}

// cut closes the client's connection without an answer.
func cut(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		conn.Close()
	}
}

func (p *faultProxy) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		cut(w)
		return
	}
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	var in struct{ QueueUrl string }
	json.Unmarshal(body, &in)
	p.mu.Lock()
	refuse, lose := p.refuse, p.lose
	p.mu.Unlock()
	if refuse != nil && refuse(op, in.QueueUrl) {
		cut(w)
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		cut(w)
		return
	}
	req.Header = r.Header.Clone()
	resp, err := p.client.Do(req)
	if err != nil {
		cut(w)
		return
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		cut(w)
		return
	}
	if lose != nil && lose(op, in.QueueUrl, answer) {
		p.mu.Lock()
		p.lost++
		p.mu.Unlock()
		cut(w)
		return
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(answer)
}

// enqueueTokensFor puts SendEmail envelopes tok-first .. tok-(first+n-1)
// for identity.
func enqueueTokensFor(t *testing.T, b *testkit.Bundle, first, n int, identity string) {
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
	for i := first; i < first+n; i++ {
		body := fmt.Sprintf(`{"version":1,"id":"tok-%d","action":"SendEmail","sourceArn":%q,"source":"s@example.com","destination":{"to":["r@example.net"]},"message":{"subject":{"data":"tok-%d"},"body":{"text":{"data":"x"}}}}`,
			i, identity, i)
		batch = append(batch, types.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(len(batch))), MessageBody: aws.String(body)})
		if len(batch) == 10 {
			flush()
		}
	}
	flush()
}

// The dead-letter queue is unreachable for a stretch while authorization
// failures are to be written there: each goes back to the source queue
// with its reason and is dead-lettered as authorization once the queue is
// back, never as exhausted; SES is called once for each; the rest is sent.
func TestDeadLetterQueueOutage(t *testing.T) {
	ses := startSES(t, 0)
	b := emu.Setup(t)
	proxy := startFaultProxy(t, emu.Fauxqs.URL)
	var down atomic.Bool
	down.Store(true)
	proxy.set(func(op, url string) bool { return down.Load() && url == b.DLQURL }, nil)
	denied := "arn:aws:ses:us-east-1:123456789012:identity/denied.example"
	ses.FailAlways(denied, sestest.AccessDenied)
	const n = 60
	enqueueTokensFor(t, b, 0, 30, "arn:aws:ses:us-east-1:123456789012:identity/example.com")
	enqueueTokensFor(t, b, 30, 30, denied)
	cmd, logs := startWorker(t, sesqEnv(ses.URL, "SESQ_QUEUE_URL="+b.QueueURL, "SESQ_DLQ_URL="+b.DLQURL, "SESQ_WAIT_TIME=1s",
		"SESQ_BACKOFF_MAX=1s", "AWS_ENDPOINT_URL_SQS="+proxy.URL))
	testkit.Eventually(t, 20*time.Second, "every envelope tried", func() bool { return len(ses.Requests()) >= n })
	time.Sleep(3 * time.Second) // dead-letter writes keep failing meanwhile
	down.Store(false)
	testkit.Eventually(t, 30*time.Second, "the queue to drain", func() bool { return b.Empty(t) })
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v", err)
	}
	if !strings.Contains(logs.String(), "dead-letter write failed") {
		t.Error("the outage was not reported in the logs")
	}
	l := account(t, b, ses, n)
	c := l.count(func(tok string) string {
		if i, _ := strconv.Atoi(strings.TrimPrefix(tok, "tok-")); i >= 30 {
			return "authorization"
		}
		return ""
	})
	tooMany := 0
	for i := 30; i < n; i++ {
		tooMany += l.requests[fmt.Sprint("tok-", i)] - 1
	}
	t.Logf("dead-letter queue outage: %s; SES calls beyond one per authorization failure %d", c, tooMany)
	if c.lost != 0 || c.deadUnsent != 0 || c.wrongReason != 0 || c.duplicated != 0 || c.sent != 30 || c.dead != 30 || tooMany != 0 {
		t.Errorf("%s; extra SES calls %d", c, tooMany)
	}
}

// Answers of ReceiveMessage lost on the way (a connection that breaks after
// SQS handed out messages): those messages stay hidden for their
// visibility timeout and come again; the lost delivery costs them at most
// one attempt (with 3 attempts and delays short enough to wait in process,
// a count that charged the whole in-process budget would dead-letter them
// unsent), and each is sent once.
func TestLostReceiveAnswers(t *testing.T) {
	ses := startSES(t, 0)
	b := emu.Setup(t)
	proxy := startFaultProxy(t, emu.Fauxqs.URL)
	var toLose atomic.Int32
	toLose.Store(3)
	proxy.set(nil, func(op, _ string, answer []byte) bool {
		return op == "ReceiveMessage" && bytes.Contains(answer, []byte(`"MessageId"`)) && toLose.Add(-1) >= 0
	})
	const n = 100
	enqueueTokens(t, b, n)
	cmd, _ := startWorker(t, sesqEnv(ses.URL, "SESQ_QUEUE_URL="+b.QueueURL, "SESQ_DLQ_URL="+b.DLQURL, "SESQ_WAIT_TIME=1s",
		"SESQ_VISIBILITY_TIMEOUT=3s", "SESQ_MAX_ATTEMPTS=3", "SESQ_BACKOFF_INITIAL=10ms", "SESQ_BACKOFF_MAX=100ms", "AWS_ENDPOINT_URL_SQS="+proxy.URL))
	testkit.Eventually(t, 30*time.Second, "the queue to drain", func() bool { return proxy.lostAnswers() == 3 && b.Empty(t) })
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v", err)
	}
	c := account(t, b, ses, n).count(allSent)
	t.Logf("lost receive answers (%d): %s", proxy.lostAnswers(), c)
	if proxy.lostAnswers() != 3 || c.lost != 0 || c.dead != 0 || c.duplicated != 0 {
		t.Errorf("%d answers lost; %s", proxy.lostAnswers(), c)
	}
}

// An envelope dead-lettered as exhausted, moved back the way the console's
// redrive (StartMessageMoveTask) does it, its attributes kept: it starts
// with a fresh attempt budget and is sent.
func TestConsoleRedriveStartsAfresh(t *testing.T) {
	ses := startSES(t, 0)
	b := emu.Setup(t)
	id := "arn:aws:ses:us-east-1:123456789012:identity/example.com"
	ses.FailAlways(id, sestest.ServiceUnavailable)
	enqueueTokens(t, b, 1)
	env := sesqEnv(ses.URL, "SESQ_QUEUE_URL="+b.QueueURL, "SESQ_DLQ_URL="+b.DLQURL, "SESQ_WAIT_TIME=1s",
		"SESQ_MAX_ATTEMPTS=3", "SESQ_BACKOFF_INITIAL=10ms", "SESQ_BACKOFF_MAX=100ms")
	cmd, _ := startWorker(t, env)
	var dl []types.Message
	testkit.Eventually(t, 20*time.Second, "the envelope dead-lettered", func() bool {
		out, err := b.SQS.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(b.DLQURL), MessageAttributeNames: []string{"All"}, VisibilityTimeout: 30})
		if err != nil {
			t.Fatal(err)
		}
		dl = out.Messages
		return len(dl) == 1
	})
	if r, a := testkit.Attr(dl[0], deadletter.AttrReason), testkit.Attr(dl[0], deadletter.AttrAttempts); r != "exhausted" || a != "3" {
		t.Fatalf("dead letter reason %q attempts %q, want exhausted after 3", r, a)
	}
	ses.Recover(id)
	// The redrive: the body and every attribute to the source queue, then
	// the dead letter deleted.
	if _, err := b.SQS.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(b.QueueURL), MessageBody: dl[0].Body, MessageAttributes: dl[0].MessageAttributes}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.SQS.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String(b.DLQURL), ReceiptHandle: dl[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "the redriven envelope sent", func() bool { return len(ses.Sent()) == 1 && b.Empty(t) })
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v", err)
	}
	c := account(t, b, ses, 1).count(allSent)
	t.Logf("console-style redrive of an exhausted envelope: %s (SES calls %d: 3 before, 1 after)", c, len(ses.Requests()))
	if c.sent != 1 || c.dead != 0 || len(ses.Requests()) != 4 {
		t.Errorf("%s; %d SES calls", c, len(ses.Requests()))
	}
}
