locals {
  # Without a topic the alarms still exist, in CloudWatch, notifying no one.
  alarm_actions = var.alarm_topic_arn == null ? [] : [var.alarm_topic_arn]
}

resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  alarm_name          = "${var.name}-dead-letters"
  alarm_description   = "Messages are in ${aws_sqs_queue.dlq.name}: look with `sesq dlq inspect`, then replay or purge."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "oldest_message" {
  alarm_name          = "${var.name}-oldest-message"
  alarm_description   = "The oldest message in ${aws_sqs_queue.source.name} waited over ${var.oldest_message_alarm_seconds}s: the fleet is not keeping up, or cannot reach SES."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.source.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.oldest_message_alarm_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

# The same two for each lane after the first (the first lane's queues are
# the module's own, whose alarms are above).

resource "aws_cloudwatch_metric_alarm" "lane_dead_letters" {
  for_each            = local.other_lanes
  alarm_name          = "${var.name}-${each.key}-dead-letters"
  alarm_description   = "Messages are in ${aws_sqs_queue.lane_dlq[each.key].name}, lane ${each.key}'s dead-letter queue: look with `sesq dlq inspect`, then replay or purge."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.lane_dlq[each.key].name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "lane_oldest_message" {
  for_each            = local.other_lanes
  alarm_name          = "${var.name}-${each.key}-oldest-message"
  alarm_description   = "The oldest message in ${aws_sqs_queue.lane[each.key].name} (lane ${each.key}) waited over ${var.oldest_message_alarm_seconds}s: the fleet is not keeping up, or cannot reach SES."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.lane[each.key].name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.oldest_message_alarm_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

# SES reputation. A delegate sender's account answers for the bounces and
# complaints of what it sends for other accounts' identities: SES reviews
# the account at a 5 % bounce or 0.1 % complaint rate and may pause its
# sending, for every identity it sends for, at 10 % or 0.5 %. The metrics
# are the account's in this region, over SES's recent representative volume.

resource "aws_cloudwatch_metric_alarm" "bounce_rate" {
  alarm_name          = "${var.name}-ses-bounce-rate"
  alarm_description   = "The account's SES bounce rate in ${local.region} reached ${var.bounce_rate_alarm_threshold} (SES reviews the account at 0.05 and may pause its sending at 0.10): find the identity whose lists bounce (the configuration set's metrics by ses:from-domain) and stop its producer."
  namespace           = "AWS/SES"
  metric_name         = "Reputation.BounceRate"
  statistic           = "Maximum"
  period              = 900
  evaluation_periods  = 1
  threshold           = var.bounce_rate_alarm_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "complaint_rate" {
  alarm_name          = "${var.name}-ses-complaint-rate"
  alarm_description   = "The account's SES complaint rate in ${local.region} reached ${var.complaint_rate_alarm_threshold} (SES reviews the account at 0.001 and may pause its sending at 0.005): find the identity whose recipients complain (the configuration set's metrics by ses:from-domain) and stop its producer."
  namespace           = "AWS/SES"
  metric_name         = "Reputation.ComplaintRate"
  statistic           = "Maximum"
  period              = 900
  evaluation_periods  = 1
  threshold           = var.complaint_rate_alarm_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}
