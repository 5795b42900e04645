output "queue_url" {
  description = "SESQ_QUEUE_URL: where producers enqueue envelopes."
  value       = aws_sqs_queue.source.url
}

output "queue_arn" {
  description = "ARN of the source queue."
  value       = aws_sqs_queue.source.arn
}

output "dlq_url" {
  description = "SESQ_DLQ_URL: the dead-letter queue."
  value       = aws_sqs_queue.dlq.url
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "task_role_arn" {
  description = "The role sesq sends as: the principal each identity owner's sending-authorization policy must name."
  value       = aws_iam_role.task.arn
}

output "producer_policy_arn" {
  description = "Attach to producer services' roles: sqs:SendMessage on the source queue."
  value       = aws_iam_policy.producer.arn
}

output "producer_policy_json" {
  description = "The producer policy document, to inline elsewhere."
  value       = data.aws_iam_policy_document.producer.json
}

output "operator_policy_arn" {
  description = "Attach to operators' roles for `sesq dlq inspect|replay|purge`."
  value       = aws_iam_policy.operator.arn
}

output "service_name" {
  description = "The ECS service."
  value       = aws_ecs_service.sesq.name
}
