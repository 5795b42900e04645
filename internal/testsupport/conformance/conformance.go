// Package conformance is the suite every transport runs (as Watermill's
// pubsub/tests and go-cloud's drivertest): the SES guide's sending-
// authorization rules (the identity's region, the ARN parameters or
// X-SES-*-ARN headers, the first instance of a header, a DKIM signature
// left intact), every outcome class a send can end in, per-message
// refusals kept apart from the region's health, and no address in an
// error. A transport's test gives a Harness: its test endpoint and the
// transport pointed at it.
package conformance

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sesq/sesq/envelope"
	"github.com/sesq/sesq/transport"
)

// Delivery is one send the test endpoint accepted, as SES would read it.
type Delivery struct {
	// Region is the region the send reached: the signing region of an
	// API call, the region whose credentials an SMTP session used.
	Region string
	// The identity ARNs SES applies: a parameter, else the first X-SES
	// header of the message; for the API, From and Return-Path default to
	// SourceArn (SES's rule); SMTP has no default: what is not written is
	// absent.
	SourceArn, FromArn, ReturnPathArn string
	TenantName                        string
	// Message is the MIME message SES received (a raw API send's message,
	// SMTP's DATA), nil when SES builds it (SendEmail over the API).
	Message []byte
	// Recipients are the envelope recipients (SMTP RCPT TO, the API's
	// destinations), when the endpoint sees them.
	Recipients []string
}

// Fault is a refusal the test endpoint can be told to answer with.
type Fault int

// Faults, each as the endpoint's SES words it.
const (
	AccessDenied     Fault = iota + 1 // the identity's policy does not authorize sesq
	ThrottleRate                      // maximum sending rate exceeded
	DailyQuota                        // daily message quota exceeded
	SendingPaused                     // sending paused for the account
	MessageRejected                   // the message refused (an unverified address)
	ServerError                       // a 5xx: SES failed
	BadCredentials                    // sesq's own credentials refused in the region
	RecipientRefused                  // RefusedRecipient refused, the other recipients fine
)

var faultNames = map[Fault]string{
	AccessDenied: "AccessDenied", ThrottleRate: "ThrottleRate", DailyQuota: "DailyQuota", SendingPaused: "SendingPaused",
	MessageRejected: "MessageRejected", ServerError: "ServerError", BadCredentials: "BadCredentials", RecipientRefused: "RecipientRefused",
}

func (f Fault) String() string { return faultNames[f] }

// RefusedRecipient is the address the endpoint refuses for RecipientRefused.
const RefusedRecipient = "refused@example.net"

// Server is a transport's test endpoint as the suite drives it.
type Server interface {
	// Deliveries lists the accepted sends, in order.
	Deliveries() []Delivery
	// Fail answers every send for identity (an ARN) with f until Recover;
	// for RecipientRefused, every send to RefusedRecipient. It returns
	// false when the endpoint cannot give f (the suite then skips it).
	Fail(identity string, f Fault) bool
	// Recover ends identity's faults.
	Recover(identity string)
}

// Harness is what a transport's test gives the suite.
type Harness struct {
	// New starts a test endpoint and returns it with a transport pointed at
	// it; both are closed when the test ends.
	New func(t *testing.T) (transport.Transport, Server)
	// Unreachable returns the transport pointed at an endpoint that
	// refuses connections.
	Unreachable func(t *testing.T) transport.Transport
	// Templates and Tenants say whether the transport carries
	// SendTemplatedEmail and tenantName (else its Validate must refuse them).
	Templates, Tenants bool
	// MaxMessage is the largest message (bytes) the transport takes; Validate
	// refuses one byte more, naming the size.
	MaxMessage int
	// HeadersOnly: the ARNs travel only as X-SES headers (SMTP), and the
	// guide says all three must be written: an envelope without a source
	// ARN is sent with the From identity's, else the Return-Path
	// identity's, where the API would send none.
	HeadersOnly bool
}

// Identities the suite sends for: one owner, two regions.
const (
	East  = "arn:aws:ses:us-east-1:123456789012:identity/example.com"
	East2 = "arn:aws:ses:us-east-1:123456789012:identity/sender@example.com"
	West  = "arn:aws:ses:eu-west-1:123456789012:identity/example.org"
)

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	t.Run("Seeds", func(t *testing.T) { seeds(t, h) })
	t.Run("Validate", func(t *testing.T) { validate(t, h) })
	t.Run("ValidateSize", func(t *testing.T) { validateSize(t, h) })
	t.Run("Outcomes", func(t *testing.T) { outcomes(t, h) })
	t.Run("PerMessageRefusalLeavesRegionWorking", func(t *testing.T) { perMessage(t, h) })
	t.Run("Unreachable", func(t *testing.T) { unreachable(t, h) })
	t.Run("Cancelled", func(t *testing.T) { cancelled(t, h) })
	t.Run("Quota", func(t *testing.T) { quota(t, h) })
}

