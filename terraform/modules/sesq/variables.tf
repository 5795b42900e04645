variable "name" {
  description = "Name of the deployment: the queues are NAME and NAME-dlq, the ECS service and roles are named after it."
  type        = string
  default     = "sesq"
  validation {
    # The longest name derived from it is the role NAME-execution (IAM: 64).
    condition     = can(regex("^[A-Za-z0-9_-]{1,54}$", var.name))
    error_message = "name must be 1 to 54 letters, digits, hyphens or underscores (it names queues, a table, roles and the service)."
  }
}

variable "tags" {
  description = "Tags of every resource the module creates that takes tags (queues, table, payload bucket, roles, policies, log group, task definition, service and its tasks, autoscaling target, alarms, configuration set). They add to the provider's default_tags."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "image" {
  description = "sesq container image, built from the repository's Dockerfile (pin it by digest). The image is a static Go binary for linux/amd64 and linux/arm64: see cpu_architecture."
  type        = string
}

variable "cluster_arn" {
  description = "ARN of the ECS cluster to run in. Its Container Insights must be on: autoscaling reads RunningTaskCount from it."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster/.+$", var.cluster_arn))
    error_message = "cluster_arn must be an ECS cluster ARN (arn:aws:ecs:REGION:ACCOUNT:cluster/NAME)."
  }
}

variable "subnet_ids" {
  description = "Subnets of the tasks (awsvpc). They need a route to SQS, SES and S3 (NAT or VPC endpoints; S3's gateway endpoint costs nothing)."
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
  description = "Task CPU units (Fargate: 256, 512, 1024, 2048, 4096, 8192 or 16384; memory must be a size Fargate pairs with it)."
  type        = number
  default     = 256
  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "cpu must be a Fargate CPU size: 256, 512, 1024, 2048, 4096, 8192 or 16384."
  }
}

variable "memory" {
  description = "Task memory (MiB)."
  type        = number
  default     = 512
  validation {
    condition     = var.memory >= 512 && var.memory <= 122880
    error_message = "memory must be between 512 and 122880 MiB."
  }
}

