# Large messages (payloads.tf): `tofu test` against a mocked AWS provider (no
# account, no network), run by internal/deploy's TestTofuTest. The bucket,
# its public access block, ownership, encryption, policy and lifecycle; the
# grants of the task role, the producers and the operators on it; and what
# the container gets. The policy documents are mocked (their json is a
# stub), so the assertions read their statements as the module wrote them.

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
  mock_resource "aws_sqs_queue" {
    defaults = { arn = "arn:aws:sqs:eu-west-1:111122223333:sesq", url = "https://sqs.eu-west-1.amazonaws.com/111122223333/sesq" }
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
  # The name S3 would give a bucket created with bucket_prefix.
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::sesq-payloads-20260101000000000000000001", bucket = "sesq-payloads-20260101000000000000000001" }
  }
}

variables {
  image              = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/sesq@sha256:0000000000000000000000000000000000000000000000000000000000000000"
  cluster_arn        = "arn:aws:ecs:eu-west-1:111122223333:cluster/mail"
  subnet_ids         = ["subnet-0123456789abcdef0"]
  security_group_ids = ["sg-0123456789abcdef0"]
  identity_arns      = ["arn:aws:ses:eu-west-1:111122223333:identity/example.com"]
}

# The defaults: a bucket of the module's, SSE-S3, orphans expiring after 14 +
# 7 days.
run "bucket_by_default" {
  assert {
    condition     = length(aws_s3_bucket.payload) == 1 && aws_s3_bucket.payload[0].bucket_prefix == "sesq-payloads-" && aws_s3_bucket.payload[0].force_destroy == false
    error_message = "By default the module creates the payload bucket, named NAME-payloads- and a unique suffix, and never empties it to destroy it."
  }
  assert {
    condition = (
      aws_s3_bucket_public_access_block.payload[0].block_public_acls &&
      aws_s3_bucket_public_access_block.payload[0].block_public_policy &&
      aws_s3_bucket_public_access_block.payload[0].ignore_public_acls &&
      aws_s3_bucket_public_access_block.payload[0].restrict_public_buckets
    )
    error_message = "All four public access blocks of the payload bucket are on."
  }
  assert {
    condition     = aws_s3_bucket_ownership_controls.payload[0].rule[0].object_ownership == "BucketOwnerEnforced"
    error_message = "The payload bucket enforces bucket-owner ownership (ACLs off)."
  }
  assert {
    condition = (
      one(one(aws_s3_bucket_server_side_encryption_configuration.payload[0].rule).apply_server_side_encryption_by_default).sse_algorithm == "AES256" &&
      one(one(aws_s3_bucket_server_side_encryption_configuration.payload[0].rule).apply_server_side_encryption_by_default).kms_master_key_id == null
    )
    error_message = "Without kms_key_arn the payload bucket is encrypted with S3-managed keys (SSE-S3)."
  }
  assert {
    condition = (
      aws_s3_bucket_lifecycle_configuration.payload[0].rule[0].status == "Enabled" &&
      aws_s3_bucket_lifecycle_configuration.payload[0].rule[0].expiration[0].days == 21 &&
      aws_s3_bucket_lifecycle_configuration.payload[0].rule[0].abort_incomplete_multipart_upload[0].days_after_initiation == 1
    )
    error_message = "Payloads expire 21 days after they were written (the dead-letter queue's 14 days plus the 7-day margin), and incomplete uploads after a day."
  }
  assert {
    condition     = aws_sqs_queue.dlq.message_retention_seconds == 14 * 86400
    error_message = "The lifecycle's 21 days assume the dead-letter queue's retention of 14 days."
  }
  assert {
    condition = [for s in data.aws_iam_policy_document.payload_bucket[0].statement : {
      effect = s.effect, actions = s.actions, resources = s.resources, condition = [for c in s.condition : [c.test, c.variable, [for v in c.values : v]]]
      }] == [{
      effect    = "Deny"
      actions   = toset(["s3:*"])
      resources = toset(["arn:aws:s3:::sesq-payloads-20260101000000000000000001", "arn:aws:s3:::sesq-payloads-20260101000000000000000001/*"])
      condition = [["Bool", "aws:SecureTransport", ["false"]]]
    }]
    error_message = "The bucket policy denies every request without TLS, on the bucket and its objects, and says nothing else."
  }
  assert {
    condition     = aws_s3_bucket_policy.payload[0].bucket == aws_s3_bucket.payload[0].id
    error_message = "The bucket policy is the payload bucket's."
  }
  assert {
    condition = {
      for e in jsondecode(aws_ecs_task_definition.sesq.container_definitions)[0].environment : e.name => e.value if startswith(e.name, "SESQ_PAYLOAD_")
      } == {
      SESQ_PAYLOAD_BUCKETS = "sesq-payloads-20260101000000000000000001"
      SESQ_PAYLOAD_FETCHES = "4"
    }
    error_message = "The container gets SESQ_PAYLOAD_BUCKETS (the payload bucket) and SESQ_PAYLOAD_FETCHES (4), and not the producers' SESQ_PAYLOAD_BUCKET or SESQ_PAYLOAD_THRESHOLD."
  }
  assert {
    condition = {
      for s in data.aws_iam_policy_document.task.statement : s.sid => [s.actions, s.resources] if anytrue([for a in s.actions : startswith(a, "s3:")])
      } == {
      ReadAndDeletePayloads = [toset(["s3:GetObject", "s3:DeleteObject"]), toset(["arn:aws:s3:::sesq-payloads-20260101000000000000000001/*"])]
      TellMissingPayloads   = [toset(["s3:ListBucket"]), toset(["arn:aws:s3:::sesq-payloads-20260101000000000000000001"])]
    }
    error_message = "The task role may read and delete the payload bucket's objects, and list the bucket (so that a missing payload is NoSuchKey): no more in S3."
  }
  assert {
    condition = {
      for s in data.aws_iam_policy_document.producer.statement : s.sid => [s.actions, s.resources] if anytrue([for a in s.actions : startswith(a, "s3:")])
      } == {
      StorePayloads = [toset(["s3:PutObject"]), toset(["arn:aws:s3:::sesq-payloads-20260101000000000000000001/*"])]
    }
    error_message = "Producers may only put objects in the payload bucket."
  }
  assert {
    condition = {
      for s in data.aws_iam_policy_document.operator.statement : s.sid => [s.actions, s.resources] if anytrue([for a in s.actions : startswith(a, "s3:")])
      } == {
      ReadAndDeletePayloads = [toset(["s3:GetObject", "s3:DeleteObject"]), toset(["arn:aws:s3:::sesq-payloads-20260101000000000000000001/*"])]
      TellMissingPayloads   = [toset(["s3:ListBucket"]), toset(["arn:aws:s3:::sesq-payloads-20260101000000000000000001"])]
    }
    error_message = "Operators may read and delete (purge) the payload bucket's objects, and list the bucket."
  }
  assert {
    condition     = length([for d in [data.aws_iam_policy_document.task, data.aws_iam_policy_document.producer, data.aws_iam_policy_document.operator] : d if anytrue([for s in d.statement : anytrue([for a in s.actions : startswith(a, "kms:")])])]) == 0
    error_message = "Without kms_key_arn no policy grants KMS."
  }
  assert {
    condition     = output.payload_bucket_name == "sesq-payloads-20260101000000000000000001" && output.payload_bucket_arn == "arn:aws:s3:::sesq-payloads-20260101000000000000000001"
    error_message = "The outputs name the payload bucket."
  }
}

