package sessmtp_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesq/sesq/internal/testsupport/smtptest"
	"github.com/sesq/sesq/internal/testsupport/testkit"
	"github.com/sesq/sesq/transport/sessmtp"
)

var emu *testkit.Emulators

// TestMain starts fauxqs for the end-to-end tests (e2e_test.go).
func TestMain(m *testing.M) { os.Exit(testkit.Main(m, &emu)) }

// AWS's documentation example keys: the SMTP user name is the key id, the
// password derived from the secret for each region.
const (
	accessKey = "AKIAIOSFODNN7EXAMPLE"
	secretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// regions the test server takes logins for.
var regions = []string{"us-east-1", "eu-west-1"}

func arnIn(region, identity string) string {
	return "arn:aws:ses:" + region + ":123456789012:identity/" + identity
}

// regionOf is an identity ARN's region.
func regionOf(arn string) string { return strings.Split(arn, ":")[3] }

var tlsModes = map[string]string{smtptest.StartTLS: sessmtp.TLSStartTLS, smtptest.Implicit: sessmtp.TLSImplicit, smtptest.Plain: sessmtp.TLSNone}

// startServer starts an SMTP test server in mode that takes, as SES does,
// the access key id with the password derived for a region, and places
// each session in that region.
func startServer(t *testing.T, mode string) *smtptest.Server {
	t.Helper()
	srv, err := smtptest.Start(mode)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	for _, r := range regions {
		srv.AddLogin(accessKey, sessmtp.Password(secretKey, r), r)
	}
	return srv
}

// caFile writes the server's CA to a PEM file, for SESQ_SMTP_CA_FILE.
func caFile(t *testing.T, srv *smtptest.Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, srv.CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// newTransport is the transport for srv, trusting its CA through the CA
// file, with passwords derived from the static keys; over adjusts the
// configuration.
func newTransport(t *testing.T, srv *smtptest.Server, mode string, over func(*sessmtp.Config)) *sessmtp.Transport {
	t.Helper()
	cfg := sessmtp.Config{
		Endpoint: srv.Addr, TLS: tlsModes[mode], CAFile: caFile(t, srv),
		AccessKeyID: accessKey, SecretAccessKey: secretKey,
		MaxConns: 4, CommandTimeout: 5 * time.Second,
	}
	if over != nil {
		over(&cfg)
	}
	tr, err := sessmtp.NewWithConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}
