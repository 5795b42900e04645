package sessmtp

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/ianaindex"

	"github.com/sesq/sesq/envelope"
	"github.com/sesq/sesq/internal/testsupport/conformance"
)

const (
	east  = conformance.East
	west  = conformance.West
	east2 = conformance.East2
)

var when = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func sendEmail(over map[string]any) map[string]any {
	e := map[string]any{
		"action": "SendEmail", "sourceArn": east, "returnPathArn": east,
		"source": "Shop <sender@example.com>", "returnPath": "bounces@example.com",
		"destination": map[string]any{"to": []string{"a@example.net", "b@example.net"}, "cc": []string{"c@example.net"}, "bcc": []string{"hidden@example.net"}},
		"replyTo":     []string{"help@example.com"},
		"message": map[string]any{
			"subject": map[string]any{"data": "Grüße, your receipt", "charset": "UTF-8"},
			"body": map[string]any{
				"text": map[string]any{"data": "Hallo Ana,\nthanks — 42 €.\n.\nA line that is longer than seventy-six characters so that quoted-printable must wrap it somewhere.", "charset": "UTF-8"},
				"html": map[string]any{"data": "<p>Hallo Ana, 42 €</p>", "charset": "UTF-8"},
			},
		},
		"configurationSetName": "transactional",
		"tags":                 []map[string]string{{"name": "campaign", "value": "receipt"}, {"name": "tenant", "value": "acme"}},
	}
	for k, v := range over {
		if v == nil {
			delete(e, k)
			continue
		}
		e[k] = v
	}
	return e
}

func rawEnvelope(raw string, params map[string]any) map[string]any {
	e := map[string]any{"action": "SendRawEmail", "raw": base64.StdEncoding.EncodeToString([]byte(raw))}
	for k, v := range params {
		e[k] = v
	}
	return e
}

// parts reads the text parts of a message, decoded from their transfer
// encoding and from their charset.
func parts(t *testing.T, data []byte) (mail.Header, map[string]string) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	read := func(h map[string][]string, body io.Reader) {
		ct, params, err := mime.ParseMediaType(first(h["Content-Type"]...))
		if err != nil {
			t.Fatalf("Content-Type: %v", err)
		}
		switch strings.ToLower(first(h["Content-Transfer-Encoding"]...)) {
		case "quoted-printable":
			body = quotedprintable.NewReader(body)
		case "base64":
			body = base64.NewDecoder(base64.StdEncoding, body)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := ianaindex.IANA.Encoding(params["charset"])
		if err != nil || enc == nil {
			t.Fatalf("charset %q: %v", params["charset"], err)
		}
		text, err := enc.NewDecoder().Bytes(b)
		if err != nil {
			t.Fatal(err)
		}
		out[ct] = string(text)
	}
	ct, params, _ := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if !strings.HasPrefix(ct, "multipart/") {
		read(m.Header, m.Body)
		return m.Header, out
	}
	r := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		// multipart.Reader takes quoted-printable off itself.
		h := map[string][]string(p.Header)
		if p.Header.Get("Content-Transfer-Encoding") == "" {
			h = map[string][]string{"Content-Type": {p.Header.Get("Content-Type")}}
		}
		read(h, p)
	}
	return m.Header, out
}

func TestRenderSendEmail(t *testing.T) {
	e := conformance.Envelope(t, sendEmail(nil))
	data, err := message(e, when)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\r\n")
	wantTop := []string{
		"X-SES-SOURCE-ARN: " + east,
		"X-SES-FROM-ARN: " + east, // defaults to the source identity, as the API does
		"X-SES-RETURN-PATH-ARN: " + east,
		"X-SES-CONFIGURATION-SET: transactional",
		"X-SES-MESSAGE-TAGS: campaign=receipt, tenant=acme",
		"From: Shop <sender@example.com>",
		"To: a@example.net, b@example.net",
		"Cc: c@example.net",
		"Reply-To: help@example.com",
	}
	for i, w := range wantTop {
		if lines[i] != w {
			t.Errorf("line %d = %q, want %q", i, lines[i], w)
		}
	}
	h, body := parts(t, data)
	subject, _ := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if subject != "Grüße, your receipt" || !strings.Contains(h.Get("Subject"), "=?UTF-8?B?") {
		t.Errorf("Subject %q decodes to %q", h.Get("Subject"), subject)
	}
	if h.Get("Bcc") != "" || bytes.Contains(data, []byte("hidden@example.net")) {
		t.Error("Bcc must be only on the SMTP envelope")
	}
	if h.Get("Date") != "Fri, 27 Nov 2026 12:00:00 +0000" || h.Get("Message-Id") == "" || h.Get("Mime-Version") != "1.0" {
		t.Errorf("Date, Message-ID, MIME-Version: %v", h)
	}
	wantText := "Hallo Ana,\r\nthanks — 42 €.\r\n.\r\nA line that is longer than seventy-six characters so that quoted-printable must wrap it somewhere."
	if body["text/plain"] != wantText || body["text/html"] != "<p>Hallo Ana, 42 €</p>" {
		t.Errorf("parts:\n%q", body)
	}
	p, err := newPlan(e, when)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(p.rcpts, ",") != "a@example.net,b@example.net,c@example.net,hidden@example.net" || p.from != "bounces@example.com" {
		t.Errorf("SMTP envelope: from %s to %v", p.from, p.rcpts)
	}
}

