package sesv2_test

import (
	"context"
	"net"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/sesq/sesq/internal/testsupport/conformance"
	"github.com/sesq/sesq/internal/testsupport/sesv2test"
	"github.com/sesq/sesq/transport"
	"github.com/sesq/sesq/transport/sesv2"
)

func newTransport(t *testing.T, endpoint string) transport.Transport {
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		BaseEndpoint: aws.String(endpoint),
	}
	tr, err := sesv2.New(context.Background(), transport.Setup{AWS: cfg, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func start(t *testing.T) *sesv2test.Server {
	srv, err := sesv2test.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// server is the SES v2 test endpoint as the conformance suite sees it.
type server struct{ *sesv2test.Server }

func (s server) Deliveries() []conformance.Delivery {
	var out []conformance.Delivery
	for _, r := range s.Sent() {
		src, from, rp := r.ARNs() // v2's reading: FromEmailAddressIdentityArn for source and From
		if from == "" {           // SES's rule: From and Return-Path default to the source ARN
			from = src
		}
		if rp == "" {
			rp = src
		}
		out = append(out, conformance.Delivery{Region: r.Region, SourceArn: src, FromArn: from, ReturnPathArn: rp,
			TenantName: r.Input.TenantName, Message: r.Raw, Recipients: r.Recipients()})
	}
	return out
}

func (s server) Fail(identity string, f conformance.Fault) bool {
	faults := map[conformance.Fault]sesv2test.Fault{
		conformance.AccessDenied: sesv2test.AccessDenied, conformance.ThrottleRate: sesv2test.ThrottleRate,
		conformance.DailyQuota: sesv2test.ThrottleDaily, conformance.SendingPaused: sesv2test.SendingPaused,
		conformance.MessageRejected: sesv2test.MessageRejected, conformance.ServerError: sesv2test.InternalError,
		conformance.BadCredentials: sesv2test.BadCredentials,
	}
	if f == conformance.RecipientRefused {
		s.RefuseRecipient(conformance.RefusedRecipient, sesv2test.Fault{Status: 400, Code: "MessageRejected",
			Message: "Email address is not verified. The following identities failed the check in region US-EAST-1: " + conformance.RefusedRecipient})
		return true
	}
	sf, ok := faults[f]
	if ok {
		s.FailAlways(identity, sf)
	}
	return ok
}

func unreachable(t *testing.T) transport.Transport {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return newTransport(t, "http://"+addr)
}

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		MaxMessage: transport.MaxMessageV2,
		New: func(t *testing.T) (transport.Transport, conformance.Server) {
			srv := start(t)
			return newTransport(t, srv.URL), server{srv}
		},
		Unreachable: unreachable,
		Templates:   true,
		Tenants:     true,
	})
}
