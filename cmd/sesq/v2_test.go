package main_test

import (
	"encoding/base64"
	"encoding/json"
	"syscall"
	"testing"
	"time"

	"github.com/sesq/sesq/deadletter"
	"github.com/sesq/sesq/internal/testsupport/sesv2test"
	"github.com/sesq/sesq/internal/testsupport/testkit"
)

// sesq run with SESQ_TRANSPORT=api-v2: the SES guide's examples reach the
// SES v2 endpoint of each identity's region with the identity ARNs in the
// v2 fields (FromEmailAddressIdentityArn, FeedbackForwarding…IdentityArn),
// raw X-SES headers pass through, tenantName and templates are carried, the
// quota comes from GetAccount, and a v2 refusal is dead-lettered with its
// reason.
func TestRunWithSESv2(t *testing.T) {
	srv, err := sesv2test.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	east := "arn:aws:ses:us-east-1:123456789012:identity/example.com"
	west := "arn:aws:ses:eu-west-1:123456789012:identity/example.org"
	denied := "arn:aws:ses:us-east-1:123456789012:identity/denied.example"
	srv.FailAlways(denied, sesv2test.AccessDenied)
	mk := func(v map[string]any) string {
		v["version"] = 1
		b, _ := json.Marshal(v)
		return string(b)
	}
	simple := func(id, arn, subject string) map[string]any {
		return map[string]any{"id": id, "action": "SendEmail", "sourceArn": arn, "returnPathArn": arn,
			"source": "sender@example.com", "returnPath": "feedback@example.com",
			"destination": map[string]any{"to": []string{"recipient@example.com"}},
			"message": map[string]any{"subject": map[string]any{"data": subject, "charset": "UTF-8"},
				"body": map[string]any{"html": map[string]any{"data": "This email was sent with Amazon SES.", "charset": "UTF-8"}}}}
	}
	raw := "X-SES-SOURCE-ARN: " + east + "\r\nX-SES-FROM-ARN: " + east + "\r\nX-SES-RETURN-PATH-ARN: " + east + "\r\n" +
		"From: sender@example.com\r\nTo: recipient@example.com\r\nReturn-Path: feedback@example.com\r\nSubject: subject\r\n\r\nbody\r\n"
	tenant := simple("tenant-west", west, "Tenant")
	tenant["tenantName"] = "customer-42"
	b := emu.Setup(t)
	b.Enqueue(t,
		mk(simple("guide-sendemail", east, "Amazon SES Test")),
		mk(map[string]any{"id": "guide-raw", "action": "SendRawEmail", "raw": base64.StdEncoding.EncodeToString([]byte(raw))}),
		mk(tenant),
		mk(map[string]any{"id": "templated", "action": "SendTemplatedEmail", "sourceArn": east, "source": "sender@example.com",
			"destination": map[string]any{"to": []string{"recipient@example.com"}}, "template": "MyTemplate", "templateData": `{"a":"b"}`}),
		mk(simple("denied", denied, "Denied")),
	)
	cmd, logs := startWorker(t, sesqEnv("http://127.0.0.1:1", "SESQ_QUEUE_URL="+b.QueueURL, "SESQ_DLQ_URL="+b.DLQURL, "SESQ_WAIT_TIME=1s",
		"SESQ_TRANSPORT=api-v2", "AWS_ENDPOINT_URL_SESV2="+srv.URL))
	testkit.Eventually(t, 20*time.Second, "4 sent, the queue empty", func() bool { return len(srv.Sent()) == 4 && b.Empty(t) })
	var dead []string
	for _, m := range b.DeadLetters(t) {
		dead = append(dead, testkit.Attr(m, deadletter.AttrReason))
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit %v\n%s", err, logs.String())
	}
	if len(dead) != 1 || dead[0] != "authorization" {
		t.Errorf("the refused identity's envelope was dead-lettered as %q, want authorization", dead[0])
	}
	quota := false
	for _, r := range srv.Requests() {
		quota = quota || r.Operation == sesv2test.OpGetAccount
	}
	if !quota {
		t.Error("no GetAccount: the limiter did not start from the account's quota")
	}
	got := map[string]sesv2test.Request{}
	for _, r := range srv.Sent() {
		switch {
		case r.Input.TenantName != "":
			got["tenant-west"] = r
		case r.Raw != nil:
			got["guide-raw"] = r
		case r.Input.Content.Template != nil:
			got["templated"] = r
		default:
			got["guide-sendemail"] = r
		}
	}
	for _, c := range []struct {
		id, region, fromArn, feedbackArn, tenant string
		headers                                  sesv2test.XSES
	}{
		{"guide-sendemail", "us-east-1", east, east, "", sesv2test.XSES{}},
		{"guide-raw", "us-east-1", "", "", "", sesv2test.XSES{SourceArn: east, FromArn: east, ReturnPathArn: east}},
		{"tenant-west", "eu-west-1", west, west, "customer-42", sesv2test.XSES{}},
		{"templated", "us-east-1", east, "", "", sesv2test.XSES{}},
	} {
		r, ok := got[c.id]
		if !ok {
			t.Errorf("%s: not sent", c.id)
			continue
		}
		in := r.Input
		if r.Region != c.region || in.FromEmailAddressIdentityArn != c.fromArn || in.FeedbackForwardingEmailAddressIdentityArn != c.feedbackArn ||
			in.TenantName != c.tenant || r.Headers != c.headers {
			t.Errorf("%s: region %s, FromEmailAddressIdentityArn %q, FeedbackForwardingEmailAddressIdentityArn %q, tenant %q, X-SES headers %+v; want %s %q %q %q %+v",
				c.id, r.Region, in.FromEmailAddressIdentityArn, in.FeedbackForwardingEmailAddressIdentityArn, in.TenantName, r.Headers,
				c.region, c.fromArn, c.feedbackArn, c.tenant, c.headers)
		}
	}
	if n := srv.RegionMismatches(); n != 0 {
		t.Errorf("%d sends signed for another region than their identity's", n)
	}
}

// With the v1 API, an envelope with tenantName is dead-lettered as invalid
// before any send: only the v2 API can carry it.
func TestTenantNameNeedsSESv2(t *testing.T) {
	ses := startSES(t, 0)
	b := emu.Setup(t)
	b.Enqueue(t, `{"version":1,"action":"SendEmail","sourceArn":"arn:aws:ses:us-east-1:123456789012:identity/example.com","source":"a@example.com","destination":{"to":["r@example.net"]},"message":{"subject":{"data":"s"},"body":{"text":{"data":"b"}}},"tenantName":"customer-42"}`)
	cmd, logs := startWorker(t, sesqEnv(ses.URL, "SESQ_QUEUE_URL="+b.QueueURL, "SESQ_DLQ_URL="+b.DLQURL, "SESQ_WAIT_TIME=1s", "SESQ_SEND_RATE=10"))
	testkit.Eventually(t, 15*time.Second, "the queue empty", func() bool { return b.Empty(t) })
	var dl []string
	for _, m := range b.DeadLetters(t) {
		dl = append(dl, testkit.Attr(m, deadletter.AttrReason)+": "+testkit.Attr(m, deadletter.AttrError))
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit %v\n%s", err, logs.String())
	}
	if want := "invalid: tenantName: SES tenants need the SES v2 API (SESQ_TRANSPORT=api-v2); the v1 API cannot carry them"; len(dl) != 1 || dl[0] != want || len(ses.Requests()) != 0 {
		t.Errorf("dead letters %q, SES requests %d; want [%q] and none", dl, len(ses.Requests()), want)
	}
}
