// Package sesv2test is an Amazon SES v2 API endpoint for tests (REST-JSON
// over HTTP, as the AWS SDKs speak it): SendEmail (POST
// /v2/email/outbound-emails) and GetAccount (GET /v2/email/account).
//
// What it checks:
//   - every request is SigV4-signed for service ses (the SDK's signing name
//     for SES v2 too): the signing region is read from the Authorization
//     header's credential scope; the signature itself is not verified. An
//     unsigned request is refused, 403 MissingAuthenticationTokenException;
//   - SendEmail's body is JSON with exactly one of Content.Simple,
//     Content.Template and Content.Raw (raw data in base64), a Simple
//     message has a subject and a body, a template a name or an ARN;
//     else 400 BadRequestException;
//   - a send whose identity ARN names another region than the one it was
//     signed for is answered as SES answers an identity it does not know
//     there, MessageRejected, and counted in RegionMismatches.
//
// It records every request with its signing region, its decoded input and,
// for raw content, the message and the first instance of each X-SES-*-ARN
// header, and answers per identity ARN with the faults a test scripts (Fail,
// FailAlways, FailEvery, RefuseRecipient, Latency, RateLimit, DailyQuota),
// worded as SES v2 words them: the error type in the x-amzn-ErrorType
// header (or, as Wire says, the body's __type or code), the text in the
// body's message, the HTTP status of the SES v2 API model.
//
// It imports nothing of sesq's and no AWS SDK: what it reads is the wire.
package sesv2test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/sesq/sesq/internal/testsupport/faultscript"
)

// Wire is where an error answer carries its type. The SDK reads the
// x-amzn-ErrorType header first, then the body's __type, then its code.
type Wire int

// Wires of an error answer.
const (
	// TypeHeader: x-amzn-ErrorType: <Code>:http://internal.amazon.com/…
	// and a body of {"message": …}, as SES v2 answers.
	TypeHeader Wire = iota
	// TypeBody: no header; {"__type": "com.amazonaws.sesv2#<Code>", …}.
	TypeBody
	// CodeBody: no header; {"code": "<Code>", …}.
	CodeBody
)

// Fault is an SES v2 error answer.
type Fault struct {
	Status  int    // the HTTP status
	Code    string // the error type ("MessageRejected", "TooManyRequestsException")
	Message string
	Wire    Wire
}

// Faults SES v2 answers sends with: the type and status of the SES v2 API
// model (the SDK's schemas), the words of SES where they are known.
var (
	// AccessDenied: the identity owner's sending-authorization policy does
	// not cover the caller.
	AccessDenied = Fault{Status: 403, Code: "AccessDeniedException",
		Message: "User `arn:aws:iam::111122223333:role/sesq' is not authorized to perform `ses:SendEmail' on resource `arn:aws:ses:us-east-1:123456789012:identity/example.com'"}
	// ThrottleRate: SES v2 answers the maximum sending rate with 429
	// TooManyRequestsException {"message":"Maximum sending rate exceeded."}.
	ThrottleRate = Fault{Status: 429, Code: "TooManyRequestsException", Message: "Maximum sending rate exceeded."}
	// ThrottleDaily: the daily quota. SES words it "Daily message quota
	// exceeded." on every interface; that v2 gives it the type of the rate
	// throttle is an assumption (the message, not the type, tells the two
	// apart).
	ThrottleDaily = Fault{Status: 429, Code: "TooManyRequestsException", Message: "Daily message quota exceeded."}
	// MessageRejected: the message refused, here for an unverified address.
	MessageRejected = Fault{Status: 400, Code: "MessageRejected",
		Message: "Email address is not verified. The following identities failed the check in region US-EAST-1: sender@example.com"}
	// SendingPaused: sending paused for the account (or the configuration set).
	SendingPaused = Fault{Status: 400, Code: "SendingPausedException",
		Message: "The message can't be sent because the account's ability to send email is currently paused."}
	// AccountSuspended: the account's sending permanently restricted.
	AccountSuspended = Fault{Status: 400, Code: "AccountSuspendedException",
		Message: "The message can't be sent because the account's ability to send email has been permanently restricted."}
	// MailFromDomainNotVerified: the identity's custom MAIL FROM domain is
	// not verified.
	MailFromDomainNotVerified = Fault{Status: 400, Code: "MailFromDomainNotVerifiedException",
		Message: "The message can't be sent because the sending domain isn't verified."}
	// NotFound: a resource the send names (template, configuration set,
	// tenant, identity) does not exist.
	NotFound = Fault{Status: 404, Code: "NotFoundException", Message: "Template MyTemplate does not exist."}
	// LimitExceeded: SES v2's LimitExceededException.
	LimitExceeded = Fault{Status: 400, Code: "LimitExceededException", Message: "There are too many instances of the specified resource type."}
	// BadRequest: the input is invalid.
	BadRequest = Fault{Status: 400, Code: "BadRequestException", Message: "Illegal address"}
	// InternalError: SES v2 failed.
	InternalError = Fault{Status: 500, Code: "InternalServiceErrorException",
		Message: "The request couldn't be processed because an error occurred with the Amazon SES API v2."}
	// ServiceUnavailable: a 503 of the AWS front end, a type SES v2's model
	// does not have.
	ServiceUnavailable = Fault{Status: 503, Code: "ServiceUnavailable", Message: "Service is unavailable. Please try again later."}
	// BadCredentials: the caller's access key is not known (REST-JSON
	// services word it so; Query services say InvalidClientTokenId).
	BadCredentials = Fault{Status: 403, Code: "UnrecognizedClientException", Message: "The security token included in the request is invalid."}
	// Unsigned is the answer to a request without a SigV4 Authorization.
	Unsigned = Fault{Status: 403, Code: "MissingAuthenticationTokenException", Message: "Missing Authentication Token"}
)

