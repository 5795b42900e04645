// Package metrics holds sesq's Prometheus metrics, on a registry of their
// own. Its methods are safe on a nil *Metrics, which records nothing.
package metrics

import (
	"context"
	"math"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
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
	sendRate   *rateCollector
}

// New creates the metrics on a fresh registry, with the Go runtime and
// process collectors.
func New() *Metrics {
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
	}
	m.sendRate = &rateCollector{desc: prometheus.NewDesc("sesq_ses_send_rate",
		"Current SES send rate limit per region, messages per second (0: unknown, not limited yet).",
		[]string{"region"}, nil)}
	m.reg.MustRegister(m.sendRate, m.messages, m.sesSeconds, m.inFlight, m.queueLag, m.throttles, m.sqsCalls, m.deadLetter,
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

// Message counts one message's outcome.
func (m *Metrics) Message(outcome, region, action string) {
	if m != nil {
		m.messages.WithLabelValues(outcome, orUnknown(region), orUnknown(action)).Inc()
	}
}

// SESCall records one SES call; throttled when SES answered Throttling.
func (m *Metrics) SESCall(region, action string, d time.Duration, throttled bool) {
	if m == nil {
		return
	}
	m.sesSeconds.WithLabelValues(region, action).Observe(d.Seconds())
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
	desc  *prometheus.Desc
	rates atomic.Pointer[func() map[string]float64]
}

func (c *rateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *rateCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.rates.Load()
	if f == nil {
		return
	}
	for region, rate := range (*f)() {
		if math.IsInf(rate, 0) {
			rate = 0
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, rate, region)
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
