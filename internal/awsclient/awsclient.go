// Package awsclient provides the HTTP client every AWS SDK client in sesq
// must use, so that no SDK call can be sent twice because of a defect in
// smithy-go's request body (docs/smithy-go-request-body-writeto.md).
package awsclient

import (
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// Guard returns c with request bodies that net/http cannot mistake for a
// failed write. smithy-go closes the body when the response headers arrive,
// after which its WriteTo returns io.EOF; if net/http's last read past
// Content-Length comes later, it takes that io.EOF for a write error and
// closes the connection under the response, and the SDK resends the call
// (docs/smithy-go-request-body-writeto.md). Behind Guard net/http reads the
// body with Read, whose io.EOF after close is a clean end.
func Guard(c aws.HTTPClient) aws.HTTPClient {
	if g, ok := c.(guarded); ok {
		return g
	}
	return guarded{c}
}

type guarded struct{ next aws.HTTPClient }

// hiddenWriteTo is a shallow copy of a request, as http.Request.WithContext
// makes (the caller's request must not change), with the body behind a
// struct that only has Read and Close; one allocation holds both.
type hiddenWriteTo struct {
	req  http.Request
	body struct{ io.ReadCloser }
}

func (g guarded) Do(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return g.next.Do(r)
	}
	if _, ok := r.Body.(io.WriterTo); !ok {
		return g.next.Do(r)
	}
	h := &hiddenWriteTo{req: *r}
	h.body.ReadCloser = r.Body
	h.req.Body = &h.body
	return g.next.Do(&h.req)
}

// HTTPClient is the SDK's default HTTP client, keeping up to
// maxIdleConnsPerHost idle connections per endpoint (4 times as many in all,
// for SES clients of several regions), behind Guard. maxIdleConnsPerHost <= 0
// keeps the SDK's defaults.
//
// A client that is not an *awshttp.BuildableClient is used by the service
// clients as is (resolveHTTPClient in each service's api_client.go): they no
// longer add the defaults mode's connect and TLS handshake timeouts, which
// sesq does not get anyway (its defaults mode is "legacy", which sets none),
// nor the per-service read timeout, which this SDK only adds when
// AWS_ENABLE_DEFAULT_SOCKET_TIMEOUT_2026=true. So set it on the loaded
// aws.Config (cfg.HTTPClient = HTTPClient(n)) rather than passing it to
// config.LoadDefaultConfig: there it would also reach the configuration's
// own clients, and the EC2 metadata one (instance role credentials) would
// lose its 250 ms dial and 500 ms response header timeouts, and a custom CA
// bundle (AWS_CA_BUNDLE) would make loading fail; their calls are safe to
// resend and need no guard.
func HTTPClient(maxIdleConnsPerHost int) aws.HTTPClient {
	c := awshttp.NewBuildableClient()
	if maxIdleConnsPerHost > 0 {
		c = c.WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConnsPerHost = maxIdleConnsPerHost
			t.MaxIdleConns = 4 * maxIdleConnsPerHost
		})
	}
	return Guard(c)
}
