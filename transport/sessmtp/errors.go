package sessmtp

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/emersion/go-smtp"

	"github.com/sesq/sesq/transport"
)

// Codes this transport gives failures that carry no SMTP reply.
const (
	// CodeNoCredentials: the configuration has no SMTP credential for the
	// identity's region (SESQ_SMTP_CREDENTIALS does not name it).
	CodeNoCredentials = "SMTPNoCredentials"
	// CodeNoStartTLS: the server does not offer STARTTLS, and sesq sends
	// credentials over nothing else.
	CodeNoStartTLS = "SMTPNoStartTLS"
	// CodeInvalidMessage: the envelope cannot be made into an SMTP send
	// (Validate refuses it first; Send says so too).
	CodeInvalidMessage = "SMTPInvalidMessage"
)

// stage is the step of the SMTP conversation a failure happened in: what a
// reply means depends on it (a 550 to RCPT refuses one recipient, a 535 to
// AUTH refuses sesq's credentials).
type stage int

const (
	stageConnect stage = iota + 1 // connect, greeting, EHLO, STARTTLS
	stageAuth                     // AUTH
	stageMail                     // MAIL FROM
	stageRcpt                     // RCPT TO
	stageData                     // DATA and the message, up to the final dot
	stageDataEnd                  // the reply to the message: after the final dot
)

var stageNames = map[stage]string{
	stageConnect: "connect", stageAuth: "AUTH", stageMail: "MAIL FROM", stageRcpt: "RCPT TO", stageData: "DATA", stageDataEnd: "end of DATA",
}

func (s stage) String() string { return stageNames[s] }

// failure is a send that went wrong, with what is needed to classify it.
type failure struct {
	stage       stage
	err         error
	endpoint    string // HOST:PORT
	region      string
	rcpt, rcpts int // at RCPT: which recipient, from 1, of how many
}

// classifyReply is the reply table: what an SMTP reply to a stage means
// for the message, and whether it is about this message only (perMessage:
// it never pauses the region). SES words some causes only in the text,
// which is read first.
//
//	text "Daily message quota exceeded"        Quota
//	text "sending paused"                      Quota
//	text "Maximum sending rate exceeded",
//	     "Throttling"                          Throttled
//	421 (the server closes the session)        Retry
//	530, 534, 535, 538, X.7.8 (credentials)    Unavailable
//	any other reply to connect or AUTH: 4xx    Retry; 5xx Unavailable
//	5xx "Access denied",
//	    "not authorized to perform"            Authorization
//	500, 502, 503, 504 (protocol)              Retry
//	RCPT 4xx                                   Retry; per message only with X.1.x or X.2.x (the address, the mailbox)
//	RCPT 5xx, MAIL 5xx, DATA 5xx               Rejected, per message
//	MAIL 4xx, DATA 4xx, anything else          Retry
func classifyReply(st stage, r *smtp.SMTPError) (c transport.Class, perMessage bool) {
	msg := strings.ToLower(r.Message)
	class := r.Code / 100
	auth := r.Code == 530 || r.Code == 534 || r.Code == 535 || r.Code == 538 || r.EnhancedCode[1] == 7 && r.EnhancedCode[2] == 8
	switch {
	case strings.Contains(msg, "daily message quota exceeded"),
		strings.Contains(msg, "sending paused"), strings.Contains(msg, "sending is paused"):
		return transport.Quota, false
	case strings.Contains(msg, "maximum sending rate exceeded"), strings.Contains(msg, "throttling"):
		return transport.Throttled, false
	case r.Code == 421:
		return transport.Retry, false
	case auth:
		return transport.Unavailable, false
	case st == stageConnect || st == stageAuth:
		if class == 5 {
			return transport.Unavailable, false
		}
		return transport.Retry, false
	case class == 5 && (strings.Contains(msg, "access denied") || strings.Contains(msg, "not authorized to perform")):
		return transport.Authorization, false
	case r.Code == 500 || r.Code == 502 || r.Code == 503 || r.Code == 504:
		return transport.Retry, false
	case st == stageRcpt && class == 4:
		// Only an enhanced code that names the address or the mailbox
		// (X.1.x, X.2.x) is about this recipient: SES is a relay and checks
		// no mailbox at RCPT, so a bare 4xx there is SES's own condition.
		return transport.Retry, r.EnhancedCode[1] == 1 || r.EnhancedCode[1] == 2
	case class == 5 && (st == stageRcpt || st == stageMail || st == stageData || st == stageDataEnd):
		return transport.Rejected, true
	}
	return transport.Retry, false
}

