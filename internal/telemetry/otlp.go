package telemetry

// A small OTLP/HTTP trace exporter. The upstream one
// (go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp) links
// gRPC and grpc-gateway whatever the protocol: its configuration and the
// collector's generated service code import them, and they would grow the
// binary by two thirds (16 to 27 MB). OTLP/HTTP is one POST of a protobuf
// message, and the generated OTLP types (go.opentelemetry.io/proto/otlp
// trace, common and resource, which import no gRPC) write it; this file
// adds the OTEL_EXPORTER_OTLP_* settings, gzip and retries.

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// exporterConfig is the exporter's configuration, from the
// OTEL_EXPORTER_OTLP_* variables; each OTEL_EXPORTER_OTLP_TRACES_* one wins
// over its general counterpart.
type exporterConfig struct {
	url     string // where spans are POSTed
	headers map[string]string
	timeout time.Duration // one request at most
	gzip    bool
	tls     *tls.Config // nil: the system's roots, no client certificate
}

const (
	defaultTimeout = 10 * time.Second
	tracesPath     = "/v1/traces"
)

// loadExporter reads the exporter's configuration through getenv and
// reports every problem, each naming its variable.
func loadExporter(getenv func(string) string) (exporterConfig, []string) {
	cfg := exporterConfig{timeout: defaultTimeout}
	var probs []string
	bad := func(name, format string, args ...any) {
		probs = append(probs, name+": "+fmt.Sprintf(format, args...))
	}
	// pick is the TRACES_ variable's value when set, else the general one's.
	pick := func(suffix string) (name, value string) {
		name = "OTEL_EXPORTER_OTLP_TRACES_" + suffix
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return name, v
		}
		name = "OTEL_EXPORTER_OTLP_" + suffix
		return name, strings.TrimSpace(getenv(name))
	}

	// A signal's own endpoint is used as it is (its root when it has no
	// path); the general one is a base the signal's path is added to.
	name, v := "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
	base := v == ""
	if base {
		name, v = "OTEL_EXPORTER_OTLP_ENDPOINT", strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT"))
	}
	if v != "" {
		u, err := url.Parse(v)
		switch {
		case err != nil:
			bad(name, "not a URL: %v", err)
		case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
			bad(name, "must be an http:// or https:// URL with a host, got %q", v)
		default:
			if base {
				u.Path = path.Join("/", u.Path, tracesPath)
			} else if u.Path == "" {
				u.Path = "/"
			}
			u.RawPath = ""
			cfg.url = u.String()
		}
	}

	if name, v := pick("HEADERS"); v != "" {
		cfg.headers = map[string]string{}
		for pair := range strings.SplitSeq(v, ",") {
			k, val, ok := strings.Cut(pair, "=")
			k = strings.TrimSpace(k)
			if !ok || k == "" || strings.ContainsAny(k, " \t\r\n:") {
				bad(name, "must be key=value pairs separated by commas")
				break
			}
			dec, err := url.PathUnescape(strings.TrimSpace(val))
			if err != nil {
				bad(name, "the value of %s is not percent-encoded: %v", k, err)
				break
			}
			cfg.headers[k] = dec
		}
	}
	if name, v := pick("TIMEOUT"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			bad(name, "must be a positive number of milliseconds, got %q", v)
		} else {
			cfg.timeout = time.Duration(ms) * time.Millisecond
		}
	}
	if name, v := pick("COMPRESSION"); v != "" {
		switch v {
		case "gzip":
			cfg.gzip = true
		case "none":
		default:
			bad(name, "must be gzip or none, got %q", v)
		}
	}

	var tc tls.Config
	useTLS := false
	if name, v := pick("CERTIFICATE"); v != "" {
		pem, err := os.ReadFile(v)
		pool := x509.NewCertPool()
		switch {
		case err != nil:
			bad(name, "%v", err)
		case !pool.AppendCertsFromPEM(pem):
			bad(name, "%s holds no PEM certificate", v)
		default:
			tc.RootCAs, useTLS = pool, true
		}
	}
	certName, cert := pick("CLIENT_CERTIFICATE")
	keyName, key := pick("CLIENT_KEY")
	switch {
	case cert == "" && key == "":
	case cert == "" || key == "":
		bad(certName, "%s and %s go together", certName, keyName)
	default:
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			bad(certName, "with %s: %v", keyName, err)
		} else {
			tc.Certificates, useTLS = []tls.Certificate{pair}, true
		}
	}
	if useTLS {
		cfg.tls = &tc
	}
	return cfg, probs
}

// exporter sends spans to an OTLP/HTTP endpoint.
type exporter struct {
	cfg       exporterConfig
	client    *http.Client
	userAgent string
	stopped   atomic.Bool
}

var _ sdktrace.SpanExporter = (*exporter)(nil)

