# The jit sweeper: `jitctl sweep` as a Lambda function that an EventBridge schedule runs every few minutes, so
# that an expired network-ACL grant closes even when nobody runs `terraform apply`.
#
# The function's role (sweeper-policy.json) may delete network-ACL entries and jit grant tags only on ACLs tagged
# `jit:managed = "network-acl"`, which this configuration puts on the ACLs you list, and write new versions only
# of policies tagged `jit:managed = "source-ip-policy"` (jit_source_ip_policy tags its policies so). It can create
# no entry, replace none, and cannot tag anything to widen its own reach.
#
# Download the release's Lambda bundle and check it first (see README.md), then:
#
#   terraform apply -var 'network_acl_ids=["acl-0123456789abcdef0"]' -var package=jitctl-lambda_0.2.0_arm64.zip

terraform {
  required_version = ">= 1.11"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

provider "aws" {
  region = var.region
}

locals {
  # sweeper-policy.json names this function's log group.
  function_name = "jit-sweeper"
}

# Marks the ACLs the sweeper may clean up. Mark every ACL that holds jit grants: a sweep that meets an
# unmarked ACL with an expired grant reports the access-denied error and fails the invocation.
resource "aws_ec2_tag" "jit_managed" {
  for_each    = toset(var.network_acl_ids)
  resource_id = each.value
  key         = "jit:managed"
  value       = "network-acl"
}

# Marks the Client VPN endpoints whose expired grants the sweeper may remove and whose connections it may end.
resource "aws_ec2_tag" "jit_managed_client_vpn" {
  for_each    = toset(var.client_vpn_endpoint_ids)
  resource_id = each.value
  key         = "jit:managed"
  value       = "client-vpn"
}

resource "aws_iam_role" "sweeper" {
  name = local.function_name
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "sweeper" {
  name   = local.function_name
  role   = aws_iam_role.sweeper.id
  policy = file("${path.module}/sweeper-policy.json")
}

resource "aws_cloudwatch_log_group" "sweeper" {
  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = var.log_retention_days
}

resource "aws_lambda_function" "sweeper" {
  function_name    = local.function_name
  description      = "Removes expired jit grants (jitctl sweep)"
  role             = aws_iam_role.sweeper.arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.architecture]
  filename         = var.package
  source_code_hash = filebase64sha256(var.package)
  memory_size      = 128
  timeout          = 120

  environment {
    variables = {
      # Empty: the function's own region.
      JITCTL_REGIONS = join(",", var.regions)
    }
  }

  depends_on = [aws_cloudwatch_log_group.sweeper, aws_iam_role_policy.sweeper]
}

# No retries: the sweep is idempotent and the next scheduled run picks up whatever this one could not remove.
resource "aws_lambda_function_event_invoke_config" "sweeper" {
  function_name          = aws_lambda_function.sweeper.function_name
  maximum_retry_attempts = 0
}

resource "aws_cloudwatch_event_rule" "schedule" {
  name                = local.function_name
  description         = "Runs the jit sweeper"
  schedule_expression = var.schedule
}

resource "aws_cloudwatch_event_target" "sweeper" {
  rule = aws_cloudwatch_event_rule.schedule.name
  arn  = aws_lambda_function.sweeper.arn
}

resource "aws_lambda_permission" "schedule" {
  statement_id  = "AllowEventBridgeSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.sweeper.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.schedule.arn
}

# A failed sweep (something expired could not be removed) is a failed invocation: alarm on it.
resource "aws_cloudwatch_metric_alarm" "sweep_failed" {
  alarm_name          = "${local.function_name}-failed"
  alarm_description   = "The jit sweeper could not remove an expired grant; see its log group"
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.sweeper.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
}
