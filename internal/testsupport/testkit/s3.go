package testkit

import (
	"context"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sesq/sesq/internal/awsclient"
	"github.com/sesq/sesq/internal/emulator"
)

// NewS3 is an S3 client for the emulator at endpoint: fauxqs serves S3 on
// its one endpoint, path-style (a loopback address has no bucket
// subdomains), as sesq's own client does when AWS_ENDPOINT_URL_S3 is set.
func NewS3(endpoint string) *s3.Client {
	return s3.New(s3.Options{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		HTTPClient:   awsclient.HTTPClient(0),
	})
}

var buckets atomic.Int64

// Bucket creates a bucket of its own for the test in fauxqs's S3 and
// returns a client and the bucket's name (a valid S3 bucket name, from the
// test's).
func (e *Emulators) Bucket(t testing.TB) (*s3.Client, string) {
	t.Helper()
	c := NewS3(e.Fauxqs.URL)
	name := strings.Trim(unsafeBucket.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(name) > 40 {
		name = strings.Trim(name[len(name)-40:], "-")
	}
	name = "sesq-" + strconv.FormatInt(buckets.Add(1), 10) + "-" + name
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	return c, name
}

var unsafeBucket = regexp.MustCompile(`[^a-z0-9]+`)

// OnDemand starts fauxqs on the first test that asks for it, for test
// binaries whose other tests (table tests, fuzz targets, whose workers run
// TestMain too) must run without Node. Stop it in TestMain after m.Run.
type OnDemand struct {
	once sync.Once
	emu  *Emulators
	err  error
}

// Get returns the emulators, starting them once. Without them installed
// (`make deps`) the test is skipped, except in CI (CI=true), where it fails.
func (o *OnDemand) Get(t testing.TB) *Emulators {
	t.Helper()
	o.once.Do(func() {
		dir, err := emulator.Dir()
		if err != nil {
			o.err = err
			return
		}
		var logw io.Writer
		if testing.Verbose() {
			logw = os.Stderr
		}
		p, err := emulator.StartFauxqs(context.Background(), dir, logw)
		if err != nil {
			o.err = err
			return
		}
		o.emu = &Emulators{Dir: dir, Fauxqs: p}
	})
	if o.err != nil {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); !ci {
			t.Skipf("no emulator (%v); CI=true makes this a failure", o.err)
		}
		t.Fatal(o.err)
	}
	return o.emu
}

// Stop stops what Get started, if anything.
func (o *OnDemand) Stop() {
	if o.emu != nil {
		o.emu.Fauxqs.Stop()
	}
}
