# The region's name is its id: the same in AWS provider v5 and v6 (v6
# deprecates name in favour of region, which v5 lacks).
data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  # A FIFO queue's redrive maxReceiveCount: SQS's largest. The worker hands
  # a FIFO message back by its visibility (keeping its place in its group),
  # so retries, quota deferrals and holds each count one more receive.
  fifo_max_receive_count = 1000

  region       = data.aws_region.current.id
  cluster_name = element(split("/", var.cluster_arn), 1)
  allowed      = length(var.allowed_identities) > 0 ? var.allowed_identities : var.identity_arns
  # Fargate allows at most 120 s between SIGTERM and SIGKILL.
  stop_timeout = min(var.shutdown_timeout_seconds + var.wait_time_seconds + 15, 120)

  # Priority lanes (var.lanes). The first lane is the module's own queues,
  # source and dlq, whose addresses and names never change, so that adding
  # lanes to a deployment destroys no queue; the others get queues of their
  # own (aws_sqs_queue.lane and lane_dlq, by lane name). Without lanes the
  # source queue is the one queue, read through SESQ_QUEUE_URL.
  lanes_on    = length(var.lanes) > 0
  first_lane  = try(var.lanes[0], { name = "", weight = 1, fifo = false })
  other_lanes = { for i, l in var.lanes : l.name => l if i > 0 }

  # Every lane's queues by lane name (output lanes; SESQ_QUEUES and
  # SESQ_DLQ_URLS); empty without lanes.
  lane_queues = merge(local.lanes_on ? {
    (local.first_lane.name) = {
      queue_url              = aws_sqs_queue.source.url
      queue_arn              = aws_sqs_queue.source.arn
      queue_name             = aws_sqs_queue.source.name
      dead_letter_queue_url  = aws_sqs_queue.dlq.url
      dead_letter_queue_arn  = aws_sqs_queue.dlq.arn
      dead_letter_queue_name = aws_sqs_queue.dlq.name
    }
    } : {}, { for k, q in aws_sqs_queue.lane : k => {
      queue_url              = q.url
      queue_arn              = q.arn
      queue_name             = q.name
      dead_letter_queue_url  = aws_sqs_queue.lane_dlq[k].url
      dead_letter_queue_arn  = aws_sqs_queue.lane_dlq[k].arn
      dead_letter_queue_name = aws_sqs_queue.lane_dlq[k].name
  } })

  # Every SESQ_* setting the worker reads (internal/config), handed to the
  # container. The queues are one queue (SESQ_QUEUE_URL, SESQ_DLQ_URL) or
  # lanes (SESQ_QUEUES, SESQ_DLQ_URLS): the other form is empty, which sesq
  # reads as unset. Not SESQ_PAYLOAD_BUCKET or SESQ_PAYLOAD_THRESHOLD: they
  # tell producers where and above what size to store a payload, and the
  # worker never stores one (a retry, a deferral or a dead letter carries
  # the pointer it came with).
  environment = {
    AWS_REGION              = local.region
    SESQ_QUEUE_URL          = local.lanes_on ? "" : aws_sqs_queue.source.url
    SESQ_DLQ_URL            = local.lanes_on ? "" : aws_sqs_queue.dlq.url
    SESQ_QUEUES             = join(",", [for l in var.lanes : "${l.name}=${local.lane_queues[l.name].queue_url}:${l.weight}"])
    SESQ_DLQ_URLS           = join(",", [for l in var.lanes : "${l.name}=${local.lane_queues[l.name].dead_letter_queue_url}"])
    SESQ_CONCURRENCY        = tostring(var.concurrency)
    SESQ_BATCH_SIZE         = tostring(var.batch_size)
    SESQ_WAIT_TIME          = "${var.wait_time_seconds}s"
    SESQ_VISIBILITY_TIMEOUT = "${var.visibility_timeout_seconds}s"
    SESQ_MAX_ATTEMPTS       = tostring(var.max_attempts)
    SESQ_BACKOFF_INITIAL    = var.backoff_initial
    SESQ_BACKOFF_MAX        = var.backoff_max
    SESQ_QUOTA_DELAY        = var.quota_delay
    SESQ_MAX_DEFERRALS      = tostring(var.max_deferrals)
    SESQ_ALLOWED_IDENTITIES = join(",", local.allowed)
    SESQ_SHUTDOWN_TIMEOUT   = "${var.shutdown_timeout_seconds}s"
    SESQ_SEND_TIMEOUT       = var.send_timeout
    SESQ_HTTP_ADDR          = ":${var.http_port}"
    SESQ_LOG_LEVEL          = var.log_level
    SESQ_LOG_FORMAT         = var.log_format
    SESQ_SEND_RATE          = tostring(var.send_rate)
    SESQ_METRICS_TENANTS    = tostring(var.metrics_tenants)
    SESQ_FAIRNESS           = var.fairness
    SESQ_TENANT_SHARE       = tostring(var.tenant_share)
    SESQ_IDEMPOTENCY_TABLE  = aws_dynamodb_table.idempotency.name
    SESQ_IDEMPOTENCY_TTL    = var.idempotency_ttl
    SESQ_TRANSPORT          = var.transport
    SESQ_SMTP_PORT          = tostring(var.smtp_port)
    SESQ_SMTP_ENDPOINT      = var.smtp_endpoint
    SESQ_SMTP_TLS           = var.smtp_tls
    SESQ_PAYLOAD_BUCKETS    = local.payload_bucket_name
    SESQ_PAYLOAD_FETCHES    = tostring(var.payload_fetches)
  }

  # SMTP credentials and the ledger key come from Secrets Manager, never as
  # plain variables. The SMTP secret is the whole JSON map of region to
  # credentials (SES SMTP passwords are per region).
  secrets = concat(var.smtp_credentials_secret_arn == "" ? [] : [
    { name = "SESQ_SMTP_CREDENTIALS", valueFrom = var.smtp_credentials_secret_arn },
    ], var.ledger_key_secret_arn == "" ? [] : [
    { name = "SESQ_LEDGER_KEY", valueFrom = var.ledger_key_secret_arn },
  ])
  secret_arns = compact([var.smtp_credentials_secret_arn, var.ledger_key_secret_arn])
}

