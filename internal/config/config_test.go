package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sesq/sesq/internal/config"
)

func TestLoadDefaults(t *testing.T) {
	t.Setenv("SESQ_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/mail")
	t.Setenv("SESQ_DLQ_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/mail-dlq")
	c, err := config.Load(config.ForRun)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Config{
		QueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/mail", DLQURL: "https://sqs.us-east-1.amazonaws.com/123456789012/mail-dlq",
		Concurrency: 32, BatchSize: 10, WaitTime: 20 * time.Second, VisibilityTimeout: 60 * time.Second, MaxAttempts: 8,
		BackoffInitial: 200 * time.Millisecond, BackoffMax: 30 * time.Second, QuotaDelay: 15 * time.Minute,
		ShutdownTimeout: 25 * time.Second, SendTimeout: 30 * time.Second, MaxReceiveCount: 20,
		HTTPAddr: ":9090", LogFormat: "json", LogLevel: "info",
	}
	if c.AllowedIdentities != nil {
		t.Errorf("AllowedIdentities = %v, want none", c.AllowedIdentities)
	}
	c.AllowedIdentities = nil
	if c.QueueURL != want.QueueURL || c.Concurrency != want.Concurrency || c.BatchSize != want.BatchSize || c.WaitTime != want.WaitTime ||
		c.VisibilityTimeout != want.VisibilityTimeout || c.MaxAttempts != want.MaxAttempts || c.BackoffInitial != want.BackoffInitial ||
		c.BackoffMax != want.BackoffMax || c.QuotaDelay != want.QuotaDelay || c.ShutdownTimeout != want.ShutdownTimeout ||
		c.SendTimeout != want.SendTimeout || c.MaxReceiveCount != want.MaxReceiveCount || c.DLQURL != want.DLQURL ||
		c.HTTPAddr != want.HTTPAddr || c.LogFormat != want.LogFormat || c.LogLevel != want.LogLevel {
		t.Errorf("defaults:\n got %+v\nwant %+v", c, want)
	}
}

func TestEmptyMeansDefaultButTurnsHTTPOff(t *testing.T) {
	t.Setenv("SESQ_QUEUE_URL", "http://localhost:4566/000000000000/q")
	t.Setenv("SESQ_CONCURRENCY", "")
	t.Setenv("SESQ_HTTP_ADDR", "")
	c, err := config.Load(config.ForEnqueue)
	if err != nil {
		t.Fatal(err)
	}
	if c.Concurrency != 32 || c.HTTPAddr != "" {
		t.Errorf("concurrency %d, http addr %q; want the default and off", c.Concurrency, c.HTTPAddr)
	}
}

func TestLoadAllowedIdentities(t *testing.T) {
	t.Setenv("SESQ_QUEUE_URL", "http://localhost:4566/000000000000/q")
	t.Setenv("SESQ_ALLOWED_IDENTITIES", "arn:aws:ses:*:123456789012:identity/example.com, arn:aws:ses:eu-west-1:*:identity/*")
	c, err := config.Load(config.ForEnqueue)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.AllowedIdentities) != 2 || c.AllowedIdentities[1] != "arn:aws:ses:eu-west-1:*:identity/*" {
		t.Errorf("AllowedIdentities = %q", c.AllowedIdentities)
	}
}

