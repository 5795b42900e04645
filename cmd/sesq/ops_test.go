package main_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sesq/sesq/internal/emulator"
	"github.com/sesq/sesq/internal/testsupport/sestest"
	"github.com/sesq/sesq/internal/testsupport/testkit"
)

// scrape reads the value of each sample of /metrics, keyed by name{labels}.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

func status(addr, path string) int {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// A mixed run through the binary: /metrics counts what happened, the probes
// and `sesq health` answer, and the logs carry no recipient, subject or body.
func TestMetricsHealthAndLogsOfAMixedRun(t *testing.T) {
	ses := startSES(t, 0)
	b := emu.Setup(t)
	ok, denied, flaky := idEast, "arn:aws:ses:eu-west-1:123456789012:identity/denied.example", "arn:aws:ses:ap-southeast-2:123456789012:identity/flaky.example"
	ses.FailAlways(denied, sestest.AccessDenied)
	ses.Fail(flaky, sestest.ThrottleRate, sestest.ThrottleRate)
	secret := func(i int) string {
		return fmt.Sprintf(`{"version":1,"action":"SendEmail","sourceArn":%%q,"source":"s@example.com","destination":{"to":["private-recipient-%d@example.net"]},"message":{"subject":{"data":"secret subject %d"},"body":{"text":{"data":"secret body %d"}}}}`, i, i, i)
	}
	for i := 0; i < 4; i++ {
		b.Enqueue(t, fmt.Sprintf(secret(i), ok))
	}
	b.Enqueue(t, fmt.Sprintf(secret(10), denied), fmt.Sprintf(secret(11), denied), fmt.Sprintf(secret(12), flaky))
	b.Enqueue(t, `{"version":1,"action":"SendEmail","source":"private-recipient-99@example.net"}`, "not json")

	port, _ := emulator.FreePort()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd, logs := startWorker(t, sesqEnv(ses.URL, "SESQ_QUEUE_URL="+b.QueueURL, "SESQ_DLQ_URL="+b.DLQURL, "SESQ_WAIT_TIME=1s", "SESQ_HTTP_ADDR="+addr, "SESQ_LOG_LEVEL=info"))
	testkit.Eventually(t, 20*time.Second, "the queue to drain", func() bool { return b.Empty(t) && len(ses.Sent()) == 5 })
	time.Sleep(200 * time.Millisecond)

	m := scrape(t, addr)
	want := map[string]float64{
		`sesq_messages_total{action="SendEmail",outcome="sent",region="us-east-1"}`:           4,
		`sesq_messages_total{action="SendEmail",outcome="sent",region="ap-southeast-2"}`:      1,
		`sesq_messages_total{action="SendEmail",outcome="authorization",region="eu-west-1"}`:  2,
		`sesq_messages_total{action="unknown",outcome="invalid",region="unknown"}`:            2,
		`sesq_dead_letters_total{reason="authorization"}`:                                     2,
		`sesq_dead_letters_total{reason="invalid"}`:                                           2,
		`sesq_ses_throttles_total{region="ap-southeast-2"}`:                                   2,
		`sesq_ses_request_duration_seconds_count{action="SendEmail",region="ap-southeast-2"}`: 3,
		`sesq_ses_request_duration_seconds_count{action="SendEmail",region="us-east-1"}`:      4,
		`sesq_queue_lag_seconds_count`:                                                        5,
		`sesq_messages_in_flight`:                                                             0,
		`sesq_sqs_requests_total{action="SendMessage"}`:                                       4,
		// SES calls by error code ("": accepted).
		`sesq_ses_calls_total{action="SendEmail",code="",region="us-east-1"}`:                4,
		`sesq_ses_calls_total{action="SendEmail",code="",region="ap-southeast-2"}`:           1,
		`sesq_ses_calls_total{action="SendEmail",code="Throttling",region="ap-southeast-2"}`: 2,
		`sesq_ses_calls_total{action="SendEmail",code="AccessDenied",region="eu-west-1"}`:    2,
		// Every region SES answered in is closed; no store call failed.
		`sesq_breaker_state{region="us-east-1"}`:             0,
		`sesq_breaker_state{region="eu-west-1"}`:             0,
		`sesq_breaker_state{region="ap-southeast-2"}`:        0,
		`sesq_idempotency_errors_total{operation="claim"}`:   0,
		`sesq_idempotency_errors_total{operation="renew"}`:   0,
		`sesq_idempotency_errors_total{operation="done"}`:    0,
		`sesq_idempotency_errors_total{operation="release"}`: 0,
	}
	for k, v := range want {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	builds := 0
	for k, v := range m {
		if strings.HasPrefix(k, `sesq_build_info{goversion="`+runtime.Version()+`",version="`) && v == 1 {
			builds++
		}
	}
	if builds != 1 {
		t.Errorf("%d sesq_build_info samples of this build, want 1", builds)
	}
	// The limiters' current rates: the throttled region's was cut.
	if east, ap := m[`sesq_ses_send_rate{region="us-east-1"}`], m[`sesq_ses_send_rate{region="ap-southeast-2"}`]; ap <= 0 || ap >= east {
		t.Errorf("send rates: us-east-1 %v, ap-southeast-2 (throttled) %v", east, ap)
	}
	if m[`sesq_sqs_requests_total{action="ReceiveMessage"}`] < 1 || m[`sesq_sqs_requests_total{action="DeleteMessageBatch"}`] < 1 {
		t.Errorf("SQS calls not counted: %v", m)
	}
	if status(addr, "/healthz") != 200 || status(addr, "/readyz") != 200 {
		t.Errorf("healthz %d, readyz %d", status(addr, "/healthz"), status(addr, "/readyz"))
	}
	if out, errOut, code := sesq(t, nil, "", "health", addr); code != 0 || strings.TrimSpace(out) != "ok" {
		t.Errorf("sesq health: exit %d %q %q", code, out, errOut)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v", err)
	}
	if _, _, code := sesq(t, nil, "", "health", addr); code == 0 {
		t.Errorf("sesq health succeeded with no worker running")
	}

	outcomes := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		for _, s := range []string{"private-recipient", "secret subject", "secret body"} {
			if strings.Contains(line, s) {
				t.Errorf("log line carries %q: %s", s, line)
			}
		}
		var l map[string]any
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Errorf("not JSON: %s", line)
			continue
		}
		if l["msg"] == "message" {
			outcomes[l["outcome"].(string)]++
			for _, k := range []string{"sqs_message_id", "attempt", "duration_s"} {
				if _, ok := l[k]; !ok {
					t.Errorf("outcome line without %s: %s", k, line)
				}
			}
			if l["outcome"] == "sent" {
				for _, k := range []string{"envelope_id", "ses_message_id", "region", "identity", "action"} {
					if _, ok := l[k]; !ok {
						t.Errorf("sent line without %s: %s", k, line)
					}
				}
			}
		}
	}
	if outcomes["sent"] != 5 || outcomes["authorization"] != 2 || outcomes["invalid"] != 2 {
		t.Errorf("outcome lines %v", outcomes)
	}
}
