package sessmtp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
)

// Password derives the SES SMTP password of an IAM secret access key for one
// region, with SES's documented algorithm: a SigV4-style chain of HMAC-SHA256
// over a fixed date, the region, "ses", "aws4_request" and "SendRawEmail",
// prefixed with version byte 4 and base64-encoded. The SMTP user name is the
// access key id. Temporary (session) credentials have no SMTP password.
func Password(secretAccessKey, region string) string {
	sig := hmacSHA256([]byte("AWS4"+secretAccessKey), "11111111")
	for _, s := range []string{region, "ses", "aws4_request", "SendRawEmail"} {
		sig = hmacSHA256(sig, s)
	}
	return base64.StdEncoding.EncodeToString(append([]byte{0x04}, sig...))
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}