func newExporter(cfg exporterConfig, version string) *exporter {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.tls != nil {
		t.TLSClientConfig = cfg.tls
	}
	return &exporter{cfg: cfg, client: &http.Client{Transport: t}, userAgent: "sesq/" + version + " (OTLP/HTTP)"}
}

// retryable are the answers OTLP/HTTP says to send again after a while.
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusBadGateway ||
		status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}

// ExportSpans POSTs spans as one ExportTraceServiceRequest, sending again
// after a throttle, a gateway error or a network fault, with growing pauses
// (or the server's Retry-After) until ctx ends.
func (e *exporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if e.stopped.Load() {
		return errors.New("OTLP exporter is shut down")
	}
	if len(spans) == 0 {
		return nil
	}
	// TracesData is ExportTraceServiceRequest on the wire: field 1,
	// repeated ResourceSpans.
	body, err := proto.Marshal(&tracepb.TracesData{ResourceSpans: resourceSpans(spans)})
	if err != nil {
		return fmt.Errorf("OTLP: encode %d spans: %w", len(spans), err)
	}
	if e.cfg.gzip {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(body)
		zw.Close()
		body = buf.Bytes()
	}
	pause := time.Second
	for {
		wait, err := e.post(ctx, body)
		if err == nil || wait < 0 {
			return err
		}
		if wait == 0 {
			wait = pause
			pause = min(2*pause, 30*time.Second)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (gave up: %v)", err, ctx.Err())
		case <-t.C:
		}
	}
}

// post makes one request. wait is, for a failure worth another try, how
// long the server asked to wait (0: not said); -1 for a failure that
// another try would not mend.
func (e *exporter) post(ctx context.Context, body []byte) (wait time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.cfg.url, bytes.NewReader(body))
	if err != nil {
		return -1, fmt.Errorf("OTLP: %w", err)
	}
	for k, v := range e.cfg.headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", e.userAgent)
	if e.cfg.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("OTLP: export to %s: %w", e.cfg.url, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return 0, nil
	case retryable(resp.StatusCode):
		wait := time.Duration(0)
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			wait = time.Duration(s) * time.Second
		}
		return wait, fmt.Errorf("OTLP: %s answered %s", e.cfg.url, resp.Status)
	}
	return -1, fmt.Errorf("OTLP: %s refused the spans: %s", e.cfg.url, resp.Status)
}

// Shutdown stops exporting; the batch processor flushed before.
func (e *exporter) Shutdown(context.Context) error {
	e.stopped.Store(true)
	e.client.CloseIdleConnections()
	return nil
}

// resourceSpans groups spans by resource, then by instrumentation scope,
// as OTLP carries them.
func resourceSpans(spans []sdktrace.ReadOnlySpan) []*tracepb.ResourceSpans {
	type scopeKey struct {
		res   attribute.Distinct
		scope instrumentation.Scope
	}
	byRes := map[attribute.Distinct]*tracepb.ResourceSpans{}
	byScope := map[scopeKey]*tracepb.ScopeSpans{}
	var out []*tracepb.ResourceSpans
	for _, s := range spans {
		res := s.Resource()
		rk := res.Equivalent()
		rs, ok := byRes[rk]
		if !ok {
			rs = &tracepb.ResourceSpans{Resource: resourceOf(res), SchemaUrl: res.SchemaURL()}
			byRes[rk] = rs
			out = append(out, rs)
		}
		sk := scopeKey{rk, s.InstrumentationScope()}
		ss, ok := byScope[sk]
		if !ok {
			sc := s.InstrumentationScope()
			ss = &tracepb.ScopeSpans{SchemaUrl: sc.SchemaURL}
			if sc != (instrumentation.Scope{}) {
				ss.Scope = &commonpb.InstrumentationScope{Name: sc.Name, Version: sc.Version, Attributes: keyValues(sc.Attributes.ToSlice())}
			}
			byScope[sk] = ss
			rs.ScopeSpans = append(rs.ScopeSpans, ss)
		}
		ss.Spans = append(ss.Spans, spanOf(s))
	}
	return out
}

func resourceOf(r *resource.Resource) *resourcepb.Resource {
	if r == nil {
		return nil
	}
	return &resourcepb.Resource{Attributes: keyValues(r.Attributes())}
}