# With a customer-managed key: SSE-KMS with a Bucket Key, and each policy
# gets of the key through S3 what it does with payloads.
run "bucket_with_kms_key" {
  variables {
    kms_key_arn     = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    payload_fetches = 6
  }

  assert {
    condition = (
      one(one(aws_s3_bucket_server_side_encryption_configuration.payload[0].rule).apply_server_side_encryption_by_default).sse_algorithm == "aws:kms" &&
      one(one(aws_s3_bucket_server_side_encryption_configuration.payload[0].rule).apply_server_side_encryption_by_default).kms_master_key_id == "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab" &&
      one(aws_s3_bucket_server_side_encryption_configuration.payload[0].rule).bucket_key_enabled == true
    )
    error_message = "With kms_key_arn the payload bucket is encrypted with that key (SSE-KMS) and an S3 Bucket Key."
  }
  assert {
    condition = [
      for d in [data.aws_iam_policy_document.task, data.aws_iam_policy_document.producer, data.aws_iam_policy_document.operator] : {
        for s in d.statement : s.sid => [s.actions, s.resources, [for c in s.condition : [c.test, c.variable, [for v in c.values : v]]]]
        if strcontains(s.sid, "Payloads") && anytrue([for a in s.actions : startswith(a, "kms:")])
      }
      ] == [
      { DecryptPayloads = [toset(["kms:Decrypt"]), toset(["arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"]), [["StringEquals", "kms:ViaService", ["s3.eu-west-1.amazonaws.com"]]]] },
      { EncryptPayloads = [toset(["kms:GenerateDataKey"]), toset(["arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"]), [["StringEquals", "kms:ViaService", ["s3.eu-west-1.amazonaws.com"]]]] },
      { DecryptPayloads = [toset(["kms:Decrypt"]), toset(["arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"]), [["StringEquals", "kms:ViaService", ["s3.eu-west-1.amazonaws.com"]]]] },
    ]
    error_message = "Through S3 only: the task role and operators may decrypt payloads with the key, producers generate data keys to encrypt them."
  }
  assert {
    condition     = { for e in jsondecode(aws_ecs_task_definition.sesq.container_definitions)[0].environment : e.name => e.value if e.name == "SESQ_PAYLOAD_FETCHES" } == { SESQ_PAYLOAD_FETCHES = "6" }
    error_message = "The container gets SESQ_PAYLOAD_FETCHES from payload_fetches."
  }
}

