variable "name" {
  description = "Name of the deployment: the queues are NAME and NAME-dlq, the ECS service and roles are named after it."
  type        = string
  default     = "sesq"
}

variable "image" {
  description = "sesq container image, built from the repository's Dockerfile (pin it by digest)."
  type        = string
}

variable "cluster_arn" {
  description = "ARN of the ECS cluster to run in. Its Container Insights must be on: autoscaling reads RunningTaskCount from it."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets of the tasks (awsvpc). They need a route to SQS and SES (NAT or VPC endpoints)."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the tasks. sesq only makes outbound HTTPS calls; nothing needs to reach it but health checks."
  type        = list(string)
}

variable "assign_public_ip" {
  description = "Give tasks a public IP (public subnets without NAT)."
  type        = bool
  default     = false
}

variable "cpu" {
  description = "Task CPU units."
  type        = number
  default     = 256
}

variable "memory" {
  description = "Task memory (MiB)."
  type        = number
  default     = 512
}

variable "identity_arns" {
  description = "SES identity ARNs the fleet may send for: the IAM policy's ses:Send* resources, and SESQ_ALLOWED_IDENTITIES unless allowed_identities is set. Each identity owner must authorize the task role (see examples/identity-owner)."
  type        = list(string)
  validation {
    condition     = length(var.identity_arns) > 0 && alltrue([for a in var.identity_arns : can(regex("^arn:aws[a-z-]*:ses:[a-z0-9-]+:[0-9]{12}:identity/.+$", a))])
    error_message = "identity_arns must be SES identity ARNs (arn:aws:ses:REGION:ACCOUNT:identity/NAME)."
  }
}

variable "allowed_identities" {
  description = "SESQ_ALLOWED_IDENTITIES: identity-ARN globs the worker sends for. Empty: the identity_arns."
  type        = list(string)
  default     = []
}

# Worker settings, passed to the container as SESQ_* variables (see the README's configuration table).

variable "concurrency" {
  description = "SESQ_CONCURRENCY: sends in flight per task."
  type        = number
  default     = 32
}

variable "batch_size" {
  description = "SESQ_BATCH_SIZE: ReceiveMessage MaxNumberOfMessages (1..10)."
  type        = number
  default     = 10
}

variable "wait_time_seconds" {
  description = "SESQ_WAIT_TIME and the queue's ReceiveMessageWaitTimeSeconds: long-poll wait (0..20)."
  type        = number
  default     = 20
}

variable "visibility_timeout_seconds" {
  description = "SESQ_VISIBILITY_TIMEOUT and the queue's visibility timeout."
  type        = number
  default     = 60
}

variable "max_attempts" {
  description = "SESQ_MAX_ATTEMPTS: send attempts per envelope over all deliveries."
  type        = number
  default     = 8
}

variable "max_receive_count" {
  description = "The source queue's redrive maxReceiveCount; above max_attempts, so the worker's classified routing comes first and SQS's redrive is only the safety net."
  type        = number
  default     = 20
}

variable "backoff_initial" {
  description = "SESQ_BACKOFF_INITIAL: first retry delay."
  type        = string
  default     = "200ms"
}

variable "backoff_max" {
  description = "SESQ_BACKOFF_MAX: longest retry delay."
  type        = string
  default     = "30s"
}

variable "quota_delay" {
  description = "SESQ_QUOTA_DELAY: wait after a daily quota or sending pause."
  type        = string
  default     = "15m"
}

variable "shutdown_timeout_seconds" {
  description = "SESQ_SHUTDOWN_TIMEOUT: drain time after SIGTERM. The task's stopTimeout is this plus the long-poll wait plus 5 s (at most 120)."
  type        = number
  default     = 25
}

variable "send_timeout" {
  description = "SESQ_SEND_TIMEOUT: longest single SES call."
  type        = string
  default     = "30s"
}

variable "http_port" {
  description = "Port of /metrics, /healthz and /readyz (SESQ_HTTP_ADDR=:PORT)."
  type        = number
  default     = 9090
}

