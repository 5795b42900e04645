package sessmtp

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"

	"github.com/sesq/sesq/envelope"
)

// MaxAddressLength is the longest address (local part, @, domain) the
// transport sends: RFC 5321's path limit less the angle brackets.
const MaxAddressLength = 254

// plan is one SMTP send, worked out before any connection: Validate makes
// it to refuse what cannot be sent, Send to send it.
type plan struct {
	from  string   // MAIL FROM
	rcpts []string // RCPT TO
	data  []byte   // DATA, without the final dot
}

// newPlan works out the SMTP envelope and the message of e. Its errors are
// *envelope.Error: the envelope can never be sent over SMTP as it is.
func newPlan(e *envelope.Envelope, now time.Time) (*plan, error) {
	from, err := mailFrom(e)
	if err != nil {
		return nil, err
	}
	rcpts, err := recipients(e)
	if err != nil {
		return nil, err
	}
	data, err := message(e, now)
	if err != nil {
		return nil, err
	}
	return &plan{from: from, rcpts: rcpts, data: data}, nil
}

// arns are the identity ARNs SES is to apply, as sesq writes them at the
// top of the message: a parameter, else the first instance of the raw
// message's own X-SES header. The SES guide says SMTP senders "have to
// include" all three headers, and over SMTP SES applies nothing that is
// not written, so all three are: From and Return-Path default to the
// source identity, as the API does when only SourceArn is given; an
// envelope without a source ARN takes the From identity's, else the
// Return-Path identity's (over SMTP the sender of MAIL FROM is the return
// path: the identity that may use it is the one that may send for it).
func arns(e *envelope.Envelope) (source, from, returnPath string) {
	h := e.Headers()
	from = first(e.FromArn, h.FromArn)
	returnPath = first(e.ReturnPathArn, h.ReturnPathArn)
	source = first(e.SourceArn, h.SourceArn, from, returnPath)
	return source, first(from, source), first(returnPath, source)
}

func first(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// sesHeaders writes the headers the SES SMTP interface reads sending
// authorization and event publishing from, first in the message, so that
// they are the first instances SES applies.
func sesHeaders(b *bytes.Buffer, e *envelope.Envelope) {
	source, from, returnPath := arns(e)
	for _, kv := range [][2]string{
		{envelope.HeaderSourceArn, source},
		{envelope.HeaderFromArn, from},
		{envelope.HeaderReturnPathArn, returnPath},
		{"X-SES-CONFIGURATION-SET", e.ConfigurationSetName},
	} {
		if kv[1] != "" {
			h := writeHeader(b, kv[0])
			h.word(" ", kv[1])
			h.end()
		}
	}
	if len(e.Tags) > 0 {
		// "name1=value1, name2=value2", folded between tags.
		h := writeHeader(b, "X-SES-MESSAGE-TAGS")
		for i, t := range e.Tags {
			w := t.Name + "=" + t.Value
			if i < len(e.Tags)-1 {
				w += ","
			}
			h.word(" ", w)
		}
		h.end()
	}
}

// message is the DATA of one send: the X-SES headers first, then the
// producer's raw message untouched (a DKIM signature stays valid), or the
// message rendered from a SendEmail envelope.
func message(e *envelope.Envelope, now time.Time) ([]byte, error) {
	var b bytes.Buffer
	sesHeaders(&b, e)
	switch e.Action {
	case envelope.SendRawEmail:
		b.Write(e.Raw)
	case envelope.SendEmail:
		if err := renderEmail(&b, e, now); err != nil {
			return nil, err
		}
	default:
		return nil, &envelope.Error{Field: "action", Reason: e.Action + " cannot be sent over SMTP"}
	}
	return b.Bytes(), nil
}

// renderEmail writes a SendEmail envelope as a MIME message: From, To,
// Cc, Reply-To and Subject folded (encoded-words where not ASCII), a text
// or HTML part, or multipart/alternative with both, in the charsets the
// envelope names. Bcc recipients are only on the SMTP envelope.
func renderEmail(b *bytes.Buffer, e *envelope.Envelope, now time.Time) error {
	list := func(field, header string, addrs []string) error {
		if len(addrs) == 0 {
			return nil
		}
		as, err := parseAddresses(field, addrs)
		if err != nil {
			return err
		}
		h := writeHeader(b, header)
		if err := h.addresses(as); err != nil {
			return &envelope.Error{Field: field, Reason: err.Error()}
		}
		h.end()
		return nil
	}
	if err := list("source", "From", []string{e.Source}); err != nil {
		return err
	}
	if d := e.Destination; d != nil {
		if err := list("destination.to", "To", d.To); err != nil {
			return err
		}
		if err := list("destination.cc", "Cc", d.Cc); err != nil {
			return err
		}
	}
	if err := list("replyTo", "Reply-To", e.ReplyTo); err != nil {
		return err
	}
	m := e.Message
	if m == nil || m.Subject == nil || m.Body == nil {
		return &envelope.Error{Field: "message", Reason: "needs a subject and a body"}
	}
	cs, err := lookupCharset(m.Subject.Charset)
	if err != nil {
		return &envelope.Error{Field: "message.subject.charset", Reason: err.Error()}
	}
	h := writeHeader(b, "Subject")
	if err := h.text(m.Subject.Data, cs); err != nil {
		return &envelope.Error{Field: "message.subject.data", Reason: err.Error()}
	}
	h.end()
	simple := func(k, v string) { fmt.Fprintf(b, "%s: %s\r\n", k, v) }
	simple("Date", now.UTC().Format(time.RFC1123Z))
	simple("Message-ID", "<"+randomToken()+"@sesq>")
	simple("MIME-Version", "1.0")
	parts := []struct {
		field, typ string
		c          *envelope.Content
	}{{"message.body.text", "text/plain", m.Body.Text}, {"message.body.html", "text/html", m.Body.HTML}}
	if m.Body.Text == nil || m.Body.HTML == nil {
		for _, p := range parts {
			if p.c != nil {
				return part(b, p.field, p.typ, p.c)
			}
		}
		return &envelope.Error{Field: "message.body", Reason: "needs text, html or both"}
	}
	boundary := "sesq-" + randomToken()
	simple("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": boundary}))
	b.WriteString("\r\n")
	for _, p := range parts {
		fmt.Fprintf(b, "--%s\r\n", boundary)
		if err := part(b, p.field, p.typ, p.c); err != nil {
			return err
		}
		b.WriteString("\r\n")
	}
	fmt.Fprintf(b, "--%s--\r\n", boundary)
	return nil
}