// Operations the endpoint serves.
const (
	OpSendEmail  = "SendEmail"
	OpGetAccount = "GetAccount"
)

// SendEmailInput is SendEmail's request body as SES v2 decodes it (the
// members sesq sends).
type SendEmailInput struct {
	FromEmailAddress                          string
	FromEmailAddressIdentityArn               string
	FeedbackForwardingEmailAddress            string
	FeedbackForwardingEmailAddressIdentityArn string
	Destination                               *Destination
	ReplyToAddresses                          []string
	Content                                   *Content
	EmailTags                                 []Tag
	ConfigurationSetName                      string
	TenantName                                string
	EndpointId                                string
}

// Destination is SendEmail's recipients.
type Destination struct {
	ToAddresses, CcAddresses, BccAddresses []string
}

// Content holds exactly one of Simple, Template and Raw.
type Content struct {
	Simple   *Simple
	Template *Template
	Raw      *Raw
}

// Simple is a message SES builds from a subject and a body.
type Simple struct {
	Subject *Text
	Body    *Body
}

// Body is a Simple message's text part, HTML part or both.
type Body struct {
	Text, Html *Text
}

// Text is content with its charset.
type Text struct {
	Data, Charset string
}

// Template names a stored template and its data.
type Template struct {
	TemplateName, TemplateArn, TemplateData string
}

// Raw is a whole MIME message; on the wire, base64.
type Raw struct {
	Data []byte
}

// Tag is a message tag.
type Tag struct {
	Name, Value string
}

// XSES is the first instance of each X-SES-*-ARN header of a raw message.
type XSES struct {
	SourceArn, FromArn, ReturnPathArn string
}

// Request is one request the server answered.
type Request struct {
	Operation string // OpSendEmail or OpGetAccount
	Region    string // signing region, from the Authorization header
	Input     SendEmailInput
	// Raw is the decoded raw message; nil unless Content.Raw.
	Raw []byte
	// Headers are the raw message's first X-SES-*-ARN headers.
	Headers   XSES
	Identity  string // the identity ARN the send is for ("" if none)
	MessageID string // set when the send was accepted
	Fault     Fault  // the answer when it was not
	At        time.Time
}

// ARNs returns the source, From and Return-Path identity ARNs as SES v2
// reads them: FromEmailAddressIdentityArn stands for source and From alike
// (for raw content it overrides the X-SES-SOURCE-ARN and X-SES-FROM-ARN
// headers, says the API reference), FeedbackForwardingEmailAddressIdentityArn
// for the Return-Path (taken here to override X-SES-RETURN-PATH-ARN the
// same way); else, for raw content, the first X-SES-*-ARN headers. No
// default is applied: what is given neither way is "".
func (r Request) ARNs() (source, from, returnPath string) {
	pick := func(param, header string) string {
		if param != "" {
			return param
		}
		return header
	}
	in := r.Input
	return pick(in.FromEmailAddressIdentityArn, r.Headers.SourceArn),
		pick(in.FromEmailAddressIdentityArn, r.Headers.FromArn),
		pick(in.FeedbackForwardingEmailAddressIdentityArn, r.Headers.ReturnPathArn)
}