variable "log_level" {
  description = "SESQ_LOG_LEVEL: debug, info, warn or error."
  type        = string
  default     = "info"
}

variable "log_format" {
  description = "SESQ_LOG_FORMAT: json or text."
  type        = string
  default     = "json"
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention of the worker's logs."
  type        = number
  default     = 30
}

# Autoscaling.

variable "min_capacity" {
  description = "Fewest tasks."
  type        = number
  default     = 1
}

variable "max_capacity" {
  description = "Most tasks. The account's SES sending rate is shared by all of them: more tasks than the rate needs only add throttling."
  type        = number
  default     = 10
}

variable "backlog_per_task_target" {
  description = "Target of visible messages per running task. A task sends about concurrency / SES latency messages per second (32 / 0.1 s = 320/s); a target of that many seconds' worth of work (default: 1000, about 3 s) keeps the backlog drained within seconds without scaling on every burst."
  type        = number
  default     = 1000
}

# Alarms.

variable "alarm_topic_arn" {
  description = "SNS topic for the alarms (dead-letter queue not empty, oldest message too old)."
  type        = string
}

variable "oldest_message_alarm_seconds" {
  description = "Alarm when the oldest message of the source queue is older than this."
  type        = number
  default     = 900
}

# Transport.

variable "transport" {
  description = "SESQ_TRANSPORT: api (SES v1 API), api-v2 (SES v2 API: tenants, 40 MB raw messages) or smtp (SES SMTP interface)."
  type        = string
  default     = "api"
  validation {
    condition     = contains(["api", "api-v2", "smtp"], var.transport)
    error_message = "transport must be api, api-v2 or smtp."
  }
}

variable "smtp_port" {
  description = "SESQ_SMTP_PORT: 587 or 2587 (STARTTLS), 465 or 2465 (TLS)."
  type        = number
  default     = 587
}

variable "smtp_endpoint" {
  description = "SESQ_SMTP_ENDPOINT: HOST:PORT overriding email-smtp.REGION.amazonaws.com ({region} allowed). Empty: SES's."
  type        = string
  default     = ""
}

variable "smtp_tls" {
  description = "SESQ_SMTP_TLS: starttls or tls; empty: by port."
  type        = string
  default     = ""
}

variable "smtp_credentials_secret_arn" {
  description = "With transport smtp: a Secrets Manager secret whose value is a JSON object mapping each region to its SES SMTP credentials, {\"us-east-1\": {\"username\": ..., \"password\": ...}, \"eu-west-1\": {...}}, handed to the container as SESQ_SMTP_CREDENTIALS (SES SMTP passwords are per region). Fargate tasks have temporary role credentials, from which no SMTP password can be derived."
  type        = string
  default     = ""
}

variable "send_rate" {
  description = "SESQ_SEND_RATE: the SES send rate quota per region each task works under; 0: the account's quota from GetSendQuota. Each task starts below it and adapts to SES's throttles."
  type        = number
  default     = 0
}

variable "idempotency_ttl" {
  description = "SESQ_IDEMPOTENCY_TTL: how long the fleet's idempotency table remembers a sent envelope id (a redelivery within it is deleted unsent)."
  type        = string
  default     = "24h"
}

variable "max_deferrals" {
  description = "SESQ_MAX_DEFERRALS: quota deferrals of one envelope before it is dead-lettered with reason quota (96: 24 h at the default quota_delay)."
  type        = number
  default     = 96
  validation {
    condition     = var.max_deferrals >= 0
    error_message = "max_deferrals must not be negative."
  }
}

variable "ledger_key_secret_arn" {
  description = "A Secrets Manager secret whose value (at least 16 random bytes) signs the ledger sesq keeps on the messages it puts back, handed to the container as SESQ_LEDGER_KEY; one secret for the whole fleet. Empty: the key is derived from the queue URL, which refuses copied or stale ledgers but not one forged on purpose by a producer who knows the URL."
  type        = string
  default     = ""
}
