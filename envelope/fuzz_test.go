package envelope_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/sesq/sesq/envelope"
)

// Parse takes untrusted message bodies: it must never panic, and what it
// accepts must hold the invariants the worker relies on.
func FuzzParse(f *testing.F) {
	f.Add(env(nil))
	f.Add(templated(nil))
	f.Add(rawEnv("X-SES-SOURCE-ARN: "+east+"\r\n", nil))
	f.Add(rawEnv("", map[string]any{"sourceArn": west, "fromArn": west}))
	f.Add([]byte(`{"version":1,"action":"SendRawEmail","raw":"RnJvbTogYUBiLmMNCg0K","sourceArn":"` + east + `"}`))
	f.Add(env(map[string]any{"tenantName": "customer-42", "notAfter": "2030-01-01T00:00:00.50+01:00", "id": null{}, "tags": []map[string]string{{"name": "a", "value": "b"}}}))
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := envelope.Parse(body)
		if err != nil {
			if e != nil {
				t.Fatal("envelope and error both returned")
			}
			return
		}
		arns := e.IdentityARNs()
		if len(arns) == 0 || e.Region() == "" || e.Key() == "" {
			t.Fatalf("accepted without ARN, region or key: %q", body)
		}
		for _, a := range arns {
			p, err := envelope.ParseIdentityARN(a)
			if err != nil || p.Region != e.Region() {
				t.Fatalf("accepted ARN %q in region %q (err %v) for envelope region %q", a, p.Region, err, e.Region())
			}
		}
		// What Parse accepts, a Go producer can enqueue: Producer.Enqueue
		// marshals the Envelope and parses the result.
		again, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("accepted %q but cannot marshal it: %v", body, err)
		}
		if _, err := envelope.Parse(again); err != nil {
			t.Fatalf("accepted %q but not itself marshalled, %q: %v", body, again, err)
		}
		switch e.Action {
		case envelope.SendEmail, envelope.SendTemplatedEmail:
			if e.FromArn != "" || e.Raw != nil || e.Source == "" || e.Destination == nil {
				t.Fatalf("accepted a %s that breaks its rules: %q", e.Action, body)
			}
		case envelope.SendRawEmail:
			if len(e.Raw) == 0 {
				t.Fatalf("accepted SendRawEmail without raw")
			}
		default:
			t.Fatalf("accepted action %q", e.Action)
		}
	})
}

// ScanHeaders reads untrusted raw messages.
func FuzzScanHeaders(f *testing.F) {
	f.Add([]byte(docRaw))
	f.Add([]byte("X-SES-SOURCE-ARN:\r\n " + east + "\r\nFrom: a@b.c\r\n\r\n"))
	f.Add([]byte("DKIM-Signature: v=1; h=From:X-SES-FROM-ARN; b=x\nFrom: a@b.c\n\n"))
	f.Add([]byte("From: a@b.c\rBcc: x@y.z\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		h, err := envelope.ScanHeaders(raw)
		if err != nil {
			return
		}
		if h.Fields == 0 {
			t.Fatal("accepted a message without header fields")
		}
		for _, v := range []string{h.SourceArn, h.FromArn, h.ReturnPathArn} {
			if bytes.ContainsAny([]byte(v), "\r\n") || v != "" && bytes.TrimSpace([]byte(v)) == nil {
				t.Fatalf("header value %q keeps line breaks or is blank", v)
			}
		}
	})
}

// ParseIdentityARN reads ARNs from envelopes and headers.
func FuzzParseIdentityARN(f *testing.F) {
	f.Add(east)
	f.Add("arn:aws-cn:ses:cn-north-1:123456789012:identity/example.cn")
	f.Add("arn:aws-us-gov:ses:us-gov-west-1:123456789012:identity/a@example.gov")
	f.Add("arn:aws:ses:us-east-1:123456789012:identity/")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := envelope.ParseIdentityARN(s)
		if err != nil {
			return
		}
		if a.String() != s {
			t.Fatalf("accepted %q but it prints as %q", s, a.String())
		}
	})
}
