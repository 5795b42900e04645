// Package worker runs sesq: it long-polls the queue for send envelopes, sends
// each through the SES client of its identity's region, and acts on what
// retry.Policy.Decide makes of the outcome: delete when sent, send again
// after a short backoff, hand back (a long backoff, a paused region),
// defer on quota, dead-letter what can never succeed.
//
// Delivery is at least once: a message is deleted only after SES accepted
// it, it was written to the dead-letter queue, or it was put back on the
// queue as a new message carrying its ledger (internal/ledger). A worker
// that dies mid-send leaves its messages to reappear after their
// visibility timeout, so an email can (rarely) be sent twice; the
// envelope id, claimed in the idempotency store before each send, is the
// key that suppresses that.
//
// A worker reads one queue, or several (Config.Lanes), each with its own
// dead-letter queue and a weight. Received messages wait in a dispatcher
// that offers them to the senders by lane weight, round robin among
// tenants (envelope.Envelope.Tenant) with a limit on one tenant's senders
// while others wait, and in order within a FIFO message group; each
// region's send rate goes to the tenants waiting for it in weighted fair
// order (internal/ratelimit.Fair). On a FIFO queue a message is never put
// back as a new message, which would go to the end of its group: it is
// made visible again later instead, holding its group back meanwhile.
package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/cenkalti/backoff/v4"

	"github.com/sesq/sesq/deadletter"
	"github.com/sesq/sesq/envelope"
	"github.com/sesq/sesq/idempotency"
	"github.com/sesq/sesq/internal/breaker"
	"github.com/sesq/sesq/internal/ledger"
	"github.com/sesq/sesq/internal/ratelimit"
	"github.com/sesq/sesq/payload"
	"github.com/sesq/sesq/retry"
	"github.com/sesq/sesq/transport"
)

// Queue is the SQS calls the worker makes; *sqs.Client has them.
type Queue interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

var _ Queue = (*sqs.Client)(nil)

// Idempotency is the duplicate-suppression store the worker uses
// (internal/idempotency has an in-memory one and a DynamoDB one). A claim
// has an owner (one delivery) and lasts ttl unless renewed.
type Idempotency interface {
	Claim(ctx context.Context, key, owner string, ttl time.Duration) (idempotency.Claim, error)
	Renew(ctx context.Context, key, owner string, ttl time.Duration) error
	Done(ctx context.Context, key, owner string) error
	Release(ctx context.Context, key, owner string) error
}

var _ Idempotency = (*idempotency.Memory)(nil)
var _ Idempotency = (*idempotency.DynamoDB)(nil)

// Payloads is what the worker does with S3 payloads; *payload.Store has it.
type Payloads interface {
	Fetch(ctx context.Context, p payload.Pointer) ([]byte, error)
	Delete(ctx context.Context, p payload.Pointer) error
}

var _ Payloads = (*payload.Store)(nil)

// Metrics is what the worker reports as it works (internal/metrics
// exports it to Prometheus). Actions come from valid envelopes and codes
// from the transport's error table (transport.CodeLabel), so they are
// bounded; a region is any well-formed one an envelope names and a tenant
// any valid tenant name or account id, so an implementation must bound
// both (internal/metrics keeps the first MaxRegions regions and the
// SESQ_METRICS_TENANTS busiest tenants).
type Metrics interface {
	// Message counts a message that reached an outcome (sent,
	// dead-lettered, handed back, ...) in a region, for an action, sent
	// for a tenant (envelope.Envelope.Tenant). Region, action and tenant
	// are "" when the body is no valid envelope.
	Message(outcome, region, action, tenant string)
	// SESCall records one send: its duration, its error code ("" when SES
	// accepted it; transport.CodeOther for a code the transport does not
	// know) and whether it was throttled.
	SESCall(region, action, code string, took time.Duration, throttled bool)
	// InFlight moves the count of messages received and not finished.
	InFlight(delta int)
	// QueueLag records how long a sent message waited, from enqueue to SES.
	QueueLag(d time.Duration)
	// DeadLetter counts a message written to the dead-letter queue.
	DeadLetter(reason string)
	// StoreError counts a failed call to the idempotency store: "claim",
	// "renew", "done" or "release". (A claim found lost, ErrNotOwner, is an
	// answer, not a failure.)
	StoreError(op string)
}

// Gauges are the worker's state, read when the metrics are collected
// rather than pushed as it changes. When Options.Metrics implements Gauges
// too, New hands it the functions that read the state.
type Gauges interface {
	// ObserveSendRates registers the limiter's current rate per region.
	ObserveSendRates(rates func() map[string]float64)
	// ObserveBreakers registers each region's breaker state.
	ObserveBreakers(states func() map[string]BreakerState)
}

