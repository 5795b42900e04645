# Queues.

output "queue_url" {
  description = "SESQ_QUEUE_URL: where producers enqueue envelopes. With lanes, the first lane's queue (see lanes)."
  value       = aws_sqs_queue.source.url
}

output "queue_arn" {
  description = "ARN of the source queue."
  value       = aws_sqs_queue.source.arn
}

output "queue_name" {
  description = "Name of the source queue."
  value       = aws_sqs_queue.source.name
}

output "dead_letter_queue_url" {
  description = "SESQ_DLQ_URL: the dead-letter queue (`sesq dlq inspect|replay|purge`). With lanes, the first lane's (see lanes)."
  value       = aws_sqs_queue.dlq.url
}

output "dead_letter_queue_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "dead_letter_queue_name" {
  description = "Name of the dead-letter queue."
  value       = aws_sqs_queue.dlq.name
}

output "lanes" {
  description = "With lanes, each lane's queues and alarms by lane name: queue_url, queue_arn, queue_name, dead_letter_queue_url, dead_letter_queue_arn, dead_letter_queue_name, dead_letters_alarm_arn, oldest_message_alarm_arn. The first lane's are the module's own queues (queue_url, dead_letter_queue_url) and alarms. Empty without lanes."
  value = { for k, q in local.lane_queues : k => merge(q, {
    dead_letters_alarm_arn   = k == local.first_lane.name ? aws_cloudwatch_metric_alarm.dlq_not_empty.arn : aws_cloudwatch_metric_alarm.lane_dead_letters[k].arn
    oldest_message_alarm_arn = k == local.first_lane.name ? aws_cloudwatch_metric_alarm.oldest_message.arn : aws_cloudwatch_metric_alarm.lane_oldest_message[k].arn
  }) }
}

# Kept for one release under their former names.

output "dlq_url" {
  description = "Deprecated: use dead_letter_queue_url; removed in the next release."
  value       = aws_sqs_queue.dlq.url
}

output "dlq_arn" {
  description = "Deprecated: use dead_letter_queue_arn; removed in the next release."
  value       = aws_sqs_queue.dlq.arn
}

# The idempotency table.

output "idempotency_table_name" {
  description = "SESQ_IDEMPOTENCY_TABLE: the fleet's DynamoDB table of sent envelope ids."
  value       = aws_dynamodb_table.idempotency.name
}

output "idempotency_table_arn" {
  description = "ARN of the idempotency table."
  value       = aws_dynamodb_table.idempotency.arn
}

# Large messages.

output "payload_bucket_name" {
  description = "The payload bucket (created, or payload_bucket_name): producers' SESQ_PAYLOAD_BUCKET, where they store envelopes too large for an SQS message; the worker's SESQ_PAYLOAD_BUCKETS, and `sesq dlq`'s."
  value       = local.payload_bucket_name
}

output "payload_bucket_arn" {
  description = "ARN of the payload bucket."
  value       = local.payload_bucket_arn
}

# IAM.

output "task_role_arn" {
  description = "The role sesq sends as: the principal each identity owner's sending-authorization policy must name."
  value       = aws_iam_role.task.arn
}

output "task_role_name" {
  description = "Name of the task role."
  value       = aws_iam_role.task.name
}

output "task_execution_role_arn" {
  description = "The execution role (image pull, logs, secrets)."
  value       = aws_iam_role.execution.arn
}

output "producer_policy_arn" {
  description = "Attach to producer services' roles: sqs:SendMessage on the source queue and every lane's, s3:PutObject in the payload bucket (and, with kms_key_arn, the key through SQS and kms:GenerateDataKey through S3)."
  value       = aws_iam_policy.producer.arn
}

output "producer_policy_json" {
  description = "The producer policy document, to inline elsewhere."
  value       = data.aws_iam_policy_document.producer.json
}

output "operator_policy_arn" {
  description = "Attach to operators' roles for `sesq dlq inspect|replay|purge`, on every lane's dead-letter queue, and to read and delete (purge) the payloads in the payload bucket."
  value       = aws_iam_policy.operator.arn
}

output "operator_policy_json" {
  description = "The operator policy document, to inline elsewhere."
  value       = data.aws_iam_policy_document.operator.json
}

# The service.

output "service_name" {
  description = "The ECS service."
  value       = aws_ecs_service.sesq.name
}

output "task_definition_arn" {
  description = "The task definition the service runs."
  value       = aws_ecs_task_definition.sesq.arn
}

output "cloudwatch_log_group_name" {
  description = "The worker's log group."
  value       = aws_cloudwatch_log_group.sesq.name
}

# SES.

output "configuration_set_name" {
  description = "With create_configuration_set: the name producers put in an envelope's configurationSetName (in this region). null otherwise."
  value       = try(aws_sesv2_configuration_set.sesq[0].configuration_set_name, null)
}

output "configuration_set_arn" {
  description = "With create_configuration_set: ARN of the configuration set. null otherwise."
  value       = try(aws_sesv2_configuration_set.sesq[0].arn, null)
}

output "alarm_arns" {
  description = "The alarms by name: dead letters, oldest message (with lanes, the first lane's; the others' are in lanes), SES bounce rate, SES complaint rate."
  value = {
    dead_letters   = aws_cloudwatch_metric_alarm.dlq_not_empty.arn
    oldest_message = aws_cloudwatch_metric_alarm.oldest_message.arn
    bounce_rate    = aws_cloudwatch_metric_alarm.bounce_rate.arn
    complaint_rate = aws_cloudwatch_metric_alarm.complaint_rate.arn
  }
}

# Metrics and traces.

output "metrics_log_group_name" {
  description = "With adot_collector: the log group the collector writes sesq's metrics to as EMF. null otherwise."
  value       = try(aws_cloudwatch_log_group.metrics[0].name, null)
}

output "cloudwatch_metrics_namespace" {
  description = "With adot_collector: the CloudWatch namespace of sesq's metrics. null otherwise."
  value       = var.adot_collector == null ? null : var.cloudwatch_metrics_namespace
}
