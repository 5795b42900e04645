package payload_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sesq/sesq/internal/testsupport/testkit"
	"github.com/sesq/sesq/payload"
)

// The Store tests need fauxqs (Node, for its S3); the table tests and the
// fuzz target must run without it.
var emu testkit.OnDemand

func TestMain(m *testing.M) {
	code := m.Run()
	emu.Stop()
	os.Exit(code)
}

// counting is an S3 client that counts the calls made through it.
type counting struct {
	payload.S3
	calls atomic.Int32
}

func (c *counting) GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	c.calls.Add(1)
	return c.S3.GetObject(ctx, in, opts...)
}

func (c *counting) PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	c.calls.Add(1)
	return c.S3.PutObject(ctx, in, opts...)
}

func (c *counting) DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	c.calls.Add(1)
	return c.S3.DeleteObject(ctx, in, opts...)
}

type storeBundle struct {
	client *counting
	bucket string
	store  *payload.Store
}

func setup(t *testing.T, maxSize int64) storeBundle {
	t.Helper()
	c, bucket := emu.Get(t).Bucket(t)
	cc := &counting{S3: c}
	return storeBundle{client: cc, bucket: bucket, store: &payload.Store{Client: cc, Buckets: []string{"another-bucket", bucket}, MaxSize: maxSize}}
}

var uuid4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("put then fetch byte for byte", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 0)
		body := make([]byte, 3<<20)
		for i := range body {
			body[i] = byte(i * 7)
		}
		p, err := b.store.Put(ctx, b.bucket, body)
		if err != nil {
			t.Fatal(err)
		}
		if p.Bucket != b.bucket || !uuid4.MatchString(p.Key) {
			t.Errorf("pointer %+v: want the bucket and a version 4 UUID key, as the extended clients write", p)
		}
		got, err := b.store.Fetch(ctx, p)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("fetched %d bytes (equal %v), %v", len(got), bytes.Equal(got, body), err)
		}
		other, err := b.store.Put(ctx, b.bucket, body)
		if err != nil || other.Key == p.Key {
			t.Errorf("a second Put: %+v, %v; want a key of its own", other, err)
		}
		// What the S3 object holds, read without the Store.
		out, err := b.client.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(p.Bucket), Key: aws.String(p.Key)})
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if !bytes.Equal(raw, body) {
			t.Errorf("the object holds %d bytes, not the body", len(raw))
		}
	})

	t.Run("missing object", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 0)
		_, err := b.store.Fetch(ctx, payload.Pointer{Bucket: b.bucket, Key: "no-such-key"})
		if !errors.Is(err, payload.ErrMissing) || !strings.Contains(err.Error(), b.bucket) {
			t.Errorf("Fetch = %v, want ErrMissing naming the bucket", err)
		}
	})

	t.Run("missing bucket", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 0)
		_, err := b.store.Fetch(ctx, payload.Pointer{Bucket: "another-bucket", Key: "k"}) // listed, never created
		if !errors.Is(err, payload.ErrMissing) {
			t.Errorf("Fetch = %v, want ErrMissing", err)
		}
	})

	t.Run("unlisted bucket: no call", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 0)
		p, err := b.store.Put(ctx, b.bucket, []byte("{}"))
		if err != nil {
			t.Fatal(err)
		}
		calls := b.client.calls.Load()
		strict := &payload.Store{Client: b.client, Buckets: []string{"another-bucket"}}
		if _, err := strict.Fetch(ctx, p); !errors.Is(err, payload.ErrBucketNotAllowed) || !strings.Contains(err.Error(), b.bucket) {
			t.Errorf("Fetch = %v, want ErrBucketNotAllowed naming the bucket", err)
		}
		if err := strict.Delete(ctx, p); !errors.Is(err, payload.ErrBucketNotAllowed) {
			t.Errorf("Delete = %v, want ErrBucketNotAllowed", err)
		}
		if n := b.client.calls.Load() - calls; n != 0 {
			t.Errorf("%d S3 calls for an unlisted bucket, want none", n)
		}
		if got, err := b.store.Fetch(ctx, p); err != nil || string(got) != "{}" {
			t.Errorf("the object was touched: %q, %v", got, err)
		}
	})

	t.Run("larger than MaxSize", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 1000)
		fits, err := b.store.Put(ctx, b.bucket, bytes.Repeat([]byte("x"), 1000))
		if err != nil {
			t.Fatal(err)
		}
		over, err := b.store.Put(ctx, b.bucket, bytes.Repeat([]byte("x"), 1001))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := b.store.Fetch(ctx, fits); err != nil || len(got) != 1000 {
			t.Errorf("MaxSize bytes: %d, %v", len(got), err)
		}
		if _, err := b.store.Fetch(ctx, over); !errors.Is(err, payload.ErrTooLarge) || !strings.Contains(err.Error(), "1001") {
			t.Errorf("Fetch = %v, want ErrTooLarge naming the size", err)
		}
	})

	t.Run("delete", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 0)
		p, err := b.store.Put(ctx, b.bucket, []byte("{}"))
		if err != nil {
			t.Fatal(err)
		}
		if err := b.store.Delete(ctx, p); err != nil {
			t.Fatal(err)
		}
		if _, err := b.store.Fetch(ctx, p); !errors.Is(err, payload.ErrMissing) {
			t.Errorf("after Delete, Fetch = %v, want ErrMissing", err)
		}
		if err := b.store.Delete(ctx, p); err != nil {
			t.Errorf("deleting a missing object: %v, want no error", err)
		}
	})
}

// unsized is an object whose length S3 does not say (a chunked answer):
// MaxSize still holds, by reading one byte past it at most.
type unsized struct {
	payload.S3
	body []byte
	read *int
}

type countingReader struct {
	r io.Reader
	n *int
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += n
	return n, err
}

func (u unsized) GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return &s3.GetObjectOutput{Body: io.NopCloser(countingReader{bytes.NewReader(u.body), u.read})}, nil
}

func TestFetchWithoutLengthStopsPastMaxSize(t *testing.T) {
	t.Parallel()
	var read int
	s := &payload.Store{Client: unsized{body: make([]byte, 1<<20), read: &read}, Buckets: []string{"b"}, MaxSize: 1000}
	_, err := s.Fetch(context.Background(), payload.Pointer{Bucket: "b", Key: "k"})
	if !errors.Is(err, payload.ErrTooLarge) {
		t.Errorf("Fetch = %v, want ErrTooLarge", err)
	}
	if read > 1001 {
		t.Errorf("read %d bytes of an object over MaxSize 1000, want at most 1001", read)
	}
	s.Client = unsized{body: make([]byte, 1000), read: &read}
	if got, err := s.Fetch(context.Background(), payload.Pointer{Bucket: "b", Key: "k"}); err != nil || len(got) != 1000 {
		t.Errorf("MaxSize bytes without a length: %d, %v", len(got), err)
	}
}
