// Package config reads sesq's configuration from SESQ_* environment variables
// (with kelseyhightower/envconfig) and validates it in one place.
package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// Prefix is the environment prefix of every sesq setting.
const Prefix = "SESQ"

// Config is every setting of sesq, with its default beside it. AWS settings
// (region, credentials, endpoints) come from the AWS SDK's own variables.
type Config struct {
	QueueURL          string        `envconfig:"QUEUE_URL"`                             // source queue
	DLQURL            string        `envconfig:"DLQ_URL"`                               // dead-letter queue the worker writes to
	Queues            string        `envconfig:"QUEUES"`                                // lanes instead of QUEUE_URL: name=URL:weight,...
	DLQURLs           string        `envconfig:"DLQ_URLS"`                              // each lane's dead-letter queue: name=URL,...
	Fairness          string        `envconfig:"FAIRNESS" default:"tenant"`             // tenant: senders and rate shared among tenants; off
	TenantShare       float64       `envconfig:"TENANT_SHARE" default:"0.5"`            // most of the senders one tenant holds while others wait
	Concurrency       int           `envconfig:"CONCURRENCY" default:"32"`              // sends in flight at most
	BatchSize         int           `envconfig:"BATCH_SIZE" default:"10"`               // ReceiveMessage MaxNumberOfMessages
	WaitTime          time.Duration `envconfig:"WAIT_TIME" default:"20s"`               // long-poll wait
	VisibilityTimeout time.Duration `envconfig:"VISIBILITY_TIMEOUT" default:"60s"`      // asked for, and extended while working
	MaxAttempts       int           `envconfig:"MAX_ATTEMPTS" default:"8"`              // attempts over all deliveries
	BackoffInitial    time.Duration `envconfig:"BACKOFF_INITIAL" default:"200ms"`       // first retry delay
	BackoffMax        time.Duration `envconfig:"BACKOFF_MAX" default:"30s"`             // longest retry delay
	QuotaDelay        time.Duration `envconfig:"QUOTA_DELAY" default:"15m"`             // wait after a daily quota or pause
	MaxDeferrals      int           `envconfig:"MAX_DEFERRALS" default:"96"`            // quota deferrals of one envelope before reason quota (24 h at 15m)
	LedgerKey         string        `envconfig:"LEDGER_KEY"`                            // signs the ledger sesq keeps on messages; empty: derived from the queue URL
	AllowedIdentities []string      `envconfig:"ALLOWED_IDENTITIES"`                    // ARN globs; empty: all
	ShutdownTimeout   time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"25s"`        // drain time after SIGTERM
	SendTimeout       time.Duration `envconfig:"SEND_TIMEOUT" default:"30s"`            // one SES call at most
	MaxReceiveCount   int           `envconfig:"QUEUES_MAX_RECEIVE_COUNT" default:"20"` // redrive of `sesq queues create`
	HTTPAddr          string        `envconfig:"HTTP_ADDR" default:":9090"`             // /metrics, /healthz, /readyz; empty: off
	LogFormat         string        `envconfig:"LOG_FORMAT" default:"json"`             // json or text
	LogLevel          string        `envconfig:"LOG_LEVEL" default:"info"`              // debug, info, warn, error
	SendRate          float64       `envconfig:"SEND_RATE"`                             // SES send rate quota per region; 0: GetSendQuota's MaxSendRate
	MetricsTenants    int           `envconfig:"METRICS_TENANTS" default:"20"`          // busiest tenants named in sesq_tenant_messages_total; 0: off
	IdempotencyTable  string        `envconfig:"IDEMPOTENCY_TABLE"`                     // DynamoDB table shared by the fleet; empty: in memory
	IdempotencyTTL    time.Duration `envconfig:"IDEMPOTENCY_TTL" default:"24h"`         // how long a sent envelope id is remembered
	Transport         string        `envconfig:"TRANSPORT" default:"api"`               // api, api-v2 or smtp; each reads settings of its own (SESQ_SMTP_*)
	PayloadBuckets    []string      `envconfig:"PAYLOAD_BUCKETS"`                       // S3 buckets whose payloads the worker and dlq purge may read and delete
	PayloadBucket     string        `envconfig:"PAYLOAD_BUCKET"`                        // where producers (sesq enqueue) store payloads too large for a message
	PayloadThreshold  int           `envconfig:"PAYLOAD_THRESHOLD"`                     // body size (bytes) above which producers offload; 0: what fits the queue's MaximumMessageSize with room for sesq's attributes
	PayloadFetches    int           `envconfig:"PAYLOAD_FETCHES" default:"4"`           // large payloads a worker holds in memory at once
}

// Purpose says which command the configuration is for: each needs a
// different part of it.
type Purpose int

const (
	ForRun     Purpose = iota // the worker: both queues
	ForEnqueue                // producers: the source queue
	ForQueues                 // creating queues: no queue yet
	ForDLQ                    // dead-letter tools: the dead-letter queue
)

// Load reads the environment and validates the result for purpose. The error
// is one line naming every variable that is wrong and how.
//
// A variable set to the empty string counts as unset, so that deployment
// templates that pass every variable (compose files, task definitions) get
// the defaults; Load unsets such variables in the process environment. The
// exception is SESQ_HTTP_ADDR, which an empty value turns off.
func Load(purpose Purpose) (Config, error) {
	for _, kv := range os.Environ() {
		if k, v, _ := strings.Cut(kv, "="); v == "" && strings.HasPrefix(k, Prefix+"_") && k != Prefix+"_HTTP_ADDR" {
			os.Unsetenv(k)
		}
	}
	var c Config
	if err := envconfig.Process(Prefix, &c); err != nil {
		var pe *envconfig.ParseError
		if errors.As(err, &pe) {
			return c, fmt.Errorf("%s: cannot parse %q as %s", pe.KeyName, pe.Value, kind(pe.TypeName))
		}
		return c, err
	}
	for i, p := range c.AllowedIdentities {
		c.AllowedIdentities[i] = strings.TrimSpace(p)
	}
	return c, c.Validate(purpose)
}

func kind(typeName string) string {
	switch typeName {
	case "time.Duration", "Duration":
		return "a duration (like 200ms, 20s, 15m)"
	case "int":
		return "a whole number"
	case "float64":
		return "a number"
	}
	return typeName
}

// Validate reports every problem at once, one line, each naming its variable.
func (c Config) Validate(purpose Purpose) error {
	var probs []string
	bad := func(name, format string, args ...any) {
		probs = append(probs, Prefix+"_"+name+": "+fmt.Sprintf(format, args...))
	}
	checkURL := func(name, v string, required bool) {
		if v == "" {
			if required {
				bad(name, "required")
			}
			return
		}
		if !queueURL(v) {
			bad(name, "must be a queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)")
		}
	}
	lanes := purpose == ForRun && (c.Queues != "" || c.DLQURLs != "")
	checkURL("QUEUE_URL", c.QueueURL, (purpose == ForRun && !lanes) || purpose == ForEnqueue)
	checkURL("DLQ_URL", c.DLQURL, (purpose == ForRun && !lanes) || purpose == ForDLQ)
	if purpose == ForRun && !lanes && c.QueueURL != "" && c.QueueURL == c.DLQURL {
		bad("DLQ_URL", "must differ from SESQ_QUEUE_URL")
	}
	if purpose == ForRun && !lanes && c.QueueURL != "" && c.DLQURL != "" && isFIFO(c.QueueURL) != isFIFO(c.DLQURL) {
		bad("DLQ_URL", "a FIFO queue needs a FIFO dead-letter queue, and a standard queue a standard one (SQS redrives only between queues of one type)")
	}
	if lanes {
		if c.QueueURL != "" || c.DLQURL != "" {
			bad("QUEUES", "set either SESQ_QUEUES and SESQ_DLQ_URLS (lanes) or SESQ_QUEUE_URL and SESQ_DLQ_URL (one queue), not both")
		}
		if _, err := c.Lanes(); err != nil {
			probs = append(probs, err.Error())
		}
	}
	if c.Fairness != "tenant" && c.Fairness != "off" {
		bad("FAIRNESS", "must be tenant or off, got %q", c.Fairness)
	}
	if c.TenantShare <= 0 || c.TenantShare > 1 {
		bad("TENANT_SHARE", "must be more than 0 and at most 1, got %v", c.TenantShare)
	}
	if c.Concurrency < 1 || c.Concurrency > 10000 {
		bad("CONCURRENCY", "must be between 1 and 10000, got %d", c.Concurrency)
	}
	if c.BatchSize < 1 || c.BatchSize > 10 {
		bad("BATCH_SIZE", "must be between 1 and 10, got %d", c.BatchSize)
	}
	if c.WaitTime < 0 || c.WaitTime > 20*time.Second || c.WaitTime%time.Second != 0 {
		bad("WAIT_TIME", "must be whole seconds from 0s to 20s, got %s", c.WaitTime)
	}
	if c.VisibilityTimeout < 2*time.Second || c.VisibilityTimeout > 12*time.Hour || c.VisibilityTimeout%time.Second != 0 {
		bad("VISIBILITY_TIMEOUT", "must be whole seconds from 2s to 12h, got %s", c.VisibilityTimeout)
	}
	if c.MaxAttempts < 1 {
		bad("MAX_ATTEMPTS", "must be at least 1, got %d", c.MaxAttempts)
	}
	if c.BackoffInitial <= 0 {
		bad("BACKOFF_INITIAL", "must be positive, got %s", c.BackoffInitial)
	}
	if c.BackoffMax < c.BackoffInitial || c.BackoffMax > 12*time.Hour {
		bad("BACKOFF_MAX", "must be at least SESQ_BACKOFF_INITIAL and at most 12h, got %s", c.BackoffMax)
	}
	if c.QuotaDelay < time.Second {
		bad("QUOTA_DELAY", "must be at least 1s, got %s", c.QuotaDelay)
	}
	if c.MaxDeferrals < 0 {
		bad("MAX_DEFERRALS", "must not be negative, got %d", c.MaxDeferrals)
	}
	if c.LedgerKey != "" && len(c.LedgerKey) < 16 {
		bad("LEDGER_KEY", "must be at least 16 bytes (a random secret shared by every worker of the queue), got %d", len(c.LedgerKey))
	}
	for _, p := range c.AllowedIdentities {
		if err := ValidPattern(p); err != nil {
			bad("ALLOWED_IDENTITIES", "%v", err)
		}
	}
	if c.ShutdownTimeout < 0 {
		bad("SHUTDOWN_TIMEOUT", "must not be negative, got %s", c.ShutdownTimeout)
	}
	if c.SendTimeout < time.Second {
		bad("SEND_TIMEOUT", "must be at least 1s, got %s", c.SendTimeout)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		bad("LOG_FORMAT", "must be json or text, got %q", c.LogFormat)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		bad("LOG_LEVEL", "must be debug, info, warn or error, got %q", c.LogLevel)
	}
	if c.HTTPAddr != "" {
		if _, port, err := net.SplitHostPort(c.HTTPAddr); err != nil || port == "" {
			bad("HTTP_ADDR", "must be HOST:PORT or :PORT (empty turns it off), got %q", c.HTTPAddr)
		}
	}
	if c.IdempotencyTTL < time.Minute {
		bad("IDEMPOTENCY_TTL", "must be at least 1m, got %s", c.IdempotencyTTL)
	}
	if c.MetricsTenants < 0 || c.MetricsTenants > 1000 {
		bad("METRICS_TENANTS", "must be between 0 and 1000, got %d", c.MetricsTenants)
	}
	if c.SendRate < 0 {
		bad("SEND_RATE", "must not be negative, got %v", c.SendRate)
	}
	for i, b := range c.PayloadBuckets {
		c.PayloadBuckets[i] = strings.TrimSpace(b)
		if !bucketName(c.PayloadBuckets[i]) {
			bad("PAYLOAD_BUCKETS", "%q is not an S3 bucket name", b)
		}
	}
	if c.PayloadBucket != "" && !bucketName(c.PayloadBucket) {
		bad("PAYLOAD_BUCKET", "%q is not an S3 bucket name", c.PayloadBucket)
	}
	if c.PayloadThreshold < 0 || c.PayloadThreshold > 1<<20 {
		bad("PAYLOAD_THRESHOLD", "must be 0 (from the queue) to 1048576 bytes (SQS's largest message), got %d", c.PayloadThreshold)
	}
	if c.PayloadFetches < 1 || c.PayloadFetches > 1000 {
		bad("PAYLOAD_FETCHES", "must be between 1 and 1000, got %d", c.PayloadFetches)
	}
	if purpose == ForQueues && c.MaxReceiveCount <= c.MaxAttempts {
		bad("QUEUES_MAX_RECEIVE_COUNT", "must exceed SESQ_MAX_ATTEMPTS (%d), got %d: the worker's own routing comes first", c.MaxAttempts, c.MaxReceiveCount)
	}
	if len(probs) > 0 {
		return errors.New(strings.Join(probs, "; "))
	}
	return nil
}

// Lane is one source queue of several (SESQ_QUEUES), with its own
// dead-letter queue (SESQ_DLQ_URLS) and weight.
type Lane struct {
	Name, QueueURL, DLQURL string
	Weight                 int
}

// Lanes parses SESQ_QUEUES ("name=URL:weight,...", the weight optional,
// 1 by default) and SESQ_DLQ_URLS ("name=URL,..."); nil without
// SESQ_QUEUES. The error names every problem, each with its variable.
func (c Config) Lanes() ([]Lane, error) {
	if c.Queues == "" && c.DLQURLs == "" {
		return nil, nil
	}
	var probs []string
	bad := func(name, format string, args ...any) {
		probs = append(probs, Prefix+"_"+name+": "+fmt.Sprintf(format, args...))
	}
	var lanes []Lane
	index := map[string]int{}
	for _, part := range splitList(c.Queues) {
		name, rest, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if !ok || !laneName(name) {
			bad("QUEUES", "%q must be NAME=URL or NAME=URL:WEIGHT, NAME 1 to 32 of a-z, 0-9 and -", part)
			continue
		}
		u, weight := rest, 1
		if i := strings.LastIndexByte(rest, ':'); i >= 0 && allDigits(rest[i+1:]) && queueURL(rest[:i]) {
			u = rest[:i]
			fmt.Sscan(rest[i+1:], &weight)
			if weight < 1 || weight > 1000 {
				bad("QUEUES", "lane %s: weight must be 1 to 1000, got %s", name, rest[i+1:])
			}
		}
		if !queueURL(u) {
			bad("QUEUES", "lane %s: %q is not a queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)", name, u)
		}
		if _, dup := index[name]; dup {
			bad("QUEUES", "lane %s is given twice", name)
			continue
		}
		index[name] = len(lanes)
		lanes = append(lanes, Lane{Name: name, QueueURL: u, Weight: weight})
	}
	if len(lanes) == 0 {
		bad("QUEUES", "required with SESQ_DLQ_URLS: name=URL:weight,... (one entry per lane)")
	}
	for _, part := range splitList(c.DLQURLs) {
		name, u, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		i, known := index[name]
		switch {
		case !ok:
			bad("DLQ_URLS", "%q must be NAME=URL", part)
		case !known:
			bad("DLQ_URLS", "%s is no lane of SESQ_QUEUES", name)
		case !queueURL(u):
			bad("DLQ_URLS", "lane %s: %q is not a queue URL", name, u)
		case lanes[i].DLQURL != "":
			bad("DLQ_URLS", "lane %s is given twice", name)
		default:
			lanes[i].DLQURL = u
		}
	}
	seen := map[string]string{}
	for _, l := range lanes {
		if l.DLQURL == "" {
			bad("DLQ_URLS", "lane %s has no dead-letter queue (every lane needs its own)", l.Name)
			continue
		}
		if isFIFO(l.QueueURL) != isFIFO(l.DLQURL) {
			bad("DLQ_URLS", "lane %s: a FIFO queue needs a FIFO dead-letter queue, and a standard queue a standard one", l.Name)
		}
		for _, u := range []string{l.QueueURL, l.DLQURL} {
			if other, ok := seen[u]; ok {
				bad("DLQ_URLS", "lanes %s and %s share the queue %s (each lane needs a queue and a dead-letter queue of its own)", other, l.Name, u)
			}
			seen[u] = l.Name
		}
	}
	if len(probs) > 0 {
		return nil, errors.New(strings.Join(probs, "; "))
	}
	return lanes, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func laneName(s string) bool {
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

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// queueURL tells whether v looks like a queue URL: http(s), a host and a
// path.
func queueURL(v string) bool {
	u, err := url.Parse(v)
	return err == nil && u.Host != "" && (u.Scheme == "http" || u.Scheme == "https") && len(u.Path) > 1
}

// bucketName tells whether s is a valid S3 bucket name: 3-63 of a-z, 0-9,
// '.' and '-', starting and ending with a letter or digit.
func bucketName(s string) bool {
	if len(s) < 3 || len(s) > 63 {
		return false
	}
	for i, r := range s {
		alnum := r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
		if !alnum && ((r != '.' && r != '-') || i == 0 || i == len(s)-1) {
			return false
		}
	}
	return true
}

func isFIFO(u string) bool { return strings.HasSuffix(u, ".fifo") }

// Variables lists the name of every variable Config reads, SESQ_ prefix
// included, in field order.
func Variables() []string {
	t := reflect.TypeOf(Config{})
	out := make([]string, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		if k := t.Field(i).Tag.Get("envconfig"); k != "" {
			out = append(out, Prefix+"_"+k)
		}
	}
	return out
}

// RequiredForRun lists the variables `sesq run` cannot do without.
func RequiredForRun() []string {
	return []string{Prefix + "_QUEUE_URL", Prefix + "_DLQ_URL"}
}

// OnlyForQueuesCreate lists variables that only `sesq queues create` reads:
// a deployment of the worker has no use for them.
func OnlyForQueuesCreate() []string {
	return []string{Prefix + "_QUEUES_MAX_RECEIVE_COUNT"}
}

// Logger builds the logger the configuration asks for, writing to w.
func (c Config) Logger(w io.Writer) *slog.Logger {
	var lvl slog.Level
	lvl.UnmarshalText([]byte(c.LogLevel)) // checked by Validate; info when empty
	opts := &slog.HandlerOptions{Level: lvl}
	if c.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// ValidPattern checks one SESQ_ALLOWED_IDENTITIES pattern.
func ValidPattern(p string) error {
	switch {
	case p == "":
		return errors.New("empty pattern (remove the stray comma)")
	case !strings.HasPrefix(p, "arn:"):
		return fmt.Errorf("pattern %q must start with arn: (an identity ARN glob such as arn:aws:ses:*:123456789012:identity/example.com)", p)
	case strings.ContainsAny(p, " \t\r\n"):
		return fmt.Errorf("pattern %q contains white space", p)
	}
	return nil
}