// BreakerState is where a region's breaker stands: whether sends to the
// region go, or wait out a pause after failures or a refusal of the
// worker's credentials.
type BreakerState int

// Breaker states; the values are those of the sesq_breaker_state metric.
const (
	BreakerClosed  BreakerState = iota // sends go
	BreakerOpen                        // paused; the next send after the pause goes as the probe
	BreakerProbing                     // the pause is over and one send is out as the probe
)

// noMetrics is Options.Metrics when none is given.
type noMetrics struct{}

func (noMetrics) Message(string, string, string, string)              {}
func (noMetrics) SESCall(string, string, string, time.Duration, bool) {}
func (noMetrics) InFlight(int)                                        {}
func (noMetrics) QueueLag(time.Duration)                              {}
func (noMetrics) DeadLetter(string)                                   {}
func (noMetrics) StoreError(string)                                   {}

// Options are the worker's collaborators that are not configuration.
type Options struct {
	Logger  *slog.Logger        // nil: slog.Default()
	Rand    func() float64      // backoff jitter; nil: math/rand
	Policy  func(*retry.Policy) // adjusts the decision policy built from the configuration (tests)
	Metrics Metrics             // nil: none
	// Idempotency remembers which envelope ids SES accepted and which a
	// delivery is sending, so that a redelivery is not sent again. nil: an
	// in-memory store that keeps sent ids for twice the visibility timeout.
	Idempotency Idempotency
	// Payloads fetches the S3 payloads of messages whose body is an SQS
	// Extended Client pointer, and deletes each once its message is sent
	// and deleted (*payload.Store; only from the buckets it lists). nil: such
	// messages are dead-lettered as invalid.
	Payloads Payloads
	// Tracer follows each delivery and each send in a trace span
	// (internal/telemetry has an OpenTelemetry one). nil: no tracing, and
	// none of its cost.
	Tracer Tracer
}

// Worker is one sesq worker process's machinery.
type Worker struct {
	cfg       Config
	queue     Queue
	transport transport.Transport
	lanes     []*lane
	policy    retry.Policy
	log       *slog.Logger
	metrics   Metrics
	limits    *ratelimit.Limits
	breakers  *breaker.Breakers
	holds     *holds
	claims    Idempotency
	tracer    Tracer
	payloads  Payloads
	memo      *memo
	dispatch  *dispatcher
	id        string        // this process's part of claim owners
	seq       atomic.Uint64 // deliveries, the other part
	busy      atomic.Int64  // senders handling a message

	// Health, read by Alive and Ready from other goroutines.
	running     atomic.Bool
	draining    atomic.Bool
	lastReceive atomic.Int64 // unix nanoseconds of the last successful receive
	lastBeat    atomic.Int64 // unix nanoseconds of the visibility loops' last tick
}

// New builds a worker with the settings in cfg, used as given (start from
// DefaultConfig); Run refuses a configuration that Config.Validate does.
func New(cfg Config, q Queue, t transport.Transport, opts Options) *Worker {
	w := &Worker{
		cfg: cfg, queue: q, transport: t,
		policy: retry.Policy{
			Initial: cfg.BackoffInitial, Max: cfg.BackoffMax, MaxAttempts: cfg.MaxAttempts, Jitter: 0.5, Rand: opts.Rand,
			InProcess: min(retry.DefaultInProcess, cfg.VisibilityTimeout/2), QuotaDelay: cfg.QuotaDelay,
			MaxDeferrals: cfg.MaxDeferrals, MaxHolds: retry.DefaultMaxHolds, MaxThrottleRetries: retry.DefaultMaxThrottleRetries,
		},
		log: opts.Logger, metrics: opts.Metrics, claims: opts.Idempotency, tracer: opts.Tracer,
		payloads: opts.Payloads,
		memo:     newMemo(),
	}
	for _, l := range cfg.lanes() {
		w.lanes = append(w.lanes, &lane{
			Lane: l, fifo: l.FIFO(),
			dlq:    &deadletter.Writer{Client: q, QueueURL: l.DLQURL, SourceQueue: l.QueueURL},
			ledger: ledger.NewSigner([]byte(cfg.LedgerKey), l.QueueURL, l.DLQURL),
			// Up to two batches wait for a sender, so that senders never
			// wait on a poll while messages are queued.
			credits:   make(chan struct{}, cfg.Concurrency+2*cfg.BatchSize),
			acquiring: make(chan struct{}, 1),
		})
	}
	w.holds = newHolds(time.Now)
	if opts.Policy != nil {
		opts.Policy(&w.policy)
	}
	if w.log == nil {
		w.log = slog.Default()
	}
	if w.metrics == nil {
		w.metrics = noMetrics{}
	}
	w.breakers = breaker.New(time.Now)
	if w.claims == nil {
		w.claims = idempotency.NewMemory(2*cfg.VisibilityTimeout, time.Now)
	}
	w.claims = countedStore{Idempotency: w.claims, metrics: w.metrics}
	var id [6]byte
	rand.Read(id[:])
	w.id = hex.EncodeToString(id[:])
	w.limits = ratelimit.NewLimits(w.sendQuota, time.Now, func(region string, rate float64, err error) {
		if err != nil {
			w.log.Warn("no send quota; the rate adapts from the first throttle", "region", region, "err", err)
		} else {
			w.log.Info("send rate", "region", region, "max_per_s", rate, "start_per_s", rate*ratelimit.StartFraction)
		}
	})
	if g, ok := w.metrics.(Gauges); ok {
		g.ObserveSendRates(w.limits.Rates)
		g.ObserveBreakers(w.breakerStates)
	}
	return w
}

