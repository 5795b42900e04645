package sessmtp_test

import (
	"net"
	"testing"

	"github.com/sesq/sesq/envelope"
	"github.com/sesq/sesq/internal/testsupport/conformance"
	"github.com/sesq/sesq/internal/testsupport/smtptest"
	"github.com/sesq/sesq/transport"
	"github.com/sesq/sesq/transport/sessmtp"
)

// server is the SMTP test server as the conformance suite sees it: a
// delivery's region is its login's, its ARNs the first X-SES headers of
// DATA as written (SMTP has no defaults: what is not written is absent).
type server struct{ *smtptest.Server }

func (s server) Deliveries() []conformance.Delivery {
	var out []conformance.Delivery
	for _, m := range s.Accepted() {
		out = append(out, conformance.Delivery{
			Region:        m.Region,
			SourceArn:     m.Header(envelope.HeaderSourceArn),
			FromArn:       m.Header(envelope.HeaderFromArn),
			ReturnPathArn: m.Header(envelope.HeaderReturnPathArn),
			Message:       m.Data,
			Recipients:    m.To,
		})
	}
	return out
}

// faults are the SES SMTP interface's replies at DATA, where SES answers
// for the identity it read from the X-SES headers.
var faults = map[conformance.Fault]smtptest.Reply{
	conformance.AccessDenied:    smtptest.AccessDenied,
	conformance.ThrottleRate:    smtptest.ThrottleRate,
	conformance.DailyQuota:      smtptest.ThrottleDaily,
	conformance.SendingPaused:   smtptest.SendingPaused,
	conformance.MessageRejected: smtptest.MessageRejected,
	conformance.ServerError:     smtptest.TemporaryFail,
}

func (s server) Fail(identity string, f conformance.Fault) bool {
	switch f {
	case conformance.BadCredentials: // sesq's login in the identity's region
		s.RefuseLogins(regionOf(identity), smtptest.BadCredentials)
	case conformance.RecipientRefused:
		s.RefuseRecipient(conformance.RefusedRecipient, smtptest.MailboxUnknown)
	default:
		r, ok := faults[f]
		if !ok {
			return false
		}
		s.FailAlways(identity, r)
	}
	return true
}

func (s server) Recover(identity string) {
	s.Server.Recover(identity)
	s.AcceptLogins(regionOf(identity))
	s.AcceptRecipient(conformance.RefusedRecipient)
}

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		MaxMessage: transport.MaxMessageSMTP,
		New: func(t *testing.T) (transport.Transport, conformance.Server) {
			srv := startServer(t, smtptest.StartTLS)
			return newTransport(t, srv, smtptest.StartTLS, nil), server{srv}
		},
		Unreachable: func(t *testing.T) transport.Transport {
			srv := startServer(t, smtptest.StartTLS)
			tr := newTransport(t, srv, smtptest.StartTLS, func(c *sessmtp.Config) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				c.Endpoint = ln.Addr().String()
				ln.Close()
			})
			return tr
		},
		HeadersOnly: true,
	})
}
