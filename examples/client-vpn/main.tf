# AWS Client VPN with jit as its client-connect handler: a connection is allowed only while a
# jit_client_vpn_grant covers it (who, from where, until when), and every decision is published to SNS.
#
# AWS calls the handler synchronously for every new connection, after authentication and before the
# authorization rules; the function must be named AWSClientVPN-…, live in the endpoint's account and region, and
# answer within 30 s (jit answers within 5 s, refusing with a message when AWS cannot be read). Connections of a
# grant that ends while they are up are terminated by `terraform apply`, `jitctl sweep` or the scheduled sweeper
# (examples/sweeper).
#
# Build the package first (see README.md), then:
#
#   terraform apply -var server_certificate_arn=arn:aws:acm:… -var client_root_certificate_chain_arn=arn:aws:acm:…

terraform {
  required_version = ">= 1.11"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
    jit = {
      source = "jit-access/jit"
    }
  }
}

provider "aws" {
  region = var.region
  # The grants are tags on the endpoint: without this, every apply of aws_ec2_client_vpn_endpoint removes them.
  ignore_tags {
    key_prefixes = ["jit:"]
  }
}

provider "jit" {
  region         = var.region
  max_ttl        = "8h"
  require_reason = true
}

locals {
  # AWS accepts only functions whose name begins with AWSClientVPN- (jitlint JIT003); handler-policy.json
  # names its log group, and the topic below.
  function_name = "AWSClientVPN-jit"
}

# ------------------------------------------------------------------------------------------------------------------
# The handler

resource "aws_sns_topic" "connections" {
  name = "jit-client-vpn-connections"
}

resource "aws_iam_role" "handler" {
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

# Least privilege (passes `jitlint check` with no finding): read the endpoints (Describe calls take no resource),
# publish to the one topic, write the function's own logs. It can change nothing.
resource "aws_iam_role_policy" "handler" {
  name   = local.function_name
  role   = aws_iam_role.handler.id
  policy = file("${path.module}/handler-policy.json")
}

resource "aws_cloudwatch_log_group" "handler" {
  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = var.log_retention_days
}

resource "aws_lambda_function" "handler" {
  function_name    = local.function_name
  description      = "jit: admits a Client VPN connection only while a jit_client_vpn_grant covers it"
  role             = aws_iam_role.handler.arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.architecture]
  filename         = var.package
  source_code_hash = filebase64sha256(var.package)
  memory_size      = 128
  # AWS waits at most 30 s (jitlint JIT004); jit answers within 5 s.
  timeout = 10

  environment {
    variables = {
      JIT_NOTIFY_TOPIC_ARN   = aws_sns_topic.connections.arn
      JIT_ALWAYS_ALLOW_CIDRS = var.always_allow_cidrs
    }
  }

  depends_on = [aws_cloudwatch_log_group.handler, aws_iam_role_policy.handler]
}

# ------------------------------------------------------------------------------------------------------------------
# The endpoint

resource "aws_cloudwatch_log_group" "connections" {
  name              = "/aws/client-vpn/jit"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_stream" "connections" {
  name           = "connections"
  log_group_name = aws_cloudwatch_log_group.connections.name
}

resource "aws_ec2_client_vpn_endpoint" "vpn" {
  description            = "Client VPN with jit grants"
  server_certificate_arn = var.server_certificate_arn
  client_cidr_block      = var.client_cidr_block
  split_tunnel           = true

  authentication_options {
    type                       = "certificate-authentication"
    root_certificate_chain_arn = var.client_root_certificate_chain_arn
  }

  # The connection log records, for each connection, the posture-compliance status the handler answered: the id
  # of the grant that let it in.
  connection_log_options {
    enabled               = true
    cloudwatch_log_group  = aws_cloudwatch_log_group.connections.name
    cloudwatch_log_stream = aws_cloudwatch_log_stream.connections.name
  }

  client_connect_options {
    enabled             = true
    lambda_function_arn = aws_lambda_function.handler.arn
  }

  tags = {
    Name = "jit"
  }
}

# ------------------------------------------------------------------------------------------------------------------
# Two grants

# A device (mutual authentication: the client certificate's common name), from anywhere, for a working day.
resource "jit_client_vpn_grant" "laptop" {
  client_vpn_endpoint_id = aws_ec2_client_vpn_endpoint.vpn.id
  common_name            = "laptop-42.example.com"
  ttl                    = "8h"
  reason                 = "remote work, 2026-12-02"
  requested_by           = "alice"
}

# The same device from one network only, for two hours.
resource "jit_client_vpn_grant" "hotel" {
  client_vpn_endpoint_id = aws_ec2_client_vpn_endpoint.vpn.id
  common_name            = "laptop-43.example.com"
  cidr_block             = "203.0.113.0/24"
  ttl                    = "2h"
  reason                 = "on call from the hotel"
  requested_by           = "bob"
}
