package envelope

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"
)

// SES limits checked before a send, so that a message SES would refuse ends in
// the dead-letter queue with a precise reason instead of a round trip.
const (
	MaxRecipients        = 50  // per message, To+Cc+Bcc or Destinations
	MaxTagLength         = 256 // tag names and values
	MaxTags              = 50
	MaxConfigSetLength   = 64
	MaxLocalPartLength   = 64
	MaxIDLength          = 512
	MaxTemplateNameChars = 256
	MaxTenantNameLength  = 64
	MaxGroupLength       = 128 // SQS's limit on a MessageGroupId
)

func (e *Envelope) validate() error {
	switch e.Version {
	case Version:
	case 0:
		return invalid("version", "missing")
	default:
		return invalid("version", "unsupported version %d (this worker reads version %d)", e.Version, Version)
	}
	if len(e.ID) > MaxIDLength || hasControl(e.ID) {
		return invalid("id", "must be at most %d characters without control characters", MaxIDLength)
	}
	switch e.Action {
	case SendEmail, SendTemplatedEmail:
		if err := e.validateFormatted(); err != nil {
			return err
		}
	case SendRawEmail:
		if err := e.validateRaw(); err != nil {
			return err
		}
	case "":
		return invalid("action", "missing")
	default:
		return invalid("action", "must be SendEmail, SendTemplatedEmail or SendRawEmail")
	}
	if err := e.validateARNs(); err != nil {
		return err
	}
	if err := validateName("configurationSetName", e.ConfigurationSetName, MaxConfigSetLength); err != nil {
		return err
	}
	if err := validateName("tenantName", e.TenantName, MaxTenantNameLength); err != nil {
		return err
	}
	if err := validateName("tenant", e.ForTenant, MaxTenantNameLength); err != nil {
		return err
	}
	if err := validateGroup(e.Group); err != nil {
		return err
	}
	if len(e.Tags) > MaxTags {
		return invalid("tags", "at most %d tags", MaxTags)
	}
	for i, t := range e.Tags {
		field := fmt.Sprintf("tags[%d]", i)
		if t.Name == "" {
			return invalid(field+".name", "missing")
		}
		if err := validateName(field+".name", t.Name, MaxTagLength); err != nil {
			return err
		}
		if t.Value == "" {
			return invalid(field+".value", "missing")
		}
		if err := validateName(field+".value", t.Value, MaxTagLength); err != nil {
			return err
		}
	}
	return nil
}

// validateFormatted checks SendEmail and SendTemplatedEmail: SES builds the
// message, so the ARNs can only be parameters, and only SourceArn and
// ReturnPathArn exist.
func (e *Envelope) validateFormatted() error {
	a := e.Action
	if e.FromArn != "" {
		return invalid("fromArn", "%s takes only sourceArn and returnPathArn (fromArn is for SendRawEmail)", a)
	}
	if e.Raw != nil {
		return invalid("raw", "not a %s field (X-SES headers work only with SendRawEmail)", a)
	}
	if e.Destinations != nil {
		return invalid("destinations", "not a %s field (use destination)", a)
	}
	if e.Source == "" {
		return invalid("source", "required for %s", a)
	}
	if err := validateAddress("source", e.Source, true); err != nil {
		return err
	}
	if e.ReturnPath != "" {
		if err := validateAddress("returnPath", e.ReturnPath, false); err != nil {
			return err
		}
	}
	for i, r := range e.ReplyTo {
		if err := validateAddress(fmt.Sprintf("replyTo[%d]", i), r, true); err != nil {
			return err
		}
	}
	if e.Destination == nil {
		return invalid("destination", "required for %s", a)
	}
	d := e.Destination
	n := len(d.To) + len(d.Cc) + len(d.Bcc)
	if n == 0 {
		return invalid("destination", "has no recipient")
	}
	if n > MaxRecipients {
		return invalid("destination", "%d recipients, SES takes at most %d per message", n, MaxRecipients)
	}
	for _, list := range []struct {
		name  string
		addrs []string
	}{{"destination.to", d.To}, {"destination.cc", d.Cc}, {"destination.bcc", d.Bcc}} {
		for i, r := range list.addrs {
			if err := validateAddress(fmt.Sprintf("%s[%d]", list.name, i), r, true); err != nil {
				return err
			}
		}
	}
	if a == SendEmail {
		if e.Template != "" || e.TemplateData != "" {
			return invalid("template", "not a SendEmail field (use SendTemplatedEmail)")
		}
		return e.validateMessage()
	}
	if e.Message != nil {
		return invalid("message", "not a SendTemplatedEmail field (the template is the message)")
	}
	if e.Template == "" {
		return invalid("template", "required for SendTemplatedEmail")
	}
	if len(e.Template) > MaxTemplateNameChars || hasControl(e.Template) {
		return invalid("template", "must be at most %d characters without control characters", MaxTemplateNameChars)
	}
	if e.TemplateData == "" {
		return invalid("templateData", "required for SendTemplatedEmail (a JSON object as a string, {} for none)")
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(e.TemplateData), &obj); err != nil || obj == nil {
		return invalid("templateData", "must be a JSON object encoded as a string")
	}
	return nil
}

