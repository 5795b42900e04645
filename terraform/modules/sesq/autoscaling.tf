# Target tracking on backlog per task: visible messages of the source queue
# (with lanes, of every lane's queue, summed) divided by the running tasks
# (metric math over SQS and Container Insights). Tasks are added when each
# has more than backlog_per_task_target messages waiting, and removed (more
# slowly) when they have fewer.

locals {
  # A metric id per lane after the first (ids: a lowercase letter, then
  # letters, digits and underscores; lane names have no underscore, so
  # they stay distinct).
  lane_metric_ids = { for k, l in local.other_lanes : k => "visible_${replace(k, "-", "_")}" }
  # The visible messages of every queue the tasks read. With lanes, a lane
  # without data points (SQS publishes none for a queue idle for hours)
  # counts as 0 instead of leaving the sum, and the policy, without data.
  visible_messages = length(local.lane_metric_ids) == 0 ? "visible" : "(${join(" + ", [for id in concat(["visible"], values(local.lane_metric_ids)) : "FILL(${id}, 0)"])})"
}

resource "aws_appautoscaling_target" "sesq" {
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${local.cluster_name}/${aws_ecs_service.sesq.name}"
  min_capacity       = var.min_capacity
  max_capacity       = var.max_capacity
  tags               = var.tags

  lifecycle {
    # Checked here rather than in a variable validation: a validation that
    # reads another variable needs Terraform 1.9.
    precondition {
      condition     = var.min_capacity <= var.max_capacity
      error_message = "min_capacity must not exceed max_capacity."
    }
  }
}

resource "aws_appautoscaling_policy" "backlog_per_task" {
  name               = "${var.name}-backlog-per-task"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.sesq.service_namespace
  scalable_dimension = aws_appautoscaling_target.sesq.scalable_dimension
  resource_id        = aws_appautoscaling_target.sesq.resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.backlog_per_task_target
    scale_out_cooldown = 60
    scale_in_cooldown  = 300

    customized_metric_specification {
      metrics {
        id          = "visible"
        label       = "Visible messages in ${aws_sqs_queue.source.name}"
        return_data = false
        metric_stat {
          stat = "Sum"
          metric {
            namespace   = "AWS/SQS"
            metric_name = "ApproximateNumberOfMessagesVisible"
            dimensions {
              name  = "QueueName"
              value = aws_sqs_queue.source.name
            }
          }
        }
      }
      dynamic "metrics" {
        for_each = local.lane_metric_ids
        content {
          id          = metrics.value
          label       = "Visible messages in ${aws_sqs_queue.lane[metrics.key].name}"
          return_data = false
          metric_stat {
            stat = "Sum"
            metric {
              namespace   = "AWS/SQS"
              metric_name = "ApproximateNumberOfMessagesVisible"
              dimensions {
                name  = "QueueName"
                value = aws_sqs_queue.lane[metrics.key].name
              }
            }
          }
        }
      }
      metrics {
        id          = "tasks"
        label       = "Running tasks of ${aws_ecs_service.sesq.name}"
        return_data = false
        metric_stat {
          stat = "Average"
          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"
            dimensions {
              name  = "ClusterName"
              value = local.cluster_name
            }
            dimensions {
              name  = "ServiceName"
              value = aws_ecs_service.sesq.name
            }
          }
        }
      }
      metrics {
        id          = "backlog_per_task"
        label       = "Visible messages per running task"
        expression  = "${local.visible_messages} / IF(tasks > 0, tasks, 1)"
        return_data = true
      }
    }
  }
}
