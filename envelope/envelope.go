// Package envelope holds the send envelope: the JSON message body producers
// put on the sesq queue, one email to send through Amazon SES as a delegate
// sender. It decodes and validates envelopes against the rules of SES sending
// authorization (which ARNs go with which action, one region per envelope, the
// X-SES-*-ARN headers of raw messages) and enqueues them for producers.
//
// Field names mirror the SES v1 API parameters in lowerCamelCase, and are
// read exactly as written here and in schema.json, the producers' contract.
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

	// TenantName is the SES tenant (SES v2 tenant management) the email is
	// sent under, so that SES keeps its reputation metrics and sending
	// status apart from other tenants': 1 to 64 letters, digits, _ and -;
	// empty for none. Only the SES v2 API transport can carry it: the other
	// transports refuse an envelope that has one in their Validate.
	TenantName string `json:"tenantName,omitempty"`
	// ForTenant is the tenant sesq keeps apart in logs, dead-letter
	// attributes, metrics and fair queues (json "tenant"): 1 to 64 letters,
	// digits, _ and -; empty for the default, which Tenant gives. Unlike
	// TenantName it is sesq's alone and never goes to SES.
	ForTenant string `json:"tenant,omitempty"`
	// Group is the SQS MessageGroupId the envelope goes under on a FIFO
	// queue (json "group"), for a producer that needs an order finer than
	// the tenant's, such as per recipient: 1 to 128 characters of SQS's
	// MessageGroupId alphabet (printable ASCII without the space); empty
	// for the default, which GroupID gives. Standard queues ignore it (their
	// group is the tenant, for fair queues). It may hold an address, so
	// sesq never logs it.
	Group string `json:"group,omitempty"`

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

// Parse decodes and validates an envelope from a message body. The field
// names are exact: any other key (a misspelt ARN field, sourceARN,
// SourceArn) is refused instead of dropped or matched case-insensitively.
// null for a field means the field is absent. Every error it returns is an
// *Error that names the field by its path (destination.to[2]).
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
	err := dec.Decode(&e)
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		return nil, &Error{Reason: fmt.Sprintf("not a JSON envelope: syntax error at byte %d", syn.Offset)}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return nil, &Error{Reason: "not a JSON envelope: truncated JSON"}
	}
	// The decoder has read the whole first value before it assigned any
	// field: it is well-formed JSON, which checkFields can walk, and whose
	// errors it names better than the decoder does.
	if ferr := checkFields(body); ferr != nil {
		return nil, ferr
	}
	if err != nil {
		return nil, decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &Error{Reason: "not a JSON envelope: data after the JSON object"}
	}
	return &e, nil
}

// decodeError describes what the decoder refused in a body checkFields
// passed, without quoting the input.
func decodeError(err error) *Error {
	var b64 base64.CorruptInputError
	var typ *json.UnmarshalTypeError
	var tpe *time.ParseError
	switch {
	case errors.As(err, &b64):
		return &Error{Field: "raw", Reason: fmt.Sprintf("not base64 (at byte %d)", int64(b64))}
	case errors.As(err, &tpe):
		return &Error{Field: "notAfter", Reason: notRFC3339}
	case errors.As(err, &typ) && typ.Field != "":
		return &Error{Field: typ.Field, Reason: "has the wrong JSON type"}
	case errors.As(err, &typ):
		return &Error{Reason: "not a JSON envelope: the body must be a JSON object"}
	}
	return &Error{Reason: "not a JSON envelope: cannot decode"}
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

// Tenant is who the envelope is sent for, among the many identity owners
// one delegate sender serves: the tenant field if set, else tenantName (the
// SES tenant) if set, else the account id of the identity owner, from the
// first identity ARN. It is a name or an account id, never an address, so
// it may be logged. It is "" only for an envelope that has none of these
// (one not from Parse whose ARNs are all in its raw message's headers).
func (e *Envelope) Tenant() string {
	switch {
	case e.ForTenant != "":
		return e.ForTenant
	case e.TenantName != "":
		return e.TenantName
	}
	for _, a := range e.IdentityARNs() {
		if p, err := ParseIdentityARN(a); err == nil {
			return p.Account
		}
	}
	return ""
}

// GroupID is the envelope's MessageGroupId on a FIFO queue, which SQS keeps
// in order: the group field if set, else the tenant (one ordered stream per
// tenant). Unlike Tenant it may be personal data: never log it.
func (e *Envelope) GroupID() string {
	if e.Group != "" {
		return e.Group
	}
	return e.Tenant()
}

// DeduplicationID is the envelope's MessageDeduplicationId on a FIFO queue:
// the hex SHA-256 of its idempotency key (Key), so that an envelope
// enqueued twice within SQS's five-minute deduplication interval is stored
// once. The key itself will not do: an id may be 512 bytes of any text, and
// SQS takes 128 characters of printable ASCII. "" for an envelope not from
// Parse, which has no key.
func (e *Envelope) DeduplicationID() string {
	if e.key == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(e.key))
	return hex.EncodeToString(sum[:])
}

// Expired tells whether NotAfter has passed at now.
func (e *Envelope) Expired(now time.Time) bool {
	return e.NotAfter != nil && now.After(*e.NotAfter)
}
