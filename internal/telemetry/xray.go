package telemetry

import (
	"encoding/hex"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// ParseXRay reads an X-Ray trace header, as SQS's AWSTraceHeader system
// attribute carries it (Root=1-5759e988-bd862e3fe1be46a994272793;
// Parent=53995c3f42cd8ad8;Sampled=1), as a remote span context: the trace
// id is Root's two hex parts (the epoch seconds and 96 random bits), the
// span id Parent's. Only Sampled=1 marks it sampled (0, ? and none do
// not, as X-Ray's own propagators read it). Other fields (Lineage, Self)
// are ignored; a field given twice counts the first time. It reports false
// for a header without a valid Root and Parent.
func ParseXRay(h string) (trace.SpanContext, bool) {
	var root, parent, sampled string
	var seenRoot, seenParent, seenSampled bool
	for part := range strings.SplitSeq(h, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "Root":
			if !seenRoot {
				root, seenRoot = v, true
			}
		case "Parent":
			if !seenParent {
				parent, seenParent = v, true
			}
		case "Sampled":
			if !seenSampled {
				sampled, seenSampled = v, true
			}
		}
	}
	// Root=1-{8 hex}-{24 hex}: version 1, the only one X-Ray defines.
	if len(root) != 35 || root[:2] != "1-" || root[10] != '-' {
		return trace.SpanContext{}, false
	}
	var tid trace.TraceID
	if !decodeHex(tid[:4], root[2:10]) || !decodeHex(tid[4:], root[11:]) {
		return trace.SpanContext{}, false
	}
	var sid trace.SpanID
	if len(parent) != 16 || !decodeHex(sid[:], parent) {
		return trace.SpanContext{}, false
	}
	cfg := trace.SpanContextConfig{TraceID: tid, SpanID: sid, Remote: true}
	if sampled == "1" {
		cfg.TraceFlags = trace.FlagsSampled
	}
	sc := trace.NewSpanContext(cfg)
	return sc, sc.IsValid()
}

// decodeHex fills dst from lower- or upper-case hex s, exactly.
func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	_, err := hex.Decode(dst, []byte(s))
	return err == nil
}