// Envelope parses an envelope written as a Go value (JSON-encoded first,
// as a producer would), failing the test when it is not valid.
func Envelope(t *testing.T, v map[string]any) *envelope.Envelope {
	t.Helper()
	if _, ok := v["version"]; !ok {
		v["version"] = 1
	}
	body, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	e, err := envelope.Parse(body)
	if err != nil {
		t.Fatalf("envelope: %v", err)
	}
	return e
}

func simple(arns map[string]any) map[string]any {
	v := map[string]any{
		"action": "SendEmail", "source": "sender@example.com",
		"destination": map[string]any{"to": []string{"recipient@example.com"}},
		"message": map[string]any{
			"subject": map[string]any{"data": "Amazon SES Test", "charset": "UTF-8"},
			"body":    map[string]any{"html": map[string]any{"data": "This email was sent with Amazon SES.", "charset": "UTF-8"}},
		},
	}
	for k, a := range arns {
		v[k] = a
	}
	return v
}

func raw(msg string, params map[string]any) map[string]any {
	v := map[string]any{"action": "SendRawEmail", "raw": base64.StdEncoding.EncodeToString([]byte(msg))}
	for k, a := range params {
		v[k] = a
	}
	return v
}

// guideRaw is the SES guide's raw example, with its X-SES headers in front.
func guideRaw(arn string) string {
	return "X-SES-SOURCE-ARN: " + arn + "\r\nX-SES-FROM-ARN: " + arn + "\r\nX-SES-RETURN-PATH-ARN: " + arn + "\r\n" + plainRaw
}

const plainRaw = "From: sender@example.com\r\nTo: recipient@example.com\r\nReturn-Path: feedback@example.com\r\nSubject: subject\r\n" +
	"Content-Type: multipart/alternative; boundary=\"----=_boundary\"\r\n\r\n------=_boundary\r\nContent-Type: text/plain; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: 7bit\r\n\r\nbody\r\n------=_boundary\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\nbody\r\n------=_boundary--\r\n"

const dkimRaw = "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=s1;\r\n h=from:to:subject; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=dGVzdA==\r\n" +
	"From: sender@example.com\r\nTo: recipient@example.com\r\nSubject: signed\r\n\r\nsigned body\r\n"

