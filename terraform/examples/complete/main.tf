# A sesq fleet with every option of the module: two priority lanes
# (transactional mail and bulk, eight to one), a customer-managed
# KMS key for the queues, the idempotency table and the bucket of large
# messages' payloads, roles under a path and a
# permissions boundary, tags (with the provider's default_tags), Graviton
# (ARM64) tasks mostly on Fargate Spot, the SES v2 API, a ledger key from
# Secrets Manager, alarms to an SNS topic, a configuration set whose events
# go to CloudWatch and to a second topic, and an ADOT collector beside each
# task that puts sesq's metrics in CloudWatch and its traces in X-Ray. It
# creates the ECS cluster
# (Container Insights on, Fargate and Fargate Spot capacity providers), the
# key and the topics; the network, the boundary and the identities are yours.
#
#   tofu init && tofu apply -var-file=my.tfvars     (or terraform)

terraform {
  required_version = ">= 1.6.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.30, < 7.0"
    }
  }
}

provider "aws" {
  region = var.region
  # Tags every resource of the provider, the module's included; the module's
  # tags input adds to them.
  default_tags {
    tags = {
      Project   = "sesq"
      ManagedBy = "terraform"
    }
  }
}

variable "region" {
  description = "Region of the queues, the service, the configuration set and the reputation alarms: the region of the identities, for the configuration set to serve them."
  type        = string
  default     = "us-east-1"
}

variable "image" {
  description = "The sesq image for linux/arm64, e.g. 111122223333.dkr.ecr.us-east-1.amazonaws.com/sesq@sha256:... (docker buildx build --platform linux/arm64)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets with a route to SQS, DynamoDB, S3, SES, KMS, CloudWatch Logs and X-Ray (NAT or VPC endpoints), and to ECR Public for the collector's image (NAT)."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the tasks: outbound HTTPS only."
  type        = list(string)
}

variable "identity_arns" {
  description = "Identities the fleet sends for, authorized by their owners (../identity-owner)."
  type        = list(string)
}

variable "permissions_boundary_arn" {
  description = "The organization's permissions boundary for roles. It must allow SQS, DynamoDB, S3, SES, KMS, CloudWatch Logs and X-Ray, the actions the module grants."
  type        = string
}

variable "ledger_key_secret_arn" {
  description = "A Secrets Manager secret of at least 16 random bytes, e.g. aws secretsmanager create-secret --name sesq/ledger-key --secret-string \"$(openssl rand -base64 32)\"."
  type        = string
}

variable "environment" {
  description = "Tag of this deployment."
  type        = string
  default     = "production"
}

# The cluster. Autoscaling reads RunningTaskCount from Container Insights,
# and the service's strategy needs both Fargate capacity providers on it.

resource "aws_ecs_cluster" "sesq" {
  name = "sesq"
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_ecs_cluster_capacity_providers" "sesq" {
  cluster_name       = aws_ecs_cluster.sesq.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]
}

locals {
  # The cluster's ARN once its capacity providers are set, so that the
  # service, which names them, is created after them.
  cluster_arn = aws_ecs_cluster_capacity_providers.sesq.cluster_name == "" ? "" : aws_ecs_cluster.sesq.arn
}

# The key of the queues, the table and the payload bucket. Its default
# policy lets the account's IAM policies grant it: the module grants the
# task role, the producers and the operators its use through SQS, DynamoDB
# and S3 only.
resource "aws_kms_key" "sesq" {
  description             = "sesq queues, idempotency table and payloads"
  enable_key_rotation     = true
  deletion_window_in_days = 30
}

resource "aws_kms_alias" "sesq" {
  name          = "alias/sesq"
  target_key_id = aws_kms_key.sesq.key_id
}

# Alarms notify this topic. (CloudWatch cannot publish to a topic encrypted
# with the AWS-managed SNS key; a customer-managed key would need a policy
# for cloudwatch.amazonaws.com.)
resource "aws_sns_topic" "alarms" {
  name = "sesq-alarms"
}

# The configuration set's bounces, complaints, rejects and deliveries, one
# notification each, e.g. for a consumer that suppresses bouncing addresses.
resource "aws_sns_topic" "ses_events" {
  name = "sesq-ses-events"
}

module "sesq" {
  source = "../../modules/sesq"

  name               = "sesq"
  image              = var.image
  cluster_arn        = local.cluster_arn
  subnet_ids         = var.subnet_ids
  security_group_ids = var.security_group_ids
  identity_arns      = var.identity_arns

  tags = {
    Environment = var.environment
    CostCenter  = "mail"
  }