func TestRenderSinglePart(t *testing.T) {
	e := conformance.Envelope(t, sendEmail(map[string]any{"message": map[string]any{
		"subject": map[string]any{"data": "Plain"}, "body": map[string]any{"text": map[string]any{"data": "just text"}}}}))
	data, err := message(e, when)
	if err != nil {
		t.Fatal(err)
	}
	h, body := parts(t, data)
	if h.Get("Subject") != "Plain" || h.Get("Content-Type") != "text/plain; charset=UTF-8" || body["text/plain"] != "just text" {
		t.Errorf("single part: %v %q", h, body)
	}
}

// Over SMTP SES applies only the X-SES headers written: sesq writes all
// three, always, first in the message, with From and Return-Path
// defaulting to the source identity (as the API does when only SourceArn
// is given) and a missing source to the From, else the Return-Path
// identity; a parameter wins over the raw message's own header, which
// counts by its first instance.
func TestARNHeaders(t *testing.T) {
	raw := "From: Sender <sender@example.com>\r\nTo: a@example.net\r\nSubject: s\r\n\r\nbody\r\n"
	for _, c := range []struct {
		name string
		env  map[string]any
		want []string // the first lines of DATA
	}{
		{"SendEmail with sourceArn only", sendEmail(map[string]any{"returnPathArn": nil, "configurationSetName": nil, "tags": nil}),
			[]string{"X-SES-SOURCE-ARN: " + east, "X-SES-FROM-ARN: " + east, "X-SES-RETURN-PATH-ARN: " + east, "From: Shop <sender@example.com>"}},
		{"SendEmail with returnPathArn only", sendEmail(map[string]any{"sourceArn": nil, "returnPathArn": east2, "configurationSetName": nil, "tags": nil}),
			[]string{"X-SES-SOURCE-ARN: " + east2, "X-SES-FROM-ARN: " + east2, "X-SES-RETURN-PATH-ARN: " + east2, "From: Shop <sender@example.com>"}},
		{"SendRawEmail with sourceArn only", rawEnvelope(raw, map[string]any{"sourceArn": west}),
			[]string{"X-SES-SOURCE-ARN: " + west, "X-SES-FROM-ARN: " + west, "X-SES-RETURN-PATH-ARN: " + west, "From: Sender <sender@example.com>"}},
		{"SendRawEmail with an X-SES-SOURCE-ARN header only, twice", rawEnvelope("X-SES-SOURCE-ARN: "+west+"\r\nX-SES-SOURCE-ARN: arn:aws:ses:eu-west-1:123456789012:identity/other.example\r\n"+raw, nil),
			[]string{"X-SES-SOURCE-ARN: " + west, "X-SES-FROM-ARN: " + west, "X-SES-RETURN-PATH-ARN: " + west, "X-SES-SOURCE-ARN: " + west}},
		{"SendRawEmail: fromArn parameter, X-SES-RETURN-PATH-ARN header", rawEnvelope("X-SES-RETURN-PATH-ARN: "+east2+"\r\n"+raw, map[string]any{"fromArn": east}),
			[]string{"X-SES-SOURCE-ARN: " + east, "X-SES-FROM-ARN: " + east, "X-SES-RETURN-PATH-ARN: " + east2, "X-SES-RETURN-PATH-ARN: " + east2}},
		{"SendRawEmail: a parameter and the agreeing header", rawEnvelope("X-Mailer: x\r\nX-SES-FROM-ARN: "+east+"\r\n"+raw, map[string]any{"sourceArn": east2, "fromArn": east}),
			[]string{"X-SES-SOURCE-ARN: " + east2, "X-SES-FROM-ARN: " + east, "X-SES-RETURN-PATH-ARN: " + east2, "X-Mailer: x"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			data, err := message(conformance.Envelope(t, c.env), when)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(string(data), "\r\n")
			if got := lines[:len(c.want)]; strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("DATA begins\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
			if c.env["action"] == envelope.SendRawEmail && !bytes.HasSuffix(data, conformance.Envelope(t, c.env).Raw) {
				t.Error("the raw message was changed")
			}
		})
	}
}

var encodedWord = regexp.MustCompile(`=\?[^?]+\?[BbQq]\?[^?]*\?=`)

// checkLines: no line of DATA passes 998 octets; no header line passes 78
// unless it is one word that cannot be split (an address, an ARN); every
// encoded-word is at most 75 octets. It returns the longest line.
func checkLines(t *testing.T, data []byte) int {
	t.Helper()
	longest := 0
	inHeader := true
	for i, l := range strings.Split(string(data), "\r\n") {
		longest = max(longest, len(l))
		if len(l) > hardLineLimit {
			t.Errorf("line %d is %d octets", i+1, len(l))
		}
		if l == "" {
			inHeader = false
		}
		if inHeader && len(l) > softLineLimit {
			words := strings.Fields(l)
			if strings.HasSuffix(words[0], ":") {
				words = words[1:]
			}
			if len(words) > 1 {
				t.Errorf("header line %d is %d octets and could have been folded: %q", i+1, len(l), l)
			}
		}
		for _, w := range encodedWord.FindAllString(l, -1) {
			if len(w) > maxEncodedWord {
				t.Errorf("an encoded-word of %d octets: %s", len(w), w)
			}
		}
	}
	return longest
}

func longSubject(unit string, n int) string {
	var b strings.Builder
	for utf8.RuneCountInString(b.String()) < n {
		b.WriteString(unit)
	}
	r := []rune(b.String())[:n]
	if r[n-1] == ' ' { // a header value's trailing space does not survive unfolding
		r[n-1] = '.'
	}
	return string(r)
}

// Long subjects and address lists are folded: no line passes SES's 998
// octets (a 1 200-character subject and 45 recipients made one line each
// before), header lines keep to 78 where they can, encoded-words to 75,
// and the values read back as they were.
func TestFolding(t *testing.T) {
	word300 := strings.Repeat("x", 300)
	subjects := []struct {
		name, data, charset string
	}{
		{"ASCII", longSubject("Your order 12345 has shipped and is on its way; ", 1200), "UTF-8"},
		{"ASCII with a 300-character word", longSubject("see "+word300+" now ", 1200), "UTF-8"},
		{"non-ASCII", longSubject("Grüße aus Köln — 日本語のテキスト ", 1200), "UTF-8"},
		{"non-ASCII in ISO-8859-1", longSubject("Grüße aus Köln, à bientôt ", 1200), "ISO-8859-1"},
		{"Japanese in ISO-2022-JP", longSubject("日本語の件名です。", 1200), "ISO-2022-JP"},
		{"one 1 200-character word", strings.Repeat("y", 1200), "UTF-8"},
	}
	var to []string
	var want []string
	for i := range 45 {
		switch i % 3 {
		case 0:
			to = append(to, fmt.Sprintf("recipient%02d@example.net", i))
			want = append(want, fmt.Sprintf("<recipient%02d@example.net>", i))
		case 1:
			to = append(to, fmt.Sprintf("\"Recipient Number %d, Sales\" <recipient%02d@example.net>", i, i))
			want = append(want, fmt.Sprintf("\"Recipient Number %d, Sales\" <recipient%02d@example.net>", i, i))
		default:
			name := mime.BEncoding.Encode("UTF-8", fmt.Sprintf("Jürgen Müller-Lüdenscheidt der %d.", i))
			to = append(to, name+fmt.Sprintf(" <recipient%02d@example.net>", i))
			want = append(want, fmt.Sprintf("\"Jürgen Müller-Lüdenscheidt der %d.\" <recipient%02d@example.net>", i, i))
		}
	}
	for _, s := range subjects {
		t.Run(s.name, func(t *testing.T) {
			e := conformance.Envelope(t, sendEmail(map[string]any{
				"destination": map[string]any{"to": to},
				"message": map[string]any{"subject": map[string]any{"data": s.data, "charset": s.charset},
					"body": map[string]any{"text": map[string]any{"data": "body"}}},
			}))
			data, err := message(e, when)
			if err != nil {
				t.Fatal(err)
			}
			longest := checkLines(t, data)
			m, err := mail.ReadMessage(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			dec := &mime.WordDecoder{CharsetReader: func(cs string, r io.Reader) (io.Reader, error) {
				enc, err := ianaindex.IANA.Encoding(cs)
				if err != nil || enc == nil {
					return nil, fmt.Errorf("charset %s", cs)
				}
				return enc.NewDecoder().Reader(r), nil
			}}
			subject, err := dec.DecodeHeader(m.Header.Get("Subject"))
			if err != nil || subject != s.data {
				t.Errorf("subject reads back as\n%q (%v)\nwant\n%q", subject, err, s.data)
			}
			if s.charset != "UTF-8" && strings.Contains(m.Header.Get("Subject"), "=?UTF-8?") {
				t.Errorf("subject not in its charset %s", s.charset)
			}
			as, err := m.Header.AddressList("To")
			if err != nil || len(as) != len(want) {
				t.Fatalf("To reads back as %d addresses (%v), want %d", len(as), err, len(want))
			}
			for i, a := range as {
				if a.String() != (&mail.Address{Name: nameOf(want[i]), Address: addrOf(want[i])}).String() {
					t.Errorf("To address %d reads back as %q, want %q", i, a, want[i])
				}
			}
			folded := strings.Count(strings.SplitN(string(data), "\r\nSubject:", 2)[0], "\r\n ")
			t.Logf("longest line %d octets; the To header folded %d times", longest, folded)
		})
	}
}

func nameOf(s string) string {
	a, _ := mail.ParseAddress(s)
	return a.Name
}

func addrOf(s string) string {
	a, _ := mail.ParseAddress(s)
	return a.Address
}

// A body in ISO-8859-1 is transcoded from the envelope's UTF-8 and
// labelled so: read with its label, it says what the producer wrote.
func TestCharsetTranscoded(t *testing.T) {
	text := "Grüße aus Köln: 3 × 5 € — no, 3 × 5 ¤.\nÀ bientôt, café crème."
	text = strings.NewReplacer("€", "EUR", "—", "-").Replace(text) // not in Latin-1
	e := conformance.Envelope(t, sendEmail(map[string]any{"message": map[string]any{
		"subject": map[string]any{"data": "Grüße aus Köln", "charset": "ISO-8859-1"},
		"body": map[string]any{
			"text": map[string]any{"data": text, "charset": "latin1"},
			"html": map[string]any{"data": "<p>" + text + "</p>", "charset": "ISO-8859-1"},
		}}}))
	data, err := message(e, when)
	if err != nil {
		t.Fatal(err)
	}
	h, body := parts(t, data)
	want := strings.ReplaceAll(text, "\n", "\r\n")
	if body["text/plain"] != want || body["text/html"] != "<p>"+want+"</p>" {
		t.Errorf("parts read with their charset:\n%q\nwant\n%q", body, want)
	}
	if !bytes.Contains(data, []byte("text/plain; charset=ISO-8859-1")) || !bytes.Contains(data, []byte("Gr=FC=DFe aus K=F6ln")) {
		t.Errorf("not labelled and written as ISO-8859-1:\n%s", data)
	}
	if !strings.HasPrefix(h.Get("Subject"), "=?ISO-8859-1?B?") {
		t.Errorf("subject %q", h.Get("Subject"))
	}
	// Mostly non-ASCII text goes as base64 rather than escaping nearly
	// every byte.
	e = conformance.Envelope(t, sendEmail(map[string]any{"message": map[string]any{
		"subject": map[string]any{"data": "件名"}, "body": map[string]any{"text": map[string]any{"data": "日本語のテキストです。", "charset": "Shift_JIS"}}}}))
	data, err = message(e, when)
	if err != nil {
		t.Fatal(err)
	}
	_, body = parts(t, data)
	if body["text/plain"] != "日本語のテキストです。" || !bytes.Contains(data, []byte("Content-Transfer-Encoding: base64")) {
		t.Errorf("Shift_JIS: %q\n%s", body, data)
	}
}

// What the transport cannot write is refused before any send, naming the
// field and not the value.
func TestValidateRefuses(t *testing.T) {
	tr, err := NewWithConfig(Config{Username: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	msg := func(subjectCharset, text, textCharset string) map[string]any {
		return sendEmail(map[string]any{"message": map[string]any{
			"subject": map[string]any{"data": "Grüße", "charset": subjectCharset},
			"body":    map[string]any{"text": map[string]any{"data": text, "charset": textCharset}}}})
	}
	long := "a@" + strings.Repeat("abcdefghi.", 25) + "example.net"
	for _, c := range []struct {
		name  string
		env   map[string]any
		field string
	}{
		{"SendTemplatedEmail", sendEmail(map[string]any{"action": "SendTemplatedEmail", "message": nil, "template": "T", "templateData": "{}"}), "action"},
		{"an unknown charset", msg("x-klingon", "text", ""), "message.subject.charset"},
		{"UTF-16", msg("", "text", "UTF-16"), "message.body.text.charset"},
		{"a charset with no code for a character", msg("", "price: 5 €", "ISO-8859-1"), "message.body.text.data"},
		{"a subject its charset cannot carry", msg("US-ASCII", "text", ""), "message.subject.data"},
		{"a raw message without recipients", rawEnvelope("From: a@example.com\r\nSubject: s\r\n\r\nbody", map[string]any{"sourceArn": east}), "destinations"},
		{"a raw message whose To is not an address list", rawEnvelope("From: a@example.com\r\nTo: not an address\r\n\r\nbody", map[string]any{"sourceArn": east}), "raw"},
		{"a raw message whose Return-Path is not an address", rawEnvelope("Return-Path: nobody\r\nFrom: a@example.com\r\nTo: a@example.net\r\n\r\nbody", map[string]any{"sourceArn": east}), "raw"},
		{"a raw message with a non-ASCII recipient", rawEnvelope("From: a@example.com\r\nTo: jürgen@example.net\r\n\r\nbody", map[string]any{"sourceArn": east}), "raw"},
		{"an address over 254 octets", rawEnvelope("From: a@example.com\r\n\r\nbody", map[string]any{"sourceArn": east, "destinations": []string{long}}), "destinations[0]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := envelope.Parse(mustJSON(t, c.env))
			if err != nil {
				t.Skipf("the envelope package refuses it already: %v", err)
			}
			err = tr.Validate(e)
			var ve *envelope.Error
			if !errors.As(err, &ve) || ve.Field != c.field {
				t.Fatalf("Validate = %v, want an *envelope.Error on %s", err, c.field)
			}
			if strings.Contains(err.Error(), "@") || strings.Contains(err.Error(), "€") {
				t.Errorf("the reason quotes the value: %v", err)
			}
			t.Log(err)
		})
	}
}

// MAIL FROM is where the API takes the sender from: for a raw message its
// source, else its Return-Path header, else its From address.
func TestMailFrom(t *testing.T) {
	body := "To: a@example.net\r\nSubject: s\r\n\r\nbody\r\n"
	for _, c := range []struct {
		name string
		env  map[string]any
		want string
	}{
		{"SendEmail returnPath", sendEmail(nil), "bounces@example.com"},
		{"SendEmail source", sendEmail(map[string]any{"returnPath": nil}), "sender@example.com"},
		{"raw source", rawEnvelope("Return-Path: <bounce@example.org>\r\nFrom: Me <me@example.org>\r\n"+body, map[string]any{"sourceArn": east, "source": "sender@example.com"}), "sender@example.com"},
		{"raw Return-Path", rawEnvelope("From: Me <me@example.org>\r\nReturn-Path: <bounce@example.org>\r\n"+body, map[string]any{"sourceArn": east}), "bounce@example.org"},
		{"raw empty Return-Path", rawEnvelope("Return-Path: <>\r\nFrom: Me <me@example.org>\r\n"+body, map[string]any{"sourceArn": east}), "me@example.org"},
		{"raw From", rawEnvelope("From: Me <me@example.org>\r\n"+body, map[string]any{"sourceArn": east}), "me@example.org"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := mailFrom(conformance.Envelope(t, c.env))
			if err != nil || got != c.want {
				t.Errorf("MAIL FROM %q (%v), want %q", got, err, c.want)
			}
		})
	}
}

func TestRecipientsOfRaw(t *testing.T) {
	raw := "From: Sender <sender@example.com>\r\nTo: a@example.net, \"B\" <b@example.net>\r\nTo: d@example.net\r\nCc: undisclosed-recipients:;\r\nBcc: hidden@example.net\r\nSubject: s\r\n\r\nbody\r\n"
	got, err := recipients(conformance.Envelope(t, rawEnvelope(raw, map[string]any{"sourceArn": east})))
	if err != nil || strings.Join(got, ",") != "a@example.net,b@example.net,d@example.net,hidden@example.net" {
		t.Errorf("recipients %v (%v)", got, err)
	}
	got, err = recipients(conformance.Envelope(t, rawEnvelope(raw, map[string]any{"sourceArn": east, "destinations": []string{"x@example.net"}})))
	if err != nil || strings.Join(got, ",") != "x@example.net" {
		t.Errorf("destinations win: %v (%v)", got, err)
	}
}

func TestLookupCharset(t *testing.T) {
	for name, want := range map[string]string{
		"": "UTF-8", "utf-8": "UTF-8", "utf8": "UTF-8", "latin1": "ISO-8859-1", "iso-8859-15": "ISO-8859-15",
		"windows-1252": "windows-1252", "Shift_JIS": "Shift_JIS", "csISO2022JP": "ISO-2022-JP", "EUC-KR": "EUC-KR",
		"KOI8-R": "KOI8-R", "GBK": "GBK", "gb18030": "GB18030", "Big5": "Big5", "us-ascii": "US-ASCII",
		"GB2312": "GB2312", "EUC-CN": "GB2312", "UTF-16": "", "UTF-16LE": "", "x-klingon": "",
	} {
		cs, err := lookupCharset(name)
		if cs.name != want || (want == "") != (err != nil) {
			t.Errorf("%q: %q %v, want %q", name, cs.name, err, want)
		}
	}
}

// GB2312 is written with the GBK encoder, within GB2312's code space:
// 中文 is in it; 㐀 (CJK extension A) is in GBK only.
func TestGB2312(t *testing.T) {
	cs, err := lookupCharset("GB2312")
	if err != nil {
		t.Fatal(err)
	}
	b, err := cs.encode("邮件 中文 ok")
	if err != nil || string(b) != "\xd3\xca\xbc\xfe \xd6\xd0\xce\xc4 ok" {
		t.Errorf("encode: %q %v", b, err)
	}
	if _, err := cs.encode("ab㐀"); err == nil || err.Error() != "character 3 of the text has no code in GB2312 (use UTF-8)" {
		t.Errorf("a GBK-only character: %v", err)
	}
}

func mustJSON(t *testing.T, v map[string]any) []byte {
	t.Helper()
	if _, ok := v["version"]; !ok {
		v["version"] = 1
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Display names encoded in a charset net/mail cannot decode still go out:
// a SendEmail's From is decoded with x/text and written again as UTF-8
// encoded-words; a raw message's recipients are read from its headers.
func TestDisplayNamesInOtherCharsets(t *testing.T) {
	e := conformance.Envelope(t, sendEmail(map[string]any{"source": "=?windows-1252?Q?M=FCller?= <sender@example.com>"}))
	data, err := message(e, when)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := parts(t, data)
	from, err := h.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "Müller" || from[0].Address != "sender@example.com" {
		t.Errorf("From %v (%v), want Müller <sender@example.com>", from, err)
	}
	raw := "From: =?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?= <sender@example.com>\r\nTo: =?windows-1252?Q?M=FCller?= <m@example.net>, =?x-unknown?Q?X?= <x@example.net>\r\nSubject: s\r\n\r\nbody\r\n"
	re := conformance.Envelope(t, rawEnvelope(raw, map[string]any{"sourceArn": east}))
	got, err := recipients(re)
	if err != nil || strings.Join(got, ",") != "m@example.net,x@example.net" {
		t.Errorf("recipients %v (%v)", got, err)
	}
	if from, err := mailFrom(re); err != nil || from != "sender@example.com" {
		t.Errorf("MAIL FROM %q (%v)", from, err)
	}
}
