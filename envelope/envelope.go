// Package envelope holds the send envelope: the JSON message body producers
// put on the sesq queue, one email to send through Amazon SES as a delegate
// sender. It decodes and validates envelopes against the rules of SES sending
// authorization (which ARNs go with which action, one region per envelope, the
// X-SES-*-ARN headers of raw messages) and enqueues them for producers.
//
// Field names mirror the SES v1 API parameters in lowerCamelCase.
package envelope

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Version is the envelope version this package reads and writes.
const Version = 1

// The SES v1 send operations an envelope can ask for.
const (
	SendEmail          = "SendEmail"
	SendTemplatedEmail = "SendTemplatedEmail"
	SendRawEmail       = "SendRawEmail"
)

// Envelope is one email to send. Producers fill it in; Parse checks it.
type Envelope struct {
	Version int `json:"version"`
	// ID is the idempotency key; when empty, Key derives one from the body.
	ID     string `json:"id,omitempty"`
	Action string `json:"action"`

	SourceArn     string `json:"sourceArn,omitempty"`
	FromArn       string `json:"fromArn,omitempty"` // SendRawEmail only
	ReturnPathArn string `json:"returnPathArn,omitempty"`

	Source      string       `json:"source,omitempty"`
	ReturnPath  string       `json:"returnPath,omitempty"`
	Destination *Destination `json:"destination,omitempty"`
	ReplyTo     []string     `json:"replyTo,omitempty"`
	Message     *Message     `json:"message,omitempty"`

	Template     string `json:"template,omitempty"`
	TemplateData string `json:"templateData,omitempty"`

	// Raw is the whole MIME message; in JSON it is standard base64.
	Raw          []byte   `json:"raw,omitempty"`
	Destinations []string `json:"destinations,omitempty"`

	ConfigurationSetName string     `json:"configurationSetName,omitempty"`
	Tags                 []Tag      `json:"tags,omitempty"`
	NotAfter             *time.Time `json:"notAfter,omitempty"`

	key     string
	region  string
	headers RawHeaders
}

// Destination lists the recipients of SendEmail and SendTemplatedEmail.
type Destination struct {
	To  []string `json:"to,omitempty"`
	Cc  []string `json:"cc,omitempty"`
	Bcc []string `json:"bcc,omitempty"`
}

// Message is the subject and body of SendEmail.
type Message struct {
	Subject *Content `json:"subject,omitempty"`
	Body    *Body    `json:"body,omitempty"`
}

// Body holds the text part, the HTML part or both.
type Body struct {
	Text *Content `json:"text,omitempty"`
	HTML *Content `json:"html,omitempty"`
}

// Content is text with its charset (SES assumes 7-bit ASCII when empty).
type Content struct {
	Data    string `json:"data"`
	Charset string `json:"charset,omitempty"`
}

// Tag is an SES message tag, passed to event publishing.
type Tag struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Error is a validation failure: the envelope can never be sent as it is.
// It names the field and what is wrong with it, never the field's value, so
// that it can be logged and attached to a dead-lettered message.
type Error struct {
	Field  string
	Reason string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

func invalid(field, format string, args ...any) *Error {
	return &Error{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Parse decodes and validates an envelope from a message body. Unknown
// fields are refused: a misspelt ARN field would otherwise be dropped
// silently. Every error it returns is an *Error.
func Parse(body []byte) (*Envelope, error) {
	e, err := decode(body)
	if err != nil {
		return nil, err
	}
	if err := e.validate(); err != nil {
		return nil, err
	}
	if e.ID != "" {
		e.key = e.ID
	} else {
		sum := sha256.Sum256(body)
		e.key = "sha256:" + hex.EncodeToString(sum[:])
	}
	return e, nil
}

func decode(body []byte) (*Envelope, error) {
	if len(body) == 0 {
		return nil, &Error{Reason: "empty body"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var e Envelope
	if err := dec.Decode(&e); err != nil {
		return nil, &Error{Reason: "not a JSON envelope: " + jsonReason(err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &Error{Reason: "not a JSON envelope: data after the JSON object"}
	}
	if err := checkDuplicateKeys(body); err != nil {
		var ve *Error
		if errors.As(err, &ve) {
			return nil, ve
		}
		return nil, &Error{Reason: "not a JSON envelope: " + jsonReason(err)}
	}
	return &e, nil
}

// jsonReason describes a decoding error without quoting the input.
func jsonReason(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("field %s must be %s", typ.Field, typ.Type)
		}
		return "the body must be a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "truncated JSON"
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		if len(name) <= 64 && validName(name) {
			return "unknown field " + name
		}
		return "unknown field"
	}
	var b64 base64.CorruptInputError
	if errors.As(err, &b64) {
		return fmt.Sprintf("raw is not base64 (at byte %d)", int64(b64))
	}
	return "cannot decode"
}

// validName: letters, digits and _ only, safe to echo.
func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return s != ""
}

// Key is the envelope's idempotency key: its id, or the SHA-256 of its body.
// (A redriven or replayed message gets a new SQS MessageId, so that is no key.)
func (e *Envelope) Key() string { return e.key }

// Region is the AWS region of the envelope's identity ARNs: the region whose
// SES endpoint must send it.
func (e *Envelope) Region() string { return e.region }

// Headers is what the header scan of a SendRawEmail message found.
func (e *Envelope) Headers() RawHeaders { return e.headers }

// IdentityARNs lists every identity ARN the envelope sends for, parameters and
// X-SES headers alike, without repeats.
func (e *Envelope) IdentityARNs() []string {
	var out []string
	for _, a := range []string{e.SourceArn, e.FromArn, e.ReturnPathArn, e.headers.SourceArn, e.headers.FromArn, e.headers.ReturnPathArn} {
		if a == "" {
			continue
		}
		dup := false
		for _, o := range out {
			dup = dup || o == a
		}
		if !dup {
			out = append(out, a)
		}
	}
	return out
}

// Expired tells whether NotAfter has passed at now.
func (e *Envelope) Expired(now time.Time) bool {
	return e.NotAfter != nil && now.After(*e.NotAfter)
}