variable "cpu_architecture" {
  description = "CPU architecture of the tasks: X86_64 or ARM64 (Graviton, cheaper per vCPU; Fargate Spot runs ARM64 on platform version 1.4.0, the latest). The image must have that platform: the repository's Dockerfile builds a static binary for either."
  type        = string
  default     = "X86_64"
  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "capacity_provider_strategy" {
  description = "Capacity providers of the service, e.g. [{ capacity_provider = \"FARGATE\", base = 1 }, { capacity_provider = \"FARGATE_SPOT\", weight = 3 }]: sesq drains and hands back its messages on the SIGTERM that precedes a Spot interruption, so Spot suits it. Empty: launch type FARGATE. The cluster must have these capacity providers; switching between a launch type and a strategy replaces the service."
  type = list(object({
    capacity_provider = string
    weight            = optional(number, 1)
    base              = optional(number, 0)
  }))
  default  = []
  nullable = false
  validation {
    condition     = alltrue([for s in var.capacity_provider_strategy : contains(["FARGATE", "FARGATE_SPOT"], s.capacity_provider) && s.weight >= 0 && s.weight <= 1000 && s.base >= 0 && s.base <= 100000])
    error_message = "capacity_provider_strategy: capacity_provider must be FARGATE or FARGATE_SPOT (the task definition is Fargate's), weight 0 to 1000, base 0 to 100000."
  }
  validation {
    # ECS allows a base on one provider of a strategy.
    condition     = length([for s in var.capacity_provider_strategy : s if s.base > 0]) <= 1 && (length(var.capacity_provider_strategy) == 0 || anytrue([for s in var.capacity_provider_strategy : s.weight > 0]))
    error_message = "capacity_provider_strategy: at most one provider may have a base, and at least one needs a weight above 0."
  }
}

# Priority lanes.

variable "lanes" {
  description = "Priority lanes: several queues one worker reads, each with its weight (SESQ_QUEUES) and its own dead-letter queue (SESQ_DLQ_URLS). name: 1 to 32 of [a-z0-9-]; weight: a whole number from 1 to 1000 (default 1), while several lanes have messages waiting, each gets senders and send rate in proportion to its weight (a lane without messages costs the others nothing); fifo: a FIFO queue and a FIFO dead-letter queue (NAME.fifo). The first lane keeps the module's own queues (NAME and NAME-dlq, outputs queue_url and dead_letter_queue_url), so that a deployment that adds lanes keeps its queue, the messages in it and its producers' URL as that lane; every other lane gets NAME-LANE and NAME-LANE-dlq. Keep the first lane first: putting another lane in front of it makes the module's queues that lane's and deletes the queues of the lane that was first. Empty: one queue (SESQ_QUEUE_URL and SESQ_DLQ_URL), as before."
  type = list(object({
    name   = string
    weight = optional(number, 1)
    fifo   = optional(bool, false)
  }))
  default  = []
  nullable = false
  validation {
    condition     = alltrue([for l in var.lanes : can(regex("^[a-z0-9-]{1,32}$", l.name))])
    error_message = "lanes: each name must be 1 to 32 lowercase letters, digits or hyphens (it names the lane's queues and is its key in SESQ_QUEUES)."
  }
  validation {
    condition     = length(distinct([for l in var.lanes : l.name])) == length(var.lanes)
    error_message = "lanes: each name may be given once."
  }
  validation {
    condition     = alltrue([for l in var.lanes : l.weight >= 1 && l.weight <= 1000 && floor(l.weight) == l.weight])
    error_message = "lanes: each weight must be a whole number from 1 to 1000."
  }
  validation {
    # Each lane is a long poll of every task, a metric of the scaling policy
    # and two alarms.
    condition     = length(var.lanes) <= 10
    error_message = "lanes: at most 10."
  }
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

# Encryption.

variable "kms_key_arn" {
  description = "ARN of a customer-managed KMS key for the queues (SSE-KMS), the idempotency table and the payload bucket the module creates (SSE-KMS with an S3 Bucket Key). The task role gets kms:Decrypt and kms:GenerateDataKey on it through SQS and DynamoDB only, and kms:Decrypt through S3; the producer and operator policies get the first two through SQS, and through S3 kms:GenerateDataKey (producers) or kms:Decrypt (operators). The key's policy must let the account's IAM policies grant it (the default key policy does). null: SQS-managed SSE on the queues, the AWS-managed key on the table and SSE-S3 on the bucket."
  type        = string
  default     = null
  validation {
    # A key ARN, not an alias: IAM grants on an alias ARN do not cover the key.
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), not an alias, or null."
  }
}

variable "kms_data_key_reuse_period_seconds" {
  description = "With kms_key_arn: how long SQS reuses a data key before calling KMS again (60 to 86400 s). Longer: fewer KMS calls (and charges), a data key in use longer."
  type        = number
  default     = 300
  validation {
    condition     = var.kms_data_key_reuse_period_seconds >= 60 && var.kms_data_key_reuse_period_seconds <= 86400
    error_message = "kms_data_key_reuse_period_seconds must be between 60 and 86400."
  }
}

# Large messages: envelopes too large for an SQS message wait in S3 (SQS
# Extended Client pointers), in the payload bucket (payloads.tf).

variable "create_payload_bucket" {
  description = "Create the payload bucket: S3, where producers put envelopes too large for an SQS message and the message carries a pointer to them (the SQS Extended Client's format). It is encrypted (SSE-KMS with kms_key_arn, else SSE-S3), blocks public access, enforces bucket-owner ownership (no ACLs), refuses requests without TLS, and expires objects the dead-letter queue's retention plus payload_expiration_margin_days after they were written. false: use the existing bucket payload_bucket_name, whose encryption, lifecycle and policy are then yours to set."
  type        = bool
  default     = true
  nullable    = false
}

variable "payload_bucket_name" {
  description = "With create_payload_bucket: the new bucket's name (null: a unique name beginning NAME-payloads-, NAME lowercased and cut to 27 characters). Without it: the existing bucket, required. Either way it is SESQ_PAYLOAD_BUCKETS, the one bucket sesq follows pointers into, and the bucket the task role, the producer policy and the operator policy are granted on (output payload_bucket_name: producers' SESQ_PAYLOAD_BUCKET)."
  type        = string
  default     = null
  validation {
    # S3's rules for general purpose buckets, less the reserved prefixes
    # and suffixes (S3 itself refuses those).
    condition     = var.payload_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.payload_bucket_name)) && !can(regex("\\.\\.|^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$", var.payload_bucket_name))
    error_message = "payload_bucket_name must be an S3 bucket name (3 to 63 lowercase letters, digits, dots and hyphens, beginning and ending with a letter or digit, no two dots in a row, not an IP address), or null."
  }
}

