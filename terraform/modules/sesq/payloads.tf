# Large messages. An envelope too large for an SQS message (1 MiB at most,
# less sesq's attributes) waits in S3, and the message carries a pointer to
# it in the SQS Extended Client's format. Producers write the payload
# (s3:PutObject); the worker reads it, and deletes it once the message is
# finished; a dead letter keeps its pointer, so that replay still works, and
# `sesq dlq purge` deletes the payloads of what it purges. What is left
# behind, a payload whose message is gone (expired unsent, or removed by
# other means), is an orphan: the lifecycle rule expires it after the
# dead-letter queues' retention plus a margin, by which time no message can
# point at it any more.
#
# One bucket for every lane. The task role, the producer policy and the
# operator policy are granted on it (main.tf), and the worker follows
# pointers into it only (SESQ_PAYLOAD_BUCKETS). With create_payload_bucket
# false the bucket is an existing one, by name: its encryption, lifecycle
# and policy are its owner's.

locals {
  payload_bucket_name = var.create_payload_bucket ? aws_s3_bucket.payload[0].bucket : (var.payload_bucket_name == null ? "" : var.payload_bucket_name)
  payload_bucket_arn  = var.create_payload_bucket ? aws_s3_bucket.payload[0].arn : "arn:${data.aws_partition.current.partition}:s3:::${local.payload_bucket_name}"
  # Without a name: NAME-payloads- and a unique suffix from the provider
  # (bucket_prefix: at most 37 characters); bucket names are lowercase and
  # have no underscores.
  payload_bucket_prefix = "${substr(lower(replace(var.name, "_", "-")), 0, 27)}-payloads-"

  # The longest a dead letter can point at a payload: the retention of the
  # dead-letter queues (every lane's), whose messages sesq writes anew, so
  # that their retention starts when they are dead-lettered.
  dead_letter_retention_seconds = max(concat([aws_sqs_queue.dlq.message_retention_seconds], values(aws_sqs_queue.lane_dlq)[*].message_retention_seconds)...)
  payload_expiration_days       = ceil(local.dead_letter_retention_seconds / 86400) + var.payload_expiration_margin_days

  # sesq's bound on what one payload held takes in memory, in MiB: five
  # times the largest payload it fetches, the transport's largest message
  # as base64 in JSON plus 1 MiB (cmd/sesq/run.go, payloadMemory; README,
  # Large messages): about 69 MiB for api and smtp, 260 MiB for api-v2.
  payload_memory_mib = ceil(5 * ((var.transport == "api-v2" ? 40000000 : 10000000) * 4 / 3 + 1048576) / 1048576)
  # What sesq needs besides: its own soft memory limit (16 MiB and 256 KiB
  # per sender) and 64 MiB for the runtime and buffers.
  sesq_memory_mib = 16 + var.concurrency / 4 + 64
}

# A warning, not an error: a task only needs this memory while it holds
# payload_fetches of the largest payloads at once. Against the task's
# memory: sesq's container has no limit of its own (the collector's, if
# any, is a limit, not a reservation).
check "payload_memory" {
  assert {
    condition     = var.memory >= var.payload_fetches * local.payload_memory_mib + local.sesq_memory_mib
    error_message = "sesq may hold ${var.payload_fetches} payloads of up to ${local.payload_memory_mib} MiB each (payload_fetches, transport ${var.transport}) besides about ${floor(local.sesq_memory_mib)} MiB of its own, ${floor(var.payload_fetches * local.payload_memory_mib + local.sesq_memory_mib)} MiB, but the task has ${var.memory} MiB: a task holding that many of the largest payloads would be stopped out of memory. Raise memory or lower payload_fetches."
  }
}

# Never emptied to be destroyed: its objects are mail not yet sent, or dead
# letters not yet dealt with. Destroying a deployment with payloads left
# fails until they are purged (or expire).
resource "aws_s3_bucket" "payload" {
  count         = var.create_payload_bucket ? 1 : 0
  bucket        = var.payload_bucket_name
  bucket_prefix = var.payload_bucket_name == null ? local.payload_bucket_prefix : null
  force_destroy = false
  tags          = var.tags
}

resource "aws_s3_bucket_public_access_block" "payload" {
  count                   = var.create_payload_bucket ? 1 : 0
  bucket                  = aws_s3_bucket.payload[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# ACLs off: every object belongs to the bucket's account, whoever wrote it,
# and only IAM and the bucket policy decide who may read it.
resource "aws_s3_bucket_ownership_controls" "payload" {
  count  = var.create_payload_bucket ? 1 : 0
  bucket = aws_s3_bucket.payload[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# The queues' key when there is one (with an S3 Bucket Key, so that S3 asks
# KMS for a data key per bucket and period rather than per object), else
# S3-managed keys.
resource "aws_s3_bucket_server_side_encryption_configuration" "payload" {
  count  = var.create_payload_bucket ? 1 : 0
  bucket = aws_s3_bucket.payload[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

# Orphans expire; so do the parts of uploads never completed. The bucket
# has no versioning: a deleted or expired payload is gone.
resource "aws_s3_bucket_lifecycle_configuration" "payload" {
  count  = var.create_payload_bucket ? 1 : 0
  bucket = aws_s3_bucket.payload[0].id

  rule {
    id     = "expire-orphaned-payloads"
    status = "Enabled"
    filter {}
    expiration {
      days = local.payload_expiration_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  lifecycle {
    precondition {
      condition     = local.payload_expiration_days * 86400 >= local.dead_letter_retention_seconds
      error_message = "Payloads would expire after ${local.payload_expiration_days} days, before the dead letters that point at them (${local.dead_letter_retention_seconds / 86400} days): a replay would find its payload gone."
    }
  }
}

# Requests without TLS are refused, whoever makes them.
data "aws_iam_policy_document" "payload_bucket" {
  count = var.create_payload_bucket ? 1 : 0
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.payload[0].arn, "${aws_s3_bucket.payload[0].arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "payload" {
  count  = var.create_payload_bucket ? 1 : 0
  bucket = aws_s3_bucket.payload[0].id
  policy = data.aws_iam_policy_document.payload_bucket[0].json
  # S3 refuses a bucket policy while the bucket's public access block is
  # being changed.
  depends_on = [aws_s3_bucket_public_access_block.payload]
}
