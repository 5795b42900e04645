// Package worker runs sesq: it long-polls the queue for send envelopes, sends
// each through the SES client of its identity's region, and acts on the
// outcome: delete when sent, wait and try again on transient faults, defer on
// quota, dead-letter what can never succeed.
//
// Delivery is at least once: a message is deleted only after SES accepted it
// or it was written to the dead-letter queue. A worker that dies mid-send
// leaves the message to reappear after its visibility timeout, so an email
// can (rarely) be sent twice; the envelope id is the key to suppress that.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/cenkalti/backoff/v4"

	"github.com/sesq/sesq/deadletter"
	"github.com/sesq/sesq/internal/breaker"
	"github.com/sesq/sesq/internal/config"
	"github.com/sesq/sesq/internal/idempotency"
	"github.com/sesq/sesq/internal/metrics"
	"github.com/sesq/sesq/internal/ratelimit"
	"github.com/sesq/sesq/retry"
)

// Queue is the SQS calls the worker makes; *sqs.Client has them.
type Queue interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

var _ Queue = (*sqs.Client)(nil)

// Options are the worker's collaborators that are not configuration.
type Options struct {
	Logger  *slog.Logger        // nil: slog.Default()
	Now     func() time.Time    // nil: time.Now
	Rand    func() float64      // backoff jitter; nil: math/rand
	Policy  func(*retry.Policy) // adjusts the retry policy built from the configuration (tests)
	Metrics *metrics.Metrics    // nil: none
	// Idempotency remembers which envelope keys SES accepted, so that a
	// redelivery is deleted, not sent again. nil: an in-memory store of the
	// last 10 000 keys for an hour.
	Idempotency Idempotency
}

// Idempotency is the duplicate-suppression store the worker uses
// (internal/idempotency has the in-memory one).
type Idempotency interface {
	Begin(ctx context.Context, key string) (idempotency.State, error)
	Done(ctx context.Context, key string) error
	Release(ctx context.Context, key string) error
}

// Worker is one sesq worker process's machinery.
type Worker struct {
	cfg       config.Config
	queue     Queue
	transport Transport
	dlq       *deadletter.Writer
	policy    retry.Policy
	log       *slog.Logger
	now       func() time.Time
	metrics   *metrics.Metrics
	acks      *acks
	flight    *inFlight
	limits    *ratelimit.Limits
	breakers  *breaker.Breakers
	dedupe    Idempotency
	credits   chan struct{} // one per message received and not finished
	acquiring sync.Mutex    // one poller takes credits at a time

	// Health, read by Alive and Ready from other goroutines.
	running     atomic.Bool
	draining    atomic.Bool
	lastReceive atomic.Int64 // unix nanoseconds of the last successful receive
	lastBeat    atomic.Int64 // unix nanoseconds of the visibility loop's last tick
	pausedUntil atomic.Int64 // unix nanoseconds: no receives before (the transport is unavailable)
}

// New builds a worker; cfg must have passed Validate(config.ForRun).
func New(cfg config.Config, q Queue, t Transport, opts Options) *Worker {
	w := &Worker{
		cfg: cfg, queue: q, transport: t,
		dlq: &deadletter.Writer{Client: q, QueueURL: cfg.DLQURL, SourceQueue: cfg.QueueURL},
		policy: retry.Policy{
			Initial: cfg.BackoffInitial, Max: cfg.BackoffMax, MaxAttempts: cfg.MaxAttempts,
			InProcess: min(retry.DefaultInProcess, cfg.VisibilityTimeout/2), Jitter: 0.5, Rand: opts.Rand,
		},
		log: opts.Logger, now: opts.Now, metrics: opts.Metrics, dedupe: opts.Idempotency,
	}
	// Up to two batches wait for a sender, so that senders never wait on a
	// poll while messages are queued.
	w.credits = make(chan struct{}, cfg.Concurrency+2*cfg.BatchSize)
	if opts.Policy != nil {
		opts.Policy(&w.policy)
	}
	if w.log == nil {
		w.log = slog.Default()
	}
	if w.now == nil {
		w.now = time.Now
	}
	w.breakers = breaker.New(w.now)
	if w.dedupe == nil {
		w.dedupe = idempotency.NewMemory(10000, time.Hour, w.now)
	}
	w.limits = ratelimit.NewLimits(w.sendQuota, w.now, func(region string, rate float64, err error) {
		if err != nil {
			w.log.Warn("no send quota; the rate adapts from the first throttle", "region", region, "err", err)
		} else {
			w.log.Info("send rate", "region", region, "max_per_s", rate, "start_per_s", rate*ratelimit.StartFraction)
		}
	})
	w.metrics.ObserveSendRates(w.limits.Rates)

	return w
}

