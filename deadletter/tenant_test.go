package deadletter_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sesq/sesq/deadletter"
	"github.com/sesq/sesq/internal/testsupport/sqsfake"
)

const (
	arnA = "arn:aws:ses:us-east-1:111111111111:identity/a.example"
	arnB = "arn:aws:ses:us-east-1:222222222222:identity/b.example"
)

// tenantBody is a valid envelope for identity, with extra JSON fields.
func tenantBody(id, identity, extra string) string {
	return fmt.Sprintf(`{"version":1,"id":%q,"action":"SendEmail","sourceArn":%q,"source":"s@example.com",`+
		`"destination":{"to":["r@example.com"]},"message":{"subject":{"data":"x"},"body":{"text":{"data":"y"}}}%s}`, id, identity, extra)
}

type tenantSeed struct {
	body, tenant string // tenant: the Failure's, as the worker gives it
	redrive      bool   // moved by SQS's redrive policy: no sesq attributes
}

// tenantSeeds: tenant acme twice (the field; tenantName does not win over
// it), the SES tenant ses-1 once, two owners by account id (one of them
// redriven by SQS), and two invalid envelopes, one whose tenant can be read
// loosely and one whose cannot.
var tenantSeeds = []tenantSeed{
	{body: tenantBody("t1", arnA, `,"tenant":"acme"`), tenant: "acme"},
	{body: tenantBody("t2", arnB, `,"tenant":"acme","tenantName":"ses-1"`), tenant: "acme"},
	{body: tenantBody("n1", arnA, `,"tenantName":"ses-1"`), tenant: "ses-1"},
	{body: tenantBody("o1", arnA, ``), tenant: "111111111111"},
	{body: tenantBody("o2", arnB, ``), redrive: true},
	{body: `{"version":1,"id":"i1","action":"SendEmail","sourceArn":"` + arnB + `"}`},
	{body: `{"version":1,"id":"i2","tenant":"bad tenant\r\nX: y"}`},
}

func seedTenants(t *testing.T, s *sqsfake.SQS, dlq, src string) {
	t.Helper()
	w := &deadletter.Writer{Client: s, QueueURL: dlq, SourceQueue: src}
	for _, sd := range tenantSeeds {
		var err error
		if sd.redrive {
			_, err = s.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(dlq), MessageBody: aws.String(sd.body)})
		} else {
			reason := "rejected"
			if sd.tenant == "" {
				reason = "invalid"
			}
			err = w.Write(t.Context(), types.Message{Body: aws.String(sd.body)}, deadletter.Failure{Reason: reason, Attempts: 1, At: time.Now(), Tenant: sd.tenant})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestWriteTenantAttribute(t *testing.T) {
	s := sqsfake.New()
	dlq := s.CreateQueue("mail-dlq", sqsfake.QueueOptions{})
	w := &deadletter.Writer{Client: s, QueueURL: dlq}
	for _, tenant := range []string{"acme", ""} {
		if err := w.Write(t.Context(), types.Message{Body: aws.String("b")}, deadletter.Failure{Reason: "invalid", Tenant: tenant}); err != nil {
			t.Fatal(err)
		}
		m := receiveOne(t, s, dlq)
		want := tenant
		if want == "" {
			want = "-" // no tenant: SQS refuses an empty String attribute
		}
		if got := aws.ToString(m.MessageAttributes[deadletter.AttrTenant].StringValue); got != want {
			t.Errorf("tenant %q: %s = %q, want %q", tenant, deadletter.AttrTenant, got, want)
		}
		s.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String(dlq), ReceiptHandle: m.ReceiptHandle})
	}
}

// Inspect groups by tenant: sesq-tenant when written, else the body's
// tenant by Envelope.Tenant's rule (a redriven message; an invalid envelope
// whose fields still say it); "" when neither says.
func TestInspectGroupsByTenant(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := sqsfake.New()
		src := s.CreateQueue("mail", sqsfake.QueueOptions{})
		dlq := s.CreateQueue("mail-dlq", sqsfake.QueueOptions{})
		seedTenants(t, s, dlq, src)
		groups, err := deadletter.Inspect(t.Context(), s, dlq)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, g := range groups {
			got = append(got, fmt.Sprintf("%s/%s/%s=%d", g.Reason, g.Identity, g.Tenant, g.Count))
		}
		sort.Strings(got)
		want := []string{
			"invalid//=1",
			"invalid/" + arnB + "/222222222222=1",
			"redrive/" + arnB + "/222222222222=1",
			"rejected/" + arnA + "/111111111111=1",
			"rejected/" + arnA + "/acme=1",
			"rejected/" + arnA + "/ses-1=1",
			"rejected/" + arnB + "/acme=1",
		}
		if !slices.Equal(got, want) {
			t.Errorf("groups\n%q\nwant\n%q", got, want)
		}
	})
}