# Queues. The worker routes classified failures to the dead-letter queue
# itself; SQS's redrive (maxReceiveCount above the worker's attempts) is the
# safety net for messages no worker could handle at all. Both queues are
# encrypted: with SSE-KMS under kms_key_arn, else with SQS-managed SSE. With
# lanes, these two are the first lane's, FIFO if it is (a FIFO queue's
# dead-letter queue must be FIFO too), and every other lane has a pair of
# its own below.

resource "aws_sqs_queue" "dlq" {
  name                              = local.first_lane.fifo ? "${var.name}-dlq.fifo" : "${var.name}-dlq"
  fifo_queue                        = local.first_lane.fifo ? true : null
  message_retention_seconds         = 14 * 24 * 3600
  sqs_managed_sse_enabled           = var.kms_key_arn == null ? true : null
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : var.kms_data_key_reuse_period_seconds
  tags                              = var.tags
}

resource "aws_sqs_queue" "source" {
  name                              = local.first_lane.fifo ? "${var.name}.fifo" : var.name
  fifo_queue                        = local.first_lane.fifo ? true : null
  deduplication_scope               = local.first_lane.fifo ? "messageGroup" : null
  fifo_throughput_limit             = local.first_lane.fifo ? "perMessageGroupId" : null
  visibility_timeout_seconds        = var.visibility_timeout_seconds
  receive_wait_time_seconds         = var.wait_time_seconds
  message_retention_seconds         = 4 * 24 * 3600
  sqs_managed_sse_enabled           = var.kms_key_arn == null ? true : null
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : var.kms_data_key_reuse_period_seconds
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = local.first_lane.fifo ? local.fifo_max_receive_count : var.max_receive_count
  })
  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.max_receive_count > var.max_attempts
      error_message = "max_receive_count must exceed max_attempts: the worker's own dead-letter routing comes first."
    }
  }
}

# The lanes after the first: a queue and a dead-letter queue each, named
# NAME-LANE and NAME-LANE-dlq (.fifo for a FIFO lane), set up as the first
# lane's. A FIFO lane is in high-throughput mode (deduplication and the
# throughput limit per message group): sesq's groups are tenants or
# recipients, many of them.

resource "aws_sqs_queue" "lane_dlq" {
  for_each                          = local.other_lanes
  name                              = each.value.fifo ? "${var.name}-${each.key}-dlq.fifo" : "${var.name}-${each.key}-dlq"
  fifo_queue                        = each.value.fifo ? true : null
  message_retention_seconds         = 14 * 24 * 3600
  sqs_managed_sse_enabled           = var.kms_key_arn == null ? true : null
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : var.kms_data_key_reuse_period_seconds
  tags                              = var.tags

  lifecycle {
    # SQS: queue names of at most 80 characters, .fifo included.
    precondition {
      condition     = length(var.name) + length(each.key) + 10 <= 80
      error_message = "The queues of lane ${each.key} would be named ${var.name}-${each.key}-dlq.fifo and the like: name and the lane's name must be 70 characters at most together (SQS queue names: 80)."
    }
  }
}

