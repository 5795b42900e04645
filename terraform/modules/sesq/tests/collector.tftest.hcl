# The task definition ECS would get, with and without the ADOT collector:
# `tofu test` against a mocked AWS provider (no account, no network), run by
# internal/deploy's TestTofuTest. The IAM policy documents are mocked too:
# their grants are checked by internal/deploy's HCL checks instead.

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
  # The provider checks ARNs that other resources take.
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
  mock_resource "aws_ecs_task_definition" {
    defaults = { arn = "arn:aws:ecs:eu-west-1:111122223333:task-definition/sesq:1" }
  }
}

variables {
  image              = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/sesq@sha256:0000000000000000000000000000000000000000000000000000000000000000"
  cluster_arn        = "arn:aws:ecs:eu-west-1:111122223333:cluster/mail"
  subnet_ids         = ["subnet-0123456789abcdef0"]
  security_group_ids = ["sg-0123456789abcdef0"]
  identity_arns      = ["arn:aws:ses:eu-west-1:111122223333:identity/example.com"]
  http_port          = 9191
}

run "no_collector" {
  assert {
    condition     = length(jsondecode(aws_ecs_task_definition.sesq.container_definitions)) == 1
    error_message = "Without adot_collector the task has one container."
  }
  assert {
    condition     = !contains(keys(jsondecode(aws_ecs_task_definition.sesq.container_definitions)[0]), "dependsOn")
    error_message = "Without adot_collector sesq depends on nothing."
  }
  assert {
    condition     = length([for e in jsondecode(aws_ecs_task_definition.sesq.container_definitions)[0].environment : e if startswith(e.name, "OTEL_")]) == 0
    error_message = "Without adot_collector sesq gets no OTEL_ settings."
  }
  assert {
    condition     = length(aws_cloudwatch_log_group.metrics) == 0 && output.metrics_log_group_name == null && output.cloudwatch_metrics_namespace == null
    error_message = "Without adot_collector there is no metrics log group."
  }
}

run "metrics" {
  variables {
    adot_collector = {}
  }

  assert {
    condition     = [for c in jsondecode(aws_ecs_task_definition.sesq.container_definitions) : c.name] == ["sesq", "adot-collector"]
    error_message = "With adot_collector the task runs sesq and the collector."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.sesq.container_definitions)[1].essential == false && jsondecode(aws_ecs_task_definition.sesq.container_definitions)[1].readonlyRootFilesystem == true
    error_message = "The collector is not essential and has a read-only root file system."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.sesq.container_definitions)[1].image == "public.ecr.aws/aws-observability/aws-otel-collector@sha256:9b28046359054b414f4ba76056ba4e8cffda2d53fbcee06171d7eeecd71326c3"
    error_message = "The collector's image defaults to v0.48.0 by digest."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.sesq.container_definitions)[0].dependsOn == [{ containerName = "adot-collector", condition = "START" }]
    error_message = "sesq starts after the collector."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.sesq.container_definitions)[0].cpu == 192 && jsondecode(aws_ecs_task_definition.sesq.container_definitions)[1].cpu == 64
    error_message = "sesq gets the task's CPU units but the collector's 64."
  }
  assert {
    condition     = jsondecode(one([for e in jsondecode(aws_ecs_task_definition.sesq.container_definitions)[1].environment : e.value if e.name == "AOT_CONFIG_CONTENT"])).receivers.prometheus.config.scrape_configs[0].static_configs[0].targets == ["127.0.0.1:9191"]
    error_message = "The collector scrapes sesq's http_port on the loopback."
  }
  assert {
    condition     = keys(jsondecode(one([for e in jsondecode(aws_ecs_task_definition.sesq.container_definitions)[1].environment : e.value if e.name == "AOT_CONFIG_CONTENT"])).receivers) == ["prometheus"]
    error_message = "Without traces the collector has no OTLP receiver."
  }
  assert {
    condition     = keys(jsondecode(one([for e in jsondecode(aws_ecs_task_definition.sesq.container_definitions)[1].environment : e.value if e.name == "AOT_CONFIG_CONTENT"])).service.pipelines) == ["metrics"]
    error_message = "Without traces the collector has a metrics pipeline only."
  }
  assert {
    condition     = jsondecode(one([for e in jsondecode(aws_ecs_task_definition.sesq.container_definitions)[1].environment : e.value if e.name == "AOT_CONFIG_CONTENT"])).exporters.awsemf.namespace == "sesq"
    error_message = "The metrics' namespace defaults to sesq."
  }
  assert {
    condition     = jsondecode(one([for e in jsondecode(aws_ecs_task_definition.sesq.container_definitions)[1].environment : e.value if e.name == "AOT_CONFIG_CONTENT"])).exporters.awsemf.log_group_name == "/ecs/sesq/metrics"
    error_message = "The collector writes EMF to the module's metrics log group."
  }
  assert {
    condition     = length([for e in jsondecode(aws_ecs_task_definition.sesq.container_definitions)[0].environment : e if startswith(e.name, "OTEL_")]) == 0
    error_message = "Without traces sesq gets no OTEL_ settings."
  }
  assert {
    condition     = aws_cloudwatch_log_group.metrics[0].retention_in_days == 30 && output.metrics_log_group_name == "/ecs/sesq/metrics"
    error_message = "The metrics log group keeps log_retention_days and is an output."
  }
}

run "metrics_and_traces" {
  variables {
    adot_collector               = { traces = true, trace_sample_ratio = 0.25 }
    cloudwatch_metrics_namespace = "Mail/sesq"
  }

  assert {
    condition = {
      for e in jsondecode(aws_ecs_task_definition.sesq.container_definitions)[0].environment : e.name => e.value if startswith(e.name, "OTEL_")
      } == {
      OTEL_EXPORTER_OTLP_ENDPOINT = "http://127.0.0.1:4318"
      OTEL_SERVICE_NAME           = "sesq"
      OTEL_TRACES_SAMPLER         = "parentbased_traceidratio"
      OTEL_TRACES_SAMPLER_ARG     = "0.25"
    }
    error_message = "With traces sesq exports to the collector, sampling a quarter of the traces no producer sampled."
  }
  assert {
    condition     = jsondecode(one([for e in jsondecode(aws_ecs_task_definition.sesq.container_definitions)[1].environment : e.value if e.name == "AOT_CONFIG_CONTENT"])).receivers.otlp.protocols.http.endpoint == "127.0.0.1:4318"
    error_message = "The collector takes OTLP/HTTP on the loopback."
  }
  assert {
    condition     = jsondecode(one([for e in jsondecode(aws_ecs_task_definition.sesq.container_definitions)[1].environment : e.value if e.name == "AOT_CONFIG_CONTENT"])).service.pipelines.traces.exporters == ["awsxray"]
    error_message = "The collector sends traces to X-Ray."
  }
  assert {
    condition     = jsondecode(one([for e in jsondecode(aws_ecs_task_definition.sesq.container_definitions)[1].environment : e.value if e.name == "AOT_CONFIG_CONTENT"])).exporters.awsemf.namespace == "Mail/sesq" && output.cloudwatch_metrics_namespace == "Mail/sesq"
    error_message = "The metrics go to cloudwatch_metrics_namespace."
  }
}

run "collector_larger_than_the_task" {
  command = plan

  variables {
    adot_collector = { memory = 512 }
  }

  expect_failures = [aws_ecs_task_definition.sesq]
}

run "collector_by_tag" {
  command = plan

  variables {
    adot_collector = { image = "public.ecr.aws/aws-observability/aws-otel-collector:v0.48.0" }
  }

  expect_failures = [var.adot_collector]
}
