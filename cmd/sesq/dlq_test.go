package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sesq/sesq/deadletter"
	"github.com/sesq/sesq/internal/testsupport/testkit"
)

const (
	idEast  = "arn:aws:ses:us-east-1:123456789012:identity/example.com"
	idWest  = "arn:aws:ses:eu-west-1:123456789012:identity/shop.example"
	idOther = "arn:aws:ses:eu-west-1:999999999999:identity/other.example"
)

func envBody(identity, tag string) string {
	return fmt.Sprintf(`{"version":1,"id":%q,"action":"SendEmail","sourceArn":%q,"source":"s@example.com","destination":{"to":["r@example.com"]},"message":{"subject":{"data":"x"},"body":{"text":{"data":"y"}}}}`, tag, identity)
}

type seed struct {
	body    string
	reason  string
	code    string
	age     time.Duration
	replays int
	noAttrs bool // moved by SQS's redrive: no sesq attributes
}

// seedDLQ writes dead letters the way the worker does (deadletter.Writer),
// or plainly for redriven ones.
func seedDLQ(t *testing.T, b *testkit.Bundle, seeds []seed) {
	t.Helper()
	w := &deadletter.Writer{Client: b.SQS, QueueURL: b.DLQURL, SourceQueue: b.QueueURL}
	for _, s := range seeds {
		attrs := map[string]types.MessageAttributeValue{"tenant": {DataType: aws.String("String"), StringValue: aws.String("acme")}}
		if s.replays > 0 {
			attrs[deadletter.AttrReplays] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(fmt.Sprint(s.replays))}
		}
		if s.noAttrs {
			if _, err := b.SQS.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(b.DLQURL), MessageBody: aws.String(s.body)}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		f := deadletter.Failure{Reason: s.reason, Code: s.code, Error: "because", Attempts: 1, At: time.Now().Add(-s.age)}
		if err := w.Write(context.Background(), types.Message{Body: aws.String(s.body), MessageAttributes: attrs}, f); err != nil {
			t.Fatal(err)
		}
	}
}

func standardSeeds() []seed {
	return []seed{
		{body: envBody(idEast, "a1"), reason: "authorization", code: "AccessDenied", age: 48 * time.Hour},
		{body: envBody(idEast, "a2"), reason: "authorization", code: "AccessDenied", age: time.Hour},
		{body: envBody(idWest, "a3"), reason: "authorization", code: "AccessDenied", age: 10 * time.Minute},
		{body: envBody(idWest, "r1"), reason: "rejected", code: "MessageRejected", age: 3 * time.Hour},
		{body: envBody(idOther, "x1"), reason: "exhausted", code: "ServiceUnavailable", age: 30 * time.Minute},
		{body: `{"version":1,"action":"SendEmail","sourceArn":"` + idWest + `"}`, reason: "invalid", code: "InvalidEnvelope", age: 5 * time.Minute},
		{body: envBody(idEast, "p1"), reason: "rejected", code: "MessageRejected", age: time.Hour, replays: 3},
		{body: envBody(idEast, "d1"), noAttrs: true},
	}
}

func dlqEnv(b *testkit.Bundle, extra ...string) []string {
	return sesqEnv("http://127.0.0.1:1", append([]string{"SESQ_QUEUE_URL=" + b.QueueURL, "SESQ_DLQ_URL=" + b.DLQURL}, extra...)...)
}

// ids returns the envelope ids of the messages in a queue (each once), and
// checks each still carries the producer's attribute.
func ids(t *testing.T, b *testkit.Bundle, url string) []string {
	t.Helper()
	q := &testkit.Bundle{SQS: b.SQS, DLQURL: url}
	var out []string
	for _, m := range q.DeadLetters(t) {
		var e struct{ ID string }
		json.Unmarshal([]byte(aws.ToString(m.Body)), &e)
		if e.ID == "" {
			e.ID = "invalid"
		}
		out = append(out, e.ID)
	}
	sort.Strings(out)
	return out
}