func (e *Envelope) validateMessage() error {
	m := e.Message
	if m == nil {
		return invalid("message", "required for SendEmail")
	}
	if m.Subject == nil {
		return invalid("message.subject", "required")
	}
	if strings.ContainsAny(m.Subject.Data, "\r\n") {
		return invalid("message.subject.data", "contains a line break")
	}
	if err := validateCharset("message.subject.charset", m.Subject.Charset); err != nil {
		return err
	}
	if m.Body == nil || m.Body.Text == nil && m.Body.HTML == nil {
		return invalid("message.body", "needs text, html or both")
	}
	if m.Body.Text != nil {
		if err := validateCharset("message.body.text.charset", m.Body.Text.Charset); err != nil {
			return err
		}
	}
	if m.Body.HTML != nil {
		if err := validateCharset("message.body.html.charset", m.Body.HTML.Charset); err != nil {
			return err
		}
	}
	return nil
}

// validateRaw checks SendRawEmail: the ARNs may be parameters or X-SES
// headers in the message.
func (e *Envelope) validateRaw() error {
	switch {
	case e.Destination != nil:
		return invalid("destination", "not a SendRawEmail field (use destinations, or the message's To/Cc/Bcc headers)")
	case e.Message != nil:
		return invalid("message", "not a SendRawEmail field (the raw message is the message)")
	case e.Template != "" || e.TemplateData != "":
		return invalid("template", "not a SendRawEmail field")
	case e.ReplyTo != nil:
		return invalid("replyTo", "not a SendRawEmail field (put a Reply-To header in the raw message)")
	case e.ReturnPath != "":
		return invalid("returnPath", "not a SendRawEmail field (put a Return-Path header in the raw message)")
	case len(e.Raw) == 0:
		return invalid("raw", "required for SendRawEmail (base64 of the MIME message)")
	}
	if e.Source != "" {
		if err := validateAddress("source", e.Source, true); err != nil {
			return err
		}
	}
	if len(e.Destinations) > MaxRecipients {
		return invalid("destinations", "%d recipients, SES takes at most %d per message", len(e.Destinations), MaxRecipients)
	}
	for i, r := range e.Destinations {
		if err := validateAddress(fmt.Sprintf("destinations[%d]", i), r, true); err != nil {
			return err
		}
	}
	h, err := ScanHeaders(e.Raw)
	if err != nil {
		return &Error{Field: "raw", Reason: strings.TrimPrefix(err.Error(), "raw: ")}
	}
	if !h.HasFrom && e.Source == "" {
		return invalid("raw", "has no From header and the envelope no source")
	}
	e.headers = h
	return nil
}

