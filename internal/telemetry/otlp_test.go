package telemetry

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

func TestExporterEndpointAndSettings(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want exporterConfig
	}{
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, exporterConfig{url: "http://c:4318/v1/traces", timeout: defaultTimeout}},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://c:4318/"}, exporterConfig{url: "https://c:4318/v1/traces", timeout: defaultTimeout}},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://c/otlp"}, exporterConfig{url: "https://c/otlp/v1/traces", timeout: defaultTimeout}},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/custom", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://other"}, exporterConfig{url: "http://c:4318/custom", timeout: defaultTimeout}},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318"}, exporterConfig{url: "http://c:4318/", timeout: defaultTimeout}},
		{map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_HEADERS": "a=1, b = x%20y ,c==",
			"OTEL_EXPORTER_OTLP_TIMEOUT": "2500", "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
		}, exporterConfig{url: "http://c/v1/traces", headers: map[string]string{"a": "1", "b": "x y", "c": "="}, timeout: 2500 * time.Millisecond, gzip: true}},
		{map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_HEADERS": "a=1", "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "b=2",
			"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "none", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "100",
		}, exporterConfig{url: "http://c/v1/traces", headers: map[string]string{"b": "2"}, timeout: 100 * time.Millisecond}},
	} {
		got, probs := loadExporter(func(k string) string { return c.env[k] })
		if len(probs) > 0 {
			t.Errorf("%v: %v", c.env, probs)
			continue
		}
		if got.url != c.want.url || got.timeout != c.want.timeout || got.gzip != c.want.gzip || len(got.headers) != len(c.want.headers) {
			t.Errorf("%v: %+v, want %+v", c.env, got, c.want)
		}
		for k, v := range c.want.headers {
			if got.headers[k] != v {
				t.Errorf("%v: header %s = %q, want %q", c.env, k, got.headers[k], v)
			}
		}
	}
}

// collector is an OTLP/HTTP endpoint that keeps what it is sent and
// answers with the statuses it is given, then 200.
type collector struct {
	mu       sync.Mutex
	answers  []int
	requests []*http.Request
	bodies   [][]byte
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		body, _ = io.ReadAll(zr)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests = append(c.requests, r)
	c.bodies = append(c.bodies, body)
	if len(c.answers) > 0 {
		status := c.answers[0]
		c.answers = c.answers[1:]
		if status == 429 {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(status)
	}
}

// spans are two spans as the worker makes them: a consumer span under a
// remote parent, with a client child that failed.
func spans(t *testing.T) []sdktrace.ReadOnlySpan {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true}))
	ctx, p := tp.Tracer("t", trace.WithInstrumentationVersion("1")).Start(ctx, "process mail", trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("s", "v"), attribute.Int("i", 7), attribute.Bool("b", true), attribute.Float64("f", 1.5),
			attribute.StringSlice("ss", []string{"a", "b"}), attribute.Int64Slice("is", []int64{1, 2})))
	_, c := tp.Tracer("t", trace.WithInstrumentationVersion("1")).Start(ctx, "SES.SendEmail", trace.WithSpanKind(trace.SpanKindClient))
	c.SetStatus(codes.Error, "MessageRejected: no")
	c.AddEvent("e", trace.WithAttributes(attribute.String("k", "v")))
	c.End()
	p.End()
	return rec.Ended()
}

