package transport

import (
	"fmt"

	"github.com/sesq/sesq/envelope"
)

// SES's largest message per way of sending: the v1 API and SMTP take 10 MB,
// the v2 API 40 MB (the MIME message, headers and encoded attachments
// included).
const (
	MaxMessageV1   = 10 * 1000 * 1000
	MaxMessageSMTP = 10 * 1000 * 1000
	MaxMessageV2   = 40 * 1000 * 1000
)

// CheckSize refuses an envelope whose mail is larger than max bytes, the
// limit of the way it is sent (named by via), with the size in the reason:
// SES would refuse it, so it is dead-lettered as invalid without a call.
func CheckSize(e *envelope.Envelope, max int, via string) error {
	if n := e.MessageSize(); n > max {
		field := "raw"
		if e.Action != envelope.SendRawEmail {
			field = "message"
		}
		return &envelope.Error{Field: field, Reason: fmt.Sprintf("the message is %d bytes, over the %d bytes %s takes", n, max, via)}
	}
	return nil
}
