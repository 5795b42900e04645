package telemetry

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

// formatXRay writes sc as an X-Ray trace header, the inverse of ParseXRay.
func formatXRay(sc trace.SpanContext) string {
	tid := sc.TraceID().String()
	sampled := "0"
	if sc.IsSampled() {
		sampled = "1"
	}
	return fmt.Sprintf("Root=1-%s-%s;Parent=%s;Sampled=%s", tid[:8], tid[8:], sc.SpanID(), sampled)
}

func TestParseXRay(t *testing.T) {
	const (
		root   = "Root=1-5759e988-bd862e3fe1be46a994272793"
		parent = "Parent=53995c3f42cd8ad8"
		tid    = "5759e988bd862e3fe1be46a994272793"
		sid    = "53995c3f42cd8ad8"
	)
	for _, c := range []struct {
		header  string
		ok      bool
		sampled bool
	}{
		{root + ";" + parent + ";Sampled=1", true, true},
		{root + ";" + parent + ";Sampled=0", true, false},
		{root + ";" + parent + ";Sampled=?", true, false}, // deferred: not sampled, as X-Ray's propagators read it
		{root + ";" + parent, true, false},
		{parent + ";Sampled=1;" + root, true, true},                                       // any order
		{root + "; " + parent + " ; Sampled=1", true, true},                               // spaces around fields
		{root + ";" + parent + ";Sampled=1;Lineage=a87bd80c:1|68fd508a:5", true, true},    // Lineage ignored
		{"Self=1-5759e988-aaaaaaaaaaaaaaaaaaaaaaaa;" + root + ";" + parent, true, false},  // an ALB's Self ignored
		{root + ";" + parent + ";Parent=0000000000000001;Sampled=1", true, true},          // the first Parent counts
		{"Root=1-5759E988-BD862E3FE1BE46A994272793;Parent=53995C3F42CD8AD8", true, false}, // upper-case hex
		{root + ";Sampled=1", false, false},                                               // no Parent: no span to continue
		{parent + ";Sampled=1", false, false},                                             // no Root
		{"Root=2-5759e988-bd862e3fe1be46a994272793;" + parent, false, false},              // unknown version
		{"Root=1-5759e988-bd862e3fe1be46a99427279;" + parent, false, false},               // short
		{"Root=1-5759e988bd862e3fe1be46a994272793;" + parent, false, false},               // no dash
		{"Root=1-5759e98g-bd862e3fe1be46a994272793;" + parent, false, false},              // not hex
		{root + ";Parent=53995c3f42cd8ad", false, false},
		{root + ";Parent=0000000000000000", false, false}, // zero span id
		{"Root=1-00000000-000000000000000000000000;" + parent, false, false},
		{"root=1-5759e988-bd862e3fe1be46a994272793;parent=53995c3f42cd8ad8", false, false}, // keys are case-sensitive
		{"", false, false},
		{";;;", false, false},
	} {
		sc, ok := ParseXRay(c.header)
		if ok != c.ok {
			t.Errorf("%q: ok %v, want %v", c.header, ok, c.ok)
			continue
		}
		if !ok {
			if sc.IsValid() {
				t.Errorf("%q: not ok but valid %v", c.header, sc)
			}
			continue
		}
		if sc.TraceID().String() != tid || sc.IsSampled() != c.sampled || !sc.IsRemote() {
			t.Errorf("%q: %v sampled %v remote %v", c.header, sc.TraceID(), sc.IsSampled(), sc.IsRemote())
		}
		if c.header != root+";"+parent+";Parent=0000000000000001;Sampled=1" && sc.SpanID().String() != sid {
			t.Errorf("%q: span id %v", c.header, sc.SpanID())
		}
	}
}

// Whatever the header, ParseXRay does not panic, and what it accepts is a
// valid remote span context that writes back to a header it reads the same.
func FuzzParseXRay(f *testing.F) {
	for _, s := range []string{
		"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
		"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
		"Parent=53995c3f42cd8ad8;Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?;Lineage=x:1",
		"Root=1-;Parent=;Sampled=",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		sc, ok := ParseXRay(h)
		if ok != sc.IsValid() {
			t.Fatalf("%q: ok %v, valid %v", h, ok, sc.IsValid())
		}
		if !ok {
			return
		}
		if !sc.IsRemote() {
			t.Fatalf("%q: not remote", h)
		}
		again, ok := ParseXRay(formatXRay(sc))
		if !ok || !again.Equal(sc) {
			t.Fatalf("%q: %v written back reads %v", h, sc, again)
		}
		if !strings.Contains(h, "Root=") || !strings.Contains(h, "Parent=") {
			t.Fatalf("%q: accepted without Root and Parent", h)
		}
	})
}

// The parent a message carries: traceparent wins over AWSTraceHeader; an
// unreadable traceparent falls back on it.
func TestFromEnv(t *testing.T) {
	env := map[string]string{"TRACEPARENT": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "TRACESTATE": "v=1"}
	sc := trace.SpanContextFromContext(FromEnv(context.Background(), func(k string) string { return env[k] }))
	if sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || sc.SpanID().String() != "00f067aa0ba902b7" || sc.TraceState().Get("v") != "1" || !sc.IsRemote() {
		t.Errorf("from the environment: %v", sc)
	}
	ctx := context.Background()
	if got := FromEnv(ctx, func(string) string { return "" }); got != ctx {
		t.Error("without TRACEPARENT the context changed")
	}
}
