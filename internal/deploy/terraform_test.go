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
	for _, c := range brokenCases() {
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

// brokenCases are broken variants of the module: in file, old is replaced
// by new, and a problem saying want is expected.
func brokenCases() []brokenCase {
	return []brokenCase{
		{"redrive to the source", "main.tf", "deadLetterTargetArn = aws_sqs_queue.dlq.arn", "deadLetterTargetArn = aws_sqs_queue.source.arn", "redrive target"},
		{"maxReceiveCount below attempts", "variables.tf", "default     = 20\n  validation {\n    condition     = var.max_receive_count", "default     = 5\n  validation {\n    condition     = var.max_receive_count", "must exceed the default max_attempts"},
		{"no precondition", "main.tf", "condition     = var.max_receive_count > var.max_attempts", "condition     = true", "no precondition"},
		{"no SSE", "main.tf", "sqs_managed_sse_enabled           = var.kms_key_arn == null ? true : null", "sqs_managed_sse_enabled           = false", "queue dlq has no server-side encryption"},
		{"wildcard SQS resource", "main.tf", "resources = [aws_sqs_queue.dlq.arn]\n  }\n  statement {\n    sid       = \"SendAsDelegate\"", "resources = [\"*\"]\n  }\n  statement {\n    sid       = \"SendAsDelegate\"", "only ses:GetSendQuota and ses:GetAccount may have *"},
		{"extra action", "main.tf", `"sqs:ReceiveMessage", "sqs:DeleteMessage"`, `"sqs:ReceiveMessage", "sqs:PurgeQueue", "sqs:DeleteMessage"`, "sqs:PurgeQueue on aws_sqs_queue.source.arn"},
		{"missing action", "main.tf", `["ses:SendEmail", "ses:SendRawEmail", "ses:SendTemplatedEmail"]
    resources = var.identity_arns`, `["ses:SendEmail", "ses:SendRawEmail"]
    resources = var.identity_arns`, "want exactly"},
		{"unknown variable", "main.tf", "SESQ_LOG_FORMAT         = var.log_format", "SESQ_LOG_FORMATT        = var.log_format", "sesq does not read"},
		{"SMTP password in plain text", "main.tf", "    SESQ_SMTP_TLS           = var.smtp_tls\n", "    SESQ_SMTP_TLS           = var.smtp_tls\n    SESQ_SMTP_PASSWORD      = \"hunter2\"\n", "belongs in the container's secrets"},
		{"variable not passed", "main.tf", "    SESQ_SEND_TIMEOUT       = var.send_timeout\n", "", "does not get SESQ_SEND_TIMEOUT"},
		{"DLQ URL not the module's", "main.tf", "SESQ_DLQ_URL            = aws_sqs_queue.dlq.url", "SESQ_DLQ_URL            = aws_sqs_queue.source.url", "SESQ_DLQ_URL must be"},
		{"bounce alarm at SES's review threshold", "variables.tf", "default     = 0.04\n", "default     = 0.05\n", "not below SES's review threshold, 0.05"},
		{"complaint alarm at SES's review threshold", "variables.tf", "default     = 0.0008\n", "default     = 0.001\n", "not below SES's review threshold, 0.001"},
		{"stop timeout too short", "main.tf", "stop_timeout = min(var.shutdown_timeout_seconds + var.wait_time_seconds + 15, 120)", "stop_timeout = 10", "stopTimeout"},
		{"scaling on another service", "autoscaling.tf", "resource_id        = \"service/${local.cluster_name}/${aws_ecs_service.sesq.name}\"", "resource_id        = \"service/${local.cluster_name}/other\"", "does not target the ECS service"},
		{"scaling not from the queue", "autoscaling.tf", "value = aws_sqs_queue.source.name", "value = \"other-queue\"", "ApproximateNumberOfMessagesVisible of aws_sqs_queue.source.name"},
		{"scaling not per task", "autoscaling.tf", "expression  = \"visible / IF(tasks > 0, tasks, 1)\"", "expression  = \"visible\"", "no expression of visible messages over tasks"},
		{"alarm on the wrong queue", "alarms.tf", "dimensions          = { QueueName = aws_sqs_queue.dlq.name }", "dimensions          = { QueueName = aws_sqs_queue.source.name }", "dead-letter queue"},

		// Tags.
		{"queue without tags", "main.tf", "var.kms_data_key_reuse_period_seconds\n  tags                              = var.tags\n}", "var.kms_data_key_reuse_period_seconds\n}", "aws_sqs_queue.dlq has no tags"},
		{"alarm without tags", "alarms.tf", "  tags                = var.tags\n", "", "aws_cloudwatch_metric_alarm.dlq_not_empty has no tags"},
		{"unclassified resource type", "alarms.tf", "locals {", "resource \"aws_sns_topic\" \"x\" {\n  name = \"x\"\n}\n\nlocals {", "resource type aws_sns_topic is in neither"},
		{"tasks without the service's tags", "main.tf", `propagate_tags          = "SERVICE"`, `propagate_tags          = "NONE"`, "propagate its tags"},

		// Encryption.
		{"queue key not the variable", "main.tf", "kms_master_key_id                 = var.kms_key_arn", `kms_master_key_id                 = "alias/aws/sqs"`, "queue dlq's kms_master_key_id is not var.kms_key_arn"},
		{"table on the AWS-managed key only", "main.tf", "    kms_key_arn = var.kms_key_arn\n  }", "  }", "the idempotency table's server_side_encryption"},
		{"KMS granted whatever the key", "main.tf", "  statement {\n    sid       = \"ReadSendQuota\"", "  statement {\n    actions   = [\"kms:Decrypt\"]\n    resources = [var.kms_key_arn]\n  }\n  statement {\n    sid       = \"ReadSendQuota\"", "grants kms:Decrypt whatever kms_key_arn is"},
		{"KMS grant not gated", "main.tf", "for_each = var.kms_key_arn == null ? [] : [1]", "for_each = [1]", "policy task has a dynamic statement whose for_each is not"},
		{"KMS grant wider", "main.tf", `actions   = ["kms:Decrypt", "kms:GenerateDataKey"]`, `actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:CreateGrant"]`, "kms:CreateGrant on var.kms_key_arn"},
		{"KMS usable outside SQS and DynamoDB", "main.tf", "test     = \"StringEquals\"\n        variable = \"kms:ViaService\"", "test     = \"StringEquals\"\n        variable = \"aws:SourceAccount\"", "policy task grants KMS without a kms:ViaService condition"},

		// Roles.
		{"role without boundary", "main.tf", "  name                 = \"${var.name}-execution\"\n  path                 = var.iam_role_path\n  permissions_boundary = var.iam_role_permissions_boundary\n", "  name                 = \"${var.name}-execution\"\n  path                 = var.iam_role_path\n", "role execution has no permissions_boundary"},
		{"role without path", "main.tf", "  name                 = \"${var.name}-task\"\n  path                 = var.iam_role_path\n", "  name                 = \"${var.name}-task\"\n", "role task has no path"},

		// Capacity and architecture.
		{"launch type with a strategy", "main.tf", `launch_type   = length(var.capacity_provider_strategy) == 0 ? "FARGATE" : null`, `launch_type   = "FARGATE"`, "launch_type must be null"},
		{"fixed architecture", "main.tf", "cpu_architecture        = var.cpu_architecture", `cpu_architecture        = "X86_64"`, "cpu_architecture is not var.cpu_architecture"},
		{"min above max", "autoscaling.tf", "condition     = var.min_capacity <= var.max_capacity", "condition     = true", "min_capacity <= max_capacity"},

		// Validations.
		{"batch size unbounded", "variables.tf", "var.batch_size >= 1 && var.batch_size <= 10", "var.batch_size >= 1", "variable batch_size accepts 11"},
		{"wait time above SQS's", "variables.tf", "var.wait_time_seconds <= 20", "var.wait_time_seconds <= 30", "variable wait_time_seconds accepts 21"},
		{"visibility timeout below sesq's", "variables.tf", "var.visibility_timeout_seconds >= 2", "var.visibility_timeout_seconds >= 0", "variable visibility_timeout_seconds accepts 1"},
		{"log format not validated", "variables.tf", "  default     = \"json\"\n  validation {\n    condition     = contains([\"json\", \"text\"], var.log_format)\n    error_message = \"log_format must be json or text.\"\n  }\n", "  default     = \"json\"\n", "variable log_format has no validation block"},
		{"architecture enum too wide", "variables.tf", `contains(["X86_64", "ARM64"], var.cpu_architecture)`, `contains(["X86_64", "ARM64", "arm64"], var.cpu_architecture)`, `variable cpu_architecture accepts "arm64"`},
		{"transport enum too narrow", "variables.tf", `contains(["api", "api-v2", "smtp"], var.transport)`, `contains(["api", "smtp"], var.transport)`, `variable transport refuses "api-v2"`},
		{"two bases in a strategy", "variables.tf", "length([for s in var.capacity_provider_strategy : s if s.base > 0]) <= 1", "length([for s in var.capacity_provider_strategy : s if s.base > 0]) <= 2", "variable capacity_provider_strategy accepts"},
		{"default refused by its validation", "variables.tf", "  default     = \"info\"", "  default     = \"INFO\"", "variable log_level refuses its own default"},

		// Alarms.
		{"alarm topic required", "variables.tf", "  type        = string\n  default     = null\n  validation {\n    condition     = var.alarm_topic_arn == null", "  type        = string\n  validation {\n    condition     = var.alarm_topic_arn == null", "alarm_topic_arn must be optional"},
		{"alarm to a fixed topic", "alarms.tf", "  alarm_actions       = local.alarm_actions\n", "  alarm_actions       = [\"arn:aws:sns:us-east-1:111122223333:x\"]\n", "alarm dlq_not_empty does not notify local.alarm_actions"},
		{"no bounce rate alarm", "alarms.tf", `metric_name         = "Reputation.BounceRate"`, `metric_name         = "Reputation.BounceRatio"`, "no alarm on the account's SES bounce rate"},
		{"complaint rate alarm with a fixed threshold", "alarms.tf", "threshold           = var.complaint_rate_alarm_threshold", "threshold           = 0.001", "no alarm on the account's SES complaint rate"},

		// The configuration set.
		{"configuration set always created", "ses.tf", "  count                  = var.create_configuration_set ? 1 : 0\n  configuration_set_name = local.configuration_set_name", "  count                  = 1\n  configuration_set_name = local.configuration_set_name", "count is not from var.create_configuration_set"},
		{"configuration set without reputation metrics", "ses.tf", "reputation_metrics_enabled = true", "reputation_metrics_enabled = false", "does not turn reputation metrics on"},
		{"no bounce events", "variables.tf", `default     = ["SEND", "REJECT", "BOUNCE", "COMPLAINT", "DELIVERY", "DELIVERY_DELAY", "RENDERING_FAILURE"]`, `default     = ["SEND", "DELIVERY"]`, "publishes BOUNCE and COMPLAINT"},
		{"grant on every configuration set", "ses.tf", "configuration-set/${local.configuration_set_name}", "configuration-set/*", "local configuration_set_arn is not"},
		{"configuration set grant ungated", "main.tf", "for_each = var.create_configuration_set ? [1] : []", "for_each = [1]", "policy task has a dynamic statement whose for_each is not"},

		// The collector (metrics and traces on Fargate).
		{"collector on by default", "variables.tf", "    memory             = optional(number, 256)\n  })\n  default = null", "    memory             = optional(number, 256)\n  })\n  default = {}", "adot_collector must default to null"},
		{"collector image by tag", "variables.tf", `"^[a-z0-9][a-z0-9./_:-]*@sha256:[0-9a-f]{64}$"`, `"^[a-z0-9][a-z0-9./_:@-]*$"`, `variable adot_collector accepts { image = "public.ecr.aws/aws-observability/aws-otel-collector:v0.48.0" }`},
		{"scrape of another port", "collector.tf", `targets = ["127.0.0.1:${var.http_port}"]`, `targets = ["127.0.0.1:9100"]`, "the collector does not scrape sesq's port"},
		{"scrape of another host", "collector.tf", `targets = ["127.0.0.1:${var.http_port}"]`, `targets = ["sesq.internal:${var.http_port}"]`, "the collector does not scrape sesq's port"},
		{"scrape too often", "collector.tf", `scrape_interval = "60s"`, `scrape_interval = "10s"`, "want 60s"},
		{"EMF in another namespace", "collector.tf", "namespace               = var.cloudwatch_metrics_namespace", `namespace               = "sesq"`, "awsemf namespace is not var.cloudwatch_metrics_namespace"},
		{"EMF to a group the role may not write", "collector.tf", "log_group_name          = aws_cloudwatch_log_group.metrics[0].name", `log_group_name          = "/metrics/default"`, "awsemf log group is not aws_cloudwatch_log_group.metrics"},
		{"every label a dimension", "collector.tf", "        metric_declarations = [", "        metric_declarations_ = [", "declares no metrics"},
		{"OTLP receiver open to the VPC", "collector.tf", `endpoint = "127.0.0.1:4318"`, `endpoint = "0.0.0.0:4318"`, "want the task's loopback"},
		{"no traces pipeline", "collector.tf", `traces = { receivers = ["otlp"]`, `traces = { receivers = ["zipkin"]`, "no traces pipeline from otlp to awsxray"},
		{"collector essential", "collector.tf", "    essential = false", "    essential = true", "the collector is essential"},
		{"collector with a writable root", "collector.tf", "    readonlyRootFilesystem = true", "    readonlyRootFilesystem = false", "root file system is writable"},
		{"collector without its configuration", "collector.tf", `value = jsonencode(local.adot_config[0])`, `value = ""`, "does not get local.adot_config as AOT_CONFIG_CONTENT"},
		{"collector image not the input", "collector.tf", "    image = c.image", `    image = "public.ecr.aws/aws-observability/aws-otel-collector:latest"`, "the collector's image is not adot_collector.image"},
		{"sesq before the collector", "collector.tf", `condition = "START"`, `condition = "COMPLETE"`, "sesq does not wait for the collector to start"},
		{"collector not in the task", "main.tf", "local.sesq_beside_adot...)], local.adot_containers))", "local.sesq_beside_adot...)]))", "do not use local.adot_containers"},
		{"metrics log group kept forever", "collector.tf", "  retention_in_days = var.log_retention_days", "  retention_in_days = 0", "metrics log group's retention"},
		{"metrics log group always created", "collector.tf", "  count             = var.adot_collector == null ? 0 : 1", "  count             = 1", "metrics log group's count"},
		{"tracing always on", "main.tf", "    SESQ_SMTP_TLS           = var.smtp_tls\n", "    SESQ_SMTP_TLS           = var.smtp_tls\n    OTEL_EXPORTER_OTLP_ENDPOINT = \"http://127.0.0.1:4318\"\n", "the container always gets OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"tracing without traces", "collector.tf", "otel_environment = try(var.adot_collector.traces, false) ? {", "otel_environment = var.adot_collector != null ? {", "sesq exports spans only with traces"},
		{"spans to another port", "collector.tf", `OTEL_EXPORTER_OTLP_ENDPOINT = "http://127.0.0.1:4318"`, `OTEL_EXPORTER_OTLP_ENDPOINT = "http://127.0.0.1:4317"`, "does not point at the collector's OTLP/HTTP receiver"},
		{"EMF grant whatever the collector", "main.tf", "for_each = var.adot_collector == null ? [] : [1]", "for_each = [1]", "policy task has a dynamic statement whose for_each is not"},
		{"EMF grant on every log group", "main.tf", `resources = ["${aws_cloudwatch_log_group.metrics[0].arn}:*"]`, `resources = ["*"]`, "only actions without resource-level permissions"},
		{"EMF grant on the group only", "main.tf", `resources = ["${aws_cloudwatch_log_group.metrics[0].arn}:*"]`, `resources = [aws_cloudwatch_log_group.metrics[0].arn]`, "logs:PutLogEvents on aws_cloudwatch_log_group.metrics.arn"},
		{"EMF grant creates groups", "main.tf", `actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]`, `actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]`, "logs:CreateLogGroup on"},
		{"X-Ray without traces", "main.tf", "for_each = try(var.adot_collector.traces, false) ? [1] : []", "for_each = var.adot_collector == null ? [] : [1]", "xray:PutTraceSegments on *"},
		{"X-Ray wider", "main.tf", `actions   = ["xray:PutTraceSegments"]`, `actions   = ["xray:PutTraceSegments", "xray:GetTraceSummaries"]`, "only actions without resource-level permissions"},
		{"X-Ray always", "main.tf", "  statement {\n    sid       = \"ReadSendQuota\"", "  statement {\n    actions   = [\"xray:PutTraceSegments\"]\n    resources = [\"*\"]\n  }\n  statement {\n    sid       = \"ReadSendQuota\"", "only ses:GetSendQuota and ses:GetAccount may have *"},

		// Outputs and provider idioms.
		{"only the old output name", "outputs.tf", "output \"dead_letter_queue_url\"", "output \"dead_letter_queue_url_\"", `want output "dead_letter_queue_url"`},
		{"deprecated output without notice", "outputs.tf", "Deprecated: use dead_letter_queue_url; removed in the next release.", "SESQ_DLQ_URL.", "its description must begin"},
		{"deprecated region attribute", "main.tf", "region       = data.aws_region.current.id", "region       = data.aws_region.current.name", "data.aws_region.current.name is deprecated"},
		{"provider v6 excluded", "versions.tf", `version = ">= 5.30, < 7.0"`, `version = "~> 5.30"`, "excludes provider v6"},
	}
}

type brokenCase struct {
	name, file, old, new, want string
}

func TestTerraformExamples(t *testing.T) {
	for dir, want := range map[string][]string{
		"basic": {`module "sesq"`, `source = "../../modules/sesq"`},
		"complete": {`module "sesq"`, `source = "../../modules/sesq"`, "kms_key_arn", "iam_role_permissions_boundary", "iam_role_path",
			"tags", "default_tags", `"FARGATE_SPOT"`, "cpu_architecture", `"ARM64"`, "alarm_topic_arn", "create_configuration_set",
			"configuration_set_sns_topic_arn", `"api-v2"`, "ledger_key_secret_arn", "adot_collector", "traces", "cloudwatch_metrics_namespace"},
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
		for old := range deprecatedOutputs {
			if strings.Contains(all, "module.sesq."+old) {
				t.Errorf("examples/%s uses the deprecated output %s", dir, old)
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

func TestVersionAllows(t *testing.T) {
	for _, c := range []struct {
		constraint, version string
		want                bool
	}{
		{">= 5.30, < 7.0", "6.0.0", true},
		{">= 5.30, < 7.0", "5.100.0", true},
		{">= 5.30, < 7.0", "7.0.0", false},
		{">= 5.30, < 6.0", "6.0.0", false},
		{"~> 5.30", "6.0.0", false},
		{"~> 5.30", "5.99.1", true},
		{"~> 6.0", "6.12.0", true},
		{"~> 6.0.1", "6.1.0", false},
		{">= 6.0", "6.0.0", true},
		{"", "6.0.0", false},
	} {
		if got := versionAllows(c.constraint, c.version); got != c.want {
			t.Errorf("versionAllows(%q, %q) = %v, want %v", c.constraint, c.version, got, c.want)
		}
	}
}
