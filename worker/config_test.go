package worker_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sesq/sesq/worker"
)

func TestConfigValidate(t *testing.T) {
	ok := worker.DefaultConfig()
	ok.QueueURL, ok.DLQURL = "https://sqs.us-east-1.amazonaws.com/1/q", "https://sqs.us-east-1.amazonaws.com/1/q-dlq"
	if err := ok.Validate(); err != nil {
		t.Fatalf("DefaultConfig with URLs: %v", err)
	}
	for _, c := range []struct {
		name string
		set  func(*worker.Config)
		want string
	}{
		{"no URLs", func(c *worker.Config) { c.QueueURL = "" }, "QueueURL and DLQURL are required"},
		{"one queue for both", func(c *worker.Config) { c.DLQURL = c.QueueURL }, "DLQURL must differ"},
		{"no senders", func(c *worker.Config) { c.Concurrency = 0 }, "Concurrency must be at least 1, got 0"},
		{"batch of 11", func(c *worker.Config) { c.BatchSize = 11 }, "BatchSize must be 1 to 10, got 11"},
		{"long poll of 21s", func(c *worker.Config) { c.WaitTime = 21 * time.Second }, "WaitTime must be 0 to 20s"},
		{"no attempts", func(c *worker.Config) { c.MaxAttempts = 0 }, "MaxAttempts must be at least 1, got 0"},
		{"backoff upside down", func(c *worker.Config) { c.BackoffMax = time.Millisecond }, "at most BackoffMax"},
		{"visibility of 1s", func(c *worker.Config) { c.VisibilityTimeout = time.Second }, "VisibilityTimeout must be 2s to 12h"},
		{"zero send timeout", func(c *worker.Config) { c.SendTimeout = 0 }, "SendTimeout must be positive"},
		{"zero quota delay", func(c *worker.Config) { c.QuotaDelay = 0 }, "QuotaDelay must be positive"},
		{"tenant share over 1", func(c *worker.Config) { c.TenantShare = 1.5 }, "TenantShare must be 0 (the default) to 1, got 1.5"},
		{"lanes and a queue", func(c *worker.Config) { c.Lanes = lanes("a", "b") }, "either Lanes or QueueURL and DLQURL"},
		{"lane without a name", func(c *worker.Config) {
			c.QueueURL, c.DLQURL, c.Lanes = "", "", lanes("", "b")
		}, `lane name "" must be 1 to 32 of a-z, 0-9 and -`},
		{"lane twice", func(c *worker.Config) { c.QueueURL, c.DLQURL, c.Lanes = "", "", lanes("a", "a") }, `lane "a" is given twice`},
		{"lanes sharing a DLQ", func(c *worker.Config) {
			c.QueueURL, c.DLQURL, c.Lanes = "", "", lanes("a", "b")
			c.Lanes[1].DLQURL = c.Lanes[0].DLQURL
		}, `lane "b": queue https://sqs.us-east-1.amazonaws.com/1/a-dlq is used twice`},
		{"lane of weight 0", func(c *worker.Config) {
			c.QueueURL, c.DLQURL, c.Lanes = "", "", lanes("a")
			c.Lanes[0].Weight = 0
		}, `lane "a": weight must be at least 1, got 0`},
		{"FIFO lane, standard DLQ", func(c *worker.Config) {
			c.QueueURL, c.DLQURL, c.Lanes = "", "", lanes("a")
			c.Lanes[0].QueueURL += ".fifo"
		}, `lane "a": a FIFO queue needs a FIFO dead-letter queue`},
	} {
		cfg := ok
		c.set(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	// Every problem at once.
	if err := (worker.Config{}).Validate(); err == nil || strings.Count(err.Error(), ";") != 7 {
		t.Errorf("zero Config: %v, want every problem named", err)
	}
}

// lanes are lanes of the given names, each with a queue and a dead-letter
// queue named after it, weight 1.
func lanes(names ...string) []worker.Lane {
	var out []worker.Lane
	for _, n := range names {
		u := "https://sqs.us-east-1.amazonaws.com/1/" + n
		out = append(out, worker.Lane{Name: n, QueueURL: u, DLQURL: u + "-dlq", Weight: 1})
	}
	return out
}

func TestConfigLanes(t *testing.T) {
	c := worker.DefaultConfig()
	c.Lanes = lanes("transactional", "bulk")
	c.Lanes[0].Weight = 8
	if err := c.Validate(); err != nil {
		t.Fatalf("two lanes: %v", err)
	}
	c.Lanes = lanes("orders")
	c.Lanes[0].QueueURL += ".fifo"
	c.Lanes[0].DLQURL += ".fifo"
	if err := c.Validate(); err != nil {
		t.Fatalf("a FIFO lane: %v", err)
	}
}
