# The least a sesq fleet needs: queues, a bucket for large messages' payloads,
# roles, an autoscaled Fargate service and alarms, with the module's defaults.
# Needs an ECS cluster with Container Insights, subnets that reach SQS, S3 and
# SES, and the identities' ARNs (each
# owner authorizes the output task_role_arn, see ../identity-owner). An SNS
# topic for the alarms is optional. ../complete shows every option.
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
}

variable "region" {
  description = "Region of the queues and the service (identities may be in any region)."
  type        = string
  default     = "us-east-1"
}

variable "image" {
  description = "The sesq image, e.g. 111122223333.dkr.ecr.us-east-1.amazonaws.com/sesq@sha256:..."
  type        = string
}

variable "cluster_arn" {
  type = string
}

variable "subnet_ids" {
  type = list(string)
}

variable "security_group_ids" {
  type = list(string)
}

variable "alarm_topic_arn" {
  description = "SNS topic of the alarms; null: alarms without notifications."
  type        = string
  default     = null
}

variable "identity_arns" {
  type = list(string)
}

module "sesq" {
  source = "../../modules/sesq"

  name               = "sesq"
  image              = var.image
  cluster_arn        = var.cluster_arn
  subnet_ids         = var.subnet_ids
  security_group_ids = var.security_group_ids
  alarm_topic_arn    = var.alarm_topic_arn
  identity_arns      = var.identity_arns
}

output "queue_url" {
  value = module.sesq.queue_url
}

output "dead_letter_queue_url" {
  value = module.sesq.dead_letter_queue_url
}

output "payload_bucket_name" {
  value = module.sesq.payload_bucket_name
}

output "task_role_arn" {
  value = module.sesq.task_role_arn
}

output "producer_policy_arn" {
  value = module.sesq.producer_policy_arn
}