// Run works until ctx is cancelled, then drains: it stops receiving, lets
// sends in flight finish for up to the shutdown timeout, hands back what is
// unfinished (visible again at once), flushes pending deletes and returns
// nil. It returns early only if the configuration is unusable; SQS and SES
// faults are retried and logged, never fatal.
func (w *Worker) Run(ctx context.Context) error {
	if w.cfg.QueueURL == "" || w.cfg.DLQURL == "" {
		return errors.New("worker: queue and dead-letter queue URLs are required")
	}
	// work outlives ctx by the shutdown timeout: sends in flight may finish.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	w.running.Store(true)
	defer w.running.Store(false)
	w.lastBeat.Store(w.now().UnixNano())
	stopDrainTimer := context.AfterFunc(ctx, func() {
		w.draining.Store(true)
		w.log.Info("shutting down: receiving stopped, draining", "timeout", w.cfg.ShutdownTimeout.String())
		time.AfterFunc(w.cfg.ShutdownTimeout, cancelWork)
	})
	defer stopDrainTimer()

	w.acks = newAcks(w.queue, w.cfg.QueueURL, w.log)
	w.flight = newInFlight(w.cfg.VisibilityTimeout, w.acks, w.now, &w.lastBeat)
	trackerDone := make(chan struct{})
	trackerCtx, stopTracker := context.WithCancel(context.Background())
	go func() { defer close(trackerDone); w.flight.extendLoop(trackerCtx) }()

	// The pipeline: pollers receive full batches into a buffer while it has
	// room; a fixed set of senders takes from it. Credits bound what is
	// received and not finished to SESQ_CONCURRENCY plus the buffer.
	n := pollerCount(w.cfg.Concurrency, w.cfg.BatchSize)
	buffered := make(chan types.Message, cap(w.credits))
	var senders, pollers sync.WaitGroup
	w.log.Info("worker started", "queue", w.cfg.QueueURL, "concurrency", w.cfg.Concurrency, "pollers", n, "prefetch", cap(w.credits)-w.cfg.Concurrency)
	for range w.cfg.Concurrency {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for m := range buffered {
				w.sendOne(ctx, work, m)
			}
		}()
	}
	for range n {
		pollers.Add(1)
		go func() {
			defer pollers.Done()
			w.poll(ctx, work, buffered)
		}()
	}
	pollers.Wait()
	close(buffered)
	senders.Wait()
	stopTracker()
	<-trackerDone
	w.acks.close()
	w.log.Info("worker stopped")
	return nil
}

