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
