# An optional SES configuration set. With sending authorization the set a
# send names belongs to the sending account, the delegate's: this one. Its
# events (and reputation metrics) are the delegate's, whatever identity the
# message was sent for; the CloudWatch metrics are split by sending domain,
# so a bounce or complaint rate can be traced to one identity owner.
#
# Configuration sets are regional, like identities: sesq sends in each
# identity's region, so a set created here serves identities of this region.
# The task role may send with a set of this name in any region of the
# account, so that sets created elsewhere under the same name serve the
# identities there.

data "aws_caller_identity" "current" {}

locals {
  configuration_set_name = coalesce(var.configuration_set_name, var.name)
  configuration_set_arn  = "arn:${data.aws_partition.current.partition}:ses:*:${data.aws_caller_identity.current.account_id}:configuration-set/${local.configuration_set_name}"
  identity_regions       = distinct([for a in var.identity_arns : split(":", a)[3]])
}

resource "aws_sesv2_configuration_set" "sesq" {
  count                  = var.create_configuration_set ? 1 : 0
  configuration_set_name = local.configuration_set_name

  reputation_options {
    reputation_metrics_enabled = true
  }
  sending_options {
    sending_enabled = true
  }

  tags = var.tags
}

resource "aws_sesv2_configuration_set_event_destination" "cloudwatch" {
  count                  = var.create_configuration_set ? 1 : 0
  configuration_set_name = aws_sesv2_configuration_set.sesq[0].configuration_set_name
  event_destination_name = "cloudwatch"

  event_destination {
    enabled              = true
    matching_event_types = var.configuration_set_event_types
    cloud_watch_destination {
      dimension_configuration {
        dimension_name          = "ses:from-domain"
        dimension_value_source  = "MESSAGE_TAG"
        default_dimension_value = "unknown"
      }
    }
  }
}

resource "aws_sesv2_configuration_set_event_destination" "sns" {
  count                  = var.create_configuration_set && var.configuration_set_sns_topic_arn != null ? 1 : 0
  configuration_set_name = aws_sesv2_configuration_set.sesq[0].configuration_set_name
  event_destination_name = "sns"

  event_destination {
    enabled              = true
    matching_event_types = var.configuration_set_event_types
    sns_destination {
      topic_arn = var.configuration_set_sns_topic_arn
    }
  }
}

# A warning, not an error: identities elsewhere can still send without it.
check "configuration_set_region" {
  assert {
    condition     = !var.create_configuration_set || alltrue([for r in local.identity_regions : r == local.region])
    error_message = "The configuration set exists in ${local.region} only, but identity_arns has identities in ${join(", ", local.identity_regions)}: SES rejects a send in another region that names it (ConfigurationSetDoesNotExist), and sesq dead-letters the envelope. Create a set of that name in those regions too (aws_sesv2_configuration_set with a provider for the region): the task role may already send with it."
  }
}