// Run works until ctx is cancelled, then drains: it stops receiving, lets
// sends in flight finish for up to the shutdown timeout, hands back what is
// unfinished (visible again at once, its ledger kept), flushes pending
// deletes and returns nil. It returns early only if the configuration is
// unusable; SQS and SES faults are retried and logged, never fatal.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.cfg.Validate(); err != nil {
		return err
	}
	if w.cfg.LedgerKey == "" {
		w.log.Info("SESQ_LEDGER_KEY is not set: message ledgers are signed with a key derived from the queue URL (see docs/delivery.md)")
	}
	// work outlives ctx by the shutdown timeout: sends in flight may finish.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	w.running.Store(true)
	defer w.running.Store(false)
	w.lastBeat.Store(time.Now().UnixNano())
	drainTimer := make(chan struct{})
	stopDrainTimer := context.AfterFunc(ctx, func() {
		defer close(drainTimer)
		w.draining.Store(true)
		w.log.Info("shutting down: receiving stopped, draining", "timeout", w.cfg.ShutdownTimeout.String())
	})
	defer stopDrainTimer()
	drained := make(chan struct{})
	go func() {
		select {
		case <-drainTimer:
		case <-drained:
			return
		}
		t := time.NewTimer(w.cfg.ShutdownTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			cancelWork()
		case <-drained:
		}
	}()

	for _, l := range w.lanes {
		l.acks = newAcks(w.queue, l.QueueURL, w.log)
		l.flight = newInFlight(w.cfg.VisibilityTimeout, l.acks, w.claims, w.log, &w.lastBeat)
	}
	var trackers sync.WaitGroup
	trackerCtx, stopTracker := context.WithCancel(context.Background())
	for _, l := range w.lanes {
		trackers.Go(func() { l.flight.extendLoop(trackerCtx) })
	}

	// The pipeline: each lane's pollers receive full batches while the
	// lane's credits allow; the dispatcher offers them to a fixed set of
	// senders, fairly among lanes and tenants and in order within a FIFO
	// group. Credits bound what a lane has received and not finished to
	// SESQ_CONCURRENCY plus two batches.
	w.dispatch = newDispatcher(w.lanes, w.cfg.senderLimit(), w.cfg.payloadFetches())
	n := max(2, pollerCount(w.cfg.Concurrency, w.cfg.BatchSize)/len(w.lanes))
	var senders, pollers sync.WaitGroup
	for _, l := range w.lanes {
		w.log.Info("worker started", "lane", l.Name, "queue", l.QueueURL, "weight", l.Weight, "fifo", l.fifo,
			"concurrency", w.cfg.Concurrency, "pollers", n, "prefetch", cap(l.credits)-w.cfg.Concurrency, "fair", !w.cfg.FairnessOff)
	}
	for range w.cfg.Concurrency {
		senders.Go(func() {
			for {
				j, ok := w.dispatch.next()
				if !ok {
					return
				}
				w.sendOne(ctx, work, j)
			}
		})
	}
	for _, l := range w.lanes {
		for range n {
			pollers.Go(func() { w.poll(ctx, work, l) })
		}
	}
	pollers.Wait()
	w.dispatch.close()
	senders.Wait()
	close(drained)
	stopTracker()
	trackers.Wait()
	for _, l := range w.lanes {
		l.acks.close()
	}
	w.log.Info("worker stopped")
	return nil
}

