package deploy

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesq/sesq/internal/config"
	"github.com/sesq/sesq/transport/sessmtp"
)

func moduleFiles(t *testing.T) map[string]string {
	t.Helper()
	files, err := ReadModule(filepath.Join("..", "..", "terraform", "modules", "sesq"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// variables are every SESQ_ variable sesq reads: its own and its
// transports' (SESQ_SMTP_*).
func variables() []string {
	return append(config.Variables(), sessmtp.Variables()...)
}

// notInTheModule: variables a worker deployment of the module has no use
// for. The SMTP credentials come as one secret, SESQ_SMTP_CREDENTIALS (per
// region); the single pair is for one-region setups outside the module; a
// CA file is for private servers.
func notInTheModule() []string {
	return append(config.OnlyForQueuesCreate(), "SESQ_SMTP_USERNAME", "SESQ_SMTP_PASSWORD", "SESQ_SMTP_CA_FILE")
}

func checkModule(files map[string]string) []string {
	return CheckModule(files, variables(), config.RequiredForRun(), notInTheModule())
}

func TestTerraformModuleWiring(t *testing.T) {
	if probs := checkModule(moduleFiles(t)); len(probs) > 0 {
		t.Errorf("terraform/modules/sesq:\n  %s", strings.Join(probs, "\n  "))
	}
}

// Each broken variant of the module is refused with the right reason.
func TestTerraformCheckRefusesBrokenModules(t *testing.T) {
	cases := []struct {
		name, file, old, new, want string
	}{
		{"redrive to the source", "main.tf", "deadLetterTargetArn = aws_sqs_queue.dlq.arn", "deadLetterTargetArn = aws_sqs_queue.source.arn", "redrive target"},
		{"maxReceiveCount below attempts", "variables.tf", "default     = 20\n}\n\nvariable \"backoff_initial\"", "default     = 5\n}\n\nvariable \"backoff_initial\"", "must exceed the default max_attempts"},
		{"no precondition", "main.tf", "condition     = var.max_receive_count > var.max_attempts", "condition     = true", "no precondition"},
		{"no SSE", "main.tf", "  name                      = \"${var.name}-dlq\"\n  message_retention_seconds = 14 * 24 * 3600\n  sqs_managed_sse_enabled   = true", "  name                      = \"${var.name}-dlq\"\n  message_retention_seconds = 14 * 24 * 3600\n  sqs_managed_sse_enabled   = false", "no server-side encryption"},
		{"wildcard SQS resource", "main.tf", "resources = [aws_sqs_queue.dlq.arn]\n  }\n  statement {\n    sid       = \"SendAsDelegate\"", "resources = [\"*\"]\n  }\n  statement {\n    sid       = \"SendAsDelegate\"", "only ses:GetSendQuota and ses:GetAccount may have *"},
		{"extra action", "main.tf", `"sqs:ReceiveMessage", "sqs:DeleteMessage"`, `"sqs:ReceiveMessage", "sqs:PurgeQueue", "sqs:DeleteMessage"`, "sqs:PurgeQueue on aws_sqs_queue.source.arn"},
		{"missing action", "main.tf", `["ses:SendEmail", "ses:SendRawEmail", "ses:SendTemplatedEmail"]
    resources = var.identity_arns`, `["ses:SendEmail", "ses:SendRawEmail"]
    resources = var.identity_arns`, "want exactly"},
		{"unknown variable", "main.tf", "SESQ_LOG_FORMAT         = var.log_format", "SESQ_LOG_FORMATT        = var.log_format", "sesq does not read"},
		{"SMTP password in plain text", "main.tf", "    SESQ_SMTP_TLS           = var.smtp_tls\n", "    SESQ_SMTP_TLS           = var.smtp_tls\n    SESQ_SMTP_PASSWORD      = \"hunter2\"\n", "belongs in the container's secrets"},
		{"variable not passed", "main.tf", "    SESQ_SEND_TIMEOUT       = var.send_timeout\n", "", "does not get SESQ_SEND_TIMEOUT"},
		{"DLQ URL not the module's", "main.tf", "SESQ_DLQ_URL            = aws_sqs_queue.dlq.url", "SESQ_DLQ_URL            = aws_sqs_queue.source.url", "SESQ_DLQ_URL must be"},
		{"stop timeout too short", "main.tf", "stop_timeout = min(var.shutdown_timeout_seconds + var.wait_time_seconds + 5, 120)", "stop_timeout = 10", "stopTimeout"},
		{"scaling on another service", "autoscaling.tf", "resource_id        = \"service/${local.cluster_name}/${aws_ecs_service.sesq.name}\"", "resource_id        = \"service/${local.cluster_name}/other\"", "does not target the ECS service"},
		{"scaling not from the queue", "autoscaling.tf", "value = aws_sqs_queue.source.name", "value = \"other-queue\"", "ApproximateNumberOfMessagesVisible of aws_sqs_queue.source.name"},
		{"scaling not per task", "autoscaling.tf", "expression  = \"visible / IF(tasks > 0, tasks, 1)\"", "expression  = \"visible\"", "no expression of visible messages over tasks"},
		{"alarm on the wrong queue", "alarms.tf", "dimensions          = { QueueName = aws_sqs_queue.dlq.name }", "dimensions          = { QueueName = aws_sqs_queue.source.name }", "dead-letter queue"},
	}
	for _, c := range cases {
		files := moduleFiles(t)
		if !strings.Contains(files[c.file], c.old) {
			t.Fatalf("%s: %s does not contain %q", c.name, c.file, c.old)
		}
		files[c.file] = strings.Replace(files[c.file], c.old, c.new, 1)
		probs := strings.Join(checkModule(files), "\n")
		if !strings.Contains(probs, c.want) {
			t.Errorf("%s: problems:\n%s\nwant one saying %q", c.name, probs, c.want)
		}
	}
}

func TestTerraformExamples(t *testing.T) {
	for dir, want := range map[string][]string{
		"basic":          {`module "sesq"`, `source = "../../modules/sesq"`},
		"identity-owner": {`resource "aws_ses_identity_policy"`, "ses:SendRawEmail", "delegate_role_arn"},
	} {
		files, err := ReadModule(filepath.Join("..", "..", "terraform", "examples", dir))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseModule(files); err != nil {
			t.Errorf("examples/%s: %v", dir, err)
		}
		all := strings.Join(mapValues(files), "\n")
		for _, w := range want {
			if !strings.Contains(all, w) {
				t.Errorf("examples/%s lacks %s", dir, w)
			}
		}
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
