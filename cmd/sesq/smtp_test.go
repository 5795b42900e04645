package main_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sesq/sesq/internal/testsupport/smtptest"
	"github.com/sesq/sesq/internal/testsupport/testkit"
	"github.com/sesq/sesq/transport/sessmtp"
)

// sesq run with SESQ_TRANSPORT=smtp: the test server's CA is trusted through
// SESQ_SMTP_CA_FILE, in addition to the system's roots (there is no switch
// that skips verification); the password is derived from the static keys
// for the identity's region.
func TestRunOverSMTP(t *testing.T) {
	srv, err := smtptest.Start(smtptest.StartTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, srv.CAPEM, 0o644)
	b := emu.Setup(t)
	b.Enqueue(t, `{"version":1,"action":"SendRawEmail","sourceArn":"arn:aws:ses:eu-west-1:123456789012:identity/example.com","raw":"RnJvbTogYUBleGFtcGxlLmNvbQ0KVG86IHJAZXhhbXBsZS5uZXQNCg0KaGk="}`)
	cmd, logs := startWorker(t, sesqEnv("http://127.0.0.1:1", "SESQ_QUEUE_URL="+b.QueueURL, "SESQ_DLQ_URL="+b.DLQURL, "SESQ_WAIT_TIME=1s",
		"SESQ_TRANSPORT=smtp", "SESQ_SMTP_ENDPOINT="+srv.Addr, "SESQ_SMTP_CA_FILE="+ca))
	testkit.Eventually(t, 15*time.Second, "the message over SMTP", func() bool { return len(srv.Accepted()) == 1 && b.Empty(t) })
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit %v\n%s", err, logs.String())
	}
	m := srv.Accepted()[0]
	if m.User != "AKIDTEST" || m.Password != sessmtp.Password("secret", "eu-west-1") || !m.TLS {
		t.Errorf("user %s, password derived for eu-west-1: %v, TLS %v", m.User, m.Password == sessmtp.Password("secret", "eu-west-1"), m.TLS)
	}

	// Without the CA file the server's certificate is not trusted: nothing
	// is sent, and the log says so (not that credentials were refused).
	b2 := emu.Setup(t)
	b2.Enqueue(t, `{"version":1,"action":"SendRawEmail","sourceArn":"arn:aws:ses:eu-west-1:123456789012:identity/example.com","raw":"RnJvbTogYUBleGFtcGxlLmNvbQ0KVG86IHJAZXhhbXBsZS5uZXQNCg0KaGk="}`)
	cmd, logs2 := startWorker(t, sesqEnv("http://127.0.0.1:1", "SESQ_QUEUE_URL="+b2.QueueURL, "SESQ_DLQ_URL="+b2.DLQURL, "SESQ_WAIT_TIME=1s",
		"SESQ_TRANSPORT=smtp", "SESQ_SMTP_ENDPOINT="+srv.Addr))
	testkit.Eventually(t, 10*time.Second, "a certificate error", func() bool { return strings.Contains(logs2.String(), "TLSVerification") })
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if len(srv.Accepted()) != 1 {
		t.Error("sent to a server whose certificate is not trusted")
	}
	if strings.Contains(strings.ToLower(logs2.String()), "credentials were refused") {
		t.Errorf("a certificate error logged as refused credentials:\n%s", logs2.String())
	}
	if len(b2.DeadLetters(t)) != 0 {
		t.Error("dead-lettered a message because the worker does not trust its endpoint")
	}
}

func TestSMTPConfigurationRefused(t *testing.T) {
	q := []string{"SESQ_QUEUE_URL=http://127.0.0.1:1/0/q", "SESQ_DLQ_URL=http://127.0.0.1:1/0/d", "SESQ_TRANSPORT=smtp"}
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"AWS_SESSION_TOKEN=FwoGZXIvYXdzEBYaDH"}, "temporary"},
		{[]string{"SESQ_SMTP_TLS=none"}, "loopback"},
		{[]string{"SESQ_SMTP_TLS=none", "SESQ_SMTP_ENDPOINT=mail.example.com:25"}, "loopback"},
		{[]string{"SESQ_SMTP_PORT=25"}, "SESQ_SMTP_PORT"},
		{[]string{"SESQ_SMTP_USERNAME=u"}, "together"},
		{[]string{"SESQ_TRANSPORT=carrier-pigeon"}, "SESQ_TRANSPORT"},
	} {
		var stderr bytes.Buffer
		cmd := exec.Command(bin, "run")
		cmd.Env = sesqEnv("http://127.0.0.1:1", append(q, c.env...)...)
		cmd.Stderr = &stderr
		err := cmd.Run()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), c.want) || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("%v: %v, stderr %q; want exit 2 naming %q", c.env, err, stderr.String(), c.want)
		}
	}
}