// replyCode is an SMTP reply as an error code: "SMTP550 5.1.1", or
// "SMTP554" when the reply has no enhanced status code. SES's throttling
// replies take the API's code, Throttling.
func replyCode(r *smtp.SMTPError, c transport.Class) string {
	if c == transport.Throttled || c == transport.Quota && strings.Contains(strings.ToLower(r.Message), "daily message quota") {
		return transport.CodeThrottling
	}
	code := "SMTP" + strconv.Itoa(r.Code)
	if e := r.EnhancedCode; e[0] > 0 {
		code += fmt.Sprintf(" %d.%d.%d", e[0], e[1], e[2])
	}
	return code
}

// Call is an SMTP conversation, whatever the action: it names no API
// operation.
func (*Transport) Call(string) transport.Call { return transport.Call{System: "smtp"} }

// CodeLabel bounds an error code for a metric label: the transport's own
// codes stay, a reply code stays without its enhanced status code
// ("SMTP550 5.1.1" is counted as SMTP550: at most the 4xx and 5xx replies),
// any other is transport.CodeOther.
func (*Transport) CodeLabel(code string) string {
	switch code {
	case CodeNoCredentials, CodeNoStartTLS, CodeInvalidMessage:
		return code
	}
	if r, ok := strings.CutPrefix(code, "SMTP"); ok && len(r) >= 3 && (r[0] == '4' || r[0] == '5') &&
		isDigit(r[1]) && isDigit(r[2]) && (len(r) == 3 || r[3] == ' ') {
		return code[:len("SMTP")+3]
	}
	return transport.MetricCode(code, nil)
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// what says what was refused or cut off, naming no address.
func (f failure) what() string {
	switch f.stage {
	case stageConnect:
		return "the SMTP session with " + f.endpoint
	case stageAuth:
		return "the SMTP credentials for " + f.region
	case stageMail:
		return "the sender (MAIL FROM)"
	case stageRcpt:
		return fmt.Sprintf("recipient %d of %d", f.rcpt, f.rcpts)
	}
	return "the message"
}

// classify makes a failure a *transport.Error. The outcome is uncertain
// only when the message's final dot may have reached the server and no
// reply came.
func (f failure) classify(ctx context.Context) *transport.Error {
	var reply *smtp.SMTPError
	switch {
	case ctx.Err() != nil:
		err := fmt.Errorf("%w (%v)", ctx.Err(), f.err)
		return &transport.Error{Class: transport.Retry, Code: transport.CodeTimeout, Uncertain: f.stage == stageDataEnd,
			Message: transport.Redact(fmt.Sprintf("the send was cut off at %s: %v", f.stage, ctx.Err())), Err: err}
	case errors.As(f.err, &reply):
		c, perMessage := classifyReply(f.stage, reply)
		text := strconv.Itoa(reply.Code)
		if e := reply.EnhancedCode; e[0] > 0 {
			text += fmt.Sprintf(" %d.%d.%d", e[0], e[1], e[2])
		}
		if reply.Message != "" {
			text += " " + reply.Message
		}
		return &transport.Error{Class: c, Code: replyCode(reply, c), PerMessage: perMessage,
			Message: transport.Redact(fmt.Sprintf("%s refused: %s", f.what(), text)), Err: f.err}
	case transport.IsTLSVerification(f.err):
		return &transport.Error{Class: transport.Unavailable, Code: transport.CodeTLS,
			Message: transport.Redact(fmt.Sprintf("the certificate of %s is not trusted (add its CA with SESQ_SMTP_CA_FILE): %v", f.endpoint, f.err)), Err: f.err}
	case f.stage == stageConnect && strings.Contains(f.err.Error(), "STARTTLS"):
		return &transport.Error{Class: transport.Unavailable, Code: CodeNoStartTLS,
			Message: fmt.Sprintf("%s does not offer STARTTLS (SESQ_SMTP_TLS=tls is for ports 465 and 2465)", f.endpoint), Err: f.err}
	}
	te := transport.Network(fmt.Errorf("%s at %s: %w", f.endpoint, f.stage, f.err))
	te.Uncertain = f.stage == stageDataEnd
	return te
}
