# The identity owner's side of delegate sending: a sending-authorization
# policy on the owner's verified SES identity that lets the delegate's task
# role (the sesq module's task_role_arn output) send for it. Apply it in the
# owner's account and in the region where the identity is verified; sesq
# then sends through that region's endpoint with the identity's ARN.

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
}

variable "region" {
  description = "The region the identity is verified in."
  type        = string
}

variable "identity" {
  description = "The verified identity: a domain (example.com) or an address (sender@example.com)."
  type        = string
}

variable "delegate_role_arn" {
  description = "The delegate's sesq task role (module output task_role_arn)."
  type        = string
}

variable "allowed_from_addresses" {
  description = "Optional: restrict the From addresses the delegate may use (ses:FromAddress patterns, e.g. [\"receipts@example.com\"]). Empty: any address of the identity."
  type        = list(string)
  default     = []
}

variable "allowed_feedback_addresses" {
  description = "Optional: restrict the return-path (feedback) addresses (ses:FeedbackAddress patterns). Empty: any."
  type        = list(string)
  default     = []
}

data "aws_caller_identity" "owner" {}

locals {
  identity_arn = "arn:aws:ses:${var.region}:${data.aws_caller_identity.owner.account_id}:identity/${var.identity}"
}

data "aws_iam_policy_document" "sending_authorization" {
  statement {
    sid       = "AuthorizeSesqDelegate"
    effect    = "Allow"
    actions   = ["ses:SendEmail", "ses:SendRawEmail", "ses:SendTemplatedEmail"]
    resources = [local.identity_arn]
    principals {
      type        = "AWS"
      identifiers = [var.delegate_role_arn]
    }
    dynamic "condition" {
      for_each = length(var.allowed_from_addresses) > 0 ? [1] : []
      content {
        test     = "StringLike"
        variable = "ses:FromAddress"
        values   = var.allowed_from_addresses
      }
    }
    dynamic "condition" {
      for_each = length(var.allowed_feedback_addresses) > 0 ? [1] : []
      content {
        test     = "StringLike"
        variable = "ses:FeedbackAddress"
        values   = var.allowed_feedback_addresses
      }
    }
  }
}

resource "aws_ses_identity_policy" "sesq" {
  identity = var.identity
  name     = "sesq-delegate"
  policy   = data.aws_iam_policy_document.sending_authorization.json
}

output "identity_arn" {
  description = "Give this to the delegate: producers put it in envelopes, and the sesq module's identity_arns takes it."
  value       = local.identity_arn
}
