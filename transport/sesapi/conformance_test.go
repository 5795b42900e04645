package sesapi_test

import (
	"context"
	"net"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/sesq/sesq/internal/testsupport/conformance"
	"github.com/sesq/sesq/internal/testsupport/sestest"
	"github.com/sesq/sesq/transport"
	"github.com/sesq/sesq/transport/sesapi"
)

func newTransport(t *testing.T, endpoint string) transport.Transport {
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		BaseEndpoint: aws.String(endpoint),
	}
	tr, err := sesapi.New(context.Background(), transport.Setup{AWS: cfg, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// server is the SES v1 test endpoint as the conformance suite sees it.
type server struct{ *sestest.Server }

func (s server) Deliveries() []conformance.Delivery {
	var out []conformance.Delivery
	for _, r := range s.Sent() {
		src, from, rp := r.ARNs()
		if from == "" { // SES's rule: From and Return-Path default to SourceArn
			from = src
		}
		if rp == "" {
			rp = src
		}
		out = append(out, conformance.Delivery{Region: r.Region, SourceArn: src, FromArn: from, ReturnPathArn: rp, Message: r.Raw, Recipients: r.Recipients()})
	}
	return out
}

func (s server) Fail(identity string, f conformance.Fault) bool {
	faults := map[conformance.Fault]sestest.Fault{
		conformance.AccessDenied: sestest.AccessDenied, conformance.ThrottleRate: sestest.ThrottleRate,
		conformance.DailyQuota: sestest.ThrottleDaily, conformance.SendingPaused: sestest.AccountPaused,
		conformance.MessageRejected: sestest.MessageRejected, conformance.ServerError: sestest.ServiceUnavailable,
		conformance.BadCredentials: sestest.BadCredentials,
	}
	if f == conformance.RecipientRefused {
		s.RefuseRecipient(conformance.RefusedRecipient, sestest.Fault{Status: 400, Type: "Sender", Code: "MessageRejected",
			Message: "Email address is not verified. The following identities failed the check in region US-EAST-1: " + conformance.RefusedRecipient})
		return true
	}
	sf, ok := faults[f]
	if ok {
		s.FailAlways(identity, sf)
	}
	return ok
}

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		MaxMessage: transport.MaxMessageV1,
		New: func(t *testing.T) (transport.Transport, conformance.Server) {
			srv, err := sestest.Start()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Close)
			return newTransport(t, srv.URL), server{srv}
		},
		Unreachable: func(t *testing.T) transport.Transport {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ln.Close()
			return newTransport(t, "http://"+addr)
		},
		Templates: true,
	})
}
