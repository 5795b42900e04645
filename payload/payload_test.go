package payload_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sesq/sesq/payload"
)

// Pointers as the extended clients write them, byte for byte.
const (
	// Java (amazon-sqs-java-extended-client-lib 2.x, Jackson): no spaces.
	javaPointer = `["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"mail-payloads","s3Key":"5b1c3e0a-8f2d-4c7e-9a41-2f6d0e8b7c13"}]`
	// Python (amazon-sqs-extended-client, json.dumps): ", " and ": ".
	pythonPointer = `["software.amazon.payloadoffloading.PayloadS3Pointer", {"s3BucketName": "mail-payloads", "s3Key": "5b1c3e0a-8f2d-4c7e-9a41-2f6d0e8b7c13"}]`
	// Java 1.x, and Python with use_legacy_attribute.
	legacyPointer = `["com.amazon.sqs.javamessaging.MessageS3Pointer",{"s3BucketName":"mail-payloads","s3Key":"5b1c3e0a-8f2d-4c7e-9a41-2f6d0e8b7c13"}]`
)

var written = payload.Pointer{Bucket: "mail-payloads", Key: "5b1c3e0a-8f2d-4c7e-9a41-2f6d0e8b7c13"}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, body string
		pointer    bool            // IsPointer
		want       payload.Pointer // zero: Parse fails
		err        string          // part of Parse's error
	}{
		{name: "java", body: javaPointer, pointer: true, want: written},
		{name: "python", body: pythonPointer, pointer: true, want: written},
		{name: "legacy class", body: legacyPointer, pointer: true, want: written},
		{name: "whitespace everywhere", body: " \n\t[ \r\n\"software.amazon.payloadoffloading.PayloadS3Pointer\" ,\n {\n  \"s3Key\" : \"k\" ,\n  \"s3BucketName\" : \"b\"\n }\n]\n ",
			pointer: true, want: payload.Pointer{Bucket: "b", Key: "k"}},
		{name: "key order", body: `["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3Key":"k","s3BucketName":"b"}]`,
			pointer: true, want: payload.Pointer{Bucket: "b", Key: "k"}},
		{name: "escapes in the key", body: `["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"b","s3Key":"a\/b\u00e9\"c"}]`,
			pointer: true, want: payload.Pointer{Bucket: "b", Key: `a/bé"c`}},

		{name: "an envelope", body: `{"version":1,"action":"SendRawEmail"}`, err: "JSON array that starts with"},
		{name: "empty", body: ``, err: "JSON array that starts with"},
		{name: "another array", body: `["x",{"s3BucketName":"b","s3Key":"k"}]`, err: "JSON array that starts with"},
		{name: "wrong class", body: `["software.amazon.payloadoffloading.PayloadS3PointerV2",{"s3BucketName":"b","s3Key":"k"}]`, err: "JSON array that starts with"},
		{name: "class in another case", body: `["Software.Amazon.PayloadOffloading.PayloadS3Pointer",{"s3BucketName":"b","s3Key":"k"}]`, err: "JSON array that starts with"},
		{name: "class escaped", body: `["software.amazon.payloadoffloading.PayloadS3Pointe\u0072",{"s3BucketName":"b","s3Key":"k"}]`, err: "JSON array that starts with"},
		{name: "object only (not a pointer any client writes)", body: `{"s3BucketName":"b","s3Key":"k"}`, err: "JSON array that starts with"},

		{name: "class only", body: `["software.amazon.payloadoffloading.PayloadS3Pointer"]`, pointer: true, err: "JSON array of the class name"},
		{name: "three elements", body: `["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"b","s3Key":"k"},1]`, pointer: true, err: "JSON array of the class name"},
		{name: "not JSON", body: `["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"b","s3Key":"k"}`, pointer: true, err: "JSON array of the class name"},
		{name: "trailing data", body: javaPointer + `x`, pointer: true, err: "JSON array of the class name"},
		{name: "two values", body: javaPointer + ` []`, pointer: true, err: "JSON array of the class name"},
		{name: "missing key", body: `["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"b"}]`, pointer: true, err: "needs s3BucketName and s3Key, and nothing else"},
		{name: "missing bucket", body: `["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3Key":"k","x":1}]`, pointer: true, err: "needs s3BucketName, a non-empty string"},
		{name: "extra field", body: `["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"b","s3Key":"k","s3Region":"us-east-1"}]`, pointer: true, err: "and nothing else"},
		{name: "names in another case", body: `["software.amazon.payloadoffloading.PayloadS3Pointer",{"S3BucketName":"b","s3key":"k"}]`, pointer: true, err: "needs s3BucketName, a non-empty string"},
		{name: "empty key", body: `["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"b","s3Key":""}]`, pointer: true, err: "needs s3Key, a non-empty string"},
		{name: "null key", body: `["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"b","s3Key":null}]`, pointer: true, err: "needs s3Key, a non-empty string"},
		{name: "number key", body: `["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"b","s3Key":7}]`, pointer: true, err: "needs s3Key, a non-empty string"},
		{name: "object not an object", body: `["software.amazon.payloadoffloading.PayloadS3Pointer","s3://b/k"]`, pointer: true, err: "and nothing else"},
		{name: "null object", body: `["software.amazon.payloadoffloading.PayloadS3Pointer",null]`, pointer: true, err: "and nothing else"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := payload.IsPointer(c.body); got != c.pointer {
				t.Errorf("IsPointer = %v, want %v", got, c.pointer)
			}
			p, err := payload.Parse(c.body)
			switch {
			case c.err == "" && (err != nil || p != c.want):
				t.Errorf("Parse = %+v, %v; want %+v", p, err, c.want)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Errorf("Parse = %+v, %v; want an error with %q", p, err, c.err)
			}
		})
	}
}

