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

# The ECS deploy statements, shared with deployworker-target (one place for both).
module "ecs_permissions" {
  source = "../deployworker-ecs-permissions"

  service_arns        = var.service_arns
  family_arns         = local.family_arns
  pass_role_arns      = var.pass_role_arns
  pass_roles_always   = true
  ecr_repository_arns = var.ecr_repository_arns
  gate_alarm_arns     = [for name in local.gate_alarm_names : "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${name}"]
  gate_metric_reads   = local.gate_metric_reads
}

data "aws_iam_policy_document" "worker" {
  source_policy_documents = [module.ecs_permissions.json]

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
        values   = ["deployworker:release-state", "deployworker:release-reason", "deployworker:release-state-mac"]
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

  # Several replicas: each makes, reads and removes a queue of its own (named with the
  # prefix), subscribed to the topic of ECS's events.
  dynamic "statement" {
    for_each = aws_sns_topic.ecs_events[*].arn
    content {
      sid    = "OwnEcsEventsQueues"
      effect = "Allow"
      actions = [
        "sqs:CreateQueue",
        "sqs:DeleteQueue",
        "sqs:GetQueueAttributes",
        "sqs:SetQueueAttributes",
        "sqs:TagQueue",
        "sqs:ListQueueTags",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
      ]
      resources = ["arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.ecs_events_prefix}-*"]
    }
  }

  dynamic "statement" {
    for_each = aws_sns_topic.ecs_events[*].arn
    content {
      # ListQueues has no resource-level permission: AWS requires "*". It names queues only.
      sid       = "FindEcsEventsQueues"
      effect    = "Allow"
      actions   = ["sqs:ListQueues"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = aws_sns_topic.ecs_events[*].arn
    content {
      sid       = "SubscribeToEcsEvents"
      effect    = "Allow"
      actions   = ["sns:Subscribe", "sns:Unsubscribe", "sns:ListSubscriptionsByTopic"]
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

  # The deploy ledger: conditional updates are the worker's only writes to it.
  statement {
    sid       = "WriteDeployLedger"
    effect    = "Allow"
    actions   = ["dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.ledger.arn]
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

  # The worker's own key for the MAC on its deployworker:* tags: no other role reads it.
  dynamic "statement" {
    for_each = compact([var.tag_key_secret_arn])
    content {
      sid       = "ReadTagKey"
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

# What a CI publisher needs, and nothing more: with a customer-managed key, publishing
# to the encrypted topic also takes kms:GenerateDataKey and kms:Decrypt on that key
# (SNS Developer Guide, "Data encryption": the publisher's permissions).
data "aws_iam_policy_document" "publisher" {
  statement {
    sid       = "PublishDeployMessages"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.deploys.arn]
  }

  dynamic "statement" {
    for_each = compact([var.kms_key_arn])
    content {
      sid       = "EncryptDeployMessages"
      effect    = "Allow"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

# The statements the customer-managed key's own policy needs (see that module).
module "kms_key_policy" {
  source = "../deployworker-kms-key-policy"

  name       = var.name
  ecs_events = var.ecs_events
}

# What a CI role needs to publish deploys and wait for them (`deployworker iam-policy
# --ci` prints the same): publish, read the ledger items of exactly its services (their
# keys are `<cluster>/<service>`), and read those services in ECS.
data "aws_iam_policy_document" "ci" {
  statement {
    sid       = "PublishDeployMessages"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.deploys.arn]
  }

  dynamic "statement" {
    for_each = compact([var.kms_key_arn])
    content {
      sid       = "EncryptDeployMessages"
      effect    = "Allow"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]
    }
  }

  statement {
    sid       = "ReadOwnLedgerItems"
    effect    = "Allow"
    actions   = ["dynamodb:GetItem", "dynamodb:Query"]
    resources = [aws_dynamodb_table.ledger.arn, "${aws_dynamodb_table.ledger.arn}/index/by_time"]

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "dynamodb:LeadingKeys"
      values   = [for arn in var.service_arns : join("/", slice(split("/", arn), 1, 3))]
    }
  }

  statement {
    sid       = "ReadServiceEvents"
    effect    = "Allow"
    actions   = ["ecs:DescribeServices", "ecs:ListServiceDeployments"]
    resources = var.service_arns
  }

  statement {
    sid       = "ReadServiceDeployments"
    effect    = "Allow"
    actions   = ["ecs:DescribeServiceDeployments"]
    resources = [for arn in var.service_arns : "${replace(arn, ":service/", ":service-deployment/")}/*"]
  }

  # DescribeTaskDefinition supports no resource-level permissions.
  statement {
    sid       = "ReadTaskDefinitions"
    effect    = "Allow"
    actions   = ["ecs:DescribeTaskDefinition"]
    resources = ["*"]
  }
}
