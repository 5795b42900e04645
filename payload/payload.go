// Package payload keeps envelopes too large for an SQS message in S3, in
// the format of the SQS Extended Client (Amazon's Java
// amazon-sqs-java-extended-client-lib, the Python amazon-sqs-extended-client
// and their ports): the message body is a pointer,
//
//	["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"BUCKET","s3Key":"KEY"}]
//
// and the message attribute ExtendedPayloadSize (older clients:
// SQSLargePayloadSize) gives the payload's size in bytes. The payload is the
// body the message would have had: the envelope as JSON. So sesq reads what
// those clients write, and they can read what sesq writes.
//
// A pointer is only followed into a bucket the reader lists
// (SESQ_PAYLOAD_BUCKETS): a message can name any bucket, and the worker's
// credentials must not become a way to read it.
package payload

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

// The extended client's names.
const (
	// PointerClass is the first element of a pointer body.
	PointerClass = "software.amazon.payloadoffloading.PayloadS3Pointer"
	// PointerClassLegacy is PointerClass as the Java client's 1.x versions
	// (and the Python client with use_legacy_attribute) write it; readers
	// take both, sesq writes PointerClass.
	PointerClassLegacy = "com.amazon.sqs.javamessaging.MessageS3Pointer"
	// AttrSize is the message attribute with the payload's size in bytes.
	AttrSize = "ExtendedPayloadSize"
	// AttrSizeLegacy is AttrSize as older clients name it.
	AttrSizeLegacy = "SQSLargePayloadSize"
)

// Pointer is where a payload is.
type Pointer struct {
	Bucket string `json:"s3BucketName"`
	Key    string `json:"s3Key"`
}

// String is the pointer for logs and errors: s3://BUCKET/KEY. (Keys sesq
// writes are random; a producer's could say more, so logs name the bucket
// only: see Pointer.Bucket.)
func (p Pointer) String() string { return "s3://" + p.Bucket + "/" + p.Key }

// Body is the message body that points at p, byte for byte as the Java
// client writes it (Jackson: no spaces, no escaping of <, > and &).
func (p Pointer) Body() string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode([]any{PointerClass, p})
	return strings.TrimSuffix(b.String(), "\n")
}

// IsPointer tells whether body is (or tries to be) a pointer: a JSON array
// whose first element is PointerClass (or PointerClassLegacy), written as
// is (no escapes). It reads no more than the start.
func IsPointer(body string) bool {
	s := strings.TrimLeft(body, " \t\r\n")
	if !strings.HasPrefix(s, "[") {
		return false
	}
	s = strings.TrimLeft(s[1:], " \t\r\n")
	return strings.HasPrefix(s, `"`+PointerClass+`"`) || strings.HasPrefix(s, `"`+PointerClassLegacy+`"`)
}

