package main_test

import (
	"bytes"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/sesq/sesq/deadletter"
	"github.com/sesq/sesq/internal/testsupport/sestest"
	"github.com/sesq/sesq/internal/testsupport/testkit"
)

// otlpCollector is an OTLP/HTTP endpoint that keeps the spans it is sent,
// and the resources they came with.
type otlpCollector struct {
	mu        sync.Mutex
	spans     []*tracepb.Span
	resources []string // service.name of each request's resource
	paths     []string
}

func (c *otlpCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req tracepb.TracesData // ExportTraceServiceRequest on the wire
	if r.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(body, &req) != nil {
		http.Error(w, "not OTLP/HTTP protobuf", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paths = append(c.paths, r.URL.Path)
	for _, rs := range req.ResourceSpans {
		c.resources = append(c.resources, stringAttr(rs.GetResource().GetAttributes(), "service.name"))
		for _, ss := range rs.ScopeSpans {
			c.spans = append(c.spans, ss.Spans...)
		}
	}
}

func (c *otlpCollector) named(name string) []*tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range c.spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func stringAttr(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.Key == key {
			if s, ok := kv.Value.Value.(*commonpb.AnyValue_StringValue); ok {
				return s.StringValue
			}
			return kv.Value.String()
		}
	}
	return ""
}

// A traced run through the binary, as README's Tracing says: `sesq
// enqueue` within a trace (TRACEPARENT) and `sesq run`, both sending spans
// to an OTLP/HTTP endpoint. The trace goes on from the caller through the
// enqueue's producer span and the worker's span of each message into the
// SES call; the spans carry no recipient, subject or body.
func TestTracedRun(t *testing.T) {
	ses := startSES(t, 0)
	b := emu.Setup(t)
	denied := "arn:aws:ses:eu-west-1:123456789012:identity/denied.example"
	ses.FailAlways(denied, sestest.AccessDenied)
	col := &otlpCollector{}
	srv := httptest.NewServer(col)
	defer srv.Close()

	const callerTrace, callerSpan = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	env := sesqEnv(ses.URL, "SESQ_QUEUE_URL="+b.QueueURL, "SESQ_DLQ_URL="+b.DLQURL, "SESQ_WAIT_TIME=1s",
		"OTEL_EXPORTER_OTLP_ENDPOINT="+srv.URL, "OTEL_BSP_SCHEDULE_DELAY=100", "OTEL_SERVICE_NAME=sesq-traced")
	body := func(id, identity string) string {
		return `{"version":1,"id":"` + id + `","action":"SendEmail","sourceArn":"` + identity + `","source":"private-sender@example.com","destination":{"to":["private-recipient@example.net"]},"message":{"subject":{"data":"secret subject"},"body":{"text":{"data":"secret body"}}}}`
	}
	out, errOut, code := sesq(t, append(env, "TRACEPARENT=00-"+callerTrace+"-"+callerSpan+"-01"), body("traced-ok", idEast)+"\n"+body("traced-denied", denied)+"\n", "enqueue")
	if code != 0 {
		t.Fatalf("enqueue: exit %d: %s %s", code, out, errOut)
	}

	cmd, logs := startWorker(t, env)
	testkit.Eventually(t, 20*time.Second, "the queue to drain", func() bool { return b.Empty(t) && len(ses.Sent()) == 1 })
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, logs.String())
	}
	if l := logs.String(); !strings.Contains(l, `"msg":"tracing on: spans go over OTLP/HTTP"`) || !strings.Contains(l, `"endpoint":"`+srv.URL+`/v1/traces"`) {
		t.Errorf("no log line saying tracing is on:\n%s", logs.String())
	}

	hexID := func(b []byte) string { return hex.EncodeToString(b) }
	producers := col.named("send " + b.QueueURL[strings.LastIndexByte(b.QueueURL, '/')+1:])
	if len(producers) != 1 || hexID(producers[0].TraceId) != callerTrace || hexID(producers[0].ParentSpanId) != callerSpan ||
		producers[0].Kind != tracepb.Span_SPAN_KIND_PRODUCER {
		t.Fatalf("enqueue's producer spans %v, want one child of the caller's TRACEPARENT", producers)
	}
	processes := col.named("process " + b.QueueURL[strings.LastIndexByte(b.QueueURL, '/')+1:])
	calls := col.named("SES.SendEmail")
	if len(processes) != 2 || len(calls) != 2 {
		t.Fatalf("%d process spans and %d SES spans, want 2 and 2", len(processes), len(calls))
	}
	for _, p := range processes {
		id := stringAttr(p.Attributes, "sesq.envelope.id")
		if hexID(p.TraceId) != callerTrace || !bytes.Equal(p.ParentSpanId, producers[0].SpanId) || p.Kind != tracepb.Span_SPAN_KIND_CONSUMER {
			t.Errorf("%s: process span not a child of the producer's", id)
		}
		if stringAttr(p.Attributes, "messaging.system") != "aws_sqs" || stringAttr(p.Attributes, "messaging.operation.type") != "process" {
			t.Errorf("%s: messaging attributes %v", id, p.Attributes)
		}
		var call *tracepb.Span
		for _, c := range calls {
			if bytes.Equal(c.ParentSpanId, p.SpanId) {
				call = c
			}
		}
		if call == nil || call.Kind != tracepb.Span_SPAN_KIND_CLIENT || stringAttr(call.Attributes, "rpc.service") != "SES" ||
			stringAttr(call.Attributes, "rpc.system") != "aws-api" {
			t.Fatalf("%s: SES span %v", id, call)
		}
		switch id {
		case "traced-ok":
			if p.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR || stringAttr(p.Attributes, "sesq.outcome") != "sent" ||
				stringAttr(call.Attributes, "cloud.region") != "us-east-1" {
				t.Errorf("sent: process %v, SES call %v", p, call)
			}
		case "traced-denied":
			if p.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || stringAttr(p.Attributes, "sesq.reason") != "authorization" ||
				call.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || stringAttr(call.Attributes, "error.type") != "AccessDenied" {
				t.Errorf("denied: process %v, SES call %v", p, call)
			}
		default:
			t.Errorf("process span of envelope %q", id)
		}
	}
	col.mu.Lock()
	for _, s := range col.spans {
		text := prototext.Format(s)
		for _, private := range []string{"private-recipient", "private-sender", "secret subject", "secret body"} {
			if strings.Contains(text, private) {
				t.Errorf("span %q carries %q", s.Name, private)
			}
		}
	}
	for _, r := range col.resources {
		if r != "sesq-traced" {
			t.Errorf("resource service.name %q, want OTEL_SERVICE_NAME's", r)
		}
	}
	for _, p := range col.paths {
		if p != "/v1/traces" {
			t.Errorf("spans posted to %s", p)
		}
	}
	col.mu.Unlock()
	dl := b.DeadLetters(t)
	if len(dl) != 1 || testkit.Attr(dl[0], "traceparent") == "" || testkit.Attr(dl[0], deadletter.AttrReason) != "authorization" {
		t.Errorf("the dead letter lost its trace context: %d dead letters", len(dl))
	}
}

// Tracing settings sesq cannot honour stop it at once, exit 2, naming the
// variable.
func TestTracingConfigurationRefused(t *testing.T) {
	env := sesqEnv("http://127.0.0.1:1", "SESQ_QUEUE_URL=http://127.0.0.1:1/q", "SESQ_DLQ_URL=http://127.0.0.1:1/d",
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL=grpc")
	for _, cmd := range []string{"run", "enqueue"} {
		_, errOut, code := sesq(t, env, "", cmd)
		if code != 2 || !strings.Contains(errOut, "OTEL_EXPORTER_OTLP_PROTOCOL: sesq exports over http/protobuf only") {
			t.Errorf("%s: exit %d, %q", cmd, code, errOut)
		}
	}
}
