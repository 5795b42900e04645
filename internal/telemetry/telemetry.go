// Package telemetry is sesq's OpenTelemetry tracing: the worker.Tracer
// that follows each message and each SES call, the producer's side of the
// trace context, and the OTLP/HTTP export that the standard OTEL_*
// variables configure.
//
// Tracing is opt-in (Load). It is on when OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, unless OTEL_SDK_DISABLED is
// true or OTEL_TRACES_EXPORTER is none. Off, the worker is given no tracer
// and pays nothing for it. Spans go over OTLP/HTTP (http/protobuf), by an
// exporter of sesq's own (otlp.go) that reads the standard
// OTEL_EXPORTER_OTLP_* variables.
//
// A message's trace context travels as the W3C traceparent and tracestate
// message attributes, which envelope.Producer and `sesq enqueue` set, or
// as SQS's AWSTraceHeader system attribute (X-Ray's format), which AWS
// SDKs instrumented for X-Ray set; the worker reads traceparent first. The
// span of each delivery is a child of the producer's span (a single
// message is processed, so the messaging conventions' parent, not a
// link), and the span of each SES call a child of the delivery's.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// Config is the tracing configuration the OTEL_* variables give.
type Config struct {
	exporter exporterConfig
}

// Load reads the standard OpenTelemetry variables through getenv and
// returns nil when tracing is off. It is on when
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set,
// unless OTEL_SDK_DISABLED is true or OTEL_TRACES_EXPORTER is none. It
// refuses, naming each variable, what sesq cannot honour: an exporter
// other than otlp or none, a protocol other than http/protobuf (sesq
// exports over OTLP/HTTP only; a gRPC endpoint would receive nothing), and
// exporter settings that do not read (an endpoint that is no http(s) URL,
// malformed headers, a timeout, a compression other than gzip or none,
// certificate files that do not load).
func Load(getenv func(string) string) (*Config, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return nil, nil
	}
	var probs []string
	off := false
	if v := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); v != "" {
		for _, e := range strings.Split(v, ",") {
			switch strings.TrimSpace(e) {
			case "otlp":
			case "none":
				off = true
			default:
				probs = append(probs, fmt.Sprintf("OTEL_TRACES_EXPORTER: sesq exports traces with otlp only (or none), got %q", v))
			}
		}
	}
	protoVar := "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	proto := strings.TrimSpace(getenv(protoVar))
	if proto == "" {
		protoVar = "OTEL_EXPORTER_OTLP_PROTOCOL"
		proto = strings.TrimSpace(getenv(protoVar))
	}
	if proto != "" && proto != "http/protobuf" {
		probs = append(probs, fmt.Sprintf("%s: sesq exports over http/protobuf only (port 4318), got %q", protoVar, proto))
	}
	endpoint := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT")) != "" || strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) != ""
	var cfg Config
	if endpoint && !off {
		var more []string
		cfg.exporter, more = loadExporter(getenv)
		probs = append(probs, more...)
	}
	if len(probs) > 0 {
		return nil, errors.New(strings.Join(probs, "; "))
	}
	if !endpoint || off {
		return nil, nil
	}
	return &cfg, nil
}

// Endpoint is where spans are sent, a password in it replaced by xxxxx.
func (c *Config) Endpoint() string {
	u, err := url.Parse(c.exporter.url)
	if err != nil {
		return ""
	}
	return u.Redacted()
}

// Start sets the trace pipeline up: the OTLP/HTTP exporter (otlp.go); a
// batch span processor (OTEL_BSP_*); the sampler of OTEL_TRACES_SAMPLER
// (default: parent-based, always on, so a producer's decision holds); and
// a resource of service.name sesq and service.version version, which
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override.
// OpenTelemetry's own errors (an export that failed) go to log, at most one
// line a minute. The caller shuts the provider down at exit, which flushes
// the spans still pending.
func (c *Config) Start(ctx context.Context, version string, log *slog.Logger) *sdktrace.TracerProvider {
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceNameKey.String("sesq"), semconv.ServiceVersionKey.String(version)),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		log.Warn("trace resource partly built", "err", err)
	}
	otel.SetLogger(logr.FromSlogHandler(log.Handler()))
	otel.SetErrorHandler(&throttledErrors{log: log, every: time.Minute})
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(newExporter(c.exporter, version)), sdktrace.WithResource(res))
}

// throttledErrors logs OpenTelemetry's errors, one line per interval at
// most: a collector that is down fails every export.
type throttledErrors struct {
	log   *slog.Logger
	every time.Duration

	mu      sync.Mutex
	last    time.Time
	dropped int
}

func (h *throttledErrors) Handle(err error) {
	h.mu.Lock()
	now := time.Now()
	if !h.last.IsZero() && now.Sub(h.last) < h.every {
		h.dropped++
		h.mu.Unlock()
		return
	}
	dropped := h.dropped
	h.last, h.dropped = now, 0
	h.mu.Unlock()
	h.log.Warn("tracing failed; spans may be lost", "err", err, "errors_not_logged", dropped)
}