variable "payload_expiration_margin_days" {
  description = "Payload objects expire this many days after the longest retention of the dead-letter queues (14 days): enough for a message's time in the source queue before it is dead-lettered (4 days' retention, plus quota deferrals) and for operators to replay or purge it. Expiry is for orphans, payloads whose message is gone (expired unsent, or purged by other means than sesq dlq purge); sesq deletes a payload itself when its message is finished. Whole days, 0 to 3650."
  type        = number
  default     = 7
  nullable    = false
  validation {
    # Negative would expire payloads before the dead letters pointing at
    # them: a replay would find nothing.
    condition     = var.payload_expiration_margin_days >= 0 && var.payload_expiration_margin_days <= 3650 && floor(var.payload_expiration_margin_days) == var.payload_expiration_margin_days
    error_message = "payload_expiration_margin_days must be whole days from 0 to 3650: payloads must not expire before the dead letters that point at them."
  }
}

# IAM.

variable "iam_role_permissions_boundary" {
  description = "ARN of the permissions boundary of every role the module creates (task and execution roles). The boundary must allow what the roles are granted (SQS, DynamoDB, S3, SES, KMS with kms_key_arn, CloudWatch Logs and X-Ray with adot_collector). null: none."
  type        = string
  default     = null
  validation {
    condition     = var.iam_role_permissions_boundary == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$", var.iam_role_permissions_boundary))
    error_message = "iam_role_permissions_boundary must be an IAM policy ARN (arn:aws:iam::ACCOUNT:policy/NAME) or null."
  }
}

variable "iam_role_path" {
  description = "Path of the roles and managed policies the module creates, e.g. /service/."
  type        = string
  default     = "/"
  nullable    = false
  validation {
    condition     = can(regex("^/([A-Za-z0-9+=,.@_-]+/)*$", var.iam_role_path)) && length(var.iam_role_path) <= 512
    error_message = "iam_role_path must begin and end with / (/, /service/, /teams/mail/)."
  }
}

# Worker settings, passed to the container as SESQ_* variables (see the README's configuration table).

variable "concurrency" {
  description = "SESQ_CONCURRENCY: sends in flight per task (1..10000)."
  type        = number
  default     = 32
  validation {
    condition     = var.concurrency >= 1 && var.concurrency <= 10000 && floor(var.concurrency) == var.concurrency
    error_message = "concurrency must be a whole number from 1 to 10000."
  }
}

variable "batch_size" {
  description = "SESQ_BATCH_SIZE: ReceiveMessage MaxNumberOfMessages (1..10)."
  type        = number
  default     = 10
  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10 && floor(var.batch_size) == var.batch_size
    error_message = "batch_size must be a whole number from 1 to 10 (SQS's ReceiveMessage limit)."
  }
}

variable "wait_time_seconds" {
  description = "SESQ_WAIT_TIME and the queue's ReceiveMessageWaitTimeSeconds: long-poll wait (0..20)."
  type        = number
  default     = 20
  validation {
    condition     = var.wait_time_seconds >= 0 && var.wait_time_seconds <= 20 && floor(var.wait_time_seconds) == var.wait_time_seconds
    error_message = "wait_time_seconds must be whole seconds from 0 to 20 (SQS's long-poll limit)."
  }
}