  # Two lanes: password resets and receipts on transactional, newsletters on
  # bulk. Each task reads both; while both have messages waiting,
  # transactional gets eight times bulk's share of the senders and the send
  # rate, and an empty transactional lane costs bulk nothing. Autoscaling
  # follows the two queues' backlog together. transactional, first, keeps
  # the queues sesq and sesq-dlq; bulk gets sesq-bulk and sesq-bulk-dlq.
  lanes = [
    { name = "transactional", weight = 8 },
    { name = "bulk", weight = 1 },
  ]

  # Encryption.
  kms_key_arn                       = aws_kms_key.sesq.arn
  kms_data_key_reuse_period_seconds = 3600

  # IAM.
  iam_role_permissions_boundary = var.permissions_boundary_arn
  iam_role_path                 = "/sesq/"

  # Graviton, one task on Fargate and the rest mostly on Fargate Spot: a
  # Spot interruption is a SIGTERM two minutes ahead, and sesq drains and
  # hands back its messages within its stop timeout.
  cpu_architecture = "ARM64"
  capacity_provider_strategy = [
    { capacity_provider = "FARGATE", base = 1, weight = 1 },
    { capacity_provider = "FARGATE_SPOT", weight = 3 },
  ]
  cpu          = 512
  memory       = 1024
  min_capacity = 2
  max_capacity = 20

  # The worker.
  transport             = "api-v2"
  concurrency           = 64
  fairness              = "tenant"
  tenant_share          = 0.25
  ledger_key_secret_arn = var.ledger_key_secret_arn
  log_retention_days    = 90

  # Large messages (attachments): an envelope over the queue's limit waits
  # in the payload bucket the module creates (named sesq-payloads- and a
  # unique suffix; output payload_bucket_name is the producers'
  # SESQ_PAYLOAD_BUCKET), encrypted with the key above. Payloads whose
  # message is gone expire 14 + 10 days after they were written: the
  # margin leaves operators ten days past the dead letters' retention. A
  # task holds at most three payloads in memory at once: with the v2 API's
  # 40 MB messages up to about 260 MiB each while being sent, 780 MiB of
  # the task's 1024 (the module warns when they do not fit).
  create_payload_bucket          = true
  payload_expiration_margin_days = 10
  payload_fetches                = 3

  # Alarms, and the reputation the account answers for.
  alarm_topic_arn                = aws_sns_topic.alarms.arn
  oldest_message_alarm_seconds   = 600
  bounce_rate_alarm_threshold    = 0.04
  complaint_rate_alarm_threshold = 0.0008

  # A configuration set producers name in configurationSetName.
  create_configuration_set        = true
  configuration_set_sns_topic_arn = aws_sns_topic.ses_events.arn
  configuration_set_event_types   = ["REJECT", "BOUNCE", "COMPLAINT", "DELIVERY", "RENDERING_FAILURE"]

  # sesq's metrics in CloudWatch (namespace Mail/sesq) and one trace in ten
  # in X-Ray (all of those a producer sampled), through an ADOT collector in
  # each task. The subnets need a route to X-Ray and to ECR Public (or give
  # image, a mirror of the collector pinned by digest).
  adot_collector = {
    traces             = true
    trace_sample_ratio = 0.1
  }
  cloudwatch_metrics_namespace = "Mail/sesq"
}

output "queue_urls" {
  description = "Where producers enqueue, by lane: transactional and bulk."
  value       = { for name, lane in module.sesq.lanes : name => lane.queue_url }
}

output "dead_letter_queue_urls" {
  description = "Each lane's dead-letter queue, for `sesq dlq`."
  value       = { for name, lane in module.sesq.lanes : name => lane.dead_letter_queue_url }
}

output "payload_bucket_name" {
  description = "Producers' SESQ_PAYLOAD_BUCKET: where they store envelopes too large for a message."
  value       = module.sesq.payload_bucket_name
}

output "task_role_arn" {
  description = "Give this to each identity owner (../identity-owner's delegate_role_arn)."
  value       = module.sesq.task_role_arn
}

output "producer_policy_arn" {
  description = "Attach to producers' roles (sending to both lanes, writing payloads, and the key's use through SQS and S3)."
  value       = module.sesq.producer_policy_arn
}

output "operator_policy_arn" {
  description = "Attach to operators' roles."
  value       = module.sesq.operator_policy_arn
}

output "configuration_set_name" {
  description = "Producers put this in configurationSetName."
  value       = module.sesq.configuration_set_name
}

output "metrics_log_group_name" {
  description = "The collector's EMF events, from which CloudWatch extracts sesq's metrics."
  value       = module.sesq.metrics_log_group_name
}