// sendQuota is each region's quota the limiter works under: SESQ_SEND_RATE, else the
// transport's quota (GetSendQuota), else unknown.
func (w *Worker) sendQuota(ctx context.Context, region string) (float64, error) {
	if w.cfg.SendRate > 0 {
		return w.cfg.SendRate, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rate, err := w.transport.SendQuota(ctx, region)
	if errors.Is(err, transport.ErrNoQuota) {
		return 0, errors.New("SESQ_SEND_RATE is not set and the transport cannot tell the quota")
	}
	return rate, err
}

// idlePause is how long a poller rests after an empty short poll
// (SESQ_WAIT_TIME=0).
const idlePause = 200 * time.Millisecond

// receiveGrace is how much longer than the long-poll wait a receive may
// take before it is abandoned: a connection that hangs (a network that
// drops packets) must not hold a poller forever.
const receiveGrace = 5 * time.Second

// Alive tells whether Run is running and its visibility loop ticked within
// one visibility timeout (it ticks four times per timeout).
func (w *Worker) Alive() bool {
	return w.running.Load() && time.Since(time.Unix(0, w.lastBeat.Load())) < w.cfg.VisibilityTimeout
}

// Ready tells whether the worker takes work: it is not draining, and a
// receive succeeded within ReadyWindow, or every send slot is busy (a
// saturated worker does not receive). So it turns not ready within
// ReadyWindow of SQS becoming unreachable. A region paused for its
// credentials does not make the worker unready: the other regions go on.
func (w *Worker) Ready() bool {
	if !w.running.Load() || w.draining.Load() {
		return false
	}
	if w.busy.Load() >= int64(w.cfg.Concurrency) {
		return true // saturated: every sender busy, polling waits for them
	}
	return time.Since(time.Unix(0, w.lastReceive.Load())) < w.ReadyWindow()
}

// ReadyWindow is twice the long-poll wait, at least 2 s: an idle poller
// comes back from SQS once per wait.
func (w *Worker) ReadyWindow() time.Duration {
	return 2 * max(w.cfg.WaitTime, time.Second)
}

// breakerStates is each region's breaker state, for the metrics.
func (w *Worker) breakerStates() map[string]BreakerState {
	states := w.breakers.States()
	out := make(map[string]BreakerState, len(states))
	for region, s := range states {
		switch s {
		case breaker.Open:
			out[region] = BreakerOpen
		case breaker.Probing:
			out[region] = BreakerProbing
		default:
			out[region] = BreakerClosed
		}
	}
	return out
}

// pollerCount is enough concurrent long polls to keep the senders fed with
// full batches: at least two, so that one slow poll does not starve them, and
// at most 8.
func pollerCount(concurrency, batch int) int {
	return min(max(2, (concurrency+batch-1)/batch), 8)
}

// poll receives from lane l until ctx ends; what a receive brings after
// that is handed back at once. A receive asks for a full batch, and only
// once that many of the lane's credits are free: messages never wait long
// in the worker, and polling backs off while the senders are saturated.
func (w *Worker) poll(ctx, work context.Context, l *lane) {
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval, bo.MaxInterval, bo.MaxElapsedTime = 200*time.Millisecond, 5*time.Second, 0
	want := min(w.cfg.BatchSize, cap(l.credits))
	for {
		if !l.acquire(ctx.Done(), want) {
			return
		}
		// The receive runs on even when shutdown begins: cutting a long poll
		// off client-side can leave it to take messages (a hand-back among
		// them) that then stay invisible for a whole visibility timeout.
		msgs, err := w.receive(work, l, want)
		l.release(want - len(msgs))
		if ctx.Err() != nil {
			for _, m := range msgs {
				w.handBackUnstarted(l, m)
				l.release(1)
			}
			return
		}
		if err != nil {
			d := bo.NextBackOff()
			w.log.Warn("receive failed; retrying", "lane", l.Name, "err", err, "retry_in_s", d.Seconds())
			if !sleep(ctx, d) {
				return
			}
			continue
		}
		bo.Reset()
		w.lastReceive.Store(time.Now().UnixNano())
		if len(msgs) == 0 && w.cfg.WaitTime < time.Second {
			// Short polling on an empty queue: do not spin.
			if !sleep(ctx, idlePause) {
				return
			}
			continue
		}
		receivedAt := time.Now()
		w.metrics.InFlight(len(msgs))
		for _, m := range msgs {
			l.flight.track(aws.ToString(m.ReceiptHandle), receivedAt)
			w.dispatch.push(w.newJob(l, m))
		}
	}
}

// newJob is a received message as the dispatcher orders it: by its
// tenant, which needs the body parsed (kept for handle), and its FIFO
// group.
func (w *Worker) newJob(l *lane, m types.Message) *job {
	j := &job{lane: l, msg: m, large: payload.IsPointer(aws.ToString(m.Body))}
	group := m.Attributes[string(types.MessageSystemAttributeNameMessageGroupId)]
	if l.fifo {
		j.group = group
	}
	switch {
	case w.cfg.FairnessOff:
	case j.large:
		// The envelope is in S3, fetched by the sender. On a standard
		// queue its group stands for its tenant (producers set it so); a
		// FIFO group may be finer (one per recipient), so there the job
		// shares the tenant "" until the envelope is read.
		if !l.fifo {
			j.tenant = group
		}
	default:
		j.parsed = true
		j.env, j.perr = envelope.Parse([]byte(aws.ToString(m.Body)))
		if j.perr == nil {
			j.tenant = j.env.Tenant()
		}
	}
	return j
}

// sleep waits d or until ctx ends, and tells whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// sendOne handles one job and gives back its credit. A job still waiting
// when shutdown begins is handed back unstarted. When the job's message
// was handed back (visible again later), the jobs behind it in its FIFO
// group are made visible again unstarted: SQS hands them out after it.
func (w *Worker) sendOne(ctx, work context.Context, j *job) {
	w.busy.Add(1)
	released := true // unless the message leaves the queue
	defer func() {
		for _, b := range w.dispatch.done(j, released) {
			w.releaseUnstarted(b)
		}
		w.busy.Add(-1)
		j.lane.release(1)
		w.metrics.InFlight(-1)
	}()
	defer w.survive(j.lane, j.msg)
	if ctx.Err() != nil {
		j.lane.flight.untrack(aws.ToString(j.msg.ReceiptHandle))
		w.handBackUnstarted(j.lane, j.msg)
		return
	}
	dec := w.handle(ctx, work, j)
	released = dec.Action != retry.Delete && dec.Action != retry.DeadLetter
}

// releaseUnstarted makes a job behind a handed-back FIFO message visible
// again without working on it, remembering its ledger so that this
// receive is not charged to it as an unfinished delivery.
func (w *Worker) releaseUnstarted(j *job) {
	defer func() { j.lane.release(1); w.metrics.InFlight(-1) }()
	h := aws.ToString(j.msg.ReceiptHandle)
	if !j.lane.flight.untrack(h) {
		return
	}
	d := w.open(j.lane, j.msg, time.Now())
	w.memo.put(aws.ToString(j.msg.MessageId), memoEntry{ledger: d.ledger, receives: receiveCount(j.msg)}, time.Now().Add(2*w.cfg.VisibilityTimeout+w.cfg.QuotaDelay))
	j.lane.acks.setVisibility(h, 0)
}

// survive keeps a bug in handling one message from taking the worker down:
// the panic is logged with its stack and the message made visible again
// after the longest backoff. Its next delivery counts this one as an
// unfinished delivery (one attempt: it may have sent), so a message that
// panics every time is dead-lettered as exhausted, not retried forever.
func (w *Worker) survive(l *lane, m types.Message) {
	r := recover()
	if r == nil {
		return
	}
	h := aws.ToString(m.ReceiptHandle)
	w.log.Error("panic while handling a message; handed back", "sqs_message_id", aws.ToString(m.MessageId), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	if l.flight.untrack(h) {
		// Still undecided: make it visible again. (Once the decision was
		// being carried out, a delete or hand-back may be asked for
		// already; that one stands.)
		l.acks.setVisibility(h, w.cfg.BackoffMax)
	}
}

func (w *Worker) receive(ctx context.Context, l *lane, n int) ([]types.Message, error) {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.WaitTime+receiveGrace)
	defer cancel()
	out, err := w.queue.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:            aws.String(l.QueueURL),
		MaxNumberOfMessages: int32(n),
		WaitTimeSeconds:     int32(w.cfg.WaitTime / time.Second),
		VisibilityTimeout:   int32(w.cfg.VisibilityTimeout / time.Second),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{
			types.MessageSystemAttributeNameApproximateReceiveCount,
			types.MessageSystemAttributeNameSentTimestamp,
			types.MessageSystemAttributeNameAWSTraceHeader, // the producer's X-Ray trace, carried on and continued
			types.MessageSystemAttributeNameMessageGroupId, // the tenant of a fair queue or a FIFO group, kept on put-back and dead letter
		},
		MessageAttributeNames: []string{"All"},
	})
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", l.QueueURL, err)
	}
	return out.Messages, nil
}
