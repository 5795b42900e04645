package worker_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sesq/sesq/idempotency"
	"github.com/sesq/sesq/internal/testsupport/testkit"
	"github.com/sesq/sesq/retry"
	"github.com/sesq/sesq/transport"
	"github.com/sesq/sesq/worker"
)

// recorded is a worker.Metrics and worker.Gauges that keeps what it is told.
type recorded struct {
	mu       sync.Mutex
	calls    map[[2]string]int // region, code
	store    map[string]int
	breakers func() map[string]worker.BreakerState
}

func (r *recorded) Message(string, string, string) {}
func (r *recorded) SESCall(region, _, code string, _ time.Duration, _ bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[[2]string{region, code}]++
}
func (r *recorded) InFlight(int)           {}
func (r *recorded) QueueLag(time.Duration) {}
func (r *recorded) DeadLetter(string)      {}
func (r *recorded) StoreError(op string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.store[op]++
}
func (r *recorded) ObserveSendRates(func() map[string]float64) {}
func (r *recorded) ObserveBreakers(f func() map[string]worker.BreakerState) {
	r.breakers = f
}

// failingStore fails every Claim, and answers Done with ErrNotOwner (an
// answer, not a failure).
type failingStore struct{ worker.Idempotency }

func (failingStore) Claim(context.Context, string, string, time.Duration) (idempotency.Claim, error) {
	return idempotency.Claim{}, errors.New("store unreachable")
}

// What the metrics are told: each SES call by region and bounded code, a
// code no table knows as "other"; each failed store call; and, read when
// they are collected, the regions' breaker states.
func TestStateMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.cfg.Concurrency = 1
		r.ses.script["new"] = []error{&transport.Error{Class: transport.Retry, Code: "SomethingNew", Message: "?"}}
		r.ses.always["cn"] = errToken
		r.enqueue(body("ok"), body("new"), bodyFor("arn:aws-cn:ses:cn-north-1:123456789012:identity/example.cn", "cn"))
		m := &recorded{calls: map[[2]string]int{}, store: map[string]int{}}
		w := worker.New(r.cfg, r.sqs.Client("a"), view{ses: r.ses, cut: new(atomic.Bool)}, worker.Options{
			Logger: testkit.TestLogger(t), Policy: func(p *retry.Policy) { p.Jitter = 0 }, Metrics: m,
			Idempotency: failingStore{idempotency.NewMemory(time.Hour, time.Now)},
		})
		if m.breakers == nil {
			t.Fatal("New did not hand the breaker states to the gauges")
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); w.Run(ctx) }()
		time.Sleep(10 * time.Second) // cn-north-1 paused for 30 s after the refusal
		if got := m.breakers(); got["us-east-1"] != worker.BreakerClosed || got["cn-north-1"] != worker.BreakerOpen {
			t.Errorf("breaker states %v, want us-east-1 closed and cn-north-1 open", got)
		}
		cancel()
		<-done
		want := map[[2]string]int{
			{"us-east-1", ""}: 2, {"us-east-1", transport.CodeOther}: 1, {"cn-north-1", "InvalidClientTokenId"}: 1,
		}
		for k, v := range want {
			if m.calls[k] != v {
				t.Errorf("SES calls %v: %d, want %d (all: %v)", k, m.calls[k], v, m.calls)
			}
		}
		if m.store["claim"] != 4 {
			t.Errorf("store errors %v, want 4 failed claims (ok, new twice, cn)", m.store)
		}
	})
}
