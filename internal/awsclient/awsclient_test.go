package awsclient

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

type recordingClient struct {
	got  *http.Request
	resp http.Response
}

func (c *recordingClient) Do(r *http.Request) (*http.Response, error) {
	c.got = r
	return &c.resp, nil
}

type closeCounter struct {
	io.Reader
	closes int
}

func (c *closeCounter) Close() error {
	c.closes++
	return nil
}

// writerToBody is a request body with WriteTo, as smithy-go builds them.
type writerToBody struct{ *closeCounter }

func (b writerToBody) WriteTo(w io.Writer) (int64, error) {
	return io.Copy(w, b.Reader)
}

func TestGuardHidesWriteTo(t *testing.T) {
	inner := &recordingClient{}
	cc := &closeCounter{Reader: strings.NewReader("payload")}
	req, err := http.NewRequest(http.MethodPost, "http://example.com/", writerToBody{cc})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Guard(inner).Do(req); err != nil {
		t.Fatal(err)
	}
	if inner.got == req {
		t.Fatal("Guard changed the caller's request instead of a copy")
	}
	if _, ok := req.Body.(writerToBody); !ok {
		t.Fatalf("the caller's request body is now %T", req.Body)
	}
	if _, ok := inner.got.Body.(io.WriterTo); ok {
		t.Fatalf("the body sent, %T, still has WriteTo", inner.got.Body)
	}
	if inner.got.URL != req.URL || inner.got.Context() != req.Context() || inner.got.ContentLength != req.ContentLength {
		t.Error("the copy lost part of the request")
	}
	b, err := io.ReadAll(inner.got.Body)
	if err != nil || string(b) != "payload" {
		t.Errorf("body read %q, %v", b, err)
	}
	if err := inner.got.Body.Close(); err != nil || cc.closes != 1 {
		t.Errorf("Close: %v, reached the body %d times", err, cc.closes)
	}
}

func TestGuardPassesOtherRequestsThrough(t *testing.T) {
	for name, body := range map[string]io.ReadCloser{
		"nil":       nil,
		"NoBody":    http.NoBody,
		"Read only": &closeCounter{Reader: strings.NewReader("x")},
	} {
		inner := &recordingClient{}
		req, err := http.NewRequest(http.MethodPost, "http://example.com/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Body = body
		if _, err := Guard(inner).Do(req); err != nil {
			t.Fatal(err)
		}
		if inner.got != req {
			t.Errorf("%s body: the request was copied", name)
		}
	}
}

func TestGuardAllocatesOnce(t *testing.T) {
	inner := &recordingClient{}
	g := Guard(inner)
	req, err := http.NewRequest(http.MethodPost, "http://example.com/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Body = io.NopCloser(bytes.NewReader([]byte("x")))
	if _, ok := req.Body.(io.WriterTo); !ok {
		t.Fatal("io.NopCloser no longer keeps WriteTo; the test body needs another type")
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = g.Do(req) }); n != 1 {
		t.Errorf("Do allocates %v times, want 1 (the request copy with its body)", n)
	}
}

func TestGuardIsIdempotent(t *testing.T) {
	g := Guard(&recordingClient{})
	if gg := Guard(g); gg != g {
		t.Error("Guard wrapped a guarded client again")
	}
}

func TestHTTPClient(t *testing.T) {
	defaults := awshttp.NewBuildableClient().GetTransport()
	for _, tc := range []struct {
		n, perHost, total int
	}{
		{8, 8, 32},
		{0, defaults.MaxIdleConnsPerHost, defaults.MaxIdleConns},
		{-1, defaults.MaxIdleConnsPerHost, defaults.MaxIdleConns},
	} {
		g, ok := HTTPClient(tc.n).(guarded)
		if !ok {
			t.Fatalf("HTTPClient(%d) is not guarded", tc.n)
		}
		b, ok := g.next.(*awshttp.BuildableClient)
		if !ok {
			t.Fatalf("HTTPClient(%d) guards a %T, not the SDK's client", tc.n, g.next)
		}
		tr := b.GetTransport()
		if tr.MaxIdleConnsPerHost != tc.perHost || tr.MaxIdleConns != tc.total {
			t.Errorf("HTTPClient(%d): %d idle per host, %d in all; want %d, %d",
				tc.n, tr.MaxIdleConnsPerHost, tr.MaxIdleConns, tc.perHost, tc.total)
		}
	}
}
