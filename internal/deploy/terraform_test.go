package deploy

import (
	"path/filepath"
	"slices"
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
// CA file is for private servers; and producers' settings (producerOnly).
func notInTheModule() []string {
	return slices.Concat(config.OnlyForQueuesCreate(), producerOnly(), []string{"SESQ_SMTP_USERNAME", "SESQ_SMTP_PASSWORD", "SESQ_SMTP_CA_FILE"})
}

// producerOnly: the settings only producers read (`sesq enqueue`,
// envelope.Producer): the bucket they store payloads too large for a
// message in, and the size above which they do. A worker never stores a
// payload (a retry, a deferral or a dead letter carries the pointer it
// came with), and its role may not: neither the module nor the chart gives
// them to it.
func producerOnly() []string {
	return []string{"SESQ_PAYLOAD_BUCKET", "SESQ_PAYLOAD_THRESHOLD"}
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
		{"wildcard SQS resource", "main.tf", "resources = concat([aws_sqs_queue.dlq.arn], values(aws_sqs_queue.lane_dlq)[*].arn)\n  }\n  statement {\n    sid       = \"SendAsDelegate\"", "resources = [\"*\"]\n  }\n  statement {\n    sid       = \"SendAsDelegate\"", "only ses:GetSendQuota and ses:GetAccount may have *"},
		{"extra action", "main.tf", `"sqs:ReceiveMessage", "sqs:DeleteMessage"`, `"sqs:ReceiveMessage", "sqs:PurgeQueue", "sqs:DeleteMessage"`, "sqs:PurgeQueue on aws_sqs_queue.source.arn"},
		{"missing action", "main.tf", `["ses:SendEmail", "ses:SendRawEmail", "ses:SendTemplatedEmail"]
    resources = var.identity_arns`, `["ses:SendEmail", "ses:SendRawEmail"]
    resources = var.identity_arns`, "want exactly"},
		{"unknown variable", "main.tf", "SESQ_LOG_FORMAT         = var.log_format", "SESQ_LOG_FORMATT        = var.log_format", "sesq does not read"},
		{"SMTP password in plain text", "main.tf", "    SESQ_SMTP_TLS           = var.smtp_tls\n", "    SESQ_SMTP_TLS           = var.smtp_tls\n    SESQ_SMTP_PASSWORD      = \"hunter2\"\n", "belongs in the container's secrets"},
		{"variable not passed", "main.tf", "    SESQ_SEND_TIMEOUT       = var.send_timeout\n", "", "does not get SESQ_SEND_TIMEOUT"},
		{"DLQ URL not the module's", "main.tf", "SESQ_DLQ_URL            = local.lanes_on ? \"\" : aws_sqs_queue.dlq.url", "SESQ_DLQ_URL            = local.lanes_on ? \"\" : aws_sqs_queue.source.url", "SESQ_DLQ_URL must be"},
		{"bounce alarm at SES's review threshold", "variables.tf", "default     = 0.04\n", "default     = 0.05\n", "not below SES's review threshold, 0.05"},
		{"complaint alarm at SES's review threshold", "variables.tf", "default     = 0.0008\n", "default     = 0.001\n", "not below SES's review threshold, 0.001"},
		{"stop timeout too short", "main.tf", "stop_timeout = min(var.shutdown_timeout_seconds + var.wait_time_seconds + 15, 120)", "stop_timeout = 10", "stopTimeout"},
		{"scaling on another service", "autoscaling.tf", "resource_id        = \"service/${local.cluster_name}/${aws_ecs_service.sesq.name}\"", "resource_id        = \"service/${local.cluster_name}/other\"", "does not target the ECS service"},
		{"scaling not from the queue", "autoscaling.tf", "value = aws_sqs_queue.source.name", "value = \"other-queue\"", "ApproximateNumberOfMessagesVisible of aws_sqs_queue.source.name"},
		{"scaling not per task", "autoscaling.tf", "expression  = \"${local.visible_messages} / IF(tasks > 0, tasks, 1)\"", "expression  = \"${local.visible_messages}\"", "no expression of visible messages over tasks"},
		{"alarm on the wrong queue", "alarms.tf", "dimensions          = { QueueName = aws_sqs_queue.dlq.name }", "dimensions          = { QueueName = aws_sqs_queue.source.name }", "dead-letter queue"},

		// Priority lanes.
		{"lane redrive to itself", "main.tf", "deadLetterTargetArn = aws_sqs_queue.lane_dlq[each.key].arn", "deadLetterTargetArn = aws_sqs_queue.lane[each.key].arn", "a lane queue's redrive target is not its own dead-letter queue"},
		{"lane queues not per lane", "main.tf", "resource \"aws_sqs_queue\" \"lane\" {\n  for_each                          = local.other_lanes", "resource \"aws_sqs_queue\" \"lane\" {\n  for_each                          = { for l in var.lanes : l.name => l }", "aws_sqs_queue.lane is not one per lane after the first"},
		{"lane DLQ kept a few days", "main.tf", "  fifo_queue                        = each.value.fifo ? true : null\n  message_retention_seconds         = 14 * 24 * 3600", "  fifo_queue                        = each.value.fifo ? true : null\n  message_retention_seconds         = 4 * 24 * 3600", "a lane dead-letter queue's retention"},
		{"lane visibility timeout fixed", "main.tf", "  visibility_timeout_seconds        = var.visibility_timeout_seconds\n  receive_wait_time_seconds         = var.wait_time_seconds\n  message_retention_seconds         = 4 * 24 * 3600\n  sqs_managed_sse_enabled           = var.kms_key_arn == null ? true : null\n  kms_master_key_id                 = var.kms_key_arn\n  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : var.kms_data_key_reuse_period_seconds\n  redrive_policy = jsonencode({\n    deadLetterTargetArn = aws_sqs_queue.lane_dlq", "  visibility_timeout_seconds        = 30\n  receive_wait_time_seconds         = var.wait_time_seconds\n  message_retention_seconds         = 4 * 24 * 3600\n  sqs_managed_sse_enabled           = var.kms_key_arn == null ? true : null\n  kms_master_key_id                 = var.kms_key_arn\n  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : var.kms_data_key_reuse_period_seconds\n  redrive_policy = jsonencode({\n    deadLetterTargetArn = aws_sqs_queue.lane_dlq", "a lane queue's visibility timeout"},
		{"FIFO lane with a standard DLQ", "main.tf", "  fifo_queue                        = each.value.fifo ? true : null\n  message_retention_seconds", "  fifo_queue                        = null\n  message_retention_seconds", "queues lane and lane_dlq are not FIFO together"},
		{"FIFO first lane with a standard DLQ", "main.tf", "  fifo_queue                        = local.first_lane.fifo ? true : null\n  message_retention_seconds", "  fifo_queue                        = null\n  message_retention_seconds", "queues source and dlq are not FIFO together"},
		{"lane DLQ unencrypted", "main.tf", "  fifo_queue                        = each.value.fifo ? true : null\n  message_retention_seconds         = 14 * 24 * 3600\n  sqs_managed_sse_enabled           = var.kms_key_arn == null ? true : null", "  fifo_queue                        = each.value.fifo ? true : null\n  message_retention_seconds         = 14 * 24 * 3600\n  sqs_managed_sse_enabled           = false", "queue lane_dlq has no server-side encryption"},
		{"lane DLQ takes redrives from any queue", "main.tf", "sourceQueueArns   = [aws_sqs_queue.lane[each.key].arn]", "sourceQueueArns   = [aws_sqs_queue.source.arn]", "is not on a dead-letter queue naming its own queue"},
		{"worker cannot read the lanes", "main.tf", "    sid       = \"ConsumeSourceQueue\"\n    actions   = [\"sqs:ReceiveMessage\", \"sqs:DeleteMessage\", \"sqs:ChangeMessageVisibility\", \"sqs:GetQueueAttributes\"]\n    resources = concat([aws_sqs_queue.source.arn], values(aws_sqs_queue.lane)[*].arn)", "    sid       = \"ConsumeSourceQueue\"\n    actions   = [\"sqs:ReceiveMessage\", \"sqs:DeleteMessage\", \"sqs:ChangeMessageVisibility\", \"sqs:GetQueueAttributes\"]\n    resources = [aws_sqs_queue.source.arn]", "want exactly"},
		{"worker writes lane dead letters to their queues", "main.tf", "resources = concat([aws_sqs_queue.dlq.arn], values(aws_sqs_queue.lane_dlq)[*].arn)\n  }\n  statement {\n    sid       = \"SendAsDelegate\"", "resources = concat([aws_sqs_queue.dlq.arn], values(aws_sqs_queue.lane)[*].arn)\n  }\n  statement {\n    sid       = \"SendAsDelegate\"", "want exactly"},
		{"producers on the first lane only", "main.tf", "    actions   = [\"sqs:SendMessage\", \"sqs:GetQueueUrl\", \"sqs:GetQueueAttributes\"]\n    resources = concat([aws_sqs_queue.source.arn], values(aws_sqs_queue.lane)[*].arn)", "    actions   = [\"sqs:SendMessage\", \"sqs:GetQueueUrl\", \"sqs:GetQueueAttributes\"]\n    resources = [aws_sqs_queue.source.arn]", "policy producer does not grant sqs:SendMessage on aws_sqs_queue.lane[*].arn"},
		{"operators on the first lane's dead letters only", "main.tf", "    sid       = \"ReadDeadLetters\"\n    actions   = [\"sqs:ReceiveMessage\", \"sqs:DeleteMessage\", \"sqs:ChangeMessageVisibility\", \"sqs:GetQueueAttributes\"]\n    resources = concat([aws_sqs_queue.dlq.arn], values(aws_sqs_queue.lane_dlq)[*].arn)", "    sid       = \"ReadDeadLetters\"\n    actions   = [\"sqs:ReceiveMessage\", \"sqs:DeleteMessage\", \"sqs:ChangeMessageVisibility\", \"sqs:GetQueueAttributes\"]\n    resources = [aws_sqs_queue.dlq.arn]", "policy operator does not grant sqs:ReceiveMessage on aws_sqs_queue.lane_dlq[*].arn"},
		{"one queue beside lanes", "main.tf", "SESQ_QUEUE_URL          = local.lanes_on ? \"\" : aws_sqs_queue.source.url", "SESQ_QUEUE_URL          = aws_sqs_queue.source.url", "SESQ_QUEUE_URL must be empty with lanes"},
		{"lanes without weights", "main.tf", "\"${l.name}=${local.lane_queues[l.name].queue_url}:${l.weight}\"", "\"${l.name}=${local.lane_queues[l.name].queue_url}\"", "SESQ_QUEUES does not carry each lane's weight"},
		{"lanes' DLQs are their queues", "main.tf", "\"${l.name}=${local.lane_queues[l.name].dead_letter_queue_url}\"", "\"${l.name}=${local.lane_queues[l.name].queue_url}\"", "SESQ_DLQ_URLS is not every lane of var.lanes with its dead_letter_queue_url"},
		{"lanes not passed", "main.tf", "    SESQ_DLQ_URLS           = join(\",\", [for l in var.lanes : \"${l.name}=${local.lane_queues[l.name].dead_letter_queue_url}\"])\n", "", "does not get SESQ_DLQ_URLS"},
		{"lane queues mixed up", "main.tf", "dead_letter_queue_url  = aws_sqs_queue.lane_dlq[k].url", "dead_letter_queue_url  = aws_sqs_queue.lane_dlq[k].arn", "local lane_queues does not use aws_sqs_queue.lane_dlq.url"},
		{"scaling on the first lane only", "autoscaling.tf", "expression  = \"${local.visible_messages} / IF(tasks > 0, tasks, 1)\"", "expression  = \"visible / IF(tasks > 0, tasks, 1)\"", "the scaling expression does not sum the visible messages of every lane"},
		{"scaling metric of the lanes' DLQs", "autoscaling.tf", "value = aws_sqs_queue.lane[metrics.key].name", "value = aws_sqs_queue.lane_dlq[metrics.key].name", "does not read ApproximateNumberOfMessagesVisible of each lane's queue"},
		{"scaling metric ids not the sum's", "autoscaling.tf", "id          = metrics.value", "id          = \"visible_${metrics.key}\"", "does not read ApproximateNumberOfMessagesVisible of each lane's queue"},
		{"lane alarm on its queue", "alarms.tf", "dimensions          = { QueueName = aws_sqs_queue.lane_dlq[each.key].name }", "dimensions          = { QueueName = aws_sqs_queue.lane[each.key].name }", "no alarm on messages in each lane's dead-letter queue"},
		{"lane age alarm with a fixed threshold", "alarms.tf", "  threshold           = var.oldest_message_alarm_seconds\n  comparison_operator = \"GreaterThanThreshold\"\n  treat_missing_data  = \"notBreaching\"\n  alarm_actions       = local.alarm_actions\n  ok_actions          = local.alarm_actions\n  tags                = var.tags\n}\n\n# SES", "  threshold           = 600\n  comparison_operator = \"GreaterThanThreshold\"\n  treat_missing_data  = \"notBreaching\"\n  alarm_actions       = local.alarm_actions\n  ok_actions          = local.alarm_actions\n  tags                = var.tags\n}\n\n# SES", "no alarm on the age of the oldest message of each lane's queue"},
		{"duplicate lane names accepted", "variables.tf", "    condition     = length(distinct([for l in var.lanes : l.name])) == length(var.lanes)\n", "    condition     = true\n", "variable lanes accepts [{ name = \"bulk\" }, { name = \"bulk\", weight = 2 }]"},
		{"lane weight 0 accepted", "variables.tf", "l.weight >= 1 && l.weight <= 1000", "l.weight >= 0 && l.weight <= 1000", "variable lanes accepts [{ name = \"bulk\", weight = 0 }]"},
		{"lane names with capitals accepted", "variables.tf", "\"^[a-z0-9-]{1,32}$\"", "\"^[A-Za-z0-9-]{1,32}$\"", "variable lanes accepts [{ name = \"Bulk\" }]"},
		{"no lanes output", "outputs.tf", "output \"lanes\" {", "output \"lanes_\" {", "want output \"lanes\""},
		{"tenant share above 1 accepted", "variables.tf", "var.tenant_share > 0 && var.tenant_share <= 1", "var.tenant_share > 0", "variable tenant_share accepts 1.5"},
		{"fairness unchecked", "variables.tf", "contains([\"tenant\", \"off\"], var.fairness)", "true", "variable fairness accepts \"on\""},
		{"fairness not passed", "main.tf", "    SESQ_FAIRNESS           = var.fairness\n", "", "does not get SESQ_FAIRNESS"},

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

		// Large messages: the payload bucket, its lifecycle and the grants on it.
		{"payload bucket always created", "payloads.tf", "count         = var.create_payload_bucket ? 1 : 0", "count         = 1", "aws_s3_bucket.payload's count is not from var.create_payload_bucket"},
		{"payload bucket emptied to destroy", "payloads.tf", "force_destroy = false", "force_destroy = true", "the payload bucket is force_destroy"},
		{"payload bucket untagged", "payloads.tf", "  force_destroy = false\n  tags          = var.tags\n", "  force_destroy = false\n", "aws_s3_bucket.payload has no tags"},
		{"public access block on another bucket", "payloads.tf", "bucket                  = aws_s3_bucket.payload[0].id", `bucket                  = "other"`, "aws_s3_bucket_public_access_block.payload is not on the payload bucket"},
		{"payload bucket policy may be public", "payloads.tf", "block_public_policy     = true", "block_public_policy     = false", "does not set block_public_policy = true"},
		{"payload bucket with ACLs", "payloads.tf", `object_ownership = "BucketOwnerEnforced"`, `object_ownership = "BucketOwnerPreferred"`, "object ownership is not BucketOwnerEnforced"},
		{"payload bucket ignores the key", "payloads.tf", `sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"`, `sse_algorithm     = "AES256"`, "encryption with kms_key_arn is AES256, want aws:kms"},
		{"payload bucket key of another variable", "payloads.tf", "kms_master_key_id = var.kms_key_arn", `kms_master_key_id = "alias/aws/s3"`, "kms_master_key_id is not var.kms_key_arn"},
		{"a KMS request per payload", "payloads.tf", "bucket_key_enabled = var.kms_key_arn != null", "bucket_key_enabled = false", "no S3 Bucket Key"},
		{"payloads over plain HTTP", "payloads.tf", `values   = ["false"]`, `values   = ["true"]`, "does not deny s3:* to every principal"},
		{"plain HTTP denied on the bucket only", "payloads.tf", `resources = [aws_s3_bucket.payload[0].arn, "${aws_s3_bucket.payload[0].arn}/*"]`, `resources = [aws_s3_bucket.payload[0].arn]`, "does not deny s3:* to every principal"},
		{"payloads expire before their dead letters", "payloads.tf", "ceil(local.dead_letter_retention_seconds / 86400) + var.payload_expiration_margin_days", "ceil(local.dead_letter_retention_seconds / 86400) - var.payload_expiration_margin_days", "they would expire before the dead letters pointing at them"},
		{"payloads expire after the margin alone", "payloads.tf", "days = local.payload_expiration_days", "days = var.payload_expiration_margin_days", "do not expire after local.payload_expiration_days"},
		{"expiry without the lanes' dead letters", "payloads.tf", "max(concat([aws_sqs_queue.dlq.message_retention_seconds], values(aws_sqs_queue.lane_dlq)[*].message_retention_seconds)...)", "aws_sqs_queue.dlq.message_retention_seconds", "every lane's"},
		{"negative margin accepted", "variables.tf", "var.payload_expiration_margin_days >= 0", "var.payload_expiration_margin_days >= -14", "variable payload_expiration_margin_days accepts -1"},
		{"no expiry precondition", "payloads.tf", "condition     = local.payload_expiration_days * 86400 >= local.dead_letter_retention_seconds", "condition     = true", "no precondition on the payload bucket's lifecycle"},
		{"expiry on a prefix only", "payloads.tf", "    filter {}\n", "    filter {\n      prefix = \"payloads/\"\n    }\n", "does not cover the whole bucket"},
		{"incomplete uploads kept a month", "payloads.tf", "days_after_initiation = 1", "days_after_initiation = 30", "does not abort incomplete multipart uploads"},
		{"worker may write payloads", "main.tf", `actions   = ["s3:GetObject", "s3:DeleteObject"]`, `actions   = ["s3:GetObject", "s3:DeleteObject", "s3:PutObject"]`, "s3:PutObject on ${local.payload_bucket_arn}/*"},
		{"worker reads any bucket", "main.tf", `resources = ["${local.payload_bucket_arn}/*"]`, `resources = ["arn:aws:s3:::*/*"]`, "a task policy statement names literal resources"},
		{"worker cannot tell a missing payload", "main.tf", "    sid       = \"TellMissingPayloads\"\n    actions   = [\"s3:ListBucket\"]\n    resources = [local.payload_bucket_arn]\n  }\n  statement {\n    sid       = \"SuppressDuplicates\"", "    sid       = \"SuppressDuplicates\"", "want exactly"},
		{"producers may read payloads", "main.tf", `actions   = ["s3:PutObject"]`, `actions   = ["s3:PutObject", "s3:GetObject"]`, "policy producer's S3 permissions are"},
		{"operators cannot purge payloads", "main.tf", "    sid       = \"ReadAndDeletePayloads\"\n    actions   = [\"s3:GetObject\", \"s3:DeleteObject\"]\n    resources = [\"${local.payload_bucket_arn}/*\"]\n  }\n  statement {\n    sid       = \"TellMissingPayloads\"\n    actions   = [\"s3:ListBucket\"]\n    resources = [local.payload_bucket_arn]\n  }\n  dynamic", "    sid       = \"ReadAndDeletePayloads\"\n    actions   = [\"s3:GetObject\"]\n    resources = [\"${local.payload_bucket_arn}/*\"]\n  }\n  statement {\n    sid       = \"TellMissingPayloads\"\n    actions   = [\"s3:ListBucket\"]\n    resources = [local.payload_bucket_arn]\n  }\n  dynamic", "policy operator's S3 permissions are"},
		{"payload key used through SQS", "main.tf", "      sid       = \"DecryptPayloads\"\n      actions   = [\"kms:Decrypt\"]\n      resources = [var.kms_key_arn]\n      condition {\n        test     = \"StringEquals\"\n        variable = \"kms:ViaService\"\n        values   = [\"s3.", "      sid       = \"DecryptPayloads\"\n      actions   = [\"kms:Decrypt\"]\n      resources = [var.kms_key_arn]\n      condition {\n        test     = \"StringEquals\"\n        variable = \"kms:ViaService\"\n        values   = [\"sqs.", "kms:Decrypt on var.kms_key_arn via sqs\n"},
		{"producers decrypt payloads", "main.tf", `actions   = ["kms:GenerateDataKey"]`, `actions   = ["kms:GenerateDataKey", "kms:Decrypt"]`, "kms:Decrypt on var.kms_key_arn via s3"},
		{"worker not pointed at the bucket", "main.tf", "SESQ_PAYLOAD_BUCKETS    = local.payload_bucket_name", `SESQ_PAYLOAD_BUCKETS    = "mail-payloads"`, "SESQ_PAYLOAD_BUCKETS is not the payload bucket"},
		{"payload fetches not passed", "main.tf", "    SESQ_PAYLOAD_FETCHES    = tostring(var.payload_fetches)\n", "", "does not get SESQ_PAYLOAD_FETCHES"},
		{"existing bucket without a name", "main.tf", "condition     = var.create_payload_bucket || var.payload_bucket_name != null", "condition     = true", "no precondition that payload_bucket_name is given"},
		{"payload bucket name unchecked", "variables.tf", `"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"`, `"^[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]$"`, `variable payload_bucket_name accepts "Mail-Payloads"`},
		{"payload fetches unbounded", "variables.tf", "var.payload_fetches >= 1 && var.payload_fetches <= 1000", "var.payload_fetches >= 1", "variable payload_fetches accepts 1001"},
		{"no payload bucket output", "outputs.tf", "output \"payload_bucket_arn\" {", "output \"payload_bucket_arn_\" {", `want output "payload_bucket_arn"`},
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
			"configuration_set_sns_topic_arn", `"api-v2"`, "ledger_key_secret_arn", "adot_collector", "traces", "cloudwatch_metrics_namespace",
			"lanes", `{ name = "transactional", weight = 8 }`, `{ name = "bulk", weight = 1 }`, "fairness", "tenant_share",
			"create_payload_bucket", "payload_expiration_margin_days", "payload_fetches", "module.sesq.payload_bucket_name"},
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