func TestLoadErrorsNameTheVariable(t *testing.T) {
	cases := []struct {
		env     map[string]string
		purpose config.Purpose
		want    []string
	}{
		{map[string]string{}, config.ForRun, []string{"SESQ_QUEUE_URL: required", "SESQ_DLQ_URL: required"}},
		{map[string]string{}, config.ForEnqueue, []string{"SESQ_QUEUE_URL: required"}},
		{map[string]string{"SESQ_QUEUE_URL": "q", "SESQ_DLQ_URL": "d"}, config.ForRun, []string{"SESQ_QUEUE_URL: must be a queue URL", "SESQ_DLQ_URL: must be a queue URL"}},
		{map[string]string{"SESQ_WAIT_TIME": "soon"}, config.ForQueues, []string{`SESQ_WAIT_TIME: cannot parse "soon" as a duration`}},
		{map[string]string{"SESQ_CONCURRENCY": "many"}, config.ForQueues, []string{`SESQ_CONCURRENCY: cannot parse "many" as a whole number`}},
		{map[string]string{"SESQ_CONCURRENCY": "0", "SESQ_BATCH_SIZE": "11", "SESQ_WAIT_TIME": "21s", "SESQ_VISIBILITY_TIMEOUT": "1s",
			"SESQ_MAX_ATTEMPTS": "0", "SESQ_BACKOFF_INITIAL": "0s", "SESQ_QUOTA_DELAY": "10ms", "SESQ_SHUTDOWN_TIMEOUT": "-1s",
			"SESQ_ALLOWED_IDENTITIES": "example.com"}, config.ForQueues,
			[]string{"SESQ_CONCURRENCY", "SESQ_BATCH_SIZE", "SESQ_WAIT_TIME", "SESQ_VISIBILITY_TIMEOUT", "SESQ_MAX_ATTEMPTS", "SESQ_BACKOFF_INITIAL",
				"SESQ_QUOTA_DELAY", "SESQ_SHUTDOWN_TIMEOUT", "SESQ_ALLOWED_IDENTITIES: pattern \"example.com\" must start with arn:"}},
		{map[string]string{"SESQ_BACKOFF_INITIAL": "1s", "SESQ_BACKOFF_MAX": "500ms"}, config.ForQueues, []string{"SESQ_BACKOFF_MAX"}},
		{map[string]string{"SESQ_MAX_ATTEMPTS": "30"}, config.ForQueues, []string{"SESQ_QUEUES_MAX_RECEIVE_COUNT: must exceed SESQ_MAX_ATTEMPTS"}},
		{map[string]string{"SESQ_QUEUE_URL": "http://h/q", "SESQ_DLQ_URL": "http://h/q"}, config.ForRun, []string{"SESQ_DLQ_URL: must differ"}},
		{map[string]string{"SESQ_LOG_FORMAT": "xml", "SESQ_LOG_LEVEL": "loud", "SESQ_HTTP_ADDR": "9090"}, config.ForQueues,
			[]string{"SESQ_LOG_FORMAT", "SESQ_LOG_LEVEL", "SESQ_HTTP_ADDR"}},
		{map[string]string{}, config.ForDLQ, []string{"SESQ_DLQ_URL: required"}},
		{map[string]string{"SESQ_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/mail.fifo", "SESQ_DLQ_URL": "https://sqs.us-east-1.amazonaws.com/1/dlq"}, config.ForRun,
			[]string{"SESQ_DLQ_URL: a FIFO queue needs a FIFO dead-letter queue"}},
		{map[string]string{"SESQ_QUEUES": "a=https://sqs.us-east-1.amazonaws.com/1/a:8", "SESQ_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/q"}, config.ForRun,
			[]string{"SESQ_QUEUES: set either", "SESQ_DLQ_URLS: lane a has no dead-letter queue"}},
		{map[string]string{"SESQ_QUEUES": "A=https://sqs.us-east-1.amazonaws.com/1/a, b=nowhere:2, c=https://sqs.us-east-1.amazonaws.com/1/c:0",
			"SESQ_DLQ_URLS": "b=https://sqs.us-east-1.amazonaws.com/1/b-dlq,z=https://sqs.us-east-1.amazonaws.com/1/z-dlq,c=https://sqs.us-east-1.amazonaws.com/1/c-dlq.fifo",
			"SESQ_FAIRNESS": "strict", "SESQ_TENANT_SHARE": "0"}, config.ForRun,
			[]string{`SESQ_QUEUES: "A=https://sqs.us-east-1.amazonaws.com/1/a" must be NAME=URL`, `SESQ_QUEUES: lane b: "nowhere:2" is not a queue URL`,
				"SESQ_QUEUES: lane c: weight must be 1 to 1000, got 0", "SESQ_DLQ_URLS: z is no lane of SESQ_QUEUES",
				"SESQ_DLQ_URLS: lane c: a FIFO queue needs a FIFO dead-letter queue", `SESQ_FAIRNESS: must be tenant or off, got "strict"`,
				"SESQ_TENANT_SHARE: must be more than 0 and at most 1, got 0"}},
		{map[string]string{"SESQ_QUEUES": "a=https://sqs.us-east-1.amazonaws.com/1/a,b=https://sqs.us-east-1.amazonaws.com/1/b",
			"SESQ_DLQ_URLS": "a=https://sqs.us-east-1.amazonaws.com/1/d,b=https://sqs.us-east-1.amazonaws.com/1/d"}, config.ForRun,
			[]string{"SESQ_DLQ_URLS: lanes a and b share the queue https://sqs.us-east-1.amazonaws.com/1/d"}},
		{map[string]string{"SESQ_METRICS_TENANTS": "-1"}, config.ForQueues, []string{"SESQ_METRICS_TENANTS: must be between 0 and 1000, got -1"}},
		// The key's value is never echoed, only its length.
		{map[string]string{"SESQ_LEDGER_KEY": "short-secret", "SESQ_MAX_DEFERRALS": "-1"}, config.ForQueues,
			[]string{"SESQ_LEDGER_KEY: must be at least 16 bytes", "got 12", "SESQ_MAX_DEFERRALS: must not be negative"}},
	}
	for _, c := range cases {
		for k, v := range c.env {
			t.Setenv(k, v)
		}
		_, err := config.Load(c.purpose)
		for k := range c.env {
			t.Setenv(k, "")
		}
		if err == nil {
			t.Errorf("%v: no error", c.env)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("error spans lines: %q", err)
		}
		if k := c.env["SESQ_LEDGER_KEY"]; k != "" && strings.Contains(err.Error(), k) {
			t.Errorf("the error shows the ledger key: %q", err)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not say %q", c.env, err, w)
			}
		}
	}
}