// sendQuota is each region's quota the limiter works under: SESQ_SEND_RATE, else the
// transport's quota (GetSendQuota), else unknown.
func (w *Worker) sendQuota(ctx context.Context, region string) (float64, error) {
	if w.cfg.SendRate > 0 {
		return w.cfg.SendRate, nil
	}
	q, ok := w.transport.(QuotaSource)
	if !ok {
		return 0, errors.New("SESQ_SEND_RATE is not set and the transport cannot tell the quota")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return q.SendQuota(ctx, region)
}

// idlePause is how long a poller rests after an empty short poll
// (SESQ_WAIT_TIME=0).
const idlePause = 200 * time.Millisecond

// Alive tells whether Run is running and its visibility loop ticked within
// one visibility timeout (it ticks four times per timeout).
func (w *Worker) Alive() bool {
	return w.running.Load() && w.now().Sub(time.Unix(0, w.lastBeat.Load())) < w.cfg.VisibilityTimeout
}

// Ready tells whether the worker takes work: it is not draining or paused
// because the transport refused its credentials, and a
// receive succeeded within twice the long-poll wait (at least 5 s), or every
// send slot is busy (a saturated worker does not receive).
func (w *Worker) Ready() bool {
	if !w.running.Load() || w.draining.Load() || w.now().UnixNano() < w.pausedUntil.Load() {
		return false
	}
	if len(w.credits) >= w.cfg.Concurrency {
		return true // saturated: senders busy, polling waits for them
	}
	window := max(2*w.cfg.WaitTime, 5*time.Second)
	return w.now().Sub(time.Unix(0, w.lastReceive.Load())) < window
}

// pollerCount is enough concurrent long polls to keep the senders fed with
// full batches: at least two, so that one slow poll does not starve them, and
// at most 8.
func pollerCount(concurrency, batch int) int {
	return min(max(2, (concurrency+batch-1)/batch), 8)
}

// poll receives until ctx ends; what a receive brings after that is handed
// back at once. A receive asks for a full batch, and only once that many
// credits are free: messages never wait long in the worker, and polling
// backs off while the senders are saturated.
func (w *Worker) poll(ctx, work context.Context, out chan<- types.Message) {
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval, bo.MaxInterval, bo.MaxElapsedTime = 200*time.Millisecond, 20*time.Second, 0
	want := min(w.cfg.BatchSize, cap(w.credits))
	for {
		if d := time.Unix(0, w.pausedUntil.Load()).Sub(w.now()); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return
			}
		}
		if !w.acquire(ctx, want) {
			return
		}
		// The receive runs on even when shutdown begins: cutting a long poll
		// off client-side can leave it to take messages (a hand-back among
		// them) that then stay invisible for a whole visibility timeout.
		msgs, err := w.receive(work, want)
		w.release(want - len(msgs))
		if ctx.Err() != nil {
			for _, m := range msgs {
				w.handBackUnstarted(m)
				w.release(1)
			}
			return
		}
		if err != nil {
			d := bo.NextBackOff()
			w.log.Warn("receive failed; retrying", "err", err, "retry_in_s", d.Seconds())
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return
			}
			continue
		}
		bo.Reset()
		w.lastReceive.Store(w.now().UnixNano())
		if len(msgs) == 0 && w.cfg.WaitTime < time.Second {
			// Short polling on an empty queue: do not spin.
			select {
			case <-time.After(idlePause):
			case <-ctx.Done():
				return
			}
			continue
		}
		receivedAt := w.now()
		w.metrics.InFlight(len(msgs))
		for _, m := range msgs {
			w.flight.track(aws.ToString(m.ReceiptHandle), receivedAt)
			out <- m // never blocks: the buffer holds every credit
		}
	}
}

// sendOne handles one buffered message and gives back its credit. A message
// still in the buffer when shutdown begins is handed back unstarted.
func (w *Worker) sendOne(ctx, work context.Context, m types.Message) {
	defer func() { w.release(1); w.metrics.InFlight(-1) }()
	defer w.survive(m)
	if ctx.Err() != nil {
		w.flight.untrack(aws.ToString(m.ReceiptHandle))
		w.handBackUnstarted(m)
		return
	}
	w.handle(ctx, work, m)
}

// acquire takes n credits, waiting for them; one poller at a time, so that
// pollers never hold part of what they need while others wait.
func (w *Worker) acquire(ctx context.Context, n int) bool {
	w.acquiring.Lock()
	defer w.acquiring.Unlock()
	for i := 0; i < n; i++ {
		select {
		case w.credits <- struct{}{}:
		case <-ctx.Done():
			w.release(i)
			return false
		}
	}
	return true
}

func (w *Worker) release(n int) {
	for range n {
		<-w.credits
	}
}

