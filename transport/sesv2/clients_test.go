package sesv2_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/sesq/sesq/internal/testsupport/conformance"
	"github.com/sesq/sesq/internal/testsupport/sesv2test"
	"github.com/sesq/sesq/transport"
	"github.com/sesq/sesq/transport/sesv2"
)

func TestClientsOnePerRegion(t *testing.T) {
	c := sesv2.NewClients(aws.Config{Region: "us-east-1"}, 8)
	east, west := c.For("us-east-1"), c.For("eu-west-1")
	if east != c.For("us-east-1") || east == west {
		t.Error("want one reused client per region")
	}
}

// The endpoint comes from the SDK's own configuration, as sesq loads it
// (AWS_ENDPOINT_URL_SESV2), and AWS_MAX_ATTEMPTS does not bring the SDK's
// retries back: one Send is one request.
func TestEndpointFromEnvironmentAndNoSDKRetries(t *testing.T) {
	srv := start(t)
	t.Setenv("AWS_ENDPOINT_URL_SESV2", srv.URL)
	t.Setenv("AWS_ENDPOINT_URL_SES", "http://127.0.0.1:1") // the v1 API's, not ours
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_MAX_ATTEMPTS", "5")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tr, err := sesv2.New(context.Background(), transport.Setup{AWS: cfg, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	srv.FailAlways(conformance.East, sesv2test.InternalError)
	e := conformance.Envelope(t, map[string]any{"action": "SendEmail", "source": "sender@example.com", "sourceArn": conformance.East,
		"destination": map[string]any{"to": []string{"recipient@example.com"}},
		"message":     map[string]any{"subject": map[string]any{"data": "s"}, "body": map[string]any{"text": map[string]any{"data": "b"}}}})
	if _, err := tr.Send(context.Background(), e); transport.Classify(err).Class != transport.Retry {
		t.Fatalf("Send: %v, want the endpoint's 500", err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests for one Send, want 1 (the SDK's retries must stay off)", n)
	}
	rate, err := tr.SendQuota(context.Background(), "us-east-1")
	if err != nil || rate != 10000 {
		t.Errorf("SendQuota = %v, %v", rate, err)
	}
	if rs := srv.Requests(); rs[len(rs)-1].Operation != sesv2test.OpGetAccount || rs[len(rs)-1].Region != "us-east-1" {
		t.Errorf("GetAccount request %+v", rs[len(rs)-1])
	}
}