func seeds(t *testing.T, h Harness) {
	tr, srv := h.New(t)
	cases := []struct {
		name                       string
		env                        map[string]any
		region, source, from, path string
		message                    string     // the message SES must receive at its end, byte for byte
		headersOnly                *[3]string // source, From, Return-Path when HeadersOnly, if they differ
	}{
		{name: "SendEmail sourceArn and returnPathArn (the guide's Python example)",
			env:    simple(map[string]any{"sourceArn": East, "returnPathArn": East, "returnPath": "feedback@example.com"}),
			region: "us-east-1", source: East, from: East, path: East},
		{name: "SendEmail sourceArn only: From and Return-Path are the source identity's",
			env:    simple(map[string]any{"sourceArn": West}),
			region: "eu-west-1", source: West, from: West, path: West},
		{name: "SendEmail returnPathArn only",
			env:    simple(map[string]any{"returnPathArn": East2}),
			region: "us-east-1", path: East2, headersOnly: &[3]string{East2, East2, East2}},
		{name: "SendRawEmail with the three ARN parameters",
			env:    raw(plainRaw, map[string]any{"sourceArn": West, "fromArn": West, "returnPathArn": West}),
			region: "eu-west-1", source: West, from: West, path: West, message: plainRaw},
		{name: "SendRawEmail sourceArn only: From and Return-Path are the source identity's",
			env:    raw(plainRaw, map[string]any{"sourceArn": East}),
			region: "us-east-1", source: East, from: East, path: East, message: plainRaw},
		{name: "SendRawEmail with the guide's X-SES headers",
			env:    raw(guideRaw(East), nil),
			region: "us-east-1", source: East, from: East, path: East, message: guideRaw(East)},
		{name: "SendRawEmail: only the first instance of an X-SES header counts",
			env:    raw("X-SES-SOURCE-ARN: "+West+"\r\nX-SES-SOURCE-ARN: arn:aws:ses:eu-west-1:123456789012:identity/other.example\r\n"+plainRaw, nil),
			region: "eu-west-1", source: West, from: West, path: West},
		{name: "SendRawEmail: fromArn parameter with a returnPath header",
			env:    raw("X-SES-RETURN-PATH-ARN: "+East2+"\r\n"+plainRaw, map[string]any{"fromArn": East}),
			region: "us-east-1", from: East, path: East2, headersOnly: &[3]string{East, East, East2}},
		{name: "SendRawEmail: a From identity other than the source identity",
			env:    raw(plainRaw, map[string]any{"sourceArn": East, "fromArn": East2}),
			region: "us-east-1", source: East, from: East2, path: East},
		{name: "SendRawEmail: a DKIM signature over From, To and Subject arrives intact",
			env:    raw(dkimRaw, map[string]any{"sourceArn": East}),
			region: "us-east-1", source: East, from: East, path: East, message: dkimRaw},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := Envelope(t, c.env)
			before := len(srv.Deliveries())
			if err := tr.Validate(e); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if _, err := tr.Send(context.Background(), e); err != nil {
				t.Fatalf("Send: %v", err)
			}
			ds := srv.Deliveries()
			if len(ds) != before+1 {
				t.Fatalf("%d deliveries, want %d", len(ds), before+1)
			}
			d := ds[len(ds)-1]
			if d.Region != c.region {
				t.Errorf("sent in %q, want %q (the identity's region)", d.Region, c.region)
			}
			if h.HeadersOnly && c.headersOnly != nil {
				c.source, c.from, c.path = c.headersOnly[0], c.headersOnly[1], c.headersOnly[2]
			}
			if d.SourceArn != c.source || d.FromArn != c.from || d.ReturnPathArn != c.path {
				t.Errorf("ARNs as SES reads them:\n source %q\n from %q\n return-path %q\nwant\n source %q\n from %q\n return-path %q",
					d.SourceArn, d.FromArn, d.ReturnPathArn, c.source, c.from, c.path)
			}
			if c.message != "" && d.Message != nil && !strings.HasSuffix(string(d.Message), c.message) {
				t.Errorf("the raw message was changed on the way:\n%q\nwant it to end with\n%q", d.Message, c.message)
			}
		})
	}
}

