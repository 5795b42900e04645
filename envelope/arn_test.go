package envelope_test

import (
	"testing"

	"github.com/sesq/sesq/envelope"
)

func TestParseIdentityARN(t *testing.T) {
	cases := []struct {
		in      string
		want    envelope.IdentityARN
		wantErr string
	}{
		{in: "arn:aws:ses:us-east-1:123456789012:identity/example.com", want: envelope.IdentityARN{"aws", "us-east-1", "123456789012", "example.com"}},
		{in: "arn:aws:ses:eu-west-1:123456789012:identity/sender@example.com", want: envelope.IdentityARN{"aws", "eu-west-1", "123456789012", "sender@example.com"}},
		{in: "arn:aws-cn:ses:cn-northwest-1:123456789012:identity/example.cn", want: envelope.IdentityARN{"aws-cn", "cn-northwest-1", "123456789012", "example.cn"}},
		{in: "arn:aws-us-gov:ses:us-gov-west-1:123456789012:identity/example.gov", want: envelope.IdentityARN{"aws-us-gov", "us-gov-west-1", "123456789012", "example.gov"}},
		{in: "arn:aws:ses:ap-southeast-2:123456789012:identity/xn--bcher-kva.example", want: envelope.IdentityARN{"aws", "ap-southeast-2", "123456789012", "xn--bcher-kva.example"}},
		{in: "", wantErr: "empty ARN"},
		{in: "example.com", wantErr: "not an ARN"},
		{in: "arn:aws:ses:us-east-1:123456789012", wantErr: "not an ARN"},
		{in: "urn:aws:ses:us-east-1:123456789012:identity/example.com", wantErr: "not an ARN"},
		{in: "arn:aws-iso:ses:us-east-1:123456789012:identity/example.com", wantErr: "partition"},
		{in: "arn:AWS:ses:us-east-1:123456789012:identity/example.com", wantErr: "partition"},
		{in: "arn:aws:sns:us-east-1:123456789012:identity/example.com", wantErr: "service"},
		{in: "arn:aws:ses::123456789012:identity/example.com", wantErr: "region"},
		{in: "arn:aws:ses:US-EAST-1:123456789012:identity/example.com", wantErr: "region"},
		{in: "arn:aws:ses:us-east:123456789012:identity/example.com", wantErr: "region"},
		{in: "arn:aws:ses:useast1:123456789012:identity/example.com", wantErr: "region"},
		{in: "arn:aws:ses:cn-north-1:123456789012:identity/example.com", wantErr: "partition"},
		{in: "arn:aws-cn:ses:us-east-1:123456789012:identity/example.com", wantErr: "partition"},
		{in: "arn:aws-us-gov:ses:us-east-1:123456789012:identity/example.com", wantErr: "partition"},
		{in: "arn:aws:ses:us-east-1:12345678901:identity/example.com", wantErr: "12 digits"},
		{in: "arn:aws:ses:us-east-1:1234567890123:identity/example.com", wantErr: "12 digits"},
		{in: "arn:aws:ses:us-east-1:12345678901a:identity/example.com", wantErr: "12 digits"},
		{in: "arn:aws:ses:us-east-1:123456789012:configuration-set/example", wantErr: "identity/NAME"},
		{in: "arn:aws:ses:us-east-1:123456789012:template/example", wantErr: "identity/NAME"},
		{in: "arn:aws:ses:us-east-1:123456789012:identity/", wantErr: "empty"},
		{in: "arn:aws:ses:us-east-1:123456789012:identity/exa mple.com", wantErr: "printable"},
		{in: "arn:aws:ses:us-east-1:123456789012:identity/example.com\r\nBcc: x", wantErr: "printable"},
		{in: "arn:aws:ses:us-east-1:123456789012:identity/bücher.example", wantErr: "printable"},
		{in: "arn:aws:ses:us-east-1:123456789012:identity/a/b", wantErr: "printable"},
	}
	for _, c := range cases {
		got, err := envelope.ParseIdentityARN(c.in)
		if c.wantErr != "" {
			if err == nil || !contains(err.Error(), c.wantErr) {
				t.Errorf("ParseIdentityARN(%q) error = %v, want one saying %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseIdentityARN(%q): %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("ParseIdentityARN(%q) = %+v, want %+v", c.in, got, c.want)
		}
		if got.String() != c.in {
			t.Errorf("String() = %q, want %q", got.String(), c.in)
		}
	}
}
