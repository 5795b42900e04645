package retry

import (
	"github.com/sesq/sesq/transport"
)

// sendClasses maps the classes transports report failed sends in to the
// decision table's.
var sendClasses = map[transport.Class]Class{
	transport.Retry:         Retry,
	transport.Throttled:     Throttled,
	transport.Quota:         Quota,
	transport.Unavailable:   Unavailable,
	transport.Authorization: Authorization,
	transport.Rejected:      Rejected,
}

// Classify maps the result of a send (nil when SES accepted it) to its
// outcome. The transport classified its own failure (transport.Error);
// an error no transport classified is read as a network fault.
func Classify(err error) Outcome {
	if err == nil {
		return Outcome{Class: Sent}
	}
	te := transport.Classify(err)
	c, ok := sendClasses[te.Class]
	if !ok { // a transport's class without a rule here: try again, never lose it
		c = Retry
	}
	return Outcome{Class: c, Code: te.Code, Message: te.Message, Uncertain: te.Uncertain, PerMessage: te.PerMessage, Err: err}
}
