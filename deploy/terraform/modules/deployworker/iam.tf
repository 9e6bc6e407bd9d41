# The worker's task role: least privilege. Statement ids match the policy that
# `deployworker iam-policy` prints, and tests/test_terraform.py holds both to that.

data "aws_iam_policy_document" "assume_ecs_tasks" {
  statement {
    sid     = "EcsTasksAssume"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "worker" {
  statement {
    sid       = "DeployAllowlistedServices"
    effect    = "Allow"
    actions   = ["ecs:DescribeServices", "ecs:UpdateService", "ecs:ListServiceDeployments"]
    resources = var.service_arns
  }

  # Following, natively rolling back (StopServiceDeployment) and, for gates,
  # answering PAUSE hooks (ContinueServiceDeployment) of exactly those services.
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
    resources = local.family_arns

    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["RegisterTaskDefinition"]
    }
  }

  # After a successful migration, its revision is tagged deployworker:migrated (and
  # nothing else), so a redrive long after ListTasks forgot the task skips it.
  statement {
    sid       = "MarkMigratedRevisions"
    effect    = "Allow"
    actions   = ["ecs:TagResource"]
    resources = local.family_arns

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "aws:TagKeys"
      values   = ["deployworker:migrated"]
    }
  }

  # Approvals: each verified vote is one deployworker:vote:<n> tag on the deploy's
  # revision (and nothing else), which the gates read back from any replica.
  statement {
    sid       = "RecordApprovalVotes"
    effect    = "Allow"
    actions   = ["ecs:TagResource"]
    resources = local.family_arns

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
    resources = local.family_arns
  }

  # A gate's progress is tagged deployworker:gate on the deploy's revision (and
  # nothing else), so `status` in another process can show it.
  statement {
    sid       = "TagGateProgress"
    effect    = "Allow"
    actions   = ["ecs:TagResource"]
    resources = local.family_arns

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "aws:TagKeys"
      values   = ["deployworker:gate"]
    }
  }

  statement {
    sid       = "RunMigrationTasks"
    effect    = "Allow"
    actions   = ["ecs:RunTask"]
    resources = local.family_arns

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = distinct([for arn in var.service_arns : replace(arn, "/:service/([^/]+)/.*$/", ":cluster/$1")])
    }
  }

  statement {
    sid       = "WatchMigrationTasks"
    effect    = "Allow"
    actions   = ["ecs:DescribeTasks", "ecs:StopTask"]
    resources = distinct([for arn in var.service_arns : replace(arn, "/:service/([^/]+)/.*$/", ":task/$1/*")])
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
      values   = distinct([for arn in var.service_arns : replace(arn, "/:service/([^/]+)/.*$/", ":cluster/$1")])
    }
  }

  statement {
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

  # Releases: their state tags on the new revisions, exactly the schedules and rules
  # they name, and the roles those targets run with (UpdateSchedule and PutTargets
  # pass them again).
  dynamic "statement" {
    for_each = [for on in [var.releases] : "releases" if on]
    content {
      sid       = "MarkReleaseRevisions"
      effect    = "Allow"
      actions   = ["ecs:TagResource"]
      resources = local.family_arns

      condition {
        test     = "ForAllValues:StringEquals"
        variable = "aws:TagKeys"
        values   = ["deployworker:release-state", "deployworker:release-reason"]
      }
    }
  }

  dynamic "statement" {
    for_each = distinct([for arn in var.release_schedule_arns : "schedules"])
    content {
      sid       = "UpdateReleaseSchedules"
      effect    = "Allow"
      actions   = ["scheduler:GetSchedule", "scheduler:UpdateSchedule"]
      resources = var.release_schedule_arns
    }
  }

  dynamic "statement" {
    for_each = distinct([for arn in var.release_rule_arns : "rules"])
    content {
      sid       = "UpdateReleaseRules"
      effect    = "Allow"
      actions   = ["events:ListTargetsByRule", "events:PutTargets"]
      resources = var.release_rule_arns
    }
  }

  dynamic "statement" {
    for_each = distinct([for arn in var.release_role_arns : "roles"])
    content {
      sid       = "PassReleaseRoles"
      effect    = "Allow"
      actions   = ["iam:PassRole"]
      resources = var.release_role_arns

      condition {
        test     = "StringEquals"
        variable = "iam:PassedToService"
        values   = ["scheduler.amazonaws.com", "events.amazonaws.com"]
      }
    }
  }

  statement {
    sid    = "ConsumeWorkQueue"
    effect = "Allow"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
    ]
    resources = [aws_sqs_queue.work.arn]
  }

  statement {
    sid       = "DeadLetter"
    effect    = "Allow"
    actions   = ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
    resources = [aws_sqs_queue.dlq.arn]
  }

  dynamic "statement" {
    for_each = aws_sqs_queue.ecs_events[*].arn
    content {
      sid       = "ConsumeEcsEvents"
      effect    = "Allow"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = aws_sns_topic.events[*].arn
    content {
      sid       = "PublishDeployEvents"
      effect    = "Allow"
      actions   = ["sns:Publish"]
      resources = [statement.value]
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

  dynamic "statement" {
    for_each = compact([var.signing_secret_arn])
    content {
      sid       = "ReadSigningKey"
      effect    = "Allow"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [statement.value]
    }
  }

  # Other accounts: exactly the roles their deployworker-target modules created.
  dynamic "statement" {
    for_each = distinct([for arn in var.target_role_arns : "sts"])
    content {
      sid       = "AssumeTargetRoles"
      effect    = "Allow"
      actions   = ["sts:AssumeRole"]
      resources = var.target_role_arns
    }
  }

  dynamic "statement" {
    for_each = compact([var.prometheus_auth_secret_arn])
    content {
      sid       = "ReadPrometheusAuth"
      effect    = "Allow"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [statement.value]
    }
  }

  # Gate analysis: the states of exactly the alarms the allowlist's gates name.
  dynamic "statement" {
    for_each = distinct([for name in local.gate_alarm_names : "alarms"])
    content {
      sid       = "ReadGateAlarms"
      effect    = "Allow"
      actions   = ["cloudwatch:DescribeAlarms"]
      resources = [for name in local.gate_alarm_names : "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${name}"]
    }
  }

  # GetMetricData supports no resource-level permissions: AWS requires "*". It is
  # granted only when some gate reads a CloudWatch metric.
  dynamic "statement" {
    for_each = local.gate_metric_reads
    content {
      sid       = "ReadGateMetrics"
      effect    = "Allow"
      actions   = ["cloudwatch:GetMetricData"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = compact([var.kms_key_arn])
    content {
      sid       = "UseQueueKey"
      effect    = "Allow"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role" "task" {
  name               = "${var.name}-task"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "task" {
  name   = "deployworker"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.worker.json
}

# The execution role pulls the worker image and writes its logs, nothing else.
data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "WriteOwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.worker.arn}:*"]
  }

  # GetAuthorizationToken supports no resource-level permissions.
  statement {
    sid       = "EcrLogin"
    effect    = "Allow"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "PullWorkerImage"
    effect    = "Allow"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = ["arn:${local.partition}:ecr:${local.region}:${local.account_id}:repository/*"]
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-and-log"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# What a CI publisher needs, and nothing more.
data "aws_iam_policy_document" "publisher" {
  statement {
    sid       = "PublishDeployMessages"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.deploys.arn]
  }
}