resource "aws_sqs_queue" "lane" {
  for_each                          = local.other_lanes
  name                              = each.value.fifo ? "${var.name}-${each.key}.fifo" : "${var.name}-${each.key}"
  fifo_queue                        = each.value.fifo ? true : null
  deduplication_scope               = each.value.fifo ? "messageGroup" : null
  fifo_throughput_limit             = each.value.fifo ? "perMessageGroupId" : null
  visibility_timeout_seconds        = var.visibility_timeout_seconds
  receive_wait_time_seconds         = var.wait_time_seconds
  message_retention_seconds         = 4 * 24 * 3600
  sqs_managed_sse_enabled           = var.kms_key_arn == null ? true : null
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : var.kms_data_key_reuse_period_seconds
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.lane_dlq[each.key].arn
    maxReceiveCount     = each.value.fifo ? local.fifo_max_receive_count : var.max_receive_count
  })
  tags = var.tags
}

resource "aws_sqs_queue_redrive_allow_policy" "lane_dlq" {
  for_each  = local.other_lanes
  queue_url = aws_sqs_queue.lane_dlq[each.key].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.lane[each.key].arn]
  })
}

# Duplicate suppression for the fleet: one item per envelope id that SES
# accepted (or that a task is sending), expiring through DynamoDB's TTL.
resource "aws_dynamodb_table" "idempotency" {
  name         = "${var.name}-idempotency"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {
    name = "pk"
    type = "S"
  }

  ttl {
    attribute_name = "expires"
    enabled        = true
  }

  # Without kms_key_arn: the AWS-managed key (aws/dynamodb).
  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}

resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.source.arn]
  })
}

# IAM. The task role may consume the source queue (and every lane's),
# re-enqueue on it (quota deferrals and shutdown hand-backs carry their
# attempt count in a new message), write the dead-letter queue (each lane's), send as a delegate for the given
# identities, read and delete payloads in the payload bucket (payloads.tf),
# and read its send quota: nothing else, and no wildcard
# resource but GetSendQuota's, which has none. Four grants depend on inputs:
# the KMS key (kms_key_arn), used only through SQS and DynamoDB, and
# through S3 to decrypt payloads; sending with the module's configuration
# set (its name, in any region of the account: see ses.tf); and, for the collector
# (adot_collector), writing its metrics log group and, with traces,
# X-Ray's PutTraceSegments (which has no resource).

