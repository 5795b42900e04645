package transport

// Two things a transport may tell about itself, for observability: what
// each send is on the wire (for its trace span), and which error codes it
// knows (for metric labels). Both are optional: the worker asks with a
// type assertion and falls back on Describe and MetricCode below.

// Call names what one send is on the wire, in the words of OpenTelemetry's
// RPC and AWS SDK conventions: the trace span of each send carries it.
type Call struct {
	System  string // rpc.system: "aws-api" for the SES APIs, "smtp"
	Service string // rpc.service: "SES", "SESv2"; empty when there is none
	Method  string // rpc.method: "SendEmail", "SendRawEmail", …; empty when there is none
}

// Describer is implemented by a transport that names the call a send of an
// envelope action makes.
type Describer interface {
	Call(action string) Call
}

// CodeLabeler is implemented by a transport that bounds its error codes for
// metric labels: a code from its own table or its own constants stays, any
// other becomes CodeOther, so that a code SES invents tomorrow (or an SMTP
// server's free text) cannot grow a metric's label set without bound.
type CodeLabeler interface {
	CodeLabel(code string) string
}

// CodeOther is the metric label of an error code no table knows.
const CodeOther = "other"

// Describe is t's Call for action: its own, or, for a transport that
// does not tell, one that names the action only.
func Describe(t Sender, action string) Call {
	if d, ok := t.(Describer); ok {
		return d.Call(action)
	}
	return Call{Method: action}
}

// CodeLabel is t's metric label for code: its own, or, for a transport
// that does not tell, MetricCode(code, nil).
func CodeLabel(t Sender, code string) string {
	if l, ok := t.(CodeLabeler); ok {
		return l.CodeLabel(code)
	}
	return MetricCode(code, nil)
}

// ownCodes are the codes transports give failures that carry no code of
// SES's own.
var ownCodes = map[string]bool{CodeTimeout: true, CodeConnection: true, CodeUnknown: true, CodeTLS: true, CodeThrottling: true}

// MetricCode bounds an error code for a metric label: "" (a success) stays
// "", and so does a code of table, one every AWS API answers with, or one
// of the Code constants; any other is CodeOther. The API transports'
// CodeLabel is MetricCode over their error table.
func MetricCode(code string, table map[string]Class) string {
	if code == "" || ownCodes[code] {
		return code
	}
	if _, ok := table[code]; ok {
		return code
	}
	if _, ok := commonCodes[code]; ok {
		return code
	}
	return CodeOther
}