// Recipients returns the Destination's addresses (To, Cc and Bcc), as sent.
// A raw send without Destination goes to its headers' recipients, which
// this does not read.
func (r Request) Recipients() []string {
	d := r.Input.Destination
	if d == nil {
		return nil
	}
	var out []string
	out = append(out, d.ToAddresses...)
	out = append(out, d.CcAddresses...)
	return append(out, d.BccAddresses...)
}

type regionState struct {
	tokens float64 // of the rate bucket, when RateLimit is set
	last   time.Time
	sent   float64 // recipients accepted, for the daily quota
}

// Server is the test endpoint. Its zero value is not usable; call Start.
type Server struct {
	URL string
	srv *http.Server

	mu         sync.Mutex
	rate       float64 // GetAccount's MaxSendRate; enforced when limit
	limit      bool
	daily      float64 // Max24HourSend; enforced when dailyLimit
	dailyLimit bool
	paused     bool
	sandbox    bool
	regions    map[string]*regionState
	requests   []Request
	nextID     int
	mismatch   int

	// Fail, FailAlways, FailEvery, Recover, RefuseRecipient and Latency
	// script the answers.
	faultscript.Script[Fault]
}

// Start listens on a free loopback port.
func Start() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://" + ln.Addr().String(), rate: 10000, daily: 5000000,
		regions: map[string]*regionState{}}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// RateLimit makes the account's send rate per region rate messages per
// second, with one second's burst: sends over it are answered ThrottleRate,
// and GetAccount tells rate as SendQuota.MaxSendRate.
func (s *Server) RateLimit(rate float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rate, s.limit = rate, true
}

// DailyQuota makes the account's 24-hour quota per region max recipients
// (SES counts recipients, not messages; a send without Destination counts
// one): once they are used up, sends are answered ThrottleDaily. GetAccount
// tells max as SendQuota.Max24HourSend and the region's count as
// SentLast24Hours. Nothing ever leaves the window.
func (s *Server) DailyQuota(max float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.daily, s.dailyLimit = max, true
}

// PauseSending sets the account's SendingEnabled to !paused; while paused,
// every send is answered SendingPaused.
func (s *Server) PauseSending(paused bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paused = paused
}

// Sandbox sets the account's ProductionAccessEnabled to !sandbox (reported
// by GetAccount; sends are not affected).
func (s *Server) Sandbox(sandbox bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sandbox = sandbox
}

// Requests returns every request so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Sent returns the accepted sends.
func (s *Server) Sent() []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.MessageID != "" {
			out = append(out, r)
		}
	}
	return out
}

// Throttled counts the sends refused for the rate.
func (s *Server) Throttled() int {
	n := 0
	for _, r := range s.Requests() {
		if r.Fault == ThrottleRate {
			n++
		}
	}
	return n
}

// RegionMismatches counts sends signed for another region than one of
// their identity ARNs'.
func (s *Server) RegionMismatches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mismatch
}

var credentialScope = regexp.MustCompile(`Credential=[^/,\s]+/\d{8}/([^/,\s]+)/ses/aws4_request`)

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		writeFault(w, Unsigned)
		return
	}
	req := Request{Region: m[1], At: time.Now()}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v2/email/account":
		req.Operation = OpGetAccount
		s.getAccount(w, req)
	case r.Method == http.MethodPost && r.URL.Path == "/v2/email/outbound-emails":
		req.Operation = OpSendEmail
		s.sendEmail(w, r, req)
	default:
		writeFault(w, Fault{Status: 404, Code: "UnknownOperationException", Message: "sesv2test serves SendEmail and GetAccount only"})
	}
}

func (s *Server) getAccount(w http.ResponseWriter, req Request) {
	s.mu.Lock()
	s.requests = append(s.requests, req)
	sent := 0.0
	if rs := s.regions[req.Region]; rs != nil {
		sent = rs.sent
	}
	out := map[string]any{
		"DedicatedIpAutoWarmupEnabled": false,
		"EnforcementStatus":            "HEALTHY",
		"ProductionAccessEnabled":      !s.sandbox,
		"SendingEnabled":               !s.paused,
		"SendQuota":                    map[string]float64{"Max24HourSend": s.daily, "MaxSendRate": s.rate, "SentLast24Hours": sent},
	}
	s.mu.Unlock()
	writeJSON(w, out)
}