data "aws_iam_policy_document" "assume_ecs_tasks" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "task" {
  statement {
    sid       = "ConsumeSourceQueue"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
    resources = concat([aws_sqs_queue.source.arn], values(aws_sqs_queue.lane)[*].arn)
  }
  statement {
    sid       = "RequeueOnSourceQueue"
    actions   = ["sqs:SendMessage"]
    resources = concat([aws_sqs_queue.source.arn], values(aws_sqs_queue.lane)[*].arn)
  }
  statement {
    sid       = "WriteDeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = concat([aws_sqs_queue.dlq.arn], values(aws_sqs_queue.lane_dlq)[*].arn)
  }
  statement {
    sid       = "SendAsDelegate"
    actions   = ["ses:SendEmail", "ses:SendRawEmail", "ses:SendTemplatedEmail"]
    resources = var.identity_arns
  }
  # Large messages: the worker reads the payload a pointer names and
  # deletes it once the message is done with (a dead letter keeps it, for
  # replay). No s3:PutObject: it never stores a payload. s3:ListBucket
  # makes S3 answer a missing payload with NoSuchKey instead of
  # AccessDenied, so that sesq dead-letters it as missing at once rather
  # than retrying what no retry brings back.
  statement {
    sid       = "ReadAndDeletePayloads"
    actions   = ["s3:GetObject", "s3:DeleteObject"]
    resources = ["${local.payload_bucket_arn}/*"]
  }
  statement {
    sid       = "TellMissingPayloads"
    actions   = ["s3:ListBucket"]
    resources = [local.payload_bucket_arn]
  }
  statement {
    sid       = "SuppressDuplicates"
    actions   = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.idempotency.arn]
  }
  # The send-rate limiter starts from the account's quota per region
  # (GetSendQuota for the v1 API, GetAccount for v2); neither has
  # resource-level permissions.
  statement {
    sid       = "ReadSendQuota"
    actions   = ["ses:GetSendQuota", "ses:GetAccount"]
    resources = ["*"]
  }
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [1]
    content {
      sid       = "UseQueueAndTableKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [var.kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["sqs.${local.region}.${data.aws_partition.current.dns_suffix}", "dynamodb.${local.region}.${data.aws_partition.current.dns_suffix}"]
      }
    }
  }
  # Payloads under the key (SSE-KMS): reading them needs kms:Decrypt,
  # through S3 only.
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [1]
    content {
      sid       = "DecryptPayloads"
      actions   = ["kms:Decrypt"]
      resources = [var.kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${local.region}.${data.aws_partition.current.dns_suffix}"]
      }
    }
  }
  # SES authorizes a send that names a configuration set on the set too.
  dynamic "statement" {
    for_each = var.create_configuration_set ? [1] : []
    content {
      sid       = "SendWithConfigurationSet"
      actions   = ["ses:SendEmail", "ses:SendRawEmail", "ses:SendTemplatedEmail"]
      resources = [local.configuration_set_arn]
    }
  }
  # The collector (collector.tf) writes EMF to the module's log group, which
  # exists already: a stream of it, not a group.
  dynamic "statement" {
    for_each = var.adot_collector == null ? [] : [1]
    content {
      sid       = "WriteMetricsAsEMF"
      actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      resources = ["${aws_cloudwatch_log_group.metrics[0].arn}:*"]
    }
  }
  # X-Ray's PutTraceSegments has no resource-level permissions. The
  # collector samples nothing itself (sesq does), so it needs no sampling
  # rules, and sends no telemetry records.
  dynamic "statement" {
    for_each = try(var.adot_collector.traces, false) ? [1] : []
    content {
      sid       = "SendTracesToXRay"
      actions   = ["xray:PutTraceSegments"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role" "task" {
  name                 = "${var.name}-task"
  path                 = var.iam_role_path
  permissions_boundary = var.iam_role_permissions_boundary
  assume_role_policy   = data.aws_iam_policy_document.assume_ecs_tasks.json
  tags                 = var.tags
}

resource "aws_iam_role_policy" "task" {
  name   = "${var.name}-task"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}

resource "aws_iam_role" "execution" {
  name                 = "${var.name}-execution"
  path                 = var.iam_role_path
  permissions_boundary = var.iam_role_permissions_boundary
  assume_role_policy   = data.aws_iam_policy_document.assume_ecs_tasks.json
  tags                 = var.tags
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

# The execution role reads the secrets (SMTP credentials, the ledger key)
# into the container.
data "aws_iam_policy_document" "execution_secrets" {
  count = length(local.secret_arns) == 0 ? 0 : 1
  statement {
    sid       = "ReadSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = local.secret_arns
  }
}

resource "aws_iam_role_policy" "execution_secrets" {
  count  = length(local.secret_arns) == 0 ? 0 : 1
  name   = "${var.name}-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution_secrets[0].json
}

# Producers attach this policy to enqueue envelopes, on every lane (reading
# the queue's MaximumMessageSize, which sets when a body goes to S3), and to
# store payloads too large for a message in the payload bucket: write only,
# since a producer has no business reading other producers' mail. With
# kms_key_arn, SQS needs the sender to generate and check a data key of the
# queue's key, and S3 a data key to encrypt the payload with (one
# PutObject; a multipart upload would need kms:Decrypt too).
data "aws_iam_policy_document" "producer" {
  statement {
    sid       = "EnqueueEnvelopes"
    actions   = ["sqs:SendMessage", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"]
    resources = concat([aws_sqs_queue.source.arn], values(aws_sqs_queue.lane)[*].arn)
  }
  statement {
    sid       = "StorePayloads"
    actions   = ["s3:PutObject"]
    resources = ["${local.payload_bucket_arn}/*"]
  }
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [1]
    content {
      sid       = "UseQueueKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [var.kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["sqs.${local.region}.${data.aws_partition.current.dns_suffix}"]
      }
    }
  }
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [1]
    content {
      sid       = "EncryptPayloads"
      actions   = ["kms:GenerateDataKey"]
      resources = [var.kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${local.region}.${data.aws_partition.current.dns_suffix}"]
      }
    }
  }
}

resource "aws_iam_policy" "producer" {
  name   = "${var.name}-producer"
  path   = var.iam_role_path
  policy = data.aws_iam_policy_document.producer.json
  tags   = var.tags
}

# Operators attach this policy to inspect, replay and purge the dead-letter
# queue, and each lane's: reading a dead letter's envelope reads its
# payload, a purge deletes it (a replay moves the pointer only), and
# s3:ListBucket tells a missing payload from one they may not read.
data "aws_iam_policy_document" "operator" {
  statement {
    sid       = "ReadDeadLetters"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
    resources = concat([aws_sqs_queue.dlq.arn], values(aws_sqs_queue.lane_dlq)[*].arn)
  }
  statement {
    sid       = "ReplayToSourceQueue"
    actions   = ["sqs:SendMessage"]
    resources = concat([aws_sqs_queue.source.arn], values(aws_sqs_queue.lane)[*].arn)
  }
  statement {
    sid       = "ReadAndDeletePayloads"
    actions   = ["s3:GetObject", "s3:DeleteObject"]
    resources = ["${local.payload_bucket_arn}/*"]
  }
  statement {
    sid       = "TellMissingPayloads"
    actions   = ["s3:ListBucket"]
    resources = [local.payload_bucket_arn]
  }
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [1]
    content {
      sid       = "UseQueueKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [var.kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["sqs.${local.region}.${data.aws_partition.current.dns_suffix}"]
      }
    }
  }
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [1]
    content {
      sid       = "DecryptPayloads"
      actions   = ["kms:Decrypt"]
      resources = [var.kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${local.region}.${data.aws_partition.current.dns_suffix}"]
      }
    }
  }
}

