// Package sestest is an Amazon SES v1 endpoint for tests (Query protocol over
// HTTP, as the AWS SDKs speak it). It records every request with its action,
// parameters and signing region (from the SigV4 credential scope), and
// answers per identity ARN with the faults a test scripts: AccessDenied,
// throttling (rate and daily quota), MessageRejected, 5xx, and latency.
//
// A send signed for a region other than its identity ARN's is answered as SES
// would, with MessageRejected (the identity is not verified there), and
// counted in RegionMismatches.
package sestest

import (
	"encoding/base64"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/sesq/sesq/internal/testsupport/faultscript"
)

// Fault is an SES error answer.
type Fault struct {
	Status  int
	Type    string // Sender or Receiver
	Code    string
	Message string
}

// Faults SES answers sends with, as it words them.
var (
	AccessDenied = Fault{403, "Sender", "AccessDenied",
		"User `arn:aws:iam::111122223333:role/sesq' is not authorized to perform `ses:SendEmail' on resource `arn:aws:ses:us-east-1:123456789012:identity/example.com'"}
	ThrottleRate       = Fault{400, "Sender", "Throttling", "Maximum sending rate exceeded."}
	ThrottleDaily      = Fault{400, "Sender", "Throttling", "Daily message quota exceeded."}
	MessageRejected    = Fault{400, "Sender", "MessageRejected", "Email address is not verified. The following identities failed the check in region US-EAST-1: sender@example.com"}
	AccountPaused      = Fault{400, "Sender", "AccountSendingPausedException", "Sending paused for this account."}
	TemplateMissing    = Fault{400, "Sender", "TemplateDoesNotExist", "Template MyTemplate does not exist."}
	ServiceUnavailable = Fault{503, "Receiver", "ServiceUnavailable", "Service is unavailable. Please try again later."}
	InternalFailure    = Fault{500, "Receiver", "InternalFailure", "An internal error occurred."}
	BadCredentials     = Fault{403, "Sender", "InvalidClientTokenId", "The security token included in the request is invalid."}
)

// Request is one request the server answered.
type Request struct {
	Action    string
	Region    string     // signing region, from the Authorization header
	Params    url.Values // the form, as sent
	Identity  string     // the identity ARN it sends for ("" if none)
	Raw       []byte     // SendRawEmail: the decoded message
	MessageID string     // set when the send was accepted
	Fault     string     // the error code when it was not
	At        time.Time
}

// ARNs returns the request's SourceArn, FromArn and ReturnPathArn, from the
// parameters or, for SendRawEmail, the first X-SES-*-ARN headers.
func (r Request) ARNs() (source, from, returnPath string) {
	h := faultscript.FirstHeaders(r.Raw)
	pick := func(param, header string) string {
		if v := r.Params.Get(param); v != "" {
			return v
		}
		return h[header]
	}
	return pick("SourceArn", "x-ses-source-arn"), pick("FromArn", "x-ses-from-arn"), pick("ReturnPathArn", "x-ses-return-path-arn")
}

// Server is the test endpoint. Its zero value is not usable; call Start.
type Server struct {
	URL string
	srv *http.Server

	mu       sync.Mutex
	quota    float64            // GetSendQuota's MaxSendRate
	buckets  map[string]*bucket // per region, when RateLimit is set
	rate     float64
	requests []Request
	nextID   int
	mismatch int

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
	s := &Server{URL: "http://" + ln.Addr().String(), quota: 10000, buckets: map[string]*bucket{}}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Recipients returns the request's destination addresses (To, Cc, Bcc or
// Destinations), as sent.
func (r Request) Recipients() []string {
	var out []string
	for k, vs := range r.Params {
		if strings.Contains(k, "Addresses.member.") || strings.HasPrefix(k, "Destinations.member.") {
			out = append(out, vs...)
		}
	}
	return out
}

// RateLimit makes the account's send rate per region rate messages per
// second, with one second's burst: sends over it are answered Throttling
// "Maximum sending rate exceeded.", and GetSendQuota tells rate.
func (s *Server) RateLimit(rate float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rate, s.quota = rate, rate
}

// Throttled counts the sends refused for the rate.
func (s *Server) Throttled() int {
	n := 0
	for _, r := range s.Requests() {
		if r.Fault == "Throttling" {
			n++
		}
	}
	return n
}

type bucket struct {
	tokens float64
	last   time.Time
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

// RegionMismatches counts sends signed for another region than their
// identity ARN's.
func (s *Server) RegionMismatches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mismatch
}

var credentialScope = regexp.MustCompile(`Credential=[^/,\s]+/\d{8}/([^/,\s]+)/ses/aws4_request`)

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil || r.Method != http.MethodPost {
		writeFault(w, Fault{403, "Sender", "IncompleteSignature", "Request must be a SigV4-signed POST for service ses."}, "")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeFault(w, Fault{400, "Sender", "MalformedQueryString", "Cannot parse the form."}, "")
		return
	}
	req := Request{Action: r.PostForm.Get("Action"), Region: m[1], Params: r.PostForm, At: time.Now()}
	switch req.Action {
	case "GetSendQuota":
		s.mu.Lock()
		q := s.quota
		s.mu.Unlock()
		writeXML(w, req.Action, fmt.Sprintf("<Max24HourSend>5000000.0</Max24HourSend><MaxSendRate>%g</MaxSendRate><SentLast24Hours>0.0</SentLast24Hours>", q), "quota")
		return
	case "SendEmail", "SendTemplatedEmail", "SendRawEmail":
	default:
		writeFault(w, Fault{400, "Sender", "InvalidAction", "sestest does not implement " + req.Action}, "")
		return
	}
	if d := r.PostForm.Get("RawMessage.Data"); d != "" {
		raw, err := base64.StdEncoding.DecodeString(d)
		if err != nil {
			writeFault(w, Fault{400, "Sender", "InvalidParameterValue", "RawMessage.Data is not base64."}, "")
			return
		}
		req.Raw = raw
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
			fault = &Fault{400, "Sender", "MessageRejected", fmt.Sprintf("Email address is not verified. The identity %s is not verified in region %s.", a, strings.ToUpper(req.Region))}
			break
		}
	}
	if fault == nil && s.rate > 0 {
		b, ok := s.buckets[req.Region]
		if !ok {
			b = &bucket{tokens: s.rate, last: req.At}
			s.buckets[req.Region] = b
		}
		b.tokens = min(s.rate, b.tokens+req.At.Sub(b.last).Seconds()*s.rate)
		b.last = req.At
		if b.tokens >= 1 {
			b.tokens--
		} else {
			fault = &ThrottleRate
		}
	}
	if fault == nil {
		s.nextID++
		req.MessageID = fmt.Sprintf("0100sestest-%06d-%s", s.nextID, req.Region)
	} else {
		req.Fault = fault.Code
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
		writeFault(w, *fault, req.Action)
		return
	}
	writeXML(w, req.Action, "<MessageId>"+req.MessageID+"</MessageId>", req.MessageID)
}

func writeXML(w http.ResponseWriter, action, result, requestID string) {
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", requestID)
	fmt.Fprintf(w, `<%sResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/"><%sResult>%s</%sResult><ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>`,
		action, action, result, action, requestID, action)
}

func writeFault(w http.ResponseWriter, f Fault, action string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(f.Status)
	msg := f.Message
	if action != "" {
		msg = strings.Replace(msg, "ses:SendEmail", "ses:"+action, 1)
	}
	fmt.Fprintf(w, `<ErrorResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>sestest-error</RequestId></ErrorResponse>`,
		f.Type, f.Code, html.EscapeString(msg))
}