func (s *Server) sendEmail(w http.ResponseWriter, r *http.Request, req Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if err := json.Unmarshal(body, &req.Input); err != nil {
		writeFault(w, Fault{Status: 400, Code: "BadRequestException", Message: "The request body is not valid JSON: " + err.Error()})
		return
	}
	if msg := checkContent(req.Input.Content); msg != "" {
		writeFault(w, Fault{Status: 400, Code: "BadRequestException", Message: msg})
		return
	}
	if raw := req.Input.Content.Raw; raw != nil {
		req.Raw = raw.Data
		h := faultscript.FirstHeaders(raw.Data)
		req.Headers = XSES{SourceArn: h["x-ses-source-arn"], FromArn: h["x-ses-from-arn"], ReturnPathArn: h["x-ses-return-path-arn"]}
	}
	src, from, rp := req.ARNs()
	for _, a := range []string{src, from, rp} {
		if req.Identity == "" {
			req.Identity = a
		}
	}

	fault, latency := s.Next(req.Identity, req.Recipients())
	s.mu.Lock()
	for _, a := range []string{src, from, rp} {
		if p := strings.Split(a, ":"); a != "" && (len(p) < 6 || p[3] != req.Region) {
			s.mismatch++
			fault = &Fault{Status: 400, Code: "MessageRejected",
				Message: fmt.Sprintf("Email address is not verified. The identity %s is not verified in region %s.", a, strings.ToUpper(req.Region))}
			break
		}
	}
	if fault == nil && s.paused {
		fault = &SendingPaused
	}
	rs, ok := s.regions[req.Region]
	if !ok {
		rs = &regionState{tokens: s.rate, last: req.At}
		s.regions[req.Region] = rs
	}
	count := float64(max(1, len(req.Recipients())))
	if fault == nil && s.dailyLimit && rs.sent+count > s.daily {
		fault = &ThrottleDaily
	}
	if fault == nil && s.limit {
		rs.tokens = min(s.rate, rs.tokens+req.At.Sub(rs.last).Seconds()*s.rate)
		rs.last = req.At
		if rs.tokens >= 1 {
			rs.tokens--
		} else {
			fault = &ThrottleRate
		}
	}
	if fault == nil {
		s.nextID++
		rs.sent += count
		req.MessageID = fmt.Sprintf("0100sesv2test-%06d-%s", s.nextID, req.Region)
	} else {
		req.Fault = *fault
	}
	s.requests = append(s.requests, req)
	s.mu.Unlock()

	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	if fault != nil {
		writeFault(w, *fault)
		return
	}
	writeJSON(w, map[string]string{"MessageId": req.MessageID})
}

// checkContent returns what is wrong with a SendEmail's content, or "".
func checkContent(c *Content) string {
	if c == nil {
		return "Content is required."
	}
	n := 0
	for _, set := range []bool{c.Simple != nil, c.Template != nil, c.Raw != nil} {
		if set {
			n++
		}
	}
	switch {
	case n != 1:
		return "Content must hold exactly one of Simple, Template and Raw."
	case c.Simple != nil && (c.Simple.Subject == nil || c.Simple.Body == nil || c.Simple.Body.Text == nil && c.Simple.Body.Html == nil):
		return "A Simple message needs a Subject and a Body with Text or Html."
	case c.Template != nil && c.Template.TemplateName == "" && c.Template.TemplateArn == "":
		return "A Template needs a TemplateName or a TemplateArn."
	case c.Raw != nil && len(c.Raw.Data) == 0:
		return "Raw content needs Data."
	}
	return ""
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-amzn-RequestId", "sesv2test")
	json.NewEncoder(w).Encode(v)
}

func writeFault(w http.ResponseWriter, f Fault) {
	body := map[string]string{"message": f.Message}
	switch f.Wire {
	case TypeBody:
		body["__type"] = "com.amazonaws.sesv2#" + f.Code
	case CodeBody:
		body["code"] = f.Code
	default:
		w.Header().Set("x-amzn-ErrorType", f.Code+":http://internal.amazon.com/coral/com.amazonaws.sesv2/")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-amzn-RequestId", "sesv2test-error")
	w.WriteHeader(f.Status)
	json.NewEncoder(w).Encode(body)
}
