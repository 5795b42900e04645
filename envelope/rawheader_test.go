package envelope_test

import (
	"strings"
	"testing"

	"github.com/sesq/sesq/envelope"
)

const (
	docARN = "arn:aws:ses:us-east-1:123456789012:identity/example.com"
	// The example message of the SES guide, with its line breaks restored.
	docRaw = "X-SES-SOURCE-ARN: " + docARN + "\r\n" +
		"X-SES-FROM-ARN: " + docARN + "\r\n" +
		"X-SES-RETURN-PATH-ARN: " + docARN + "\r\n" +
		"From: sender@example.com\r\nTo: recipient@example.com\r\nReturn-Path: feedback@example.com\r\nSubject: subject\r\n" +
		"Content-Type: multipart/alternative; boundary=\"----=_boundary\"\r\n\r\n" +
		"------=_boundary\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\nbody\r\n" +
		"------=_boundary\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\nbody\r\n------=_boundary--\r\n"
)

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestScanHeaders(t *testing.T) {
	other := "arn:aws:ses:eu-west-1:123456789012:identity/other.example"
	cases := []struct {
		name    string
		raw     string
		want    envelope.RawHeaders
		wantErr string
	}{
		{name: "SES guide example", raw: docRaw, want: envelope.RawHeaders{SourceArn: docARN, FromArn: docARN, ReturnPathArn: docARN, HasFrom: true, Fields: 8}},
		{name: "LF line ends", raw: strings.ReplaceAll(docRaw, "\r\n", "\n"), want: envelope.RawHeaders{SourceArn: docARN, FromArn: docARN, ReturnPathArn: docARN, HasFrom: true, Fields: 8}},
		{name: "no ARN headers", raw: "From: a@example.com\r\n\r\nbody", want: envelope.RawHeaders{HasFrom: true, Fields: 1}},
		{name: "names are case-insensitive", raw: "x-ses-source-arn: " + docARN + "\nfrom: a@example.com\n\n", want: envelope.RawHeaders{SourceArn: docARN, HasFrom: true, Fields: 2}},
		{name: "first instance wins", raw: "X-SES-SOURCE-ARN: " + docARN + "\nX-SES-SOURCE-ARN: " + other + "\nFrom: a@example.com\n\n", want: envelope.RawHeaders{SourceArn: docARN, HasFrom: true, Fields: 3}},
		{name: "folded value", raw: "X-SES-FROM-ARN:\r\n " + docARN + "\r\nFrom: a@example.com\r\n\r\n", want: envelope.RawHeaders{FromArn: docARN, HasFrom: true, Fields: 2}},
		{name: "headers only, no body", raw: "From: a@example.com\r\nX-SES-RETURN-PATH-ARN: " + docARN, want: envelope.RawHeaders{ReturnPathArn: docARN, HasFrom: true, Fields: 2}},
		{name: "X-SES header in the body is not a header", raw: "From: a@example.com\n\nX-SES-SOURCE-ARN: " + docARN + "\n", want: envelope.RawHeaders{HasFrom: true, Fields: 1}},
		{name: "DKIM signing other headers", raw: "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s;\r\n\th=From:To:Subject; bh=x; b=y\r\nX-SES-SOURCE-ARN: " + docARN + "\r\nFrom: a@example.com\r\n\r\n",
			want: envelope.RawHeaders{SourceArn: docARN, HasFrom: true, Fields: 3}},
		{name: "DKIM signs X-SES-SOURCE-ARN", raw: "DKIM-Signature: v=1; h=From:X-SES-SOURCE-ARN:To; b=y\r\nFrom: a@example.com\r\n\r\n", wantErr: "signs X-SES-SOURCE-ARN"},
		{name: "DKIM signs x-ses-from-arn folded", raw: "DKIM-Signature: v=1; h=From:To:\r\n x-ses-from-arn ; b=y\r\nFrom: a@example.com\r\n\r\n", wantErr: "signs X-SES-FROM-ARN"},
		{name: "DKIM signs X-SES-RETURN-PATH-ARN", raw: "From: a@example.com\ndkim-signature: h = X-SES-RETURN-PATH-ARN ; b=y\n\n", wantErr: "signs X-SES-RETURN-PATH-ARN"},
		{name: "empty message", raw: "", wantErr: "no header section"},
		{name: "starts with blank line", raw: "\r\nFrom: a@example.com\r\n", wantErr: "no header section"},
		{name: "continuation first", raw: " folded\r\nFrom: a@example.com\r\n\r\n", wantErr: "continuation"},
		{name: "line without colon", raw: "From: a@example.com\r\nthis is not a header\r\n\r\n", wantErr: "line 2 is not a header"},
		{name: "empty field name", raw: ": value\r\n\r\n", wantErr: "line 1 is not a header"},
		{name: "space in field name", raw: "Bad Name: value\r\n\r\n", wantErr: "invalid character"},
		{name: "bare CR in header", raw: "Subject: a\rBcc: victim@example.com\r\nFrom: a@example.com\r\n\r\n", wantErr: "bare CR"},
		{name: "Latin-1 subject", raw: "From: a@example.com\r\nSubject: Gr\xfc\xdfe\r\n\r\nbody", wantErr: "header line 2 is not valid UTF-8"},
		{name: "invalid UTF-8 display name", raw: "From: \"J\xc3\x28n\" <a@example.com>\r\n\r\nbody", wantErr: "header line 1 is not valid UTF-8"},
		{name: "invalid UTF-8 in a folded line", raw: "From: a@example.com\r\nSubject: a\r\n \xff\r\n\r\n", wantErr: "header line 3 is not valid UTF-8"},
		{name: "UTF-8 header", raw: "From: \"J\u00fcrgen\" <a@example.com>\r\nSubject: Gr\u00fc\u00dfe\r\n\r\n\xff body bytes are not headers", want: envelope.RawHeaders{HasFrom: true, Fields: 2}},
		{name: "empty ARN header", raw: "X-SES-SOURCE-ARN:   \r\nFrom: a@example.com\r\n\r\n", wantErr: "X-SES-SOURCE-ARN header is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := envelope.ScanHeaders([]byte(c.raw))
			if c.wantErr != "" {
				if err == nil || !contains(err.Error(), c.wantErr) {
					t.Fatalf("error = %v, want one saying %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func BenchmarkScanHeaders(b *testing.B) {
	raw := []byte(docRaw)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := envelope.ScanHeaders(raw); err != nil {
			b.Fatal(err)
		}
	}
}
