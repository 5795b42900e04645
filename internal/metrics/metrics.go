// Package metrics holds sesq's Prometheus metrics, on a registry of their
// own. Its methods are safe on a nil *Metrics, which records nothing.
package metrics

import (
	"context"
	"math"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sesq/sesq/worker"
)

// Metrics are the worker's counters, gauges and histograms.
type Metrics struct {
	reg        *prometheus.Registry
	messages   *prometheus.CounterVec
	sesSeconds *prometheus.HistogramVec
	inFlight   prometheus.Gauge
	queueLag   prometheus.Histogram
	throttles  *prometheus.CounterVec
	sqsCalls   *prometheus.CounterVec
	deadLetter *prometheus.CounterVec
	sesCalls   *prometheus.CounterVec
	storeErrs  *prometheus.CounterVec
	sendRate   *rateCollector
	breakers   *breakerCollector
	regions    *labelSet
	tenants    *tenantSet
}

var _ worker.Metrics = (*Metrics)(nil)
var _ worker.Gauges = (*Metrics)(nil)

// MaxRegions bounds the region label: the first MaxRegions regions seen
// keep their names, later ones count as "other" (AWS has about 35
// regions, but an envelope's ARN may name any well-formed one, so a
// producer could otherwise make series without end). The send-rate and
// breaker gauges leave "other" regions out.
const MaxRegions = 40

// labelSet is a label whose values are bounded: the first max values seen
// are kept, the rest are "other".
type labelSet struct {
	mu   sync.Mutex
	seen map[string]bool
	max  int
}

func (l *labelSet) label(v string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen[v] {
		return v
	}
	if len(l.seen) >= l.max {
		return "other"
	}
	l.seen[v] = true
	return v
}

// StoreOperations are the idempotency store's operations, the values of
// sesq_idempotency_errors_total's operation label (each shown from 0).
var StoreOperations = []string{"claim", "renew", "done", "release"}