// Body writes the pointer as the Java client does, byte for byte, in the
// current class; Parse reads it back.
func TestPointerBody(t *testing.T) {
	t.Parallel()
	if got := written.Body(); got != javaPointer {
		t.Errorf("Body() = %s\nwant      %s", got, javaPointer)
	}
	odd := payload.Pointer{Bucket: "b", Key: `a<b>&"c"/é`}
	const want = `["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"b","s3Key":"a<b>&\"c\"/é"}]`
	if got := odd.Body(); got != want {
		t.Errorf("Body() = %s\nwant      %s", got, want)
	}
	if p, err := payload.Parse(odd.Body()); err != nil || p != odd {
		t.Errorf("Parse(Body()) = %+v, %v", p, err)
	}
	if got := written.String(); got != "s3://mail-payloads/5b1c3e0a-8f2d-4c7e-9a41-2f6d0e8b7c13" {
		t.Errorf("String() = %s", got)
	}
}

func TestSize(t *testing.T) {
	t.Parallel()
	num := func(v string) types.MessageAttributeValue {
		return types.MessageAttributeValue{DataType: aws.String("Number"), StringValue: aws.String(v)}
	}
	for _, c := range []struct {
		name  string
		attrs map[string]types.MessageAttributeValue
		want  int64
		ok    bool
	}{
		{"none", nil, 0, false},
		{"others only", map[string]types.MessageAttributeValue{"traceparent": num("1")}, 0, false},
		{"ExtendedPayloadSize", map[string]types.MessageAttributeValue{"ExtendedPayloadSize": num("2097152")}, 2097152, true},
		{"SQSLargePayloadSize", map[string]types.MessageAttributeValue{"SQSLargePayloadSize": num("300000")}, 300000, true},
		{"both: ExtendedPayloadSize first", map[string]types.MessageAttributeValue{"ExtendedPayloadSize": num("5"), "SQSLargePayloadSize": num("6")}, 5, true},
		{"ExtendedPayloadSize unreadable: the legacy one", map[string]types.MessageAttributeValue{"ExtendedPayloadSize": num("lots"), "SQSLargePayloadSize": num("6")}, 6, true},
		{"zero", map[string]types.MessageAttributeValue{"ExtendedPayloadSize": num("0")}, 0, true},
		{"negative", map[string]types.MessageAttributeValue{"ExtendedPayloadSize": num("-1")}, 0, false},
		{"decimal", map[string]types.MessageAttributeValue{"ExtendedPayloadSize": num("1.5")}, 0, false},
		{"no value", map[string]types.MessageAttributeValue{"ExtendedPayloadSize": {DataType: aws.String("Number")}}, 0, false},
		{"a String attribute is read too", map[string]types.MessageAttributeValue{"ExtendedPayloadSize": {DataType: aws.String("String"), StringValue: aws.String("12")}}, 12, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if n, ok := payload.Size(c.attrs); n != c.want || ok != c.ok {
				t.Errorf("Size = %d, %v; want %d, %v", n, ok, c.want, c.ok)
			}
		})
	}
}

// SizeAttr is the attribute as the clients write it: Number, the size in
// decimal.
func TestSizeAttr(t *testing.T) {
	t.Parallel()
	a := payload.SizeAttr(2097152)
	if aws.ToString(a.DataType) != "Number" || aws.ToString(a.StringValue) != "2097152" || a.BinaryValue != nil {
		t.Errorf("SizeAttr = %s %s", aws.ToString(a.DataType), aws.ToString(a.StringValue))
	}
	if n, ok := payload.Size(map[string]types.MessageAttributeValue{payload.AttrSize: a}); n != 2097152 || !ok {
		t.Errorf("Size(SizeAttr) = %d, %v", n, ok)
	}
}