func TestExporterSendsOTLP(t *testing.T) {
	col := &collector{}
	srv := httptest.NewServer(col)
	defer srv.Close()
	e := newExporter(exporterConfig{url: srv.URL + "/v1/traces", headers: map[string]string{"api-key": "k"}, timeout: time.Second, gzip: true}, "v9")
	if err := e.ExportSpans(context.Background(), spans(t)); err != nil {
		t.Fatal(err)
	}
	r := col.requests[0]
	if r.Method != "POST" || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" ||
		r.Header.Get("api-key") != "k" || r.Header.Get("User-Agent") != "sesq/v9 (OTLP/HTTP)" {
		t.Errorf("request %s %s %v", r.Method, r.URL, r.Header)
	}
	var got tracepb.TracesData
	if err := proto.Unmarshal(col.bodies[0], &got); err != nil {
		t.Fatal(err)
	}
	if len(got.ResourceSpans) != 1 || len(got.ResourceSpans[0].ScopeSpans) != 1 || got.ResourceSpans[0].Resource == nil {
		t.Fatalf("grouping: %v", &got)
	}
	ss := got.ResourceSpans[0].ScopeSpans[0]
	if ss.Scope.GetName() != "t" || ss.Scope.GetVersion() != "1" || len(ss.Spans) != 2 {
		t.Fatalf("scope spans: %v", ss)
	}
	client, process := ss.Spans[0], ss.Spans[1]
	if process.Name != "process mail" || process.Kind != tracepb.Span_SPAN_KIND_CONSUMER ||
		bytes.Compare(process.ParentSpanId, []byte{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}) != 0 ||
		process.Flags != 0x301 || len(process.Attributes) != 6 || process.StartTimeUnixNano == 0 || process.EndTimeUnixNano < process.StartTimeUnixNano {
		t.Errorf("process span: %v", process)
	}
	if client.Name != "SES.SendEmail" || client.Kind != tracepb.Span_SPAN_KIND_CLIENT || !bytes.Equal(client.ParentSpanId, process.SpanId) ||
		client.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || client.Status.GetMessage() != "MessageRejected: no" ||
		client.Flags != 0x101 || len(client.Events) != 1 || !bytes.Equal(client.TraceId, process.TraceId) {
		t.Errorf("client span: %v", client)
	}
	for _, a := range process.Attributes {
		if a.Key == "ss" && len(a.Value.GetArrayValue().GetValues()) != 2 || a.Key == "i" && a.Value.GetIntValue() != 7 || a.Key == "f" && a.Value.GetDoubleValue() != 1.5 {
			t.Errorf("attribute %v", a)
		}
	}
}

// Throttles and gateway errors are tried again (a 429 after its
// Retry-After); a refusal is not.
func TestExporterRetries(t *testing.T) {
	col := &collector{answers: []int{503, 429}}
	srv := httptest.NewServer(col)
	defer srv.Close()
	e := newExporter(exporterConfig{url: srv.URL, timeout: time.Second}, "v")
	start := time.Now()
	if err := e.ExportSpans(context.Background(), spans(t)); err != nil {
		t.Fatal(err)
	}
	if len(col.requests) != 3 || time.Since(start) < 2*time.Second {
		t.Errorf("%d requests in %v, want 3 after 1 s and 1 s", len(col.requests), time.Since(start))
	}

	col = &collector{answers: []int{400}}
	srv2 := httptest.NewServer(col)
	defer srv2.Close()
	e = newExporter(exporterConfig{url: srv2.URL, timeout: time.Second}, "v")
	if err := e.ExportSpans(context.Background(), spans(t)); err == nil || len(col.requests) != 1 {
		t.Errorf("a 400: error %v after %d requests, want an error after 1", err, len(col.requests))
	}

	col = &collector{answers: []int{503, 503, 503, 503}}
	srv3 := httptest.NewServer(col)
	defer srv3.Close()
	e = newExporter(exporterConfig{url: srv3.URL, timeout: time.Second}, "v")
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	if err := e.ExportSpans(ctx, spans(t)); err == nil {
		t.Error("an endpoint that stays unavailable: no error when the export's time ran out")
	}
	e.Shutdown(context.Background())
	if err := e.ExportSpans(context.Background(), spans(t)); err == nil {
		t.Error("exported after Shutdown")
	}
}

// OTEL_EXPORTER_OTLP_CERTIFICATE makes a collector with a private CA
// trusted.
func TestExporterTrustsTheGivenCA(t *testing.T) {
	col := &collector{}
	srv := httptest.NewTLSServer(col)
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)

	untrusted, _ := loadExporter(func(k string) string { return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL}[k] })
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := newExporter(untrusted, "v").ExportSpans(ctx, spans(t)); err == nil {
		t.Error("exported to a collector whose certificate nothing vouches for")
	}
	cfg, probs := loadExporter(func(k string) string {
		return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL, "OTEL_EXPORTER_OTLP_CERTIFICATE": ca}[k]
	})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	if err := newExporter(cfg, "v").ExportSpans(context.Background(), spans(t)); err != nil || len(col.requests) != 1 {
		t.Errorf("with the CA: %v, %d requests", err, len(col.requests))
	}
}
