package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sesq/sesq/deadletter"
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
	messages map[string]int // outcome/tenant, when not nil
}

func (r *recorded) Message(outcome, _, _, tenant string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.messages != nil {
		r.messages[outcome+"/"+tenant]++
	}
}
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

// syncBuffer is a log destination for goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// Each message's tenant (envelope.Envelope.Tenant) is on its log line, in
// its metric and, when dead-lettered, in sesq-tenant; a body that is no
// envelope has none ("-" on the dead letter).
func TestStateTenant(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.ses.always["denied"] = errDenied
		r.enqueue(body("ok"), strings.Replace(body("denied"), `"version":1,`, `"version":1,"tenant":"acme",`, 1), `{"version":1,"id":"bad"}`)
		m := &recorded{calls: map[[2]string]int{}, store: map[string]int{}, messages: map[string]int{}}
		var logs syncBuffer
		w := worker.New(r.cfg, r.sqs.Client("a"), view{ses: r.ses, cut: new(atomic.Bool)}, worker.Options{
			Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Policy: func(p *retry.Policy) { p.Jitter = 0 }, Metrics: m,
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); w.Run(ctx) }()
		time.Sleep(10 * time.Second)
		cancel()
		<-done
		want := map[string]int{"sent/123456789012": 1, "authorization/acme": 1, "invalid/": 1}
		if !maps.Equal(m.messages, want) {
			t.Errorf("metrics %v, want %v", m.messages, want)
		}
		lines := map[string]string{} // outcome: tenant ("none" when the line has no tenant)
		for _, l := range strings.Split(strings.TrimSpace(logs.b.String()), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(l), &rec) != nil || rec["msg"] != "message" {
				continue
			}
			tenant, ok := rec["tenant"].(string)
			if !ok {
				tenant = "none"
			}
			lines[rec["outcome"].(string)] = tenant
		}
		if want := map[string]string{"sent": "123456789012", "authorization": "acme", "invalid": "none"}; !maps.Equal(lines, want) {
			t.Errorf("log lines' tenants %v, want %v", lines, want)
		}
		tenants := map[string]string{} // body's id: sesq-tenant
		for _, d := range r.sqs.Messages(r.dlq) {
			var e struct{ ID string }
			json.Unmarshal([]byte(d.Body), &e)
			tenants[e.ID] = d.Attributes[deadletter.AttrTenant]
		}
		if want := map[string]string{"denied": "acme", "bad": "-"}; !maps.Equal(tenants, want) {
			t.Errorf("dead letters' %s %v, want %v", deadletter.AttrTenant, tenants, want)
		}
	})
}
