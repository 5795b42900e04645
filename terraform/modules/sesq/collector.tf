# An optional AWS Distro for OpenTelemetry collector beside sesq in each
# task (adot_collector). On Fargate nothing else can read sesq's /metrics:
# the collector scrapes it over the task's loopback once a minute and writes
# the series to a log group of the module in CloudWatch's embedded metric
# format (EMF), from which CloudWatch extracts metrics in
# cloudwatch_metrics_namespace. With traces, it also takes sesq's spans over
# OTLP/HTTP on the loopback and sends them to X-Ray.
#
# The collector runs with the task role, which may send email for the
# identities: hence an image pinned by digest, and grants for it (EMF and
# X-Ray) only when it runs. It is not essential: a collector that crashes
# is restarted in place and never stops the sending.

locals {
  # Zero or one collector: for expressions over it read its settings only
  # when it exists.
  adot = var.adot_collector == null ? [] : [var.adot_collector]

  adot_container_name = "adot-collector"

  # The collector's configuration, passed inline (AOT_CONFIG_CONTENT, read
  # by the collector's env config provider: nothing is written to disk).
  # Metric names are matched with and without the suffixes (_total,
  # _seconds) that the collector's Prometheus name normalization may trim.
  adot_config = [for c in local.adot : {
    receivers = merge({
      prometheus = {
        config = {
          scrape_configs = [{
            job_name        = "sesq"
            scrape_interval = "60s"
            scrape_timeout  = "10s"
            metrics_path    = "/metrics"
            static_configs  = [{ targets = ["127.0.0.1:${var.http_port}"] }]
            # sesq's own series only: not the Go runtime's and process's.
            metric_relabel_configs = [{ source_labels = ["__name__"], regex = "sesq_.+", action = "keep" }]
          }]
        }
      }
      }, c.traces ? {
      # The task's loopback only: nothing outside the task reaches it.
      otlp = { protocols = { http = { endpoint = "127.0.0.1:4318" } } }
    } : {})
    processors = c.traces ? {
      # X-Ray takes at most 50 segments a call.
      "batch/traces" = { timeout = "1s", send_batch_size = 50 }
    } : {}
    exporters = merge({
      awsemf = {
        namespace               = var.cloudwatch_metrics_namespace
        log_group_name          = aws_cloudwatch_log_group.metrics[0].name
        log_stream_name         = "metrics"
        dimension_rollup_option = "NoDimensionRollup"
        # Each dimension set is a metric per combination of its values
        # (CloudWatch bills each): the fleet's totals by the labels that
        # answer questions, not every label combination.
        metric_declarations = [
          { dimensions = [["outcome"], ["region", "outcome"]], metric_name_selectors = ["^sesq_messages(_total)?$"] },
          { dimensions = [["region"], ["region", "code"]], metric_name_selectors = ["^sesq_ses_calls(_total)?$"] },
          { dimensions = [["region"]], metric_name_selectors = ["^sesq_ses_request_duration(_seconds)?$", "^sesq_ses_throttles(_total)?$", "^sesq_ses_send_rate$", "^sesq_breaker_state$"] },
          { dimensions = [["reason"]], metric_name_selectors = ["^sesq_dead_letters(_total)?$"] },
          { dimensions = [["action"]], metric_name_selectors = ["^sesq_sqs_requests(_total)?$"] },
          { dimensions = [["operation"]], metric_name_selectors = ["^sesq_idempotency_errors(_total)?$"] },
          { dimensions = [[]], metric_name_selectors = ["^sesq_messages_in_flight$", "^sesq_queue_lag(_seconds)?$"] },
        ]
      }
      }, c.traces ? {
      awsxray = {
        # Searchable in X-Ray as annotation.sesq_outcome and so on.
        indexed_attributes = ["sesq.outcome", "sesq.reason", "sesq.code", "sesq.region"]
        # Links a trace to the worker's logs in the X-Ray console.
        aws_log_groups = [aws_cloudwatch_log_group.sesq.name]
      }
    } : {})
    service = {
      # No listener for the collector's own metrics.
      telemetry = { metrics = { level = "none" } }
      pipelines = merge({
        metrics = { receivers = ["prometheus"], exporters = ["awsemf"] }
        }, c.traces ? {
        traces = { receivers = ["otlp"], processors = ["batch/traces"], exporters = ["awsxray"] }
      } : {})
    }
  }]

  adot_containers = [for c in local.adot : {
    name  = local.adot_container_name
    image = c.image
    # A collector that fails must not stop the task: sesq sends on without it.
    essential = false
    cpu       = c.cpu
    memory    = c.memory
    # ECS restarts a collector that exits, in place, without a new task.
    restartPolicy = { enabled = true, restartAttemptPeriod = 60 }
    environment = [
      { name = "AOT_CONFIG_CONTENT", value = jsonencode(local.adot_config[0]) },
      { name = "AWS_REGION", value = local.region },
    ]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.sesq.name
        awslogs-region        = local.region
        awslogs-stream-prefix = "adot"
      }
    }
    # The collector logs to stderr and reads its configuration from the
    # environment; the image's user (aoc, 4317) is not root.
    readonlyRootFilesystem = true
  }]

  # What the sesq container gets beside a collector. The collector starts
  # first (and, in reverse, stops after sesq has drained). Without a CPU
  # share of its own, sesq would get the minimum beside the collector's
  # whenever both want CPU.
  sesq_beside_adot = [for c in local.adot : {
    dependsOn = [{ containerName = local.adot_container_name, condition = "START" }]
    cpu       = var.cpu - c.cpu
  }]

  # With traces, sesq exports its spans to the collector (docs/operations.md,
  # "Tracing"); without, sesq has no OTEL_ endpoint and traces nothing.
  otel_environment = try(var.adot_collector.traces, false) ? {
    OTEL_EXPORTER_OTLP_ENDPOINT = "http://127.0.0.1:4318"
    OTEL_SERVICE_NAME           = var.name
    # Parent-based: a producer's sampled trace is kept whatever the ratio.
    OTEL_TRACES_SAMPLER     = "parentbased_traceidratio"
    OTEL_TRACES_SAMPLER_ARG = tostring(var.adot_collector.trace_sample_ratio)
  } : {}
}

# The EMF log group, created here so that the task role needs no
# logs:CreateLogGroup. CloudWatch extracts the metrics on ingestion; the
# events themselves are kept log_retention_days.
resource "aws_cloudwatch_log_group" "metrics" {
  count             = var.adot_collector == null ? 0 : 1
  name              = "/ecs/${var.name}/metrics"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}
