package sessmtp_test

import (
	"encoding/base64"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"

	"github.com/sesq/sesq/transport/sessmtp"
)

// The derived SMTP password matches an independent computation of SES's
// algorithm with openssl: HMAC-SHA256 chained over "11111111", the region,
// "ses", "aws4_request", "SendRawEmail", version byte 4, base64.
func TestPasswordMatchesOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("no openssl")
	}
	for _, region := range []string{"us-east-1", "eu-west-1", "ap-southeast-2"} {
		key := hex.EncodeToString([]byte("AWS4" + secretKey))
		for _, msg := range []string{"11111111", region, "ses", "aws4_request", "SendRawEmail"} {
			cmd := exec.Command("openssl", "dgst", "-sha256", "-mac", "HMAC", "-macopt", "hexkey:"+key)
			cmd.Stdin = strings.NewReader(msg)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("openssl: %v", err)
			}
			f := strings.Fields(string(out))
			key = f[len(f)-1]
		}
		raw, _ := hex.DecodeString("04" + key)
		want := base64.StdEncoding.EncodeToString(raw)
		if got := sessmtp.Password(secretKey, region); got != want {
			t.Errorf("%s: Password = %s, openssl says %s", region, got, want)
		}
	}
	if sessmtp.Password("k", "us-east-1") == sessmtp.Password("k", "eu-west-1") {
		t.Error("the password does not depend on the region")
	}
}