func TestDLQInspectConsumesNothing(t *testing.T) {
	b := emu.Setup(t)
	seedDLQ(t, b, standardSeeds())

	out, errOut, code := sesq(t, dlqEnv(b), "", "dlq", "inspect", "--json")
	if code != 0 {
		t.Fatalf("inspect: exit %d: %s", code, errOut)
	}
	var groups []deadletter.Group
	if err := json.Unmarshal([]byte(out), &groups); err != nil {
		t.Fatalf("stdout is not one JSON array: %v\n%s", err, out)
	}
	got := map[string]int{}
	total := 0
	for _, g := range groups {
		got[g.Reason+"/"+g.ErrorCode+"/"+g.Region+"/"+g.Identity+"/"+g.Tenant] = g.Count
		total += g.Count
		if g.Oldest.IsZero() || g.Newest.Before(g.Oldest) {
			t.Errorf("group %+v: bad times", g)
		}
	}
	want := map[string]int{
		"authorization/AccessDenied/us-east-1/" + idEast + "/123456789012":    2,
		"authorization/AccessDenied/eu-west-1/" + idWest + "/123456789012":    1,
		"rejected/MessageRejected/eu-west-1/" + idWest + "/123456789012":      1,
		"rejected/MessageRejected/us-east-1/" + idEast + "/123456789012":      1,
		"exhausted/ServiceUnavailable/eu-west-1/" + idOther + "/999999999999": 1,
		"invalid/InvalidEnvelope/eu-west-1/" + idWest + "/123456789012":       1,
		"redrive//us-east-1/" + idEast + "/123456789012":                      1,
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("group %s: %d, want %d (all: %v)", k, got[k], n, got)
		}
	}
	if total != 8 {
		t.Errorf("%d messages grouped, want 8; stderr:\n%s", total, errOut)
	}
	// Nothing consumed, and visible again at once.
	v, f, _ := b.Counts(t, b.DLQURL)
	if v != 8 || f != 0 {
		t.Errorf("after inspect: %d visible, %d in flight; want 8 and 0", v, f)
	}

	out, _, code = sesq(t, dlqEnv(b), "", "dlq", "inspect")
	if code != 0 || !strings.Contains(out, "REASON") || !strings.Contains(out, "8 messages in 7 groups") || !strings.Contains(out, "AccessDenied") || !strings.Contains(out, "TENANT") {
		t.Errorf("table output:\n%s", out)
	}
}

func TestDLQReplayFilters(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		moved []string // envelope ids that end in the source queue
		code  int
	}{
		{"all but invalid and max-replays", nil, []string{"a1", "a2", "a3", "d1", "r1", "x1"}, 0},
		{"reason", []string{"--reason", "authorization"}, []string{"a1", "a2", "a3"}, 0},
		{"redrive", []string{"--reason", "redrive"}, []string{"d1"}, 0},
		{"error code", []string{"--error-code", "MessageRejected"}, []string{"r1"}, 0},
		{"identity glob", []string{"--identity", "arn:aws:ses:*:123456789012:identity/shop.*"}, []string{"a3", "r1"}, 0},
		{"region", []string{"--region", "eu-west-1"}, []string{"a3", "r1", "x1"}, 0},
		{"tenant", []string{"--tenant", "999999999999"}, []string{"x1"}, 0}, // the owner's account: no tenant field
		{"tenant exact", []string{"--tenant", "99999999999"}, nil, 0},
		{"older than", []string{"--older-than", "2h", "--reason", "authorization"}, []string{"a1"}, 0},
		{"older than days", []string{"--older-than", "1d"}, []string{"a1"}, 0},
		{"newer than", []string{"--newer-than", "45m"}, []string{"a3", "d1", "x1"}, 0}, // d1: a redriven message counts from its SentTimestamp
		{"max", []string{"--reason", "authorization", "--max", "2"}, nil, 0},           // two of three, checked below
		{"include invalid", []string{"--reason", "invalid", "--include-invalid"}, []string{"invalid"}, 0},
		{"max replays", []string{"--error-code", "MessageRejected", "--max-replays", "4"}, []string{"p1", "r1"}, 0},
		{"dry run", []string{"--dry-run"}, nil, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Not parallel: a dozen replays at once against one fauxqs have
			// lost a ReceiveMessage answer ("use of closed network
			// connection"), which hides the messages for the scan's hold.
			b := emu.Setup(t)
			seedDLQ(t, b, standardSeeds())
			out, errOut, code := sesq(t, dlqEnv(b), "", append([]string{"dlq", "replay"}, c.args...)...)
			if code != c.code {
				t.Fatalf("exit %d, want %d: %s %s", code, c.code, out, errOut)
			}
			moved := ids(t, b, b.QueueURL)
			left := ids(t, b, b.DLQURL)
			if len(moved)+len(left) != 8 {
				v, f, d := b.Counts(t, b.DLQURL)
				t.Fatalf("moved %v + left %v != 8 messages (dead-letter queue: %d visible, %d in flight, %d delayed); replay said %q %q", moved, left, v, f, d, out, errOut)
			}
			switch c.name {
			case "max":
				if len(moved) != 2 || !strings.HasPrefix(moved[0], "a") || !strings.HasPrefix(moved[1], "a") {
					t.Errorf("moved %v, want two of a1..a3", moved)
				}
			case "dry run":
				if len(moved) != 0 || !strings.Contains(out, "would move 6") {
					t.Errorf("dry run moved %v, said %q", moved, out)
				}
			default:
				if strings.Join(moved, ",") != strings.Join(c.moved, ",") {
					t.Errorf("moved %v, want %v (output %q)", moved, c.moved, out)
				}
			}
		})
	}
}

