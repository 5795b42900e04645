package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesq/sesq/internal/config"
)

func checkCompose(src string) []string {
	return CheckCompose(src, variables(), config.RequiredForRun())
}

func TestComposeFile(t *testing.T) {
	if probs := checkCompose(read(t, "localstack/docker-compose.yml")); len(probs) > 0 {
		t.Errorf("localstack/docker-compose.yml:\n  %s", strings.Join(probs, "\n  "))
	}
	hook := filepath.Join("..", "..", "localstack", "init", "ready.d", "sesq.sh")
	st, err := os.Stat(hook)
	if err != nil || st.Mode()&0o111 == 0 {
		t.Errorf("%s must exist and be executable: %v", hook, err)
	}
}

func TestComposeCheckRefusesBrokenFiles(t *testing.T) {
	good := read(t, "localstack/docker-compose.yml")
	cases := []struct{ name, old, new, want string }{
		{"does not parse", "services:", "services: [", "does not parse"},
		{"latest localstack", "localstack/localstack:4.4.0", "localstack/localstack:latest", "not pinned"},
		{"unknown variable", "SESQ_CONCURRENCY:", "SESQ_CONCURENCY:", "does not read"},
		{"missing dead-letter queue", "      SESQ_DLQ_URL: http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/sesq-dlq\n", "", "does not get SESQ_DLQ_URL"},
		{"not built here", "dockerfile: Dockerfile", "dockerfile: Other.Dockerfile", "Dockerfile"},
		{"health check blind to the hook", `head -n 1 /tmp/sesq-init.status 2>/dev/null | grep -qx ready`, `awslocal sqs get-queue-url --queue-name sesq`, "does not read the init hook's status"},
		{"no send rate", "      SESQ_SEND_RATE: \"50\"\n", "", "does not get SESQ_SEND_RATE"},
	}
	for _, c := range cases {
		if !strings.Contains(good, c.old) {
			t.Fatalf("%s: compose file lacks %q", c.name, c.old)
		}
		probs := strings.Join(checkCompose(strings.Replace(good, c.old, c.new, 1)), "\n")
		if !strings.Contains(probs, c.want) {
			t.Errorf("%s: problems %q, want one saying %q", c.name, probs, c.want)
		}
	}
}