func TestLanes(t *testing.T) {
	t.Setenv("SESQ_QUEUES", " transactional=https://sqs.us-east-1.amazonaws.com/1/tx:8, bulk=http://127.0.0.1:4566/000000000000/bulk ,orders=https://sqs.us-east-1.amazonaws.com/1/orders.fifo")
	t.Setenv("SESQ_DLQ_URLS", "bulk=http://127.0.0.1:4566/000000000000/bulk-dlq,transactional=https://sqs.us-east-1.amazonaws.com/1/tx-dlq,orders=https://sqs.us-east-1.amazonaws.com/1/orders-dlq.fifo")
	c, err := config.Load(config.ForRun)
	if err != nil {
		t.Fatal(err)
	}
	lanes, err := c.Lanes()
	if err != nil {
		t.Fatal(err)
	}
	want := []config.Lane{
		{Name: "transactional", QueueURL: "https://sqs.us-east-1.amazonaws.com/1/tx", DLQURL: "https://sqs.us-east-1.amazonaws.com/1/tx-dlq", Weight: 8},
		{Name: "bulk", QueueURL: "http://127.0.0.1:4566/000000000000/bulk", DLQURL: "http://127.0.0.1:4566/000000000000/bulk-dlq", Weight: 1},
		{Name: "orders", QueueURL: "https://sqs.us-east-1.amazonaws.com/1/orders.fifo", DLQURL: "https://sqs.us-east-1.amazonaws.com/1/orders-dlq.fifo", Weight: 1},
	}
	if len(lanes) != len(want) {
		t.Fatalf("lanes %+v, want %+v", lanes, want)
	}
	for i := range want {
		if lanes[i] != want[i] {
			t.Errorf("lane %d: %+v, want %+v", i, lanes[i], want[i])
		}
	}
	if c.Fairness != "tenant" || c.TenantShare != 0.5 {
		t.Errorf("fairness %q, share %v: want tenant and 0.5 by default", c.Fairness, c.TenantShare)
	}
}
