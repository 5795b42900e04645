package sesmtp

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"

	"github.com/sesq/sesq/envelope"
)

// sesHeaders are the headers the SES SMTP interface reads sending
// authorization and event publishing from, in the order sesq writes them at
// the top of every message.
func sesHeaders(e *envelope.Envelope) []byte {
	h := e.Headers()
	var b bytes.Buffer
	for _, kv := range [][2]string{
		{envelope.HeaderSourceArn, first(e.SourceArn, h.SourceArn)},
		{envelope.HeaderFromArn, first(e.FromArn, h.FromArn)},
		{envelope.HeaderReturnPathArn, first(e.ReturnPathArn, h.ReturnPathArn)},
		{"X-SES-CONFIGURATION-SET", e.ConfigurationSetName},
		{"X-SES-MESSAGE-TAGS", tags(e.Tags)},
	} {
		if kv[1] != "" {
			fmt.Fprintf(&b, "%s: %s\r\n", kv[0], kv[1])
		}
	}
	return b.Bytes()
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// tags renders X-SES-MESSAGE-TAGS: "name1=value1, name2=value2".
func tags(ts []envelope.Tag) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.Name + "=" + t.Value
	}
	return strings.Join(parts, ", ")
}

// Message is the DATA of one SMTP send: the X-SES headers first, then the
// producer's raw message untouched, or the message rendered from a SendEmail
// envelope.
func Message(e *envelope.Envelope, now time.Time) ([]byte, error) {
	var b bytes.Buffer
	b.Write(sesHeaders(e))
	switch e.Action {
	case envelope.SendRawEmail:
		b.Write(e.Raw)
	case envelope.SendEmail:
		renderEmail(&b, e, now)
	default:
		return nil, fmt.Errorf("%s cannot be sent over SMTP", e.Action)
	}
	return b.Bytes(), nil
}

// renderEmail writes a SendEmail envelope as a MIME message: From, To, Cc,
// Reply-To and Subject (encoded-words where not ASCII), a text or HTML part,
// or multipart/alternative with both, quoted-printable. Bcc recipients are
// only on the SMTP envelope.
func renderEmail(b *bytes.Buffer, e *envelope.Envelope, now time.Time) {
	hdr := func(k, v string) { fmt.Fprintf(b, "%s: %s\r\n", k, v) }
	hdr("From", e.Source)
	if d := e.Destination; d != nil {
		if len(d.To) > 0 {
			hdr("To", strings.Join(d.To, ", "))
		}
		if len(d.Cc) > 0 {
			hdr("Cc", strings.Join(d.Cc, ", "))
		}
	}
	if len(e.ReplyTo) > 0 {
		hdr("Reply-To", strings.Join(e.ReplyTo, ", "))
	}
	subject := e.Message.Subject
	hdr("Subject", encodeWord(subject.Data, subject.Charset))
	hdr("Date", now.UTC().Format(time.RFC1123Z))
	hdr("Message-ID", "<"+randomToken()+"@sesq>")
	hdr("MIME-Version", "1.0")
	body := e.Message.Body
	switch {
	case body.Text != nil && body.HTML != nil:
		boundary := "sesq-" + randomToken()
		hdr("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": boundary}))
		b.WriteString("\r\n")
		for _, p := range []struct {
			typ string
			c   *envelope.Content
		}{{"text/plain", body.Text}, {"text/html", body.HTML}} {
			fmt.Fprintf(b, "--%s\r\n", boundary)
			part(b, p.typ, p.c)
			b.WriteString("\r\n")
		}
		fmt.Fprintf(b, "--%s--\r\n", boundary)
	case body.HTML != nil:
		part(b, "text/html", body.HTML)
	default:
		part(b, "text/plain", body.Text)
	}
}

// part writes Content-Type and Content-Transfer-Encoding headers, the blank
// line and the quoted-printable body (the line break after it belongs to
// what follows: a boundary, or the end).
func part(b *bytes.Buffer, typ string, c *envelope.Content) {
	cs := c.Charset
	if cs == "" {
		cs = "UTF-8"
	}
	fmt.Fprintf(b, "Content-Type: %s\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", mime.FormatMediaType(typ, map[string]string{"charset": cs}))
	w := quotedprintable.NewWriter(b)
	w.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(c.Data, "\r\n", "\n"), "\n", "\r\n")))
	w.Close()
}

// encodeWord returns s as is when it is printable ASCII, else as an RFC 2047
// encoded-word in the charset (UTF-8 when empty).
func encodeWord(s, charset string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	if charset == "" {
		charset = "UTF-8"
	}
	return mime.BEncoding.Encode(charset, s)
}

func randomToken() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Recipients are the SMTP envelope's RCPT TO addresses: the destination of a
// SendEmail (Bcc included), or a raw message's destinations, else its To, Cc
// and Bcc headers.
func Recipients(e *envelope.Envelope) ([]string, error) {
	var list []string
	switch {
	case e.Action == envelope.SendEmail && e.Destination != nil:
		d := e.Destination
		list = append(append(append(list, d.To...), d.Cc...), d.Bcc...)
	case len(e.Destinations) > 0:
		list = e.Destinations
	default:
		m, err := mail.ReadMessage(bytes.NewReader(e.Raw))
		if err != nil {
			return nil, fmt.Errorf("read the raw message's headers: %w", err)
		}
		for _, h := range []string{"To", "Cc", "Bcc"} {
			if m.Header.Get(h) == "" {
				continue
			}
			as, err := m.Header.AddressList(h)
			if err != nil {
				return nil, fmt.Errorf("raw message's %s header: %w", h, err)
			}
			for _, a := range as {
				list = append(list, a.Address)
			}
		}
	}
	out := make([]string, 0, len(list))
	for _, r := range list {
		a, err := mail.ParseAddress(r)
		if err != nil {
			return nil, fmt.Errorf("recipient: not an email address")
		}
		out = append(out, a.Address)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no recipient")
	}
	return out, nil
}

// MailFrom is the SMTP envelope sender: the return path, else the source,
// else the raw message's From address.
func MailFrom(e *envelope.Envelope) (string, error) {
	for _, s := range []string{e.ReturnPath, e.Source} {
		if s != "" {
			a, err := mail.ParseAddress(s)
			if err != nil {
				return "", fmt.Errorf("sender: not an email address")
			}
			return a.Address, nil
		}
	}
	m, err := mail.ReadMessage(bytes.NewReader(e.Raw))
	if err != nil {
		return "", fmt.Errorf("read the raw message's headers: %w", err)
	}
	as, err := m.Header.AddressList("From")
	if err != nil || len(as) == 0 {
		return "", fmt.Errorf("raw message's From header: not an address")
	}
	return as[0].Address, nil
}
