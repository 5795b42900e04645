package envelope

import (
	"context"
	"testing"
)

// Without a span, tracing costs the producer nothing.
func TestNoSpanNoCost(t *testing.T) {
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() { _ = traceAttributes(ctx) }); n != 0 {
		t.Errorf("%v allocations without a span", n)
	}
}