# A bucket of the module's, under a name of the caller's.
run "bucket_named" {
  variables {
    payload_bucket_name = "acme-mail-payloads"
  }

  override_resource {
    target = aws_s3_bucket.payload
    values = { arn = "arn:aws:s3:::acme-mail-payloads" }
  }

  assert {
    condition     = aws_s3_bucket.payload[0].bucket == "acme-mail-payloads"
    error_message = "With payload_bucket_name the module's bucket has that name."
  }
  assert {
    condition     = { for e in jsondecode(aws_ecs_task_definition.sesq.container_definitions)[0].environment : e.name => e.value if e.name == "SESQ_PAYLOAD_BUCKETS" } == { SESQ_PAYLOAD_BUCKETS = "acme-mail-payloads" }
    error_message = "SESQ_PAYLOAD_BUCKETS is the named bucket."
  }
}

# An existing bucket: the module creates none, and grants and points the
# worker at that one.
run "existing_bucket" {
  variables {
    create_payload_bucket = false
    payload_bucket_name   = "shared-mail-payloads"
  }

  assert {
    condition = (
      length(aws_s3_bucket.payload) == 0 && length(aws_s3_bucket_public_access_block.payload) == 0 && length(aws_s3_bucket_ownership_controls.payload) == 0 &&
      length(aws_s3_bucket_server_side_encryption_configuration.payload) == 0 && length(aws_s3_bucket_lifecycle_configuration.payload) == 0 && length(aws_s3_bucket_policy.payload) == 0
    )
    error_message = "With create_payload_bucket false the module creates no bucket and touches the existing one's settings not at all."
  }
  assert {
    condition     = { for e in jsondecode(aws_ecs_task_definition.sesq.container_definitions)[0].environment : e.name => e.value if e.name == "SESQ_PAYLOAD_BUCKETS" } == { SESQ_PAYLOAD_BUCKETS = "shared-mail-payloads" }
    error_message = "SESQ_PAYLOAD_BUCKETS is the existing bucket."
  }
  assert {
    condition = (
      one([for s in data.aws_iam_policy_document.task.statement : s.resources if s.sid == "ReadAndDeletePayloads"]) == toset(["arn:aws:s3:::shared-mail-payloads/*"]) &&
      one([for s in data.aws_iam_policy_document.producer.statement : s.resources if s.sid == "StorePayloads"]) == toset(["arn:aws:s3:::shared-mail-payloads/*"]) &&
      one([for s in data.aws_iam_policy_document.operator.statement : s.resources if s.sid == "ReadAndDeletePayloads"]) == toset(["arn:aws:s3:::shared-mail-payloads/*"])
    )
    error_message = "The task role, producers and operators are granted on the existing bucket's objects."
  }
  assert {
    condition     = output.payload_bucket_name == "shared-mail-payloads" && output.payload_bucket_arn == "arn:aws:s3:::shared-mail-payloads"
    error_message = "The outputs name the existing bucket."
  }
}

# With lanes: one bucket for all, expiring after the longest dead-letter
# retention (every lane's is 14 days).
run "bucket_with_lanes" {
  variables {
    lanes                          = [{ name = "transactional", weight = 8 }, { name = "bulk" }]
    payload_expiration_margin_days = 0
  }

  assert {
    condition     = length(aws_s3_bucket.payload) == 1 && aws_s3_bucket_lifecycle_configuration.payload[0].rule[0].expiration[0].days == 14
    error_message = "With lanes there is one payload bucket; with no margin, payloads expire with the dead letters (14 days)."
  }
}

run "existing_bucket_without_name" {
  command = plan

  variables {
    create_payload_bucket = false
  }

  expect_failures = [aws_ecs_task_definition.sesq]
}

run "payloads_expire_before_dead_letters" {
  command = plan

  variables {
    payload_expiration_margin_days = -1
  }

  expect_failures = [var.payload_expiration_margin_days]
}

run "payload_margin_not_whole_days" {
  command = plan

  variables {
    payload_expiration_margin_days = 1.5
  }

  expect_failures = [var.payload_expiration_margin_days]
}

run "payload_bucket_name_invalid" {
  command = plan

  variables {
    payload_bucket_name = "Mail_Payloads"
  }

  expect_failures = [var.payload_bucket_name]
}

run "payload_fetches_zero" {
  command = plan

  variables {
    payload_fetches = 0
  }

  expect_failures = [var.payload_fetches]
}

# The v2 API's 40 MB messages: four payloads held at once need more than
# the default 512 MiB (a warning).
run "payload_memory_too_small" {
  command = plan

  variables {
    transport = "api-v2"
  }

  expect_failures = [check.payload_memory]
}

run "payload_memory_enough" {
  command = plan

  variables {
    transport       = "api-v2"
    memory          = 2048
    cpu             = 512
    payload_fetches = 7
  }

  assert {
    condition     = local.payload_memory_mib == 260 && local.sesq_memory_mib == 88
    error_message = "One payload held takes up to 260 MiB with api-v2, and sesq needs 88 MiB of its own at concurrency 32."
  }
}
