package telemetry_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sesq/sesq/internal/telemetry"
)

// The opt-in rule, and the settings sesq refuses.
func TestLoad(t *testing.T) {
	const ep = "http://collector:4318"
	for _, c := range []struct {
		env     map[string]string
		on      bool
		wantErr string
	}{
		{map[string]string{}, false, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": ep}, true, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": ep + "/v1/traces"}, true, ""},
		{map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, false, ""}, // no endpoint: off
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": ep, "OTEL_TRACES_EXPORTER": "otlp"}, true, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": ep, "OTEL_TRACES_EXPORTER": "none"}, false, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": ep, "OTEL_SDK_DISABLED": "true"}, false, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": ep, "OTEL_SDK_DISABLED": "TRUE"}, false, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": ep, "OTEL_SDK_DISABLED": "false"}, true, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": ep, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, true, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": ep, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}, true, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": ep, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, false, "OTEL_EXPORTER_OTLP_PROTOCOL: sesq exports over http/protobuf only"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": ep, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"}, false, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": ep, "OTEL_TRACES_EXPORTER": "zipkin", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, false, "OTEL_TRACES_EXPORTER: sesq exports traces with otlp only (or none), got \"zipkin\"; OTEL_EXPORTER_OTLP_PROTOCOL"},
		{map[string]string{"OTEL_TRACES_EXPORTER": "console"}, false, "OTEL_TRACES_EXPORTER"}, // refused even with tracing off
		{map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"}, false, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, false, "OTEL_EXPORTER_OTLP_ENDPOINT: must be an http:// or https:// URL with a host"},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "grpc://collector:4317"}, false, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": ep, "OTEL_EXPORTER_OTLP_HEADERS": "api-key"}, false, "OTEL_EXPORTER_OTLP_HEADERS: must be key=value pairs"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": ep, "OTEL_EXPORTER_OTLP_TIMEOUT": "5s"}, false, "OTEL_EXPORTER_OTLP_TIMEOUT: must be a positive number of milliseconds"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": ep, "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "zstd"}, false, "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: must be gzip or none"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": ep, "OTEL_EXPORTER_OTLP_CERTIFICATE": "/nonexistent/ca.pem"}, false, "OTEL_EXPORTER_OTLP_CERTIFICATE"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": ep, "OTEL_EXPORTER_OTLP_CLIENT_KEY": "/k.pem"}, false, "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY go together"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": ep, "OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_TIMEOUT": "soon"}, false, ""}, // off: the exporter's settings are not read
	} {
		cfg, err := telemetry.Load(func(k string) string { return c.env[k] })
		on := cfg != nil
		switch {
		case c.wantErr == "" && err != nil, c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%v: error %v, want %q", c.env, err, c.wantErr)
		case on != c.on:
			t.Errorf("%v: on %v, want %v", c.env, on, c.on)
		}
	}
}

func str(s string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(s)}
}

// The parent a message carries: traceparent first, AWSTraceHeader when
// there is no readable traceparent.
func TestParent(t *testing.T) {
	const xrayTrace = "5759e988bd862e3fe1be46a994272793"
	for _, c := range []struct {
		name  string
		attrs map[string]types.MessageAttributeValue
		xray  string
		want  string // trace id; "" for none
	}{
		{"none", nil, "", ""},
		{"traceparent", map[string]types.MessageAttributeValue{"traceparent": str(traceparent)}, "", traceID},
		{"both", map[string]types.MessageAttributeValue{"traceparent": str(traceparent)}, xray, traceID},
		{"xray", nil, xray, xrayTrace},
		{"bad traceparent", map[string]types.MessageAttributeValue{"traceparent": str("00-nothex-00f067aa0ba902b7-01")}, xray, xrayTrace},
		{"bad both", map[string]types.MessageAttributeValue{"traceparent": str("garbage")}, "Root=garbage", ""},
		{"binary traceparent", map[string]types.MessageAttributeValue{"traceparent": {DataType: aws.String("Binary"), BinaryValue: []byte(traceparent)}}, "", ""},
	} {
		m := types.Message{MessageAttributes: c.attrs}
		if c.xray != "" {
			m.Attributes = map[string]string{"AWSTraceHeader": c.xray}
		}
		sc := telemetry.Parent(m)
		got := ""
		if sc.IsValid() {
			got = sc.TraceID().String()
		}
		if got != c.want {
			t.Errorf("%s: parent trace %q, want %q", c.name, got, c.want)
		}
	}
}
