package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/sesq/sesq/idempotency"
	"github.com/sesq/sesq/internal/config"
	"github.com/sesq/sesq/internal/logbuf"
	"github.com/sesq/sesq/internal/metrics"
	"github.com/sesq/sesq/internal/telemetry"
	"github.com/sesq/sesq/payload"
	"github.com/sesq/sesq/transport"
	"github.com/sesq/sesq/worker"
)

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", "sesq run   (the worker, until SIGTERM or SIGINT; configured by SESQ_* and the AWS SDK's variables, see README)", stdout)
	if err := fs.parse(args, 0); err != nil {
		return err
	}
	cfg, err := loadConfig(config.ForRun)
	if err != nil {
		return err
	}
	buildTransport, err := transportNamed(cfg.Transport)
	if err != nil {
		return err
	}
	tracing, err := telemetry.Load(os.Getenv)
	if err != nil {
		return &usageError{err.Error()}
	}
	awsCfg, err := loadAWS(ctx)
	if err != nil {
		return err
	}
	limit := memoryLimit(cfg.Concurrency)
	if len(cfg.PayloadBuckets) > 0 {
		// Room for the large messages held at once (SESQ_PAYLOAD_FETCHES).
		limit += int64(cfg.PayloadFetches) * payloadMemory(cfg.Transport)
	}
	tuneGC(limit)
	// One line per message: batched into a write every 100 ms rather than
	// a system call each (lines are out within 100 ms, and at exit).
	logOut := logbuf.New(stderr, 100*time.Millisecond)
	defer logOut.Close()
	log := cfg.Logger(logOut).With("service", "sesq", "version", versionString())
	m := metrics.New(versionString())
	m.SetTenants(cfg.MetricsTenants)
	q := newSQS(awsCfg, m.SQSMiddleware)
	tr, err := newTransport(ctx, buildTransport, cfg, awsCfg)
	if err != nil {
		return err
	}
	defer tr.Close()
	opts := worker.Options{Logger: log, Metrics: m}
	if tracing != nil {
		tp := tracing.Start(ctx, versionString(), log)
		// After the worker drained: the spans of its last messages go out.
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), traceFlushTimeout)
			defer cancel()
			if err := tp.Shutdown(sctx); err != nil {
				log.Warn("trace export at exit failed; the last spans may be lost", "err", err)
			}
		}()
		opts.Tracer = telemetry.NewTracer(tp)
		log.Info("tracing on: spans go over OTLP/HTTP", "endpoint", tracing.Endpoint())
	}
	if len(cfg.PayloadBuckets) > 0 {
		opts.Payloads = &payload.Store{Client: newS3(awsCfg), Buckets: cfg.PayloadBuckets, MaxSize: maxPayload(cfg.Transport)}
	}
	if cfg.IdempotencyTable != "" {
		opts.Idempotency = &idempotency.DynamoDB{
			Client: dynamodb.NewFromConfig(awsCfg), Table: cfg.IdempotencyTable, SentTTL: cfg.IdempotencyTTL,
		}
	}
	w := worker.New(workerConfig(cfg), q, tr, opts)

	if cfg.HTTPAddr != "" {
		ln, err := net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			return &usageError{fmt.Sprintf("SESQ_HTTP_ADDR: cannot listen on %s: %v", cfg.HTTPAddr, err)}
		}
		srv := &http.Server{Handler: opsHandler(w, m), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("http server stopped", "err", err)
			}
		}()
		log.Info("serving /metrics, /healthz, /readyz", "addr", ln.Addr().String())
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			srv.Shutdown(sctx)
		}()
	}
	return w.Run(ctx)
}

// traceFlushTimeout bounds the export of the spans still pending at exit
// (it adds to the drain time a SIGTERM is given).
const traceFlushTimeout = 3 * time.Second

// tuneGC trades a little memory for much less garbage-collection CPU: the
// worker's heap is small and mostly short-lived request buffers. The soft
// memory limit grows with the concurrency, since every sender brings a
// goroutine stack deep in the SDK and an HTTP connection with two more: a
// fixed limit too small for them makes the collector run back to back (at
// concurrency 256 a 24 MiB limit cut the throughput by three quarters).
// GOGC and GOMEMLIMIT, when set, win.
func tuneGC(limit int64) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(limit)
	}
}

// memoryLimit is the soft memory limit for a concurrency: 24 MiB at 32.
func memoryLimit(concurrency int) int64 {
	return 16<<20 + int64(concurrency)*256<<10
}

// maxMessage is the largest message the transport takes (bytes).
func maxMessage(name string) int {
	switch name {
	case "api-v2":
		return transport.MaxMessageV2
	case "smtp":
		return transport.MaxMessageSMTP
	}
	return transport.MaxMessageV1
}

// maxPayload is the largest S3 payload the worker fetches: an envelope
// whose raw message is the transport's largest, base64 in JSON (four
// thirds), with 1 MiB for the rest of the envelope. A larger one could
// only be refused after the fetch.
func maxPayload(transportName string) int64 {
	return int64(maxMessage(transportName))*4/3 + 1<<20
}

// payloadMemory is what the soft memory limit grows by for each large
// message held: the fetched payload, the decoded raw message, the request
// the transport builds from it (the v1 API's form-encoded base64 is about
// the payload's size again) and the SDK's copies while it signs and sends.
// Measured (make bench-large, GOGC=100, no limit): about 30 MB live per
// 8 MB raw message, collected at twice that; five payloads' worth (72 MB
// for the v1 API) leaves the collector room without running back to back.
func payloadMemory(transportName string) int64 {
	return 5 * maxPayload(transportName)
}

// opsHandler serves the worker's metrics and health.
func opsHandler(w *worker.Worker, m *metrics.Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	probe := func(ok func() bool, what string) http.HandlerFunc {
		return func(rw http.ResponseWriter, _ *http.Request) {
			if ok() {
				fmt.Fprintln(rw, "ok")
				return
			}
			http.Error(rw, what, http.StatusServiceUnavailable)
		}
	}
	mux.Handle("GET /healthz", probe(w.Alive, "worker loops not running"))
	mux.Handle("GET /readyz", probe(w.Ready, "not ready: draining, or no successful receive lately"))
	return mux
}

var (
	_ worker.Metrics = (*metrics.Metrics)(nil)
	_ worker.Gauges  = (*metrics.Metrics)(nil)
)

// workerConfig is the worker's part of the configuration (c is valid for
// ForRun, its lanes included).
func workerConfig(c config.Config) worker.Config {
	lanes, _ := c.Lanes()
	var wl []worker.Lane
	for _, l := range lanes {
		wl = append(wl, worker.Lane{Name: l.Name, QueueURL: l.QueueURL, DLQURL: l.DLQURL, Weight: l.Weight})
	}
	return worker.Config{
		QueueURL: c.QueueURL, DLQURL: c.DLQURL, Lanes: wl,
		FairnessOff: c.Fairness == "off", TenantShare: c.TenantShare,
		Concurrency: c.Concurrency, BatchSize: c.BatchSize, WaitTime: c.WaitTime, VisibilityTimeout: c.VisibilityTimeout,
		SendTimeout: c.SendTimeout, ShutdownTimeout: c.ShutdownTimeout,
		MaxAttempts: c.MaxAttempts, BackoffInitial: c.BackoffInitial, BackoffMax: c.BackoffMax,
		QuotaDelay: c.QuotaDelay, MaxDeferrals: c.MaxDeferrals,
		LedgerKey: c.LedgerKey, AllowedIdentities: c.AllowedIdentities, SendRate: c.SendRate,
		PayloadFetches: c.PayloadFetches,
	}
}
