# The statements a customer-managed key's policy needs so that AWS's services can use
# it for deployworker's queues and log group (kms_key_arn of the deployworker module).
# Without them SNS cannot deliver to the encrypted work queue and EventBridge cannot
# deliver to the encrypted events queue: CI's publish succeeds and the message never
# arrives. A key has one policy, owned by whoever owns the key, so this module writes
# none: it renders the statements (from names alone, known before anything exists) for
# the key's owner to merge, for example through `source_policy_documents`.
#
# The actions are the ones AWS documents: SQS Developer Guide, "Enable compatibility
# between event sources from AWS services and encrypted queues" (kms:GenerateDataKey,
# kms:Decrypt for the sending service's principal); CloudWatch Logs User Guide,
# "Encrypt log data in CloudWatch Logs using AWS KMS" (the logs.<region> principal,
# limited by the kms:EncryptionContext:aws:logs:arn of the log group).

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  region     = data.aws_region.current.name
  where      = "${data.aws_partition.current.partition}:%s:${local.region}:${data.aws_caller_identity.current.account_id}"
  topic_arn  = "arn:${format(local.where, "sns")}:${var.name}-deploys.fifo"
  rule_arn   = "arn:${format(local.where, "events")}:rule/${var.name}-ecs-events"
  log_group  = "arn:${format(local.where, "logs")}:log-group:/ecs/${var.name}"
  rule_count = length([for enabled in [var.ecs_events] : enabled if enabled])
}

data "aws_iam_policy_document" "key" {
  # SNS encrypts each deploy message it delivers to the encrypted work queue.
  statement {
    sid       = "DeployTopicDeliversToWorkQueue"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [local.topic_arn]
    }
  }

  # EventBridge encrypts each ECS event it delivers to the encrypted events queue, or
  # (several replicas) publishes to the encrypted events topic.
  dynamic "statement" {
    for_each = slice([local.rule_arn], 0, local.rule_count)
    content {
      sid       = "EcsEventsRuleDeliversToEventsQueue"
      effect    = "Allow"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = ["*"]

      principals {
        type        = "Service"
        identifiers = ["events.amazonaws.com"]
      }

      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = [statement.value]
      }
    }
  }

  # CloudWatch Logs encrypts the worker's log group, and only that one.
  statement {
    sid       = "LogsEncryptWorkerLogs"
    effect    = "Allow"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = [local.log_group]
    }
  }
}