// Parse reads a pointer body: exactly the class name and an object of
// exactly s3BucketName and s3Key, both non-empty strings (names as
// written, case and all; JSON whitespace anywhere). A body that is not one
// is an error, among them every body for which IsPointer is false, so that
// the two never disagree on what a pointer is.
func Parse(body string) (Pointer, error) {
	if !IsPointer(body) {
		return Pointer{}, fmt.Errorf("an S3 payload pointer is a JSON array that starts with %q", PointerClass)
	}
	var parts []json.RawMessage
	if err := json.Unmarshal([]byte(body), &parts); err != nil || len(parts) != 2 {
		return Pointer{}, errors.New("an S3 payload pointer must be a JSON array of the class name and {s3BucketName, s3Key}")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(parts[1], &fields); err != nil || len(fields) != 2 {
		return Pointer{}, errors.New("an S3 payload pointer needs s3BucketName and s3Key, and nothing else")
	}
	var p Pointer
	for _, f := range []struct {
		name string
		dst  *string
	}{{"s3BucketName", &p.Bucket}, {"s3Key", &p.Key}} {
		v, ok := fields[f.name]
		if !ok || len(v) == 0 || v[0] != '"' || json.Unmarshal(v, f.dst) != nil || *f.dst == "" {
			return Pointer{}, fmt.Errorf("an S3 payload pointer needs %s, a non-empty string", f.name)
		}
	}
	return p, nil
}

// Size is the payload size a message's attributes give (ExtendedPayloadSize,
// else SQSLargePayloadSize); false when neither is there or readable.
func Size(attrs map[string]sqstypes.MessageAttributeValue) (int64, bool) {
	for _, name := range []string{AttrSize, AttrSizeLegacy} {
		if v, ok := attrs[name]; ok {
			if n, err := strconv.ParseInt(aws.ToString(v.StringValue), 10, 64); err == nil && n >= 0 {
				return n, true
			}
		}
	}
	return 0, false
}

// SizeAttr is the ExtendedPayloadSize attribute for a payload of n bytes.
func SizeAttr(n int) sqstypes.MessageAttributeValue {
	return sqstypes.MessageAttributeValue{DataType: aws.String("Number"), StringValue: aws.String(strconv.Itoa(n))}
}

// S3 is the S3 calls a Store makes; *s3.Client has them.
type S3 interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

var _ S3 = (*s3.Client)(nil)

// Errors of Fetch that no retry changes.
var (
	ErrBucketNotAllowed = errors.New("the payload's bucket is not in SESQ_PAYLOAD_BUCKETS")
	ErrMissing          = errors.New("the payload object does not exist")
	ErrTooLarge         = errors.New("the payload is larger than the largest allowed")
)

// Store reads, writes and deletes payloads.
type Store struct {
	Client S3
	// Buckets are the buckets Fetch and Delete may touch (a pointer to any
	// other is refused before any call); Put writes to any.
	Buckets []string
	// MaxSize is the largest payload Fetch reads, in bytes; 0: no limit.
	MaxSize int64
}

// Allowed tells whether bucket is one the store may read.
func (s *Store) Allowed(bucket string) bool { return slices.Contains(s.Buckets, bucket) }

// Fetch reads the payload p points at: ErrBucketNotAllowed, ErrMissing or
// ErrTooLarge (wrapped, with the size) when it cannot be had; another error
// (S3 out of reach, throttling, access denied) may pass.
func (s *Store) Fetch(ctx context.Context, p Pointer) ([]byte, error) {
	if !s.Allowed(p.Bucket) {
		return nil, fmt.Errorf("fetch payload from bucket %q: %w", p.Bucket, ErrBucketNotAllowed)
	}
	out, err := s.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(p.Bucket), Key: aws.String(p.Key)})
	if err != nil {
		if missing(err) {
			return nil, fmt.Errorf("fetch payload from bucket %q: %w", p.Bucket, ErrMissing)
		}
		return nil, fmt.Errorf("fetch payload from bucket %q: %w", p.Bucket, err)
	}
	defer out.Body.Close()
	if n := aws.ToInt64(out.ContentLength); s.MaxSize > 0 && n > s.MaxSize {
		return nil, fmt.Errorf("payload of %d bytes in bucket %q, over %d: %w", n, p.Bucket, s.MaxSize, ErrTooLarge)
	}
	if n := aws.ToInt64(out.ContentLength); n > 0 {
		// The length is known: read into exactly that much (a buffer that
		// grows as it reads would copy a 10 MB payload into 20 MB).
		b := make([]byte, n)
		if _, err := io.ReadFull(out.Body, b); err != nil {
			return nil, fmt.Errorf("read payload from bucket %q: %w", p.Bucket, err)
		}
		return b, nil
	}
	r := io.Reader(out.Body)
	if s.MaxSize > 0 {
		r = io.LimitReader(out.Body, s.MaxSize+1)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("read payload from bucket %q: %w", p.Bucket, err)
	}
	if s.MaxSize > 0 && int64(buf.Len()) > s.MaxSize {
		return nil, fmt.Errorf("payload of more than %d bytes in bucket %q: %w", s.MaxSize, p.Bucket, ErrTooLarge)
	}
	return buf.Bytes(), nil
}

// missing tells whether err says the object or its bucket does not exist.
// GetObject models NoSuchKey only: NoSuchBucket comes as a generic API
// error. (S3 answers a missing key with AccessDenied, not NoSuchKey, to a
// reader without s3:ListBucket on the bucket.)
func missing(err error) bool {
	var nsk *types.NoSuchKey
	var api smithy.APIError
	return errors.As(err, &nsk) || errors.As(err, &api) && (api.ErrorCode() == "NoSuchKey" || api.ErrorCode() == "NoSuchBucket")
}

// Put stores body in bucket under a new random key and returns the
// pointer to it.
func (s *Store) Put(ctx context.Context, bucket string, body []byte) (Pointer, error) {
	var id [16]byte
	rand.Read(id[:])
	id[6] = id[6]&0x0f | 0x40 // a version 4 UUID, as the extended clients write
	id[8] = id[8]&0x3f | 0x80
	h := hex.EncodeToString(id[:])
	p := Pointer{Bucket: bucket, Key: h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]}
	_, err := s.Client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(p.Bucket), Key: aws.String(p.Key), Body: bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))), ContentType: aws.String("application/json"),
	})
	if err != nil {
		return Pointer{}, fmt.Errorf("store payload of %d bytes in bucket %q: %w", len(body), bucket, err)
	}
	return p, nil
}

// Delete removes the payload p points at; a missing one is no error. A
// bucket the store may not touch is refused.
func (s *Store) Delete(ctx context.Context, p Pointer) error {
	if !s.Allowed(p.Bucket) {
		return fmt.Errorf("delete payload in bucket %q: %w", p.Bucket, ErrBucketNotAllowed)
	}
	if _, err := s.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(p.Bucket), Key: aws.String(p.Key)}); err != nil {
		return fmt.Errorf("delete payload in bucket %q: %w", p.Bucket, err)
	}
	return nil
}
