package sesapi

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sesq/sesq/envelope"
)

// cannedSES answers every request with a SendEmail result, without a network:
// what is left is the SDK's own cost per call.
type cannedSES struct{}

const cannedSendEmail = `<SendEmailResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/"><SendEmailResult><MessageId>0000000000000000-00000000-0000-0000-0000-000000000000-000000</MessageId></SendEmailResult><ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata></SendEmailResponse>`

func (cannedSES) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		StatusCode: 200, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"text/xml"}},
		Body:          io.NopCloser(strings.NewReader(cannedSendEmail)),
		ContentLength: int64(len(cannedSendEmail)), Request: r,
	}, nil
}

func BenchmarkAPISendEmail(b *testing.B) {
	cfg := aws.Config{
		Region: "us-east-1",
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret", Source: "test"}, nil
		}),
		BaseEndpoint: aws.String("http://127.0.0.1:1"),
	}
	clients := NewClients(cfg, 32)
	clients.cfg.HTTPClient = cannedSES{}
	api := Transport{Mailers: clients}
	body := `{"version":1,"id":"sesqbench-1-1","action":"SendEmail","sourceArn":"arn:aws:ses:eu-west-1:123456789012:identity/example.com","returnPathArn":"arn:aws:ses:eu-west-1:123456789012:identity/example.com","source":"bench+sesqbench-1-1@example.com","returnPath":"bounces@example.com","destination":{"to":["user1@example.net"]},"message":{"subject":{"data":"Your receipt sesqbench-1-1","charset":"UTF-8"},"body":{"text":{"data":"Hello,\n\nthis is benchmark message sesqbench-1-1.\n\nRegards,\nExample","charset":"UTF-8"}}}}`
	e, err := envelope.Parse([]byte(body))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := api.Send(ctx, e); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := api.Send(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
}
