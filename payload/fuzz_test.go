package payload_test

import (
	"testing"

	"github.com/sesq/sesq/payload"
)

// FuzzParse: Parse never panics, takes only what IsPointer calls a pointer,
// and what it takes, written again with Body, reads back the same.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		javaPointer, pythonPointer, legacyPointer,
		`["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"b","s3Key":"k","x":1}]`,
		`["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"b","s3Key":null}]`,
		`["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"b","s3Key":"\ud800"}]`,
		`["software.amazon.payloadoffloading.PayloadS3Pointer"`,
		`{"version":1,"action":"SendRawEmail","raw":"eA=="}`,
		``, `[`, `[]`, `null`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		p, err := payload.Parse(body)
		if err != nil {
			return
		}
		if !payload.IsPointer(body) {
			t.Fatalf("Parse took %q, which IsPointer refuses", body)
		}
		if p.Bucket == "" || p.Key == "" {
			t.Fatalf("Parse(%q) = %+v: an empty name", body, p)
		}
		again, err := payload.Parse(p.Body())
		if err != nil || again != p || !payload.IsPointer(p.Body()) {
			t.Fatalf("Parse(%q) = %+v, whose Body %q reads back as %+v, %v", body, p, p.Body(), again, err)
		}
	})
}
