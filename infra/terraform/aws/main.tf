# snatguard on AWS Lambda (nodejs22.x), invoked by EventBridge Scheduler every 5 minutes, scanning one
# EKS cluster. The IAM actions granted here are exactly those in src/permissions.ts (test/infra checks it).

data "aws_eks_cluster" "this" {
  name = var.cluster_name
}

# ----------------------------------------------------------------------------------------------
# Logs and the notify secret
# ----------------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

# One JSON secret holding the chat settings, e.g.
#   {"SNATGUARD_NOTIFY_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/…"}
# Its value is put in with `aws secretsmanager put-secret-value` (infra/README.md), so it never
# enters Terraform state.
resource "aws_secretsmanager_secret" "notify" {
  name        = "${var.name}/notify"
  description = "snatguard webhook URLs and signing secret (JSON: SNATGUARD_NOTIFY_* keys)."
  tags        = var.tags
}

# The CloudWatch agent configuration that publishes ENA ethtool_conntrack_allowance_exceeded (namespace
# CWAgent, dimensions InstanceId + the ethtool input's interface and driver). Nodes fetch it with
#   amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c ssm:AmazonCloudWatch-snatguard-ena
# (CloudWatchAgentServerPolicy on the node role allows ssm:GetParameter on AmazonCloudWatch-*).
# snatguard lists the series first, so {InstanceId, interface, driver} is found as published; adding
# aggregation_dimensions [["InstanceId"]] is optional.
resource "aws_ssm_parameter" "cloudwatch_agent" {
  count       = var.create_agent_config ? 1 : 0
  name        = "AmazonCloudWatch-${var.name}-ena"
  description = "CloudWatch agent config: ENA conntrack allowance metrics for snatguard."
  type        = "String"
  value       = file("${path.module}/cloudwatch-agent-ena.json")
  tags        = var.tags
}

# ----------------------------------------------------------------------------------------------
# IAM: the function's role (what snatguard calls) and the scheduler's role (invoke only)
# ----------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "lambda_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  name               = "${var.name}-lambda"
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
  tags               = var.tags
}

# Statement ids and actions equal src/permissions.ts AWS_IAM (principal "lambda").
data "aws_iam_policy_document" "lambda" {
  statement {
    sid       = "ReadMetrics"
    actions   = ["cloudwatch:GetMetricData", "cloudwatch:ListMetrics"]
    resources = ["*"]
  }

  statement {
    sid       = "DescribeCluster"
    actions   = ["eks:DescribeCluster"]
    resources = [data.aws_eks_cluster.this.arn]
  }

  statement {
    sid       = "DescribeAddon"
    actions   = ["eks:DescribeAddon"]
    resources = ["${replace(data.aws_eks_cluster.this.arn, ":cluster/", ":addon/")}/vpc-cni/*"]
  }

  statement {
    sid       = "DescribeNetwork"
    actions   = ["ec2:DescribeNatGateways"]
    resources = ["*"]
  }

  statement {
    sid       = "ReadNotifySecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.notify.arn]
  }

  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }
}

resource "aws_iam_role_policy" "lambda" {
  name   = "${var.name}-lambda"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json
}

data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "scheduler_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.scheduler_trust.json
  tags               = var.tags
}

# Statement ids and actions equal src/permissions.ts AWS_IAM (principal "scheduler").
data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "InvokeScan"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.this.arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "${var.name}-scheduler"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

# ----------------------------------------------------------------------------------------------
# Kubernetes access: the role joins the Kubernetes group that rbac.yaml binds to its ClusterRole/Role
# ----------------------------------------------------------------------------------------------

resource "aws_eks_access_entry" "this" {
  cluster_name      = var.cluster_name
  principal_arn     = aws_iam_role.lambda.arn
  kubernetes_groups = ["snatguard"]
  type              = "STANDARD"
  tags              = var.tags
}

# ----------------------------------------------------------------------------------------------
# The function and its schedule
# ----------------------------------------------------------------------------------------------

resource "aws_lambda_function" "this" {
  function_name    = var.name
  description      = "snatguard: finds and restarts workloads exhausting SNAT ports / conntrack"
  role             = aws_iam_role.lambda.arn
  filename         = var.package_path
  source_code_hash = filebase64sha256(var.package_path)
  handler          = "index.handler"
  runtime          = "nodejs22.x"
  architectures    = [var.architecture]
  timeout          = var.timeout_seconds
  memory_size      = var.memory_size

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  environment {
    variables = {
      # DESIGN.md "Config": SNATGUARD_ + upper snake case of the key path.
      SNATGUARD_MODE                       = var.mode
      SNATGUARD_PROVIDER                   = "aws"
      SNATGUARD_CLUSTER_CONNECTION         = "eks"
      SNATGUARD_NAMESPACE                  = var.namespace
      SNATGUARD_AWS_REGION                 = var.region
      SNATGUARD_AWS_CLUSTER_NAME           = var.cluster_name
      SNATGUARD_AWS_NOTIFY_SECRET_ARN      = aws_secretsmanager_secret.notify.arn
      SNATGUARD_RAILS_MAX_RESTARTS_PER_RUN = tostring(var.max_restarts_per_run)
      SNATGUARD_RAILS_COOLDOWN_MINUTES     = tostring(var.cooldown_minutes)
    }
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.lambda]
}

resource "aws_scheduler_schedule" "this" {
  name                = var.name
  description         = "Runs snatguard on a fixed cadence."
  schedule_expression = var.schedule_expression

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.this.arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ source = "snatguard.schedule" })

    # A missed run is not retried: the next one comes in 5 minutes.
    retry_policy {
      maximum_retry_attempts = 0
    }
  }
}