// part writes one text part: Content-Type with its charset,
// Content-Transfer-Encoding, the blank line and the body transcoded to the
// charset, quoted-printable, or base64 when most of it would be escaped
// (the line break after it belongs to what follows: a boundary, or the
// end).
func part(b *bytes.Buffer, field, typ string, c *envelope.Content) error {
	cs, err := lookupCharset(c.Charset)
	if err != nil {
		return &envelope.Error{Field: field + ".charset", Reason: err.Error()}
	}
	text := strings.ReplaceAll(strings.ReplaceAll(c.Data, "\r\n", "\n"), "\r", "\n")
	body, err := cs.encode(strings.ReplaceAll(text, "\n", "\r\n"))
	if err != nil {
		return &envelope.Error{Field: field + ".data", Reason: err.Error()}
	}
	cte := "quoted-printable"
	if escaped(body)*3 > len(body) {
		cte = "base64"
	}
	fmt.Fprintf(b, "Content-Type: %s\r\nContent-Transfer-Encoding: %s\r\n\r\n", mime.FormatMediaType(typ, map[string]string{"charset": cs.name}), cte)
	if cte == "base64" {
		enc := base64.StdEncoding.EncodeToString(body)
		for len(enc) > 76 {
			b.WriteString(enc[:76])
			b.WriteString("\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc)
		return nil
	}
	w := quotedprintable.NewWriter(b)
	w.Write(body)
	w.Close()
	return nil
}

// escaped counts the bytes quoted-printable must escape.
func escaped(b []byte) int {
	n := 0
	for _, c := range b {
		if (c < ' ' && c != '\r' && c != '\n' && c != '\t') || c > '~' || c == '=' {
			n++
		}
	}
	return n
}

func randomToken() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// parseAddresses parses the addresses of an envelope field. An address
// must be ASCII (SES's SMTP interface takes no SMTPUTF8) and at most
// MaxAddressLength octets. Errors name the field, never the address.
func parseAddresses(field string, list []string) ([]*mail.Address, error) {
	out := make([]*mail.Address, 0, len(list))
	for i, s := range list {
		f := field
		if field != "source" && field != "returnPath" {
			f = fmt.Sprintf("%s[%d]", field, i)
		}
		a, err := addressParser().Parse(s)
		if err != nil {
			return nil, &envelope.Error{Field: f, Reason: "not an email address"}
		}
		if err := checkAddress(a); err != nil {
			return nil, &envelope.Error{Field: f, Reason: err.Error()}
		}
		out = append(out, a)
	}
	return out, nil
}

func checkAddress(a *mail.Address) error {
	spec := addrSpec(a)
	for i := 0; i < len(spec); i++ {
		if spec[i] < ' ' || spec[i] > '~' {
			return errors.New("address is not ASCII (the SES SMTP interface takes no SMTPUTF8; write the domain as punycode)")
		}
	}
	if len(spec) > MaxAddressLength {
		return fmt.Errorf("address is longer than %d octets", MaxAddressLength)
	}
	return nil
}

// rawHeader reads the header section of a raw message.
func rawHeader(e *envelope.Envelope) (mail.Header, error) {
	m, err := mail.ReadMessage(bytes.NewReader(e.Raw))
	if err != nil {
		return nil, &envelope.Error{Field: "raw", Reason: "the message's header section does not parse"}
	}
	return m.Header, nil
}

// addressParser reads addresses whose display names are encoded-words in
// any charset golang.org/x/text knows (net/mail alone refuses all but
// UTF-8, ISO-8859-1 and US-ASCII, so a windows-1252 or ISO-2022-JP name
// would dead-letter mail the API transports send). A charset it does not
// know is read undecoded: only a raw header's bare address is used.
func addressParser() *mail.AddressParser {
	return &mail.AddressParser{WordDecoder: &mime.WordDecoder{
		CharsetReader: func(name string, r io.Reader) (io.Reader, error) {
			if cs, err := lookupCharset(name); err == nil && cs.enc != nil {
				return cs.enc.NewDecoder().Reader(r), nil
			}
			return r, nil
		},
	}}
}

// rawAddresses parses every instance of a raw message's address header.
func rawAddresses(h mail.Header, name string) ([]*mail.Address, error) {
	var out []*mail.Address
	for _, v := range h[name] {
		if strings.TrimSpace(v) == "" {
			continue
		}
		as, err := addressParser().ParseList(v)
		if err != nil {
			return nil, &envelope.Error{Field: "raw", Reason: "the message's " + name + " header is not an address list"}
		}
		for _, a := range as {
			if err := checkAddress(a); err != nil {
				return nil, &envelope.Error{Field: "raw", Reason: "the message's " + name + " header: " + err.Error()}
			}
		}
		out = append(out, as...)
	}
	return out, nil
}

// recipients are the SMTP envelope's RCPT TO addresses: the destination of
// a SendEmail (Bcc included), or a raw message's destinations, else its
// To, Cc and Bcc headers.
func recipients(e *envelope.Envelope) ([]string, error) {
	var as []*mail.Address
	switch {
	case e.Action == envelope.SendEmail && e.Destination != nil:
		d := e.Destination
		for _, l := range []struct {
			field string
			addrs []string
		}{{"destination.to", d.To}, {"destination.cc", d.Cc}, {"destination.bcc", d.Bcc}} {
			list, err := parseAddresses(l.field, l.addrs)
			if err != nil {
				return nil, err
			}
			as = append(as, list...)
		}
	case len(e.Destinations) > 0:
		list, err := parseAddresses("destinations", e.Destinations)
		if err != nil {
			return nil, err
		}
		as = list
	case e.Action == envelope.SendRawEmail:
		h, err := rawHeader(e)
		if err != nil {
			return nil, err
		}
		for _, name := range []string{"To", "Cc", "Bcc"} {
			list, err := rawAddresses(h, name)
			if err != nil {
				return nil, err
			}
			as = append(as, list...)
		}
	}
	if len(as) == 0 {
		return nil, &envelope.Error{Field: "destinations", Reason: "no recipient (for a raw message: destinations, or To, Cc or Bcc headers)"}
	}
	if len(as) > envelope.MaxRecipients {
		return nil, &envelope.Error{Field: "destinations", Reason: fmt.Sprintf("%d recipients, SES takes at most %d per message", len(as), envelope.MaxRecipients)}
	}
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = addrSpec(a)
	}
	return out, nil
}

// mailFrom is the SMTP envelope sender, where the API takes it from: for
// SendEmail the returnPath, else the source; for a raw message the
// source, else the message's Return-Path header, else its From address.
func mailFrom(e *envelope.Envelope) (string, error) {
	pick := func(field, s string) (string, error) {
		as, err := parseAddresses(field, []string{s})
		if err != nil {
			return "", err
		}
		return addrSpec(as[0]), nil
	}
	if e.Action == envelope.SendEmail {
		if e.ReturnPath != "" {
			return pick("returnPath", e.ReturnPath)
		}
		return pick("source", e.Source)
	}
	if e.Source != "" {
		return pick("source", e.Source)
	}
	h, err := rawHeader(e)
	if err != nil {
		return "", err
	}
	if v := strings.TrimSpace(h.Get("Return-Path")); v != "" && v != "<>" {
		a, err := addressParser().Parse(v)
		if err != nil {
			return "", &envelope.Error{Field: "raw", Reason: "the message's Return-Path header is not an address"}
		}
		if err := checkAddress(a); err != nil {
			return "", &envelope.Error{Field: "raw", Reason: "the message's Return-Path header: " + err.Error()}
		}
		return addrSpec(a), nil
	}
	as, err := rawAddresses(h, "From")
	if err != nil {
		return "", err
	}
	if len(as) == 0 {
		return "", &envelope.Error{Field: "raw", Reason: "no sender: give source, or a Return-Path or From header in the message"}
	}
	return addrSpec(as[0]), nil
}