// validateARNs applies the sending-authorization rules common to all actions:
// at least one identity ARN; each one well formed; a parameter and its X-SES
// header agree; and all of them name one region, the region to send in.
func (e *Envelope) validateARNs() error {
	h := e.headers
	pairs := []struct {
		param, header       string
		paramName, headName string
	}{
		{e.SourceArn, h.SourceArn, "sourceArn", HeaderSourceArn},
		{e.FromArn, h.FromArn, "fromArn", HeaderFromArn},
		{e.ReturnPathArn, h.ReturnPathArn, "returnPathArn", HeaderReturnPathArn},
	}
	var first, firstField string
	for _, p := range pairs {
		if p.param != "" && p.header != "" && p.param != p.header {
			return invalid(p.paramName, "disagrees with the raw message's %s header", p.headName)
		}
		for _, c := range []struct{ arn, field string }{{p.param, p.paramName}, {p.header, "raw: " + p.headName + " header"}} {
			if c.arn == "" {
				continue
			}
			a, err := ParseIdentityARN(c.arn)
			if err != nil {
				return invalid(c.field, "%v", err)
			}
			if first == "" {
				first, firstField = a.Region, c.field
				continue
			}
			if a.Region != first {
				return invalid(c.field, "is in region %s but %s is in %s: all ARNs of an envelope must name one region", a.Region, firstField, first)
			}
		}
	}
	if first == "" {
		if e.Action == SendRawEmail {
			return invalid("sourceArn", "no identity ARN: give sourceArn, fromArn or returnPathArn, or X-SES-*-ARN headers in the raw message")
		}
		return invalid("sourceArn", "no identity ARN: give sourceArn or returnPathArn")
	}
	e.region = first
	return nil
}

// addressParser parses addresses whatever the charset of an encoded-word
// display name (net/mail alone refuses all but UTF-8, ISO-8859-1 and
// US-ASCII; SES takes any): validation needs the address, not the name.
func addressParser() *mail.AddressParser {
	return &mail.AddressParser{WordDecoder: &mime.WordDecoder{
		CharsetReader: func(_ string, r io.Reader) (io.Reader, error) { return r, nil },
	}}
}

// validateAddress checks one email address as SES takes it: ASCII (non-ASCII
// display names as MIME encoded-words, domains in punycode), no line breaks,
// a local part of at most 64 octets. withName allows "Name <addr>".
func validateAddress(field, s string, withName bool) error {
	if s == "" {
		return invalid(field, "empty address")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c >= 0x7f {
			return invalid(field, "address must be ASCII without control characters (encode display names as MIME encoded-words and domains as punycode)")
		}
	}
	a, err := addressParser().Parse(s)
	if err != nil {
		return invalid(field, "not an email address")
	}
	if !withName && a.Name != "" {
		return invalid(field, "must be a bare address, without a display name")
	}
	at := strings.LastIndexByte(a.Address, '@')
	if at <= 0 || at == len(a.Address)-1 {
		return invalid(field, "not an email address")
	}
	if at > MaxLocalPartLength {
		return invalid(field, "local part is longer than %d octets", MaxLocalPartLength)
	}
	return nil
}

// validateName checks SES names (configuration sets, tenants, tags): ASCII
// letters, digits, underscores and dashes.
func validateName(field, s string, max int) error {
	if len(s) > max {
		return invalid(field, "longer than %d characters", max)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return invalid(field, "may contain only letters, digits, _ and -")
		}
	}
	return nil
}

// validateGroup checks the group field against what SQS takes as a
// MessageGroupId: at most 128 characters, each a letter, a digit or
// punctuation (printable ASCII without the space).
func validateGroup(s string) error {
	if len(s) > MaxGroupLength {
		return invalid("group", "longer than %d characters", MaxGroupLength)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < '!' || c > '~' {
			return invalid("group", "may contain only letters, digits and punctuation (printable ASCII without spaces)")
		}
	}
	return nil
}

func validateCharset(field, s string) error {
	if len(s) > 64 || hasControl(s) || strings.ContainsAny(s, " ;\"") {
		return invalid(field, "not a charset name")
	}
	return nil
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == 0x7f {
			return true
		}
	}
	return false
}