func spanOf(s sdktrace.ReadOnlySpan) *tracepb.Span {
	sc, parent := s.SpanContext(), s.Parent()
	tid, sid := sc.TraceID(), sc.SpanID()
	st := s.Status()
	out := &tracepb.Span{
		TraceId:                tid[:],
		SpanId:                 sid[:],
		TraceState:             sc.TraceState().String(),
		Flags:                  flags(sc.TraceFlags(), parent),
		Name:                   s.Name(),
		Kind:                   tracepb.Span_SpanKind(kinds[s.SpanKind()]),
		StartTimeUnixNano:      unixNano(s.StartTime()),
		EndTimeUnixNano:        unixNano(s.EndTime()),
		Attributes:             keyValues(s.Attributes()),
		DroppedAttributesCount: count(s.DroppedAttributes()),
		DroppedEventsCount:     count(s.DroppedEvents()),
		DroppedLinksCount:      count(s.DroppedLinks()),
		Status:                 &tracepb.Status{Code: statusCodes[st.Code], Message: st.Description},
	}
	if p := parent.SpanID(); p.IsValid() {
		out.ParentSpanId = p[:]
	}
	for _, ev := range s.Events() {
		out.Events = append(out.Events, &tracepb.Span_Event{Name: ev.Name, TimeUnixNano: unixNano(ev.Time),
			Attributes: keyValues(ev.Attributes), DroppedAttributesCount: count(ev.DroppedAttributeCount)})
	}
	for _, l := range s.Links() {
		ltid, lsid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
		out.Links = append(out.Links, &tracepb.Span_Link{TraceId: ltid[:], SpanId: lsid[:], TraceState: l.SpanContext.TraceState().String(),
			Flags: flags(l.SpanContext.TraceFlags(), l.SpanContext), Attributes: keyValues(l.Attributes), DroppedAttributesCount: count(l.DroppedAttributeCount)})
	}
	return out
}

// kinds maps span kinds to OTLP's (SpanKindUnspecified, 0, to 0).
var kinds = map[trace.SpanKind]int32{
	trace.SpanKindInternal: int32(tracepb.Span_SPAN_KIND_INTERNAL),
	trace.SpanKindServer:   int32(tracepb.Span_SPAN_KIND_SERVER),
	trace.SpanKindClient:   int32(tracepb.Span_SPAN_KIND_CLIENT),
	trace.SpanKindProducer: int32(tracepb.Span_SPAN_KIND_PRODUCER),
	trace.SpanKindConsumer: int32(tracepb.Span_SPAN_KIND_CONSUMER),
}

var statusCodes = map[codes.Code]tracepb.Status_StatusCode{
	codes.Unset: tracepb.Status_STATUS_CODE_UNSET,
	codes.Error: tracepb.Status_STATUS_CODE_ERROR,
	codes.Ok:    tracepb.Status_STATUS_CODE_OK,
}

// flags are the W3C trace flags, with OTLP's bits that say whether the
// parent (or the linked span) is remote.
func flags(tf trace.TraceFlags, parent trace.SpanContext) uint32 {
	f := uint32(tf) | uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK)
	if parent.IsRemote() {
		f |= uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK)
	}
	return f
}

func unixNano(t time.Time) uint64 { return uint64(max(0, t.UnixNano())) }

func count(n int) uint32 { return uint32(min(max(n, 0), math.MaxUint32)) }

func keyValues(kvs []attribute.KeyValue) []*commonpb.KeyValue {
	if len(kvs) == 0 {
		return nil
	}
	out := make([]*commonpb.KeyValue, len(kvs))
	for i, kv := range kvs {
		out[i] = &commonpb.KeyValue{Key: string(kv.Key), Value: anyValue(kv.Value)}
	}
	return out
}

func anyValue(v attribute.Value) *commonpb.AnyValue {
	array := func(n int, at func(int) *commonpb.AnyValue) *commonpb.AnyValue {
		vals := make([]*commonpb.AnyValue, n)
		for i := range vals {
			vals[i] = at(i)
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vals}}}
	}
	str := func(s string) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
	}
	boolean := func(b bool) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: b}}
	}
	integer := func(n int64) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: n}}
	}
	double := func(f float64) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: f}}
	}
	switch v.Type() {
	case attribute.STRING:
		return str(v.AsString())
	case attribute.BOOL:
		return boolean(v.AsBool())
	case attribute.INT64:
		return integer(v.AsInt64())
	case attribute.FLOAT64:
		return double(v.AsFloat64())
	case attribute.STRINGSLICE:
		s := v.AsStringSlice()
		return array(len(s), func(i int) *commonpb.AnyValue { return str(s[i]) })
	case attribute.BOOLSLICE:
		s := v.AsBoolSlice()
		return array(len(s), func(i int) *commonpb.AnyValue { return boolean(s[i]) })
	case attribute.INT64SLICE:
		s := v.AsInt64Slice()
		return array(len(s), func(i int) *commonpb.AnyValue { return integer(s[i]) })
	case attribute.FLOAT64SLICE:
		s := v.AsFloat64Slice()
		return array(len(s), func(i int) *commonpb.AnyValue { return double(s[i]) })
	case attribute.BYTESLICE:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: v.AsByteSlice()}}
	case attribute.SLICE:
		s := v.AsSlice()
		return array(len(s), func(i int) *commonpb.AnyValue { return anyValue(s[i]) })
	case attribute.MAP:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: keyValues(v.AsMap())}}}
	case attribute.EMPTY:
		return &commonpb.AnyValue{}
	}
	return str("INVALID")
}
