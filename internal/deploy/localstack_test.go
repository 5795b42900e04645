package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sesq/sesq/envelope"
	"github.com/sesq/sesq/internal/glob"
)

// runHook runs the LocalStack ready hook with a stand-in awslocal that logs
// its calls and fails those whose arguments contain one of failing.
func runHook(t *testing.T, failing ...string) (status []string, calls []string, err error) {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	fake := `#!/bin/bash
echo "$*" >> "$FAKE_LOG"
for f in $FAKE_FAIL; do
  case " $* " in *" $f "*) echo "An error occurred (InvalidAction): $f is not implemented" >&2; exit 255;; esac
done
case "$*" in *get-queue-attributes*) echo "arn:aws:sqs:us-east-1:000000000000:sesq-dlq";; esac
`
	if err := os.WriteFile(filepath.Join(dir, "awslocal"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	statusFile, logFile := filepath.Join(dir, "status"), filepath.Join(dir, "calls")
	cmd := exec.Command("bash", filepath.Join("..", "..", "localstack", "init", "ready.d", "sesq.sh"))
	cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "SESQ_INIT_STATUS="+statusFile,
		"FAKE_LOG="+logFile, "FAKE_FAIL="+strings.Join(failing, " "))
	out, err := cmd.CombinedOutput()
	t.Logf("hook output:\n%s", out)
	b, _ := os.ReadFile(statusFile)
	c, _ := os.ReadFile(logFile)
	return strings.Split(strings.TrimSpace(string(b)), "\n"), strings.Split(strings.TrimSpace(string(c)), "\n"), err
}

// An emulator without identity policies: the hook says what it skipped and
// goes on to the second region; the status is ready.
func TestLocalStackHookToleratesMissingSESActions(t *testing.T) {
	status, calls, err := runHook(t, "put-identity-policy")
	if err != nil {
		t.Fatalf("hook failed: %v", err)
	}
	want := []string{"ready",
		"skipped: the sending-authorization policy of example.com in us-east-1",
		"skipped: the sending-authorization policy of example.com in eu-west-1"}
	if !slices.Equal(status, want) {
		t.Errorf("status %q, want %q", status, want)
	}
	if !slices.ContainsFunc(calls, func(c string) bool {
		return strings.Contains(c, "verify-domain-identity") && strings.Contains(c, "eu-west-1")
	}) {
		t.Errorf("the second region was not set up: %q", calls)
	}
	status, _, err = runHook(t)
	if err != nil || !slices.Equal(status, []string{"ready"}) {
		t.Errorf("everything works: status %q, err %v", status, err)
	}
}

// Without the queues the hook fails, and says so in the status the health
// check reads.
func TestLocalStackHookFailsWithoutQueues(t *testing.T) {
	status, _, err := runHook(t, "create-queue")
	if err == nil || len(status) < 2 || status[0] != "failed" || !strings.Contains(status[1], "sesq-dlq") {
		t.Errorf("status %q, err %v; want failed naming the queue", status, err)
	}
}

// The examples README enqueues into the LocalStack stack are valid
// envelopes in both regions, for identities the stack's worker may use.
func TestLocalStackExamples(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "localstack", "examples.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	allowed := "arn:aws:ses:*:000000000000:identity/example.com"
	if !strings.Contains(read(t, "localstack/docker-compose.yml"), `SESQ_ALLOWED_IDENTITIES: "`+allowed+`"`) {
		t.Fatalf("the compose file no longer allows %s", allowed)
	}
	regions := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		e, err := envelope.Parse(sc.Bytes())
		if err != nil {
			t.Fatalf("%s: %v", sc.Text()[:min(60, len(sc.Text()))], err)
		}
		regions[e.Region()]++
		for _, a := range e.IdentityARNs() {
			if !glob.Match(allowed, a) {
				t.Errorf("%s is not allowed by the stack's worker", a)
			}
		}
	}
	if regions["us-east-1"] == 0 || regions["eu-west-1"] == 0 {
		t.Errorf("examples per region %v, want both", regions)
	}
}