// A replayed message: body byte for byte, failure attributes dropped,
// sesq-replays counted, the producer's attributes kept.
func TestDLQReplayedMessage(t *testing.T) {
	b := emu.Setup(t)
	body := envBody(idEast, "a1")
	seedDLQ(t, b, []seed{{body: body, reason: "authorization", code: "AccessDenied", replays: 1}})
	other := emu.Setup(t) // --to another queue
	out, errOut, code := sesq(t, dlqEnv(b), "", "dlq", "replay", "--to", other.QueueURL)
	if code != 0 || !strings.Contains(out, "moved 1 to "+other.QueueURL) {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	r, err := b.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(other.QueueURL), MessageAttributeNames: []string{"All"}})
	if err != nil || len(r.Messages) != 1 {
		t.Fatalf("target holds %d: %v", len(r.Messages), err)
	}
	m := r.Messages[0]
	if aws.ToString(m.Body) != body {
		t.Errorf("body changed")
	}
	for _, a := range []string{deadletter.AttrReason, deadletter.AttrErrorCode, deadletter.AttrError, deadletter.AttrAttempts, deadletter.AttrFailedAt, deadletter.AttrSourceQueue} {
		if _, ok := m.MessageAttributes[a]; ok {
			t.Errorf("%s kept", a)
		}
	}
	if testkit.Attr(m, deadletter.AttrReplays) != "2" || testkit.Attr(m, "tenant") != "acme" {
		t.Errorf("sesq-replays %q, tenant %q", testkit.Attr(m, deadletter.AttrReplays), testkit.Attr(m, "tenant"))
	}
	if v, f, _ := b.Counts(t, b.DLQURL); v+f != 0 {
		t.Errorf("dead-letter queue still holds %d", v+f)
	}
}

func TestDLQReplayRate(t *testing.T) {
	b := emu.Setup(t)
	var seeds []seed
	for i := 0; i < 6; i++ {
		seeds = append(seeds, seed{body: envBody(idEast, fmt.Sprint("m", i)), reason: "exhausted", code: "Throttling"})
	}
	seedDLQ(t, b, seeds)
	start := time.Now()
	out, errOut, code := sesq(t, dlqEnv(b), "", "dlq", "replay", "--rate", "4")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if d := time.Since(start); d < 1200*time.Millisecond {
		t.Errorf("6 messages at 4/s took %v, want at least 1.25s", d)
	}
	if got := ids(t, b, b.QueueURL); len(got) != 6 {
		t.Errorf("moved %d of 6; replay said:\n%s%s", len(got), out, errOut)
	}
}

func TestDLQPurge(t *testing.T) {
	b := emu.Setup(t)
	seedDLQ(t, b, standardSeeds())
	_, errOut, code := sesq(t, dlqEnv(b), "", "dlq", "purge", "--reason", "authorization")
	if code != 2 || !strings.Contains(errOut, "--yes") {
		t.Fatalf("purge without --yes: exit %d, %q", code, errOut)
	}
	out, errOut, code := sesq(t, dlqEnv(b), "", "dlq", "purge", "--reason", "authorization", "--region", "us-east-1", "--yes")
	if code != 0 || strings.Count(out, "deleted ") != 3 || !strings.Contains(out, "deleted 2, kept 6, failed 0") || strings.Count(out, "tenant=123456789012") != 2 {
		t.Fatalf("purge: exit %d\n%s%s", code, out, errOut)
	}
	left := ids(t, b, b.DLQURL)
	if len(left) != 6 || strings.Contains(strings.Join(left, ","), "a1") || strings.Contains(strings.Join(left, ","), "a2") {
		t.Errorf("left %v", left)
	}
}

// The target becomes unreachable in the middle of a replay: every message
// ends either moved or still in the dead-letter queue, never both gone.
func TestDLQReplayInterrupted(t *testing.T) {
	b := emu.Setup(t)
	var seeds []seed
	for i := 0; i < 40; i++ {
		seeds = append(seeds, seed{body: envBody(idEast, fmt.Sprintf("m%02d", i)), reason: "exhausted", code: "ServiceUnavailable"})
	}
	seedDLQ(t, b, seeds)

	// A proxy in front of fauxqs that cuts SendMessageBatch after two calls.
	target, _ := url.Parse(emu.Fauxqs.URL)
	var sends atomic.Int32
	proxy := httputil.NewSingleHostReverseProxy(target)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".SendMessageBatch") && sends.Add(1) > 2 {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close() // unreachable
			return
		}
		proxy.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	defer srv.Close()

	env := dlqEnv(b, "AWS_ENDPOINT_URL_SQS=http://"+ln.Addr().String(), "AWS_MAX_ATTEMPTS=1")
	out, errOut, code := sesq(t, env, "", "dlq", "replay", "--rate", "40")
	if code != 1 || !strings.Contains(errOut, "failed to move") {
		t.Fatalf("exit %d, want 1:\n%s%s", code, out, errOut)
	}
	moved, left := ids(t, b, b.QueueURL), ids(t, b, b.DLQURL)
	all := map[string]int{}
	for _, id := range append(append([]string{}, moved...), left...) {
		all[id]++
	}
	lost, both := 0, 0
	for i := 0; i < 40; i++ {
		switch all[fmt.Sprintf("m%02d", i)] {
		case 0:
			lost++
		case 2:
			both++
		}
	}
	t.Logf("interrupted replay: moved %d, left %d, lost %d, in both %d; %s", len(moved), len(left), lost, both, strings.TrimSpace(out))
	if lost != 0 || both != 0 || len(moved) == 0 || len(left) == 0 {
		t.Errorf("moved %d, left %d, lost %d, in both %d", len(moved), len(left), lost, both)
	}
}