resource "aws_iam_policy" "operator" {
  name   = "${var.name}-operator"
  path   = var.iam_role_path
  policy = data.aws_iam_policy_document.operator.json
  tags   = var.tags
}

# The service.

resource "aws_cloudwatch_log_group" "sesq" {
  name              = "/ecs/${var.name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_ecs_task_definition" "sesq" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  task_role_arn            = aws_iam_role.task.arn
  execution_role_arn       = aws_iam_role.execution.arn
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }
  # sesq, and the collector (collector.tf) when there is one.
  container_definitions = jsonencode(concat([merge({
    name         = "sesq"
    image        = var.image
    essential    = true
    command      = ["run"]
    stopTimeout  = local.stop_timeout
    portMappings = [{ containerPort = var.http_port, protocol = "tcp" }]
    # A map's keys come sorted: the definition does not change between plans.
    environment = [for k, v in merge(local.environment, local.otel_environment) : { name = k, value = v }]
    secrets     = local.secrets
    healthCheck = {
      command     = ["CMD", "/sesq", "health", "127.0.0.1:${var.http_port}"]
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = 10
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.sesq.name
        awslogs-region        = local.region
        awslogs-stream-prefix = "sesq"
      }
    }
    readonlyRootFilesystem = true
    user                   = "65532:65532"
  }, local.sesq_beside_adot...)], local.adot_containers))
  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.adot_collector == null || try(var.adot_collector.cpu < var.cpu && var.adot_collector.memory < var.memory, false)
      error_message = "adot_collector.cpu and adot_collector.memory must be below the task's cpu and memory: sesq needs the rest."
    }
    precondition {
      condition     = var.create_payload_bucket || var.payload_bucket_name != null
      error_message = "payload_bucket_name is required when create_payload_bucket is false: the existing bucket sesq reads payloads from (SESQ_PAYLOAD_BUCKETS) and the policies are granted on."
    }
  }
}

resource "aws_ecs_service" "sesq" {
  name            = var.name
  cluster         = var.cluster_arn
  task_definition = aws_ecs_task_definition.sesq.arn
  # A capacity provider strategy (e.g. FARGATE_SPOT) excludes a launch type.
  launch_type   = length(var.capacity_provider_strategy) == 0 ? "FARGATE" : null
  desired_count = var.min_capacity
  dynamic "capacity_provider_strategy" {
    for_each = var.capacity_provider_strategy
    content {
      capacity_provider = capacity_provider_strategy.value.capacity_provider
      weight            = capacity_provider_strategy.value.weight
      base              = capacity_provider_strategy.value.base
    }
  }
  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = var.security_group_ids
    assign_public_ip = var.assign_public_ip
  }
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  # The tasks carry the service's tags (cost allocation of Spot and ARM64).
  enable_ecs_managed_tags = true
  propagate_tags          = "SERVICE"
  tags                    = var.tags
  lifecycle {
    ignore_changes = [desired_count] # autoscaling owns it
  }
}
