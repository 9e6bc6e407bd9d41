# The ECS deploy permissions, written once: the worker module's task role (its own
# account) and each deployworker-target role (another account) both take their
# statements from this document, so the two cannot drift apart. Statement ids match
# `deployworker iam-policy` and `iam-policy --target`.

locals {
  # Services are granted per cluster, so the policy grows with the clusters, not with
  # the allowlist (IAM: 10,240 characters for all of a role's inline policies).
  clusters = distinct([for arn in var.service_arns : replace(arn, "/:service/([^/]+)/.*$/", ":cluster/$1")])
  services = [for cluster in local.clusters : "${replace(cluster, ":cluster/", ":service/")}/*"]
}

data "aws_iam_policy_document" "ecs" {
  # Changing what a service runs needs both opt-ins: the allowlist (the worker checks
  # it) and the deployworker:managed=true tag on the service (IAM checks it). The
  # Service Authorization Reference lists aws:ResourceTag/${TagKey} for the service
  # resource that UpdateService requires.
  statement {
    sid       = "DeployAllowlistedServices"
    effect    = "Allow"
    actions   = ["ecs:UpdateService"]
    resources = local.services

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/deployworker:managed"
      values   = ["true"]
    }
  }

  statement {
    sid       = "ReadServices"
    effect    = "Allow"
    actions   = ["ecs:DescribeServices", "ecs:ListServiceDeployments"]
    resources = local.services
  }

  # Following, natively rolling back (StopServiceDeployment) and, for gates,
  # answering PAUSE hooks (ContinueServiceDeployment) of the deployments in those
  # clusters: none of them changes what a service runs.
  statement {
    sid       = "FollowServiceDeployments"
    effect    = "Allow"
    actions   = ["ecs:DescribeServiceDeployments", "ecs:StopServiceDeployment", "ecs:ContinueServiceDeployment"]
    resources = [for cluster in local.clusters : "${replace(cluster, ":cluster/", ":service-deployment/")}/*"]
  }

  statement {
    sid       = "ReadServiceRevisions"
    effect    = "Allow"
    actions   = ["ecs:DescribeServiceRevisions"]
    resources = [for cluster in local.clusters : "${replace(cluster, ":cluster/", ":service-revision/")}/*"]
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
    resources = var.family_arns

    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["RegisterTaskDefinition"]
    }
  }

  # After a successful migration, its revision is tagged deployworker:migrated and its
  # MAC, deployworker:migrated-mac (and nothing else), so a redrive long after ListTasks
  # forgot the task skips it.
  statement {
    sid       = "MarkMigratedRevisions"
    effect    = "Allow"
    actions   = ["ecs:TagResource"]
    resources = var.family_arns

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "aws:TagKeys"
      values   = ["deployworker:migrated", "deployworker:migrated-mac"]
    }
  }

  # Approvals: each verified vote is one deployworker:vote:<n> tag on the deploy's
  # revision (and nothing else), which the gates read back from any replica.
  statement {
    sid       = "RecordApprovalVotes"
    effect    = "Allow"
    actions   = ["ecs:TagResource"]
    resources = var.family_arns

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
    resources = var.family_arns
  }

  # A gate's progress is tagged deployworker:gate on the deploy's revision, so
  # `status` in another process can show it; deployworker:hooks records which PAUSE
  # hook id was which stage's, and deployworker:window when the newest gate's window
  # opened (a redelivered message reads both back). Nothing else.
  statement {
    sid       = "TagGateProgress"
    effect    = "Allow"
    actions   = ["ecs:TagResource"]
    resources = var.family_arns

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "aws:TagKeys"
      values   = ["deployworker:gate", "deployworker:hooks", "deployworker:window"]
    }
  }

  statement {
    sid       = "RunMigrationTasks"
    effect    = "Allow"
    actions   = ["ecs:RunTask"]
    resources = var.family_arns

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
    resources = [for cluster in local.clusters : "${replace(cluster, ":cluster/", ":task/")}/*"]
  }

  # ListTasks (finding a migration by startedBy) has no task resource; the cluster
  # condition is what narrows it.
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

  # The worker's own account always has the statement; a target account only when
  # its services pass roles.
  dynamic "statement" {
    for_each = distinct(concat([for arn in var.pass_role_arns : "iam"], [for on in [var.pass_roles_always] : "iam" if on]))
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

  # Gate analysis: the states of exactly the alarms the gates name.
  dynamic "statement" {
    for_each = distinct([for arn in var.gate_alarm_arns : "alarms"])
    content {
      sid       = "ReadGateAlarms"
      effect    = "Allow"
      actions   = ["cloudwatch:DescribeAlarms"]
      resources = var.gate_alarm_arns
    }
  }

  # GetMetricData supports no resource-level permissions: AWS requires "*". It is
  # granted only when some gate reads a CloudWatch metric.
  dynamic "statement" {
    for_each = distinct(var.gate_metric_reads)
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
