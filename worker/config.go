package worker

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Config is the worker's settings, each used as given: start from
// DefaultConfig. `sesq run` fills it from SESQ_* variables (the defaults
// named beside the fields are theirs).
type Config struct {
	QueueURL string // the source queue; required
	DLQURL   string // the dead-letter queue the worker writes to; required

	Concurrency       int           // sends in flight at most; 32
	BatchSize         int           // messages per ReceiveMessage, 1-10; 10
	WaitTime          time.Duration // long-poll wait, whole seconds up to 20s; 20s (0: short polls)
	VisibilityTimeout time.Duration // asked for on receive, and extended while working; 60s
	SendTimeout       time.Duration // one send at most; 30s
	ShutdownTimeout   time.Duration // how long sends in flight may finish after Run's context ends; 25s

	MaxAttempts    int           // sends of one envelope over all deliveries before it is dead-lettered as exhausted; 8
	BackoffInitial time.Duration // first retry delay; 200ms
	BackoffMax     time.Duration // longest retry delay; 30s
	QuotaDelay     time.Duration // wait after a daily quota or a sending pause; 15m
	MaxDeferrals   int           // quota deferrals of one envelope before it is dead-lettered as quota; 96

	// LedgerKey signs the ledger the worker keeps on messages it puts
	// back; every worker of the queue must share it. Empty: derived from the
	// queue URLs (see docs/delivery.md).
	LedgerKey string
	// AllowedIdentities are identity ARN globs the worker may send for;
	// empty: every identity.
	AllowedIdentities []string
	// SendRate is the SES send rate quota per region the limiter works
	// under; 0: the transport's (GetSendQuota).
	SendRate float64
}

// DefaultConfig is the configuration `sesq run` uses when no SESQ_*
// variable is set; a program that embeds the worker starts from it and
// sets the queue URLs.
func DefaultConfig() Config {
	return Config{
		Concurrency: 32, BatchSize: 10, WaitTime: 20 * time.Second, VisibilityTimeout: 60 * time.Second,
		SendTimeout: 30 * time.Second, ShutdownTimeout: 25 * time.Second,
		MaxAttempts: 8, BackoffInitial: 200 * time.Millisecond, BackoffMax: 30 * time.Second,
		QuotaDelay: 15 * time.Minute, MaxDeferrals: 96,
	}
}

// Validate reports every setting the worker cannot run with, at once.
// (`sesq run` checks the SESQ_* variables first, naming them.)
func (c Config) Validate() error {
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	switch {
	case c.QueueURL == "" || c.DLQURL == "":
		bad("QueueURL and DLQURL are required")
	case c.QueueURL == c.DLQURL:
		bad("DLQURL must differ from QueueURL")
	}
	if c.Concurrency < 1 {
		bad("Concurrency must be at least 1, got %d", c.Concurrency)
	}
	if c.BatchSize < 1 || c.BatchSize > 10 {
		bad("BatchSize must be 1 to 10, got %d", c.BatchSize)
	}
	if c.WaitTime < 0 || c.WaitTime > 20*time.Second {
		bad("WaitTime must be 0 to 20s, got %s", c.WaitTime)
	}
	if c.VisibilityTimeout < 2*time.Second || c.VisibilityTimeout > 12*time.Hour {
		bad("VisibilityTimeout must be 2s to 12h, got %s", c.VisibilityTimeout)
	}
	if c.SendTimeout <= 0 {
		bad("SendTimeout must be positive, got %s", c.SendTimeout)
	}
	if c.ShutdownTimeout < 0 {
		bad("ShutdownTimeout must not be negative, got %s", c.ShutdownTimeout)
	}
	if c.MaxAttempts < 1 {
		bad("MaxAttempts must be at least 1, got %d", c.MaxAttempts)
	}
	if c.BackoffInitial <= 0 || c.BackoffMax < c.BackoffInitial {
		bad("BackoffInitial must be positive and at most BackoffMax, got %s and %s", c.BackoffInitial, c.BackoffMax)
	}
	if c.QuotaDelay <= 0 {
		bad("QuotaDelay must be positive, got %s", c.QuotaDelay)
	}
	if c.MaxDeferrals < 0 {
		bad("MaxDeferrals must not be negative, got %d", c.MaxDeferrals)
	}
	if c.SendRate < 0 {
		bad("SendRate must not be negative, got %v", c.SendRate)
	}
	if len(probs) > 0 {
		return errors.New("worker configuration: " + strings.Join(probs, "; "))
	}
	return nil
}