variable "visibility_timeout_seconds" {
  description = "SESQ_VISIBILITY_TIMEOUT and the queue's visibility timeout (2 s to 12 h; sesq extends it while it works)."
  type        = number
  default     = 60
  validation {
    condition     = var.visibility_timeout_seconds >= 2 && var.visibility_timeout_seconds <= 43200 && floor(var.visibility_timeout_seconds) == var.visibility_timeout_seconds
    error_message = "visibility_timeout_seconds must be whole seconds from 2 to 43200 (12 h, SQS's limit)."
  }
}

variable "max_attempts" {
  description = "SESQ_MAX_ATTEMPTS: send attempts per envelope over all deliveries."
  type        = number
  default     = 8
  validation {
    condition     = var.max_attempts >= 1 && floor(var.max_attempts) == var.max_attempts
    error_message = "max_attempts must be a whole number, at least 1."
  }
}

variable "max_receive_count" {
  description = "The source queue's redrive maxReceiveCount; above max_attempts, so the worker's classified routing comes first and SQS's redrive is only the safety net."
  type        = number
  default     = 20
  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count must be a whole number from 1 to 1000 (SQS's limit)."
  }
}

variable "backoff_initial" {
  description = "SESQ_BACKOFF_INITIAL: first retry delay."
  type        = string
  default     = "200ms"
  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$", var.backoff_initial))
    error_message = "backoff_initial must be a duration like 200ms, 1s or 1m30s."
  }
}

variable "backoff_max" {
  description = "SESQ_BACKOFF_MAX: longest retry delay."
  type        = string
  default     = "30s"
  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$", var.backoff_max))
    error_message = "backoff_max must be a duration like 30s or 5m."
  }
}

variable "quota_delay" {
  description = "SESQ_QUOTA_DELAY: wait after a daily quota or sending pause."
  type        = string
  default     = "15m"
  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$", var.quota_delay))
    error_message = "quota_delay must be a duration like 15m or 1h."
  }
}

variable "shutdown_timeout_seconds" {
  description = "SESQ_SHUTDOWN_TIMEOUT: drain time after SIGTERM. The task's stopTimeout is this plus the long-poll wait plus 5 s (at most 120, Fargate's limit and a Spot interruption's notice)."
  type        = number
  default     = 25
  validation {
    condition     = var.shutdown_timeout_seconds >= 0 && var.shutdown_timeout_seconds <= 115 && floor(var.shutdown_timeout_seconds) == var.shutdown_timeout_seconds
    error_message = "shutdown_timeout_seconds must be whole seconds from 0 to 115 (Fargate stops a task at most 120 s after SIGTERM)."
  }
}

variable "send_timeout" {
  description = "SESQ_SEND_TIMEOUT: longest single SES call."
  type        = string
  default     = "30s"
  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$", var.send_timeout))
    error_message = "send_timeout must be a duration like 30s."
  }
}

variable "http_port" {
  description = "Port of /metrics, /healthz and /readyz (SESQ_HTTP_ADDR=:PORT)."
  type        = number
  default     = 9090
  validation {
    condition     = var.http_port >= 1 && var.http_port <= 65535 && floor(var.http_port) == var.http_port
    error_message = "http_port must be a port number (1 to 65535)."
  }
}

variable "log_level" {
  description = "SESQ_LOG_LEVEL: debug, info, warn or error."
  type        = string
  default     = "info"
  validation {
    condition     = contains(["debug", "info", "warn", "error"], var.log_level)
    error_message = "log_level must be debug, info, warn or error."
  }
}