// survive keeps a bug in handling one message from taking the worker down:
// the panic is logged with its stack and the message handed back for a
// later try (and, if it keeps failing, SQS's redrive).
func (w *Worker) survive(m types.Message) {
	r := recover()
	if r == nil {
		return
	}
	h := aws.ToString(m.ReceiptHandle)
	w.log.Error("panic while handling a message; handed back", "sqs_message_id", aws.ToString(m.MessageId), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	w.flight.untrack(h)
	w.acks.setVisibility(h, w.cfg.BackoffMax)
}

// handBackUnstarted returns a message received after shutdown began,
// re-enqueued with the attempts it had, so that the receive does not count
// as an attempt.
func (w *Worker) handBackUnstarted(m types.Message) {
	ctx, cancel := context.WithTimeout(context.Background(), actTimeout)
	defer cancel()
	before := w.policy.FirstAttempt(attrInt(m.MessageAttributes, attrAttempts), receiveCount(m)) - 1
	if err := w.requeue(ctx, m, verdict{step: stepRequeue, attempts: before}); err != nil {
		w.log.Warn("re-enqueue at shutdown failed; visibility reset instead", "sqs_message_id", aws.ToString(m.MessageId), "err", err)
		w.acks.setVisibility(aws.ToString(m.ReceiptHandle), 0)
		return
	}
	w.acks.delete(aws.ToString(m.ReceiptHandle))
}

func (w *Worker) receive(ctx context.Context, n int) ([]types.Message, error) {
	out, err := w.queue.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:            aws.String(w.cfg.QueueURL),
		MaxNumberOfMessages: int32(n),
		WaitTimeSeconds:     int32(w.cfg.WaitTime / time.Second),
		VisibilityTimeout:   int32(w.cfg.VisibilityTimeout / time.Second),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{
			types.MessageSystemAttributeNameApproximateReceiveCount,
			types.MessageSystemAttributeNameSentTimestamp,
		},
		MessageAttributeNames: []string{"All"},
	})
	if err != nil {
		return nil, err
	}
	return out.Messages, nil
}

// inFlight tracks the messages being worked on and extends their visibility
// before it runs out, in batches.
type inFlight struct {
	beat      *atomic.Int64 // set at every tick: the loop is alive
	mu        sync.Mutex
	visibleAt map[string]time.Time
	timeout   time.Duration
	acks      *acks
	now       func() time.Time
}

func newInFlight(timeout time.Duration, a *acks, now func() time.Time, beat *atomic.Int64) *inFlight {
	return &inFlight{visibleAt: map[string]time.Time{}, timeout: timeout, acks: a, now: now, beat: beat}
}

func (f *inFlight) track(handle string, receivedAt time.Time) {
	f.mu.Lock()
	f.visibleAt[handle] = receivedAt.Add(f.timeout)
	f.mu.Unlock()
}

func (f *inFlight) untrack(handle string) {
	f.mu.Lock()
	delete(f.visibleAt, handle)
	f.mu.Unlock()
}

// extendLoop checks four times per visibility timeout and extends every
// message with less than half of it left.
func (f *inFlight) extendLoop(ctx context.Context) {
	t := time.NewTicker(f.timeout / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := f.now()
		f.beat.Store(now.UnixNano())
		// Enqueued under the lock, so that an extension is never queued
		// behind the final delete or hand-back of an untracked message.
		f.mu.Lock()
		for h, at := range f.visibleAt {
			if at.Sub(now) < f.timeout/2 {
				f.visibleAt[h] = now.Add(f.timeout)
				f.acks.setVisibility(h, f.timeout)
			}
		}
		f.mu.Unlock()
	}
}

// Message attributes sesq sets when it re-enqueues a message deferred for
// quota.
const (
	attrAttempts   = deadletter.AttrAttempts // attempts made before the deferral
	attrDeferrals  = "sesq-deferrals"
	attrDeferUntil = "sesq-defer-until"
)

func attrInt(attrs map[string]types.MessageAttributeValue, name string) int {
	v, ok := attrs[name]
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(aws.ToString(v.StringValue))
	if err != nil || n < 0 {
		return 0
	}
	return n
}
