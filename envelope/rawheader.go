package envelope

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// The X-headers SES reads sending-authorization ARNs from in SendRawEmail (and
// over SMTP). SES uses the first instance of each and strips them all before
// sending.
const (
	HeaderSourceArn     = "X-SES-SOURCE-ARN"
	HeaderFromArn       = "X-SES-FROM-ARN"
	HeaderReturnPathArn = "X-SES-RETURN-PATH-ARN"
)

// RawHeaders is what sesq needs from the header section of a raw MIME
// message.
type RawHeaders struct {
	// SourceArn, FromArn and ReturnPathArn hold the first instance of each
	// X-SES-*-ARN header, trimmed; empty when the header is absent. Later
	// instances are ignored, as SES ignores them.
	SourceArn, FromArn, ReturnPathArn string
	// HasFrom tells whether the message has a From header.
	HasFrom bool
	// Fields counts the header fields.
	Fields int
}

// ScanHeaders reads the header section of a raw message (up to the first
// empty line, or the end when there is no body) without decoding the rest.
// Lines may end in CRLF or LF. It fails on a message that has no header
// section, a malformed or unnamed field, a bare CR, bytes that are not
// valid UTF-8, and on a DKIM-Signature
// whose h= tag signs an X-SES-*-ARN header: SES removes those headers, which
// would break the signature.
func ScanHeaders(raw []byte) (RawHeaders, error) {
	var h RawHeaders
	var (
		name    []byte // current field's name
		value   []byte // current field's first line after the colon
		folded  bool   // current field has continuation lines
		start   int    // current field's value start offset in raw
		end     int    // current field's end offset (exclusive, before the final line break)
		lineNo  int
		inField bool
	)
	finish := func() error {
		if !inField {
			return nil
		}
		inField = false
		h.Fields++
		interesting := headerKind(name)
		if interesting == kindOther {
			return nil
		}
		v := value
		if folded {
			v = unfold(raw[start:end])
		}
		return h.record(interesting, v)
	}
	pos := 0
	for pos < len(raw) {
		lineNo++
		nl := bytes.IndexByte(raw[pos:], '\n')
		lineEnd, next := len(raw), len(raw)
		if nl >= 0 {
			lineEnd, next = pos+nl, pos+nl+1
		}
		line := raw[pos:lineEnd]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if bytes.IndexByte(line, '\r') >= 0 {
			return h, fmt.Errorf("raw: header line %d has a bare CR", lineNo)
		}
		if !utf8.Valid(line) {
			// SES would pass the bytes on, and mail clients show them as
			// mojibake or refuse the message: non-ASCII header text must be
			// UTF-8 (RFC 6532) or an RFC 2047 encoded-word.
			return h, fmt.Errorf("raw: header line %d is not valid UTF-8 (write non-ASCII text as UTF-8 or an RFC 2047 encoded-word)", lineNo)
		}
		if len(line) == 0 {
			if lineNo == 1 {
				return h, errors.New("raw: no header section (the message starts with an empty line)")
			}
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if !inField {
				return h, fmt.Errorf("raw: header line %d is a continuation with no field before it", lineNo)
			}
			folded = true
			end = pos + len(line)
			pos = next
			continue
		}
		if err := finish(); err != nil {
			return h, err
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return h, fmt.Errorf("raw: header line %d is not a header field (NAME: value)", lineNo)
		}
		for _, c := range line[:colon] {
			if c <= ' ' || c >= 0x7f {
				return h, fmt.Errorf("raw: header line %d has an invalid character in the field name", lineNo)
			}
		}
		inField, folded = true, false
		name, value = line[:colon], line[colon+1:]
		start, end = pos+colon+1, pos+len(line)
		pos = next
	}
	if err := finish(); err != nil {
		return h, err
	}
	if h.Fields == 0 {
		return h, errors.New("raw: no header section")
	}
	return h, nil
}

type headerKindT uint8

const (
	kindOther headerKindT = iota
	kindSourceArn
	kindFromArn
	kindReturnPathArn
	kindFrom
	kindDKIM
)

func headerKind(name []byte) headerKindT {
	switch len(name) {
	case 4:
		if bytes.EqualFold(name, []byte("From")) {
			return kindFrom
		}
	case len(HeaderSourceArn):
		if bytes.EqualFold(name, []byte(HeaderSourceArn)) {
			return kindSourceArn
		}
	case len(HeaderFromArn): // also len("DKIM-Signature")
		if bytes.EqualFold(name, []byte(HeaderFromArn)) {
			return kindFromArn
		}
		if bytes.EqualFold(name, []byte("DKIM-Signature")) {
			return kindDKIM
		}
	case len(HeaderReturnPathArn):
		if bytes.EqualFold(name, []byte(HeaderReturnPathArn)) {
			return kindReturnPathArn
		}
	}
	return kindOther
}

func (h *RawHeaders) record(kind headerKindT, v []byte) error {
	first := func(dst *string, header string) error {
		if *dst != "" {
			return nil // SES uses only the first instance
		}
		s := string(bytes.TrimSpace(v))
		if s == "" {
			return fmt.Errorf("raw: %s header is empty", header)
		}
		*dst = s
		return nil
	}
	switch kind {
	case kindSourceArn:
		return first(&h.SourceArn, HeaderSourceArn)
	case kindFromArn:
		return first(&h.FromArn, HeaderFromArn)
	case kindReturnPathArn:
		return first(&h.ReturnPathArn, HeaderReturnPathArn)
	case kindFrom:
		h.HasFrom = true
	case kindDKIM:
		if signed := dkimSignedARNHeader(v); signed != "" {
			return fmt.Errorf("raw: DKIM-Signature signs %s, which SES removes before sending (the signature would break)", signed)
		}
	}
	return nil
}

// dkimSignedARNHeader returns the X-SES-*-ARN header named in the h= tag of a
// DKIM-Signature value, or "".
func dkimSignedARNHeader(v []byte) string {
	for _, tag := range strings.Split(string(v), ";") {
		k, val, ok := strings.Cut(tag, "=")
		if !ok || strings.TrimSpace(k) != "h" {
			continue
		}
		for _, n := range strings.Split(val, ":") {
			n = strings.TrimSpace(n)
			for _, arnHeader := range []string{HeaderSourceArn, HeaderFromArn, HeaderReturnPathArn} {
				if strings.EqualFold(n, arnHeader) {
					return arnHeader
				}
			}
		}
	}
	return ""
}

// unfold joins a folded header value: line breaks before continuation lines
// are removed (RFC 5322 2.2.3), the whitespace that starts them stays.
func unfold(v []byte) []byte {
	out := make([]byte, 0, len(v))
	for _, c := range v {
		if c != '\r' && c != '\n' {
			out = append(out, c)
		}
	}
	return out
}