func validate(t *testing.T, h Harness) {
	tr, srv := h.New(t)
	templated := Envelope(t, map[string]any{"action": "SendTemplatedEmail", "source": "sender@example.com", "sourceArn": East,
		"destination": map[string]any{"to": []string{"recipient@example.com"}}, "template": "MyTemplate", "templateData": "{}"})
	tenant := simple(map[string]any{"sourceArn": East})
	tenant["tenantName"] = "customer-42"
	for _, c := range []struct {
		name    string
		e       *envelope.Envelope
		carries bool
		check   func(Delivery) bool
	}{
		{"SendTemplatedEmail", templated, h.Templates, func(Delivery) bool { return true }},
		{"tenantName", Envelope(t, tenant), h.Tenants, func(d Delivery) bool { return d.TenantName == "customer-42" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := tr.Validate(c.e)
			if !c.carries {
				var ve *envelope.Error
				if !errors.As(err, &ve) {
					t.Fatalf("Validate = %v, want an *envelope.Error: this transport cannot carry %s", err, c.name)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if _, err := tr.Send(context.Background(), c.e); err != nil {
				t.Fatalf("Send: %v", err)
			}
			ds := srv.Deliveries()
			if len(ds) == 0 || !c.check(ds[len(ds)-1]) {
				t.Errorf("not carried: %+v", ds)
			}
		})
	}
}

// validateSize: a raw message of the transport's largest size passes
// Validate, one byte more is refused with the size in the reason.
func validateSize(t *testing.T, h Harness) {
	if h.MaxMessage <= 0 {
		t.Fatal("the harness gives no MaxMessage")
	}
	tr, _ := h.New(t)
	for _, n := range []int{h.MaxMessage, h.MaxMessage + 1} {
		e := Envelope(t, raw(plainRaw, map[string]any{"sourceArn": East, "fromArn": East, "returnPathArn": East}))
		head := e.Raw
		e.Raw = append(append(make([]byte, 0, n), head...), bytes.Repeat([]byte("x"), n-len(head))...)
		err := tr.Validate(e)
		if n == h.MaxMessage && err != nil {
			t.Errorf("%d bytes: %v", n, err)
		}
		var ve *envelope.Error
		if n > h.MaxMessage && (!errors.As(err, &ve) || !strings.Contains(err.Error(), strconv.Itoa(n))) {
			t.Errorf("%d bytes: Validate = %v, want an *envelope.Error naming the size", n, err)
		}
	}
}

// addresses the outcome envelopes carry; none may appear in an error.
var addresses = []string{"sender@example.com", "recipient@example.com", RefusedRecipient, "example.com>", "Named Person"}

func outcomes(t *testing.T, h Harness) {
	for _, c := range []struct {
		fault      Fault
		class      transport.Class
		perMessage bool
	}{
		{AccessDenied, transport.Authorization, false},
		{ThrottleRate, transport.Throttled, false},
		{DailyQuota, transport.Quota, false},
		{SendingPaused, transport.Quota, false},
		{MessageRejected, transport.Rejected, true},
		{ServerError, transport.Retry, false},
		{BadCredentials, transport.Unavailable, false},
		{RecipientRefused, transport.Rejected, true},
	} {
		t.Run(c.fault.String(), func(t *testing.T) {
			tr, srv := h.New(t)
			if !srv.Fail(East, c.fault) {
				t.Skipf("the endpoint cannot answer %s", c.fault)
			}
			env := simple(map[string]any{"sourceArn": East})
			env["destination"] = map[string]any{"to": []string{"recipient@example.com", RefusedRecipient}, "cc": []string{"Named Person <recipient@example.com>"}}
			_, err := tr.Send(context.Background(), Envelope(t, env))
			if err == nil {
				t.Fatalf("Send succeeded; want %s", c.class)
			}
			te := transport.Classify(err)
			if te.Class != c.class {
				t.Errorf("class %s (%v), want %s", te.Class, err, c.class)
			}
			if te.PerMessage != c.perMessage {
				t.Errorf("%s: per-message %v, want %v", c.fault, te.PerMessage, c.perMessage)
			}
			if te.Uncertain {
				t.Errorf("an answer from SES is not uncertain")
			}
			for _, a := range addresses {
				if strings.Contains(err.Error(), a) || strings.Contains(te.Message, a) {
					t.Errorf("the error names an address (%q): %v", a, err)
				}
			}
			if te.Code == "" {
				t.Errorf("no code")
			}
		})
	}
}

// perMessage: a refused recipient fails that message; the next message of
// the same identity and region goes out over the same transport.
func perMessage(t *testing.T, h Harness) {
	tr, srv := h.New(t)
	if !srv.Fail(East, RecipientRefused) {
		t.Skip("the endpoint cannot refuse a recipient")
	}
	bad := simple(map[string]any{"sourceArn": East})
	bad["destination"] = map[string]any{"to": []string{RefusedRecipient}}
	for range 3 {
		_, err := tr.Send(context.Background(), Envelope(t, bad))
		if te := transport.Classify(err); te == nil || !te.PerMessage {
			t.Fatalf("refused recipient: %v, want a per-message failure", err)
		}
		if _, err := tr.Send(context.Background(), Envelope(t, simple(map[string]any{"sourceArn": East}))); err != nil {
			t.Fatalf("the next message after a refusal: %v", err)
		}
	}
}

func unreachable(t *testing.T, h Harness) {
	if h.Unreachable == nil {
		t.Skip("no unreachable endpoint")
	}
	tr := h.Unreachable(t)
	_, err := tr.Send(context.Background(), Envelope(t, simple(map[string]any{"sourceArn": East})))
	te := transport.Classify(err)
	if te == nil || te.Class != transport.Retry || te.Uncertain || te.PerMessage {
		t.Fatalf("connection refused: %+v, want a certain, regional retry", te)
	}
}

func cancelled(t *testing.T, h Harness) {
	tr, _ := h.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := tr.Send(ctx, Envelope(t, simple(map[string]any{"sourceArn": East})))
	if te := transport.Classify(err); te == nil || te.Class != transport.Retry {
		t.Fatalf("a cancelled send: %v, want a retry", err)
	}
}

func quota(t *testing.T, h Harness) {
	tr, _ := h.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rate, err := tr.SendQuota(ctx, "us-east-1")
	switch {
	case errors.Is(err, transport.ErrNoQuota):
	case err != nil:
		t.Fatalf("SendQuota: %v", err)
	case rate <= 0:
		t.Fatalf("SendQuota = %v", rate)
	}
}
