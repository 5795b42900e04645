# Priority lanes (var.lanes): `tofu test` against a mocked AWS provider (no
# account, no network), run by internal/deploy's TestTofuTest. Each queue
# resource gets a URL and ARN of its own (override_resource), so that the
# assertions tell the first lane's queues (the module's own, source and
# dlq) from the other lanes' (lane and lane_dlq).

mock_provider "aws" {
  mock_data "aws_region" {
    defaults = { id = "eu-west-1", name = "eu-west-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::111122223333:role/sesq" }
  }
  mock_resource "aws_iam_policy" {
    defaults = { arn = "arn:aws:iam::111122223333:policy/sesq" }
  }
  mock_resource "aws_dynamodb_table" {
    defaults = { arn = "arn:aws:dynamodb:eu-west-1:111122223333:table/sesq-idempotency" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:111122223333:log-group:/ecs/sesq" }
  }
  mock_resource "aws_cloudwatch_metric_alarm" {
    defaults = { arn = "arn:aws:cloudwatch:eu-west-1:111122223333:alarm:sesq" }
  }
  mock_resource "aws_ecs_task_definition" {
    defaults = { arn = "arn:aws:ecs:eu-west-1:111122223333:task-definition/sesq:1" }
  }
}

override_resource {
  target = aws_sqs_queue.source
  values = { arn = "arn:aws:sqs:eu-west-1:111122223333:source", url = "https://sqs.eu-west-1.amazonaws.com/111122223333/source" }
}

override_resource {
  target = aws_sqs_queue.dlq
  values = { arn = "arn:aws:sqs:eu-west-1:111122223333:dlq", url = "https://sqs.eu-west-1.amazonaws.com/111122223333/dlq" }
}

override_resource {
  target = aws_sqs_queue.lane
  values = { arn = "arn:aws:sqs:eu-west-1:111122223333:lane", url = "https://sqs.eu-west-1.amazonaws.com/111122223333/lane" }
}

override_resource {
  target = aws_sqs_queue.lane_dlq
  values = { arn = "arn:aws:sqs:eu-west-1:111122223333:lane-dlq", url = "https://sqs.eu-west-1.amazonaws.com/111122223333/lane-dlq" }
}

variables {
  image              = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/sesq@sha256:0000000000000000000000000000000000000000000000000000000000000000"
  cluster_arn        = "arn:aws:ecs:eu-west-1:111122223333:cluster/mail"
  subnet_ids         = ["subnet-0123456789abcdef0"]
  security_group_ids = ["sg-0123456789abcdef0"]
  identity_arns      = ["arn:aws:ses:eu-west-1:111122223333:identity/example.com"]
}

# Without lanes: one queue, as before lanes existed.
run "one_queue" {
  assert {
    condition     = aws_sqs_queue.source.name == "sesq" && aws_sqs_queue.dlq.name == "sesq-dlq" && length(aws_sqs_queue.lane) == 0 && length(aws_sqs_queue.lane_dlq) == 0
    error_message = "Without lanes there are the queues sesq and sesq-dlq and no lane queues."
  }
  assert {
    condition = {
      for e in jsondecode(aws_ecs_task_definition.sesq.container_definitions)[0].environment : e.name => e.value if contains(["SESQ_QUEUE_URL", "SESQ_DLQ_URL", "SESQ_QUEUES", "SESQ_DLQ_URLS"], e.name)
      } == {
      SESQ_QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/111122223333/source"
      SESQ_DLQ_URL   = "https://sqs.eu-west-1.amazonaws.com/111122223333/dlq"
      SESQ_QUEUES    = ""
      SESQ_DLQ_URLS  = ""
    }
    error_message = "Without lanes the container gets SESQ_QUEUE_URL and SESQ_DLQ_URL, and SESQ_QUEUES and SESQ_DLQ_URLS empty (unset)."
  }
  assert {
    condition     = one([for m in aws_appautoscaling_policy.backlog_per_task.target_tracking_scaling_policy_configuration[0].customized_metric_specification[0].metrics : m.expression if m.return_data]) == "visible / IF(tasks > 0, tasks, 1)"
    error_message = "Without lanes the scaling expression is the one it was before lanes."
  }
  assert {
    condition     = length(aws_appautoscaling_policy.backlog_per_task.target_tracking_scaling_policy_configuration[0].customized_metric_specification[0].metrics) == 3
    error_message = "Without lanes the scaling policy reads one queue and the running tasks."
  }
  assert {
    condition     = output.lanes == {} && output.queue_url == "https://sqs.eu-west-1.amazonaws.com/111122223333/source"
    error_message = "Without lanes the lanes output is empty and queue_url is the one queue."
  }
  assert {
    condition = {
      for e in jsondecode(aws_ecs_task_definition.sesq.container_definitions)[0].environment : e.name => e.value if contains(["SESQ_FAIRNESS", "SESQ_TENANT_SHARE"], e.name)
    } == { SESQ_FAIRNESS = "tenant", SESQ_TENANT_SHARE = "0.5" }
    error_message = "The container gets SESQ_FAIRNESS tenant and SESQ_TENANT_SHARE 0.5 by default."
  }
}

# Two lanes: transactional (weight 8) keeps the module's queues, bulk gets
# its own.
run "two_lanes" {
  variables {
    lanes        = [{ name = "transactional", weight = 8 }, { name = "bulk" }]
    fairness     = "off"
    tenant_share = 0.25
  }

  assert {
    condition     = aws_sqs_queue.source.name == "sesq" && aws_sqs_queue.dlq.name == "sesq-dlq"
    error_message = "The first lane keeps the module's queues, sesq and sesq-dlq."
  }
  assert {
    condition     = keys(aws_sqs_queue.lane) == ["bulk"] && keys(aws_sqs_queue.lane_dlq) == ["bulk"]
    error_message = "The second lane gets a queue and a dead-letter queue of its own."
  }
  assert {
    condition     = aws_sqs_queue.lane["bulk"].name == "sesq-bulk" && aws_sqs_queue.lane_dlq["bulk"].name == "sesq-bulk-dlq"
    error_message = "The second lane's queues are sesq-bulk and sesq-bulk-dlq."
  }
  assert {
    condition     = jsondecode(aws_sqs_queue.lane["bulk"].redrive_policy) == { deadLetterTargetArn = "arn:aws:sqs:eu-west-1:111122223333:lane-dlq", maxReceiveCount = 20 }
    error_message = "The second lane's queue redrives to its own dead-letter queue, after max_receive_count receives."
  }
  assert {
    condition     = jsondecode(aws_sqs_queue_redrive_allow_policy.lane_dlq["bulk"].redrive_allow_policy).sourceQueueArns == ["arn:aws:sqs:eu-west-1:111122223333:lane"]
    error_message = "The second lane's dead-letter queue takes redrives from its queue only."
  }
  assert {
    condition     = aws_sqs_queue.lane["bulk"].visibility_timeout_seconds == 60 && aws_sqs_queue.lane["bulk"].receive_wait_time_seconds == 20 && aws_sqs_queue.lane["bulk"].sqs_managed_sse_enabled == true
    error_message = "The second lane's queue has the first's visibility timeout, long polling and encryption."
  }
  assert {
    condition = {
      for e in jsondecode(aws_ecs_task_definition.sesq.container_definitions)[0].environment : e.name => e.value if contains(["SESQ_QUEUE_URL", "SESQ_DLQ_URL", "SESQ_QUEUES", "SESQ_DLQ_URLS"], e.name)
      } == {
      SESQ_QUEUE_URL = ""
      SESQ_DLQ_URL   = ""
      SESQ_QUEUES    = "transactional=https://sqs.eu-west-1.amazonaws.com/111122223333/source:8,bulk=https://sqs.eu-west-1.amazonaws.com/111122223333/lane:1"
      SESQ_DLQ_URLS  = "transactional=https://sqs.eu-west-1.amazonaws.com/111122223333/dlq,bulk=https://sqs.eu-west-1.amazonaws.com/111122223333/lane-dlq"
    }
    error_message = "With lanes the container gets SESQ_QUEUES (each lane's queue and weight) and SESQ_DLQ_URLS (each lane's dead-letter queue), and SESQ_QUEUE_URL and SESQ_DLQ_URL empty (unset)."
  }
  assert {
    condition = {
      for e in jsondecode(aws_ecs_task_definition.sesq.container_definitions)[0].environment : e.name => e.value if contains(["SESQ_FAIRNESS", "SESQ_TENANT_SHARE"], e.name)
    } == { SESQ_FAIRNESS = "off", SESQ_TENANT_SHARE = "0.25" }
    error_message = "The container gets SESQ_FAIRNESS and SESQ_TENANT_SHARE from fairness and tenant_share."
  }
  assert {
    condition     = one([for m in aws_appautoscaling_policy.backlog_per_task.target_tracking_scaling_policy_configuration[0].customized_metric_specification[0].metrics : m.expression if m.return_data]) == "(FILL(visible, 0) + FILL(visible_bulk, 0)) / IF(tasks > 0, tasks, 1)"
    error_message = "The scaling expression sums both lanes' visible messages over the running tasks."
  }
  assert {
    condition = {
      for m in aws_appautoscaling_policy.backlog_per_task.target_tracking_scaling_policy_configuration[0].customized_metric_specification[0].metrics :
      m.id => one(one(m.metric_stat[0].metric).dimensions).value if m.id != "tasks" && length(m.metric_stat) > 0
      } == {
      visible      = "sesq"
      visible_bulk = "sesq-bulk"
    }
    error_message = "The scaling policy reads the visible messages of both lanes' queues."
  }
  assert {
    condition     = alltrue([for m in aws_appautoscaling_policy.backlog_per_task.target_tracking_scaling_policy_configuration[0].customized_metric_specification[0].metrics : one(m.metric_stat[0].metric).metric_name == "ApproximateNumberOfMessagesVisible" && m.metric_stat[0].stat == "Sum" if startswith(m.id, "visible")])
    error_message = "The scaling policy sums ApproximateNumberOfMessagesVisible of each lane."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.lane_dead_letters["bulk"].dimensions.QueueName == "sesq-bulk-dlq" && aws_cloudwatch_metric_alarm.lane_oldest_message["bulk"].dimensions.QueueName == "sesq-bulk"
    error_message = "The second lane has its own dead-letter and oldest-message alarms."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.dlq_not_empty.dimensions.QueueName == "sesq-dlq" && aws_cloudwatch_metric_alarm.oldest_message.dimensions.QueueName == "sesq"
    error_message = "The first lane keeps the module's alarms."
  }
  assert {
    condition     = keys(output.lanes) == ["bulk", "transactional"]
    error_message = "The lanes output has both lanes."
  }
  assert {
    condition     = output.lanes["transactional"].queue_url == "https://sqs.eu-west-1.amazonaws.com/111122223333/source" && output.lanes["transactional"].dead_letter_queue_arn == "arn:aws:sqs:eu-west-1:111122223333:dlq" && output.lanes["bulk"].queue_arn == "arn:aws:sqs:eu-west-1:111122223333:lane" && output.lanes["bulk"].dead_letter_queue_url == "https://sqs.eu-west-1.amazonaws.com/111122223333/lane-dlq"
    error_message = "The lanes output names each lane's queues."
  }
}

# FIFO lanes: the queue and its dead-letter queue are FIFO, the queue in
# high-throughput mode; the first lane's queues, if FIFO, become NAME.fifo.
run "fifo_lanes" {
  variables {
    lanes = [{ name = "orders", fifo = true }, { name = "receipts", weight = 3, fifo = true }, { name = "bulk" }]
  }

  assert {
    condition     = aws_sqs_queue.source.name == "sesq.fifo" && aws_sqs_queue.source.fifo_queue == true && aws_sqs_queue.dlq.name == "sesq-dlq.fifo" && aws_sqs_queue.dlq.fifo_queue == true
    error_message = "A FIFO first lane's queues are sesq.fifo and sesq-dlq.fifo."
  }
  assert {
    condition     = aws_sqs_queue.lane["receipts"].name == "sesq-receipts.fifo" && aws_sqs_queue.lane_dlq["receipts"].name == "sesq-receipts-dlq.fifo" && aws_sqs_queue.lane["receipts"].fifo_queue == true && aws_sqs_queue.lane_dlq["receipts"].fifo_queue == true
    error_message = "A FIFO lane's queue and dead-letter queue are FIFO."
  }
  assert {
    condition     = aws_sqs_queue.lane["receipts"].deduplication_scope == "messageGroup" && aws_sqs_queue.lane["receipts"].fifo_throughput_limit == "perMessageGroupId"
    error_message = "A FIFO lane's queue is in high-throughput mode."
  }
  assert {
    condition     = aws_sqs_queue.lane["bulk"].name == "sesq-bulk" && aws_sqs_queue.lane["bulk"].fifo_queue == null && aws_sqs_queue.lane_dlq["bulk"].fifo_queue == null
    error_message = "A standard lane beside FIFO lanes stays standard."
  }
  assert {
    condition     = one([for m in aws_appautoscaling_policy.backlog_per_task.target_tracking_scaling_policy_configuration[0].customized_metric_specification[0].metrics : m.expression if m.return_data]) == "(FILL(visible, 0) + FILL(visible_bulk, 0) + FILL(visible_receipts, 0)) / IF(tasks > 0, tasks, 1)"
    error_message = "The scaling expression sums all three lanes."
  }
}

run "duplicate_lane_names" {
  command = plan

  variables {
    lanes = [{ name = "bulk" }, { name = "bulk", weight = 2 }]
  }

  expect_failures = [var.lanes]
}

run "lane_weight_zero" {
  command = plan

  variables {
    lanes = [{ name = "transactional", weight = 0 }, { name = "bulk" }]
  }

  expect_failures = [var.lanes]
}

run "lane_weight_not_whole" {
  command = plan

  variables {
    lanes = [{ name = "transactional", weight = 1.5 }]
  }

  expect_failures = [var.lanes]
}

run "lane_name_with_capitals" {
  command = plan

  variables {
    lanes = [{ name = "Transactional" }]
  }

  expect_failures = [var.lanes]
}

run "lane_name_with_underscore" {
  command = plan

  variables {
    lanes = [{ name = "bulk_mail" }]
  }

  expect_failures = [var.lanes]
}

run "lane_queue_name_too_long" {
  command = plan

  variables {
    name  = "a-deployment-name-of-fifty-characters-for-testing"
    lanes = [{ name = "first" }, { name = "a-lane-name-of-thirty-characters", fifo = true }]
  }

  expect_failures = [aws_sqs_queue.lane_dlq]
}

run "fairness_unknown" {
  command = plan

  variables {
    fairness = "round-robin"
  }

  expect_failures = [var.fairness]
}

run "tenant_share_zero" {
  command = plan

  variables {
    tenant_share = 0
  }

  expect_failures = [var.tenant_share]
}
