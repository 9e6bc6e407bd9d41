# The role deployworker assumes in one target account: trusted by the worker's task
# role alone (with the external id, when set), allowed exactly the services that
# account's allowlist entries opt in. Statement ids match `deployworker iam-policy
# --target <account>`, and tests/test_terraform.py holds both to that.

locals {
  bases    = distinct([for arn in var.service_arns : split(":service/", arn)[0]])
  clusters = distinct([for arn in var.service_arns : replace(arn, "/:service/([^/]+)/.*$/", ":cluster/$1")])
  families = flatten([
    for base in local.bases : [for family in var.task_definition_families : "${base}:task-definition/${family}:*"]
  ])
}

data "aws_iam_policy_document" "trust" {
  statement {
    sid     = "WorkerAssumes"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = [var.worker_role_arn]
    }

    dynamic "condition" {
      for_each = compact([var.external_id])
      content {
        test     = "StringEquals"
        variable = "sts:ExternalId"
        values   = [condition.value]
      }
    }
  }
}

data "aws_iam_policy_document" "target" {
  statement {
    sid       = "DeployAllowlistedServices"
    effect    = "Allow"
    actions   = ["ecs:DescribeServices", "ecs:UpdateService", "ecs:ListServiceDeployments"]
    resources = var.service_arns
  }

  statement {
    sid       = "FollowServiceDeployments"
    effect    = "Allow"
    actions   = ["ecs:DescribeServiceDeployments", "ecs:StopServiceDeployment", "ecs:ContinueServiceDeployment"]
    resources = [for arn in var.service_arns : "${replace(arn, ":service/", ":service-deployment/")}/*"]
  }

  statement {
    sid       = "ReadServiceRevisions"
    effect    = "Allow"
    actions   = ["ecs:DescribeServiceRevisions"]
    resources = [for arn in var.service_arns : "${replace(arn, ":service/", ":service-revision/")}/*"]
  }

  # DescribeTaskDefinition and RegisterTaskDefinition support no resource-level
  # permissions: AWS requires "*" here. Tagging is what is narrowed, below.
  statement {
    sid       = "ReadTaskDefinitions"
    effect    = "Allow"
    actions   = ["ecs:DescribeTaskDefinition"]
    resources = ["*"]
  }

  statement {
    sid       = "RegisterTaskDefinitions"
    effect    = "Allow"
    actions   = ["ecs:RegisterTaskDefinition"]
    resources = ["*"]
  }

  statement {
    sid       = "TagOnlyNewRevisions"
    effect    = "Allow"
    actions   = ["ecs:TagResource"]
    resources = local.families

    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["RegisterTaskDefinition"]
    }
  }

  statement {
    sid       = "MarkMigratedRevisions"
    effect    = "Allow"
    actions   = ["ecs:TagResource"]
    resources = local.families

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "aws:TagKeys"
      values   = ["deployworker:migrated"]
    }
  }

  # A gate's progress (deployworker:gate, and nothing else) on the deploy's revision.
  statement {
    sid       = "TagGateProgress"
    effect    = "Allow"
    actions   = ["ecs:TagResource"]
    resources = local.families

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "aws:TagKeys"
      values   = ["deployworker:gate"]
    }
  }

  # Approvals of deploys here: each verified vote is one deployworker:vote:<n> tag on
  # the deploy's revision, which the gates read back.
  statement {
    sid       = "RecordApprovalVotes"
    effect    = "Allow"
    actions   = ["ecs:TagResource"]
    resources = local.families

    condition {
      test     = "ForAllValues:StringLike"
      variable = "aws:TagKeys"
      values   = ["deployworker:vote:*"]
    }
  }

  statement {
    sid       = "ReadApprovalVotes"
    effect    = "Allow"
    actions   = ["ecs:ListTagsForResource"]
    resources = local.families
  }

  statement {
    sid       = "RunMigrationTasks"
    effect    = "Allow"
    actions   = ["ecs:RunTask"]
    resources = local.families

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = local.clusters
    }
  }

  statement {
    sid       = "WatchMigrationTasks"
    effect    = "Allow"
    actions   = ["ecs:DescribeTasks", "ecs:StopTask"]
    resources = distinct([for arn in var.service_arns : replace(arn, "/:service/([^/]+)/.*$/", ":task/$1/*")])
  }

  # ListTasks has no task resource; the cluster condition is what narrows it.
  statement {
    sid       = "FindMigrationTasks"
    effect    = "Allow"
    actions   = ["ecs:ListTasks"]
    resources = ["*"]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = local.clusters
    }
  }

  dynamic "statement" {
    for_each = distinct([for arn in var.pass_role_arns : "iam"])
    content {
      sid       = "PassServiceRoles"
      effect    = "Allow"
      actions   = ["iam:PassRole"]
      resources = var.pass_role_arns

      condition {
        test     = "StringEquals"
        variable = "iam:PassedToService"
        values   = ["ecs-tasks.amazonaws.com"]
      }
    }
  }

  # Gate analysis here: the states of exactly the alarms this account's gates name.
  dynamic "statement" {
    for_each = distinct([for arn in var.gate_alarm_arns : "alarms"])
    content {
      sid       = "ReadGateAlarms"
      effect    = "Allow"
      actions   = ["cloudwatch:DescribeAlarms"]
      resources = var.gate_alarm_arns
    }
  }

  # GetMetricData supports no resource-level permissions: AWS requires "*".
  dynamic "statement" {
    for_each = var.gate_metric_reads ? ["metrics"] : []
    content {
      sid       = "ReadGateMetrics"
      effect    = "Allow"
      actions   = ["cloudwatch:GetMetricData"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = distinct([for arn in var.ecr_repository_arns : "ecr"])
    content {
      sid       = "ResolveImageDigests"
      effect    = "Allow"
      actions   = ["ecr:DescribeImages", "ecr:BatchGetImage"]
      resources = var.ecr_repository_arns
    }
  }
}

resource "aws_iam_role" "target" {
  name                 = var.name
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  max_session_duration = var.max_session_seconds
  tags                 = var.tags
}

resource "aws_iam_role_policy" "target" {
  name   = "deployworker"
  role   = aws_iam_role.target.id
  policy = data.aws_iam_policy_document.target.json
}