// --tenant selects by exact tenant, in replay and in purge.
func TestTenantFilter(t *testing.T) {
	cases := []struct {
		tenant string
		want   []string // envelope ids moved or deleted
	}{
		{"acme", []string{"t1", "t2"}},
		{"ses-1", []string{"n1"}},
		{"222222222222", []string{"i1", "o2"}},
		{"acm", nil}, // exact, not a prefix
	}
	ids := func(msgs []types.Message) []string {
		var out []string
		for _, m := range msgs {
			var id string
			fmt.Sscanf(aws.ToString(m.Body), `{"version":1,"id":%q`, &id)
			out = append(out, id)
		}
		sort.Strings(out)
		return out
	}
	for _, c := range cases {
		t.Run("replay "+c.tenant, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := sqsfake.New()
				src := s.CreateQueue("mail", sqsfake.QueueOptions{})
				dlq := s.CreateQueue("mail-dlq", sqsfake.QueueOptions{})
				seedTenants(t, s, dlq, src)
				sum, err := deadletter.Replay(t.Context(), s, dlq, deadletter.ReplayOptions{To: src, IncludeInvalid: true, Filter: deadletter.Filter{Tenant: c.tenant}})
				if err != nil || sum.Moved != len(c.want) || sum.Filtered != len(tenantSeeds)-len(c.want) {
					t.Fatalf("replay: %+v, %v", sum, err)
				}
				if got := ids(receiveAll(t, s, src)); !slices.Equal(got, c.want) {
					t.Errorf("moved %v, want %v", got, c.want)
				}
			})
		})
		t.Run("purge "+c.tenant, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := sqsfake.New()
				src := s.CreateQueue("mail", sqsfake.QueueOptions{})
				dlq := s.CreateQueue("mail-dlq", sqsfake.QueueOptions{})
				seedTenants(t, s, dlq, src)
				sum, err := deadletter.Purge(t.Context(), s, dlq, deadletter.PurgeOptions{Filter: deadletter.Filter{Tenant: c.tenant}})
				if err != nil || len(sum.Deleted) != len(c.want) || sum.Kept != len(tenantSeeds)-len(c.want) {
					t.Fatalf("purge: %+v, %v", sum, err)
				}
				for _, e := range sum.Deleted {
					if e.Tenant != c.tenant {
						t.Errorf("deleted %+v, tenant not %s", e, c.tenant)
					}
				}
				if n := len(receiveAll(t, s, dlq)); n != len(tenantSeeds)-len(c.want) {
					t.Errorf("%d left in the dead-letter queue, want %d", n, len(tenantSeeds)-len(c.want))
				}
			})
		})
	}
}

// receiveAll receives every visible message of url.
func receiveAll(t *testing.T, s *sqsfake.SQS, url string) []types.Message {
	t.Helper()
	var out []types.Message
	for {
		r, err := s.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 300})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Messages) == 0 {
			return out
		}
		out = append(out, r.Messages...)
	}
}

// An invalid envelope whose fault is a field of the wrong type still gives
// its region, identity and tenant (from the ARN's account) to inspect and
// the filters.
func TestDescribeReadsAroundAWrongType(t *testing.T) {
	body := `{"version":1,"action":"SendEmail","sourceArn":"` + arnB + `","tenant":42}`
	e := deadletter.Describe(types.Message{Body: aws.String(body), MessageAttributes: map[string]types.MessageAttributeValue{
		deadletter.AttrReason: {DataType: aws.String("String"), StringValue: aws.String("invalid")},
	}})
	if e.Identity != arnB || e.Region != "us-east-1" || e.Tenant != "222222222222" {
		t.Errorf("described as identity %q, region %q, tenant %q", e.Identity, e.Region, e.Tenant)
	}
}
