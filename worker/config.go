package worker

import "time"

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
	// queue URLs (see README, Delivery semantics).
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