variable "log_format" {
  description = "SESQ_LOG_FORMAT: json or text."
  type        = string
  default     = "json"
  validation {
    condition     = contains(["json", "text"], var.log_format)
    error_message = "log_format must be json or text."
  }
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention of the worker's logs (a value CloudWatch Logs accepts; 0: never expire)."
  type        = number
  default     = 30
  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch Logs' retention periods: 0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

# Autoscaling.

variable "min_capacity" {
  description = "Fewest tasks (at most max_capacity)."
  type        = number
  default     = 1
  validation {
    condition     = var.min_capacity >= 0 && floor(var.min_capacity) == var.min_capacity
    error_message = "min_capacity must be a whole number, at least 0."
  }
}

variable "max_capacity" {
  description = "Most tasks. The account's SES sending rate is shared by all of them: more tasks than the rate needs only add throttling."
  type        = number
  default     = 10
  validation {
    condition     = var.max_capacity >= 1 && floor(var.max_capacity) == var.max_capacity
    error_message = "max_capacity must be a whole number, at least 1."
  }
}

variable "backlog_per_task_target" {
  description = "Target of visible messages per running task. A task sends about concurrency / SES latency messages per second (32 / 0.1 s = 320/s); a target of that many seconds' worth of work (default: 1000, about 3 s) keeps the backlog drained within seconds without scaling on every burst."
  type        = number
  default     = 1000
  validation {
    condition     = var.backlog_per_task_target > 0
    error_message = "backlog_per_task_target must be positive."
  }
}

# Alarms.

variable "alarm_topic_arn" {
  description = "SNS topic the alarms notify (on alarm and on recovery). null: the alarms are created without actions (visible in CloudWatch, notifying no one)."
  type        = string
  default     = null
  validation {
    condition     = var.alarm_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:.+$", var.alarm_topic_arn))
    error_message = "alarm_topic_arn must be an SNS topic ARN or null."
  }
}

variable "oldest_message_alarm_seconds" {
  description = "Alarm when the oldest message of the source queue is older than this."
  type        = number
  default     = 900
  validation {
    condition     = var.oldest_message_alarm_seconds > 0
    error_message = "oldest_message_alarm_seconds must be positive."
  }
}

variable "bounce_rate_alarm_threshold" {
  description = "Alarm when the account's SES bounce rate (AWS/SES Reputation.BounceRate, a fraction) in this region reaches this. A delegate sender answers for the bounces of the identities it sends for: SES reviews an account at 0.05 (5 %) and may pause its sending at 0.10."
  type        = number
  default     = 0.04
  validation {
    condition     = var.bounce_rate_alarm_threshold > 0 && var.bounce_rate_alarm_threshold < 0.1
    error_message = "bounce_rate_alarm_threshold must be a fraction above 0 and below 0.1 (SES may pause sending at 10 %)."
  }
}

variable "complaint_rate_alarm_threshold" {
  description = "Alarm when the account's SES complaint rate (AWS/SES Reputation.ComplaintRate, a fraction) in this region reaches this. SES reviews an account at 0.001 (0.1 %) and may pause its sending at 0.005."
  type        = number
  default     = 0.0008
  validation {
    condition     = var.complaint_rate_alarm_threshold > 0 && var.complaint_rate_alarm_threshold < 0.005
    error_message = "complaint_rate_alarm_threshold must be a fraction above 0 and below 0.005 (SES may pause sending at 0.5 %)."
  }
}

# SES configuration set (in the sending account: the delegate's, this one).

variable "create_configuration_set" {
  description = "Create an SES configuration set in this region (reputation metrics on) publishing sending events to CloudWatch metrics by sending domain (ses:from-domain), and to configuration_set_sns_topic_arn if given. Producers name it in an envelope's configurationSetName; the task role may send with it."
  type        = bool
  default     = false
  nullable    = false
}

variable "configuration_set_name" {
  description = "Name of the configuration set. null: the name input."
  type        = string
  default     = null
  validation {
    condition     = var.configuration_set_name == null || can(regex("^[A-Za-z0-9_-]{1,64}$", var.configuration_set_name))
    error_message = "configuration_set_name must be 1 to 64 letters, digits, hyphens or underscores, or null."
  }
}

variable "configuration_set_event_types" {
  description = "Sending events the configuration set publishes: SEND, REJECT, BOUNCE, COMPLAINT, DELIVERY, DELIVERY_DELAY, RENDERING_FAILURE, OPEN, CLICK, SUBSCRIPTION."
  type        = list(string)
  default     = ["SEND", "REJECT", "BOUNCE", "COMPLAINT", "DELIVERY", "DELIVERY_DELAY", "RENDERING_FAILURE"]
  nullable    = false
  validation {
    condition     = length(var.configuration_set_event_types) > 0 && alltrue([for t in var.configuration_set_event_types : contains(["SEND", "REJECT", "BOUNCE", "COMPLAINT", "DELIVERY", "DELIVERY_DELAY", "RENDERING_FAILURE", "OPEN", "CLICK", "SUBSCRIPTION"], t)])
    error_message = "configuration_set_event_types must be a non-empty list of SEND, REJECT, BOUNCE, COMPLAINT, DELIVERY, DELIVERY_DELAY, RENDERING_FAILURE, OPEN, CLICK, SUBSCRIPTION."
  }
}

variable "configuration_set_sns_topic_arn" {
  description = "With create_configuration_set: also publish the events to this SNS topic (one notification per event, e.g. to suppress addresses that bounce). If the topic is encrypted with a customer-managed key, that key's policy must let SES use it. null: CloudWatch only."
  type        = string
  default     = null
  validation {
    condition     = var.configuration_set_sns_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:.+$", var.configuration_set_sns_topic_arn))
    error_message = "configuration_set_sns_topic_arn must be an SNS topic ARN or null."
  }
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
  validation {
    condition     = contains([587, 2587, 465, 2465], var.smtp_port)
    error_message = "smtp_port must be 587 or 2587 (STARTTLS), 465 or 2465 (TLS)."
  }
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
  validation {
    condition     = contains(["", "starttls", "tls"], var.smtp_tls)
    error_message = "smtp_tls must be starttls, tls or empty (by port)."
  }
}

variable "smtp_credentials_secret_arn" {
  description = "With transport smtp: a Secrets Manager secret whose value is a JSON object mapping each region to its SES SMTP credentials, {\"us-east-1\": {\"username\": ..., \"password\": ...}, \"eu-west-1\": {...}}, handed to the container as SESQ_SMTP_CREDENTIALS (SES SMTP passwords are per region). Fargate tasks have temporary role credentials, from which no SMTP password can be derived."
  type        = string
  default     = ""
  validation {
    condition     = var.smtp_credentials_secret_arn == "" || can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", var.smtp_credentials_secret_arn))
    error_message = "smtp_credentials_secret_arn must be a Secrets Manager secret ARN or empty."
  }
}

variable "send_rate" {
  description = "SESQ_SEND_RATE: the SES send rate quota per region each task works under; 0: the account's quota from GetSendQuota. Each task starts below it and adapts to SES's throttles."
  type        = number
  default     = 0
  validation {
    condition     = var.send_rate >= 0
    error_message = "send_rate must not be negative."
  }
}

variable "metrics_tenants" {
  description = "SESQ_METRICS_TENANTS: how many of the busiest tenants sesq_tenant_messages_total names (the rest are \"other\"); 0: off."
  type        = number
  default     = 20
  validation {
    condition     = var.metrics_tenants >= 0 && var.metrics_tenants <= 1000 && floor(var.metrics_tenants) == var.metrics_tenants
    error_message = "metrics_tenants must be a whole number from 0 to 1000."
  }
}

variable "fairness" {
  description = "SESQ_FAIRNESS: tenant, the worker shares the SES send rate among the tenants waiting for it and holds a tenant to tenant_share of its senders while others wait; off: first come, first served."
  type        = string
  default     = "tenant"
  validation {
    condition     = contains(["tenant", "off"], var.fairness)
    error_message = "fairness must be tenant or off."
  }
}

variable "tenant_share" {
  description = "SESQ_TENANT_SHARE: with fairness tenant, the largest share of a task's senders (SESQ_CONCURRENCY) one tenant may hold while other tenants wait, above 0 and at most 1."
  type        = number
  default     = 0.5
  validation {
    condition     = var.tenant_share > 0 && var.tenant_share <= 1
    error_message = "tenant_share must be above 0 and at most 1."
  }
}

variable "payload_fetches" {
  description = "SESQ_PAYLOAD_FETCHES: payloads from S3 one task holds in memory at once (1 to 1000); a message whose payload must wait for one is not sent meanwhile. Each takes up to about 69 MiB while it is sent with api or smtp (10 MB messages), 260 MiB with api-v2 (40 MB): memory must hold payload_fetches times that beside sesq's own (a check warns when it does not)."
  type        = number
  default     = 4
  validation {
    condition     = var.payload_fetches >= 1 && var.payload_fetches <= 1000 && floor(var.payload_fetches) == var.payload_fetches
    error_message = "payload_fetches must be a whole number from 1 to 1000."
  }
}

variable "idempotency_ttl" {
  description = "SESQ_IDEMPOTENCY_TTL: how long the fleet's idempotency table remembers a sent envelope id (a redelivery within it is deleted unsent)."
  type        = string
  default     = "24h"
  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$", var.idempotency_ttl))
    error_message = "idempotency_ttl must be a duration like 24h."
  }
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
  validation {
    condition     = var.ledger_key_secret_arn == "" || can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", var.ledger_key_secret_arn))
    error_message = "ledger_key_secret_arn must be a Secrets Manager secret ARN or empty."
  }
}

