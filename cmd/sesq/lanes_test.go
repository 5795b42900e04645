package main_test

import (
	"context"
	"path"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sesq/sesq/internal/testsupport/testkit"
)

// The binary reads lanes from SESQ_QUEUES and SESQ_DLQ_URLS: it sends from
// both queues and dead-letters each lane's bad envelope into that lane's
// own dead-letter queue.
func TestRunReadsLanes(t *testing.T) {
	t.Parallel()
	ses := startSES(t, 0)
	c := testkit.NewSQS(emu.Fauxqs.URL)
	name := path.Base(emu.Setup(t).QueueURL) // unique, whatever ran before in this emulator
	tx, txDLQ := testkit.CreateQueues(t, c, name+"-tx", 20)
	bulk, bulkDLQ := testkit.CreateQueues(t, c, name+"-bulk", 20)
	send := func(url, body string) {
		if _, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	ok := func(id string) string {
		return `{"version":1,"id":"` + id + `","action":"SendEmail","sourceArn":"arn:aws:ses:us-east-1:123456789012:identity/example.com","source":"a@example.com",` +
			`"destination":{"to":["b@example.com"]},"message":{"subject":{"data":"s"},"body":{"text":{"data":"t"}}}}`
	}
	send(tx, ok("tx-1"))
	send(bulk, ok("bulk-1"))
	send(bulk, `{"version":1,"action":"Nope"}`)
	cmd, logs := startWorker(t, sesqEnv(ses.URL,
		"SESQ_QUEUES=transactional="+tx+":8,bulk="+bulk,
		"SESQ_DLQ_URLS=transactional="+txDLQ+",bulk="+bulkDLQ,
		"SESQ_WAIT_TIME=1s", "SESQ_LOG_FORMAT=text"))
	testkit.Eventually(t, 20*time.Second, "both lanes sent", func() bool { return len(ses.Sent()) == 2 })
	b := &testkit.Bundle{SQS: c}
	count := func(url string) int {
		v, f, d := b.Counts(t, url)
		return v + f + d
	}
	testkit.Eventually(t, 20*time.Second, "the bad envelope in the bulk lane's dead-letter queue", func() bool { return count(bulkDLQ) == 1 })
	if n := count(txDLQ); n != 0 {
		t.Errorf("the transactional lane's dead-letter queue holds %d", n)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if l := logs.String(); !strings.Contains(l, "lane=bulk") || !strings.Contains(l, "lane=transactional") {
		t.Errorf("logs do not name the lanes:\n%s", l)
	}
}
