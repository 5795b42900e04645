package worker

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sesq/sesq/envelope"
)

// Config is the worker's settings, each used as given: start from
// DefaultConfig. `sesq run` fills it from SESQ_* variables (the defaults
// named beside the fields are theirs).
type Config struct {
	QueueURL string // the source queue; required unless Lanes are given
	DLQURL   string // the dead-letter queue the worker writes to; required with QueueURL
	// Lanes are several source queues read at once, each with its own
	// dead-letter queue and weight; instead of QueueURL and DLQURL.
	Lanes []Lane

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

	// FairnessOff stops sharing the senders and each region's send rate
	// among the tenants with messages waiting (Envelope.Tenant): messages
	// go in the order received (lanes keep their weights). By default
	// (false) they are shared, so that one tenant's backlog does not hold
	// the others back.
	FairnessOff bool
	// TenantShare is the largest share of the senders (Concurrency) one
	// tenant may hold while another tenant's message waits; 0.5 (0 means
	// that default).
	TenantShare float64
	// PayloadFetches is how many messages with an S3 payload the worker
	// holds at once, from the fetch to the end of the message: it bounds
	// the memory large messages take; 4 (0 means that default).
	PayloadFetches int
}

// DefaultPayloadFetches is Config.PayloadFetches's default.
const DefaultPayloadFetches = 4

func (c Config) payloadFetches() int {
	if c.PayloadFetches <= 0 {
		return DefaultPayloadFetches
	}
	return c.PayloadFetches
}

// DefaultTenantShare is Config.TenantShare's default.
const DefaultTenantShare = 0.5

// senderLimit is how many senders one tenant may hold while others wait.
func (c Config) senderLimit() int {
	share := c.TenantShare
	switch {
	case c.FairnessOff:
		share = 1
	case share == 0:
		share = DefaultTenantShare
	}
	return max(1, int(share*float64(c.Concurrency)))
}

// lanes is the configured lanes, or the one lane of QueueURL and DLQURL.
func (c Config) lanes() []Lane {
	if len(c.Lanes) > 0 {
		return c.Lanes
	}
	return []Lane{{Name: "default", QueueURL: c.QueueURL, DLQURL: c.DLQURL, Weight: 1}}
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
		TenantShare: DefaultTenantShare, PayloadFetches: DefaultPayloadFetches,
	}
}

// Validate reports every setting the worker cannot run with, at once.
// (`sesq run` checks the SESQ_* variables first, naming them.)
func (c Config) Validate() error {
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	switch {
	case len(c.Lanes) > 0 && (c.QueueURL != "" || c.DLQURL != ""):
		bad("give either Lanes or QueueURL and DLQURL, not both")
	case len(c.Lanes) == 0 && (c.QueueURL == "" || c.DLQURL == ""):
		bad("QueueURL and DLQURL are required")
	case len(c.Lanes) == 0 && c.QueueURL == c.DLQURL:
		bad("DLQURL must differ from QueueURL")
	default:
		for _, p := range checkLanes(c.lanes()) {
			bad("%s", p)
		}
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
	if c.PayloadFetches < 0 {
		bad("PayloadFetches must not be negative, got %d", c.PayloadFetches)
	}
	if c.TenantShare < 0 || c.TenantShare > 1 {
		bad("TenantShare must be 0 (the default) to 1, got %v", c.TenantShare)
	}
	if len(probs) > 0 {
		return errors.New("worker configuration: " + strings.Join(probs, "; "))
	}
	return nil
}

// checkLanes reports what is wrong with a set of lanes: every queue,
// dead-letter queues included, is used once; a FIFO queue dead-letters
// into a FIFO queue (SQS redrives only between queues of one type).
func checkLanes(lanes []Lane) []string {
	var probs []string
	seenName, seenURL := map[string]bool{}, map[string]bool{}
	for _, l := range lanes {
		if !validLaneName(l.Name) {
			probs = append(probs, fmt.Sprintf("lane name %q must be 1 to 32 of a-z, 0-9 and -", l.Name))
		} else if seenName[l.Name] {
			probs = append(probs, fmt.Sprintf("lane %q is given twice", l.Name))
		}
		seenName[l.Name] = true
		if l.QueueURL == "" || l.DLQURL == "" {
			probs = append(probs, fmt.Sprintf("lane %q needs a queue URL and a dead-letter queue URL", l.Name))
			continue
		}
		for _, u := range []string{l.QueueURL, l.DLQURL} {
			if seenURL[u] {
				probs = append(probs, fmt.Sprintf("lane %q: queue %s is used twice (every lane needs a queue and a dead-letter queue of its own)", l.Name, u))
			}
			seenURL[u] = true
		}
		if l.Weight < 1 {
			probs = append(probs, fmt.Sprintf("lane %q: weight must be at least 1, got %d", l.Name, l.Weight))
		}
		if envelope.IsFIFO(l.QueueURL) != envelope.IsFIFO(l.DLQURL) {
			probs = append(probs, fmt.Sprintf("lane %q: a FIFO queue needs a FIFO dead-letter queue and a standard queue a standard one", l.Name))
		}
	}
	return probs
}

func validLaneName(s string) bool {
	if len(s) < 1 || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}