// New creates the metrics on a fresh registry, with the Go runtime and
// process collectors and sesq_build_info for version.
func New(version string) *Metrics {
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "sesq_build_info",
		Help:        "Always 1; its labels are the sesq version and the Go version it was built with.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	buildInfo.Set(1)
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sesq_messages_total",
			Help: "Messages by outcome (sent, duplicate, a dead-letter reason, deferred for quota, held back for a paused region or a claim held elsewhere, retry for a hand-back), identity region and action.",
		}, []string{"outcome", "region", "action"}),
		sesSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sesq_ses_request_duration_seconds",
			Help:    "Duration of SES send calls, whatever their result.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"region", "action"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sesq_messages_in_flight",
			Help: "Messages received and not yet finished.",
		}),
		queueLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sesq_queue_lag_seconds",
			Help:    "Time from a message's SentTimestamp to SES accepting it.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400},
		}),
		throttles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sesq_ses_throttles_total",
			Help: "SES Throttling answers (rate and daily quota) by region.",
		}, []string{"region"}),
		sqsCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sesq_sqs_requests_total",
			Help: "SQS API calls by action.",
		}, []string{"action"}),
		deadLetter: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sesq_dead_letters_total",
			Help: "Messages written to the dead-letter queue, by reason.",
		}, []string{"reason"}),
		sesCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sesq_ses_calls_total",
			Help: "SES send calls by identity region, action and error code (empty: accepted; other: a code the transport does not know).",
		}, []string{"region", "action", "code"}),
		storeErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sesq_idempotency_errors_total",
			Help: "Failed idempotency store calls by operation (claim, renew, done, release); a failed claim sends without the duplicate check.",
		}, []string{"operation"}),
	}
	for _, op := range StoreOperations {
		m.storeErrs.WithLabelValues(op)
	}
	tenantMessages := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sesq_tenant_messages_total",
		Help: "Messages by tenant (the envelope's tenant field, tenantName or the identity owner's account id) and outcome. Only the busiest tenants are named (SetTenants, 20 by default), ranked again every minute; the rest are \"other\", bodies that are no envelope \"unknown\". A tenant that drops out of the busiest loses its series.",
	}, []string{"tenant", "outcome"})
	m.tenants = newTenantSet(tenantMessages, DefaultTenants, time.Now)
	m.regions = &labelSet{seen: map[string]bool{}, max: MaxRegions}
	m.sendRate = &rateCollector{desc: prometheus.NewDesc("sesq_ses_send_rate",
		"Current SES send rate limit per region, messages per second (0: unknown, not limited yet).",
		[]string{"region"}, nil), regions: m.regions}
	m.breakers = &breakerCollector{desc: prometheus.NewDesc("sesq_breaker_state",
		"Each region's breaker: 0 closed (sending), 1 open (sends paused after failures or refused credentials), 2 probing (one send out to test the region).",
		[]string{"region"}, nil), regions: m.regions}
	m.reg.MustRegister(buildInfo, m.sendRate, m.breakers, m.messages, m.sesSeconds, m.sesCalls, m.inFlight, m.queueLag, m.throttles,
		m.sqsCalls, m.deadLetter, m.storeErrs, tenantMessages,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry is the registry the metrics are on.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// Message counts one message's outcome, in sesq_messages_total and, by
// tenant, in sesq_tenant_messages_total.
func (m *Metrics) Message(outcome, region, action, tenant string) {
	if m != nil {
		m.messages.WithLabelValues(outcome, m.regions.label(orUnknown(region)), orUnknown(action)).Inc()
		m.tenants.observe(tenant, outcome)
	}
}

// SetTenants sets how many of the busiest tenants sesq_tenant_messages_total
// names (DefaultTenants until set; 0 turns the metric off), so that its
// series stay bounded however many tenants send. It starts the count over;
// call it before the worker starts.
func (m *Metrics) SetTenants(n int) {
	if m != nil {
		m.tenants.reset(max(n, 0))
	}
}

// SESCall records one SES call: its duration, its error code (""
// when accepted) and whether SES answered Throttling. The code is used as
// given: the worker bounds it (transport.CodeLabel).
func (m *Metrics) SESCall(region, action, code string, d time.Duration, throttled bool) {
	if m == nil {
		return
	}
	region = m.regions.label(region)
	m.sesSeconds.WithLabelValues(region, action).Observe(d.Seconds())
	m.sesCalls.WithLabelValues(region, action, code).Inc()
	if throttled {
		m.throttles.WithLabelValues(region).Inc()
	}
}

// InFlight moves the in-flight gauge by delta.
func (m *Metrics) InFlight(delta int) {
	if m != nil {
		m.inFlight.Add(float64(delta))
	}
}

// QueueLag records how long a sent message waited since it was enqueued.
func (m *Metrics) QueueLag(d time.Duration) {
	if m != nil && d >= 0 {
		m.queueLag.Observe(d.Seconds())
	}
}

// ObserveSendRates makes the metrics show the regions' current send rate
// limits, read from rates at each scrape (+Inf is shown as 0: unknown).
func (m *Metrics) ObserveSendRates(rates func() map[string]float64) {
	if m != nil {
		m.sendRate.rates.Store(&rates)
	}
}

// rateCollector reads the send rates when scraped: they change with every
// throttle and every second of growth.
type rateCollector struct {
	desc    *prometheus.Desc
	rates   atomic.Pointer[func() map[string]float64]
	regions *labelSet
}

func (c *rateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *rateCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.rates.Load()
	if f == nil {
		return
	}
	for region, rate := range (*f)() {
		if c.regions.label(region) != region {
			continue
		}
		if math.IsInf(rate, 0) {
			rate = 0
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, rate, region)
	}
}

// ObserveBreakers makes the metrics show each region's breaker state, read
// from states at each scrape.
func (m *Metrics) ObserveBreakers(states func() map[string]worker.BreakerState) {
	if m != nil {
		m.breakers.states.Store(&states)
	}
}

// breakerCollector reads the breaker states when scraped.
type breakerCollector struct {
	desc    *prometheus.Desc
	states  atomic.Pointer[func() map[string]worker.BreakerState]
	regions *labelSet
}

func (c *breakerCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *breakerCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.states.Load()
	if f == nil {
		return
	}
	for region, s := range (*f)() {
		if c.regions.label(region) != region {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(s), region)
	}
}

// StoreError counts one failed idempotency store call.
func (m *Metrics) StoreError(op string) {
	if m != nil {
		m.storeErrs.WithLabelValues(op).Inc()
	}
}

// DeadLetter counts one dead-letter write.
func (m *Metrics) DeadLetter(reason string) {
	if m != nil {
		m.deadLetter.WithLabelValues(reason).Inc()
	}
}

// SQSMiddleware counts SQS calls by operation; add it to the SQS client's
// APIOptions.
func (m *Metrics) SQSMiddleware(stack *middleware.Stack) error {
	if m == nil {
		return nil
	}
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("sesqCountSQSCalls",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			m.sqsCalls.WithLabelValues(middleware.GetOperationName(ctx)).Inc()
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}