# Metrics and traces on Fargate: an AWS Distro for OpenTelemetry collector beside sesq.

variable "adot_collector" {
  description = "Run an AWS Distro for OpenTelemetry collector in each task (not essential: sesq sends on without it). It scrapes sesq's /metrics every 60 s and writes them as CloudWatch embedded metric format to a log group of the module (output metrics_log_group_name), which CloudWatch turns into metrics in cloudwatch_metrics_namespace. traces: sesq also exports its spans to it (OTEL_EXPORTER_OTLP_ENDPOINT on the task's loopback) and it sends them to X-Ray, sampling trace_sample_ratio of the traces no producer sampled. image: the collector, pinned by digest (it runs with the task role); default v0.48.0 from ECR Public, which private subnets without NAT cannot reach: mirror it (e.g. an ECR pull-through cache) and give that digest. cpu and memory: the collector's share of the task's (CPU units; memory is its hard limit in MiB), below the task's. null: no collector."
  type = object({
    image              = optional(string, "public.ecr.aws/aws-observability/aws-otel-collector@sha256:9b28046359054b414f4ba76056ba4e8cffda2d53fbcee06171d7eeecd71326c3")
    traces             = optional(bool, false)
    trace_sample_ratio = optional(number, 1)
    cpu                = optional(number, 64)
    memory             = optional(number, 256)
  })
  default = null
  validation {
    # By digest: the collector runs with the task role, which may send email for the identities.
    condition     = var.adot_collector == null || can(regex("^[a-z0-9][a-z0-9./_:-]*@sha256:[0-9a-f]{64}$", var.adot_collector.image))
    error_message = "adot_collector.image must be pinned by digest: REGISTRY/REPOSITORY@sha256:DIGEST."
  }
  validation {
    condition     = var.adot_collector == null || try(var.adot_collector.trace_sample_ratio >= 0 && var.adot_collector.trace_sample_ratio <= 1, false)
    error_message = "adot_collector.trace_sample_ratio must be between 0 and 1."
  }
  validation {
    condition     = var.adot_collector == null || try(var.adot_collector.cpu >= 0 && floor(var.adot_collector.cpu) == var.adot_collector.cpu && var.adot_collector.memory >= 64 && floor(var.adot_collector.memory) == var.adot_collector.memory, false)
    error_message = "adot_collector.cpu must be whole CPU units (0 or more) and adot_collector.memory whole MiB, at least 64."
  }
}

variable "cloudwatch_metrics_namespace" {
  description = "With adot_collector: the CloudWatch namespace of sesq's metrics. Give each deployment in an account and region its own: the metrics carry no deployment dimension."
  type        = string
  default     = "sesq"
  nullable    = false
  validation {
    # CloudWatch's rules; AWS/ is AWS's own.
    condition     = can(regex("^[0-9A-Za-z._/#: -]{1,255}$", var.cloudwatch_metrics_namespace)) && can(regex("[^ ]", var.cloudwatch_metrics_namespace)) && !can(regex("^AWS/", var.cloudwatch_metrics_namespace))
    error_message = "cloudwatch_metrics_namespace must be 1 to 255 letters, digits, spaces or . - _ / # :, not only spaces, and must not begin with AWS/."
  }
}
