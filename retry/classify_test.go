package retry_test

import (
	"errors"
	"testing"

	"github.com/sesq/sesq/retry"
	"github.com/sesq/sesq/transport"
)

// Every class a transport reports in maps to the decision table's class of
// the same name, and the rest of the error travels.
func TestClassifyMapsEveryTransportClass(t *testing.T) {
	for _, c := range transport.Classes() {
		cause := errors.New("cause")
		o := retry.Classify(&transport.Error{Class: c, Code: "C", Message: "m", Uncertain: true, PerMessage: true, Err: cause})
		if o.Class.String() != c.String() {
			t.Errorf("transport class %s became %s", c, o.Class)
		}
		if o.Code != "C" || o.Message != "m" || !o.Uncertain || !o.PerMessage || o.Err == nil {
			t.Errorf("%s: %+v", c, o)
		}
	}
	if o := retry.Classify(nil); o.Class != retry.Sent {
		t.Errorf("nil: %s", o.Class)
	}
	if o := retry.Classify(errors.New("odd")); o.Class != retry.Retry || !o.Uncertain || o.Code != transport.CodeUnknown {
		t.Errorf("unclassified error: %+v", o)
	}
}
