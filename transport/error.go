package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
)

// Class is what a failed send means for the message.
type Class int

// Classes of failed sends.
const (
	// Retry: a transient fault (5xx, timeout, connection); the send may be
	// tried again.
	Retry Class = iota + 1
	// Throttled: refused for the account's send rate; not sent.
	Throttled
	// Quota: the daily quota is used up, or sending is paused for the
	// account or configuration set; not sent.
	Quota
	// Unavailable: sesq's own credentials were refused in the region, or
	// the endpoint's certificate is not trusted: nothing of the region can
	// be sent until that is fixed.
	Unavailable
	// Authorization: the identity owner's policy does not let sesq send.
	Authorization
	// Rejected: SES refused this message and will refuse it again.
	Rejected
)

var classNames = map[Class]string{
	Retry: "retry", Throttled: "throttled", Quota: "quota", Unavailable: "unavailable",
	Authorization: "authorization", Rejected: "rejected",
}

func (c Class) String() string {
	if s, ok := classNames[c]; ok {
		return s
	}
	return "unknown"
}

// Classes lists every class, for tables that must cover them all.
func Classes() []Class {
	return []Class{Retry, Throttled, Quota, Unavailable, Authorization, Rejected}
}

// Codes transports give failures that carry no code of SES's own.
const (
	CodeTimeout    = "Timeout"
	CodeConnection = "ConnectionError"
	CodeUnknown    = "Unknown"
	CodeTLS        = "TLSVerification"
	CodeThrottling = "Throttling"
)

// Error is a failed send, classified by the transport that made it.
type Error struct {
	Class Class
	// Code is SES's error code ("MessageRejected"), an SMTP reply's
	// ("SMTP554 5.7.1"), or one of the Code constants.
	Code string
	// Message is the cause in words, fit for logs and the dead-letter
	// attribute: it names no recipient, sender, subject or body.
	Message string
	// Uncertain: the send may have reached SES and been accepted (it was
	// cut off, or the connection broke, after the request went out).
	Uncertain bool
	// PerMessage: the failure is about this message only (a recipient
	// refused, a malformed address), never about the region's health; it
	// must not pause the region.
	PerMessage bool
	// Err is the original error.
	Err error
}

func (e *Error) Error() string {
	if e.Code == "" {
		return e.Message
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Classify returns err's *Error, or reads an error no transport classified
// as a network fault (Network). It returns nil for nil.
func Classify(err error) *Error {
	if err == nil {
		return nil
	}
	var te *Error
	if errors.As(err, &te) {
		return te
	}
	return Network(err)
}

// Network classifies an error that carries no answer from SES. Unless the
// connection was refused or the certificate not trusted, the request may
// have gone out and been accepted: the outcome is uncertain.
func Network(err error) *Error {
	e := &Error{Class: Retry, Code: CodeUnknown, Message: Redact(err.Error()), Uncertain: true, Err: err}
	var netErr net.Error
	switch {
	case IsTLSVerification(err):
		// The worker's setup, not the message; nothing was sent.
		e.Class, e.Code, e.Uncertain = Unavailable, CodeTLS, false
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Code, e.Uncertain = CodeConnection, false
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		e.Code = CodeTimeout
	case errors.As(err, &netErr) && netErr.Timeout():
		e.Code = CodeTimeout
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &netErr):
		e.Code = CodeConnection
	}
	return e
}

// IsTLSVerification tells whether err is a failure to verify the server's
// certificate (an unknown authority, a wrong host name, an expired
// certificate).
func IsTLSVerification(err error) bool {
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	return errors.As(err, &certErr) || errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &invalidCert)
}

// Redact replaces every word that looks like an email address (it has an
// @ inside) with "[address]", and the display name before an address in
// angle brackets: a quoted name, else up to four words without digits
// since the last that ends in ':', ',' or ';' (a reply code such as 5.1.1
// stops it; a lowercase word before a bare <address> may go too). SES's
// error messages name the addresses they refuse, and no address or name
// may reach a log, a metric or a dead letter.
func Redact(s string) string {
	if strings.IndexByte(s, '@') < 0 {
		return s
	}
	words := strings.Fields(s)
	out := make([]string, 0, len(words))
	for _, wd := range words {
		at := strings.IndexByte(wd, '@')
		if at <= 0 || at == len(wd)-1 {
			out = append(out, wd)
			continue
		}
		if strings.HasPrefix(wd, "<") {
			out = dropName(out)
		}
		out = append(out, "[address]")
	}
	return strings.Join(out, " ")
}

// dropName removes the display name at the end of words: a quoted one, or
// the words since the last that ends a clause.
func dropName(words []string) []string {
	n := len(words)
	if n > 0 && strings.HasSuffix(words[n-1], `"`) {
		for i := n - 1; i >= 0; i-- {
			if strings.HasPrefix(words[i], `"`) && (i < n-1 || len(words[i]) > 1) {
				return words[:i]
			}
		}
		return words[:n]
	}
	i := n
	for i > 0 && n-i < 4 {
		w := words[i-1]
		if w == "[address]" || strings.HasSuffix(w, ":") || strings.HasSuffix(w, ",") || strings.HasSuffix(w, ";") || strings.ContainsAny(w, "0123456789") {
			break
		}
		i--
	}
	return words[:i]
}
