data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  family_arns = [
    for family in var.task_definition_families :
    "arn:${local.partition}:ecs:${local.region}:${local.account_id}:task-definition/${family}:*"
  ]
  events_topic_arn = one(aws_sns_topic.events[*].arn)
  # Managed SSE exactly when no customer key is given (an empty list is all-true).
  sqs_managed_sse = alltrue([for key in compact([var.kms_key_arn]) : false])
  # Optional settings are added only when set, so the worker sees no empty variables.
  worker_environment = merge(
    {
      DEPLOYWORKER_QUEUE_URL              = aws_sqs_queue.work.url
      DEPLOYWORKER_DLQ_URL                = aws_sqs_queue.dlq.url
      DEPLOYWORKER_DEPLOY_TOPIC_ARN       = aws_sns_topic.deploys.arn
      DEPLOYWORKER_REGION                 = local.region
      DEPLOYWORKER_ACCOUNT_ID             = local.account_id
      DEPLOYWORKER_ALLOWLIST_YAML         = var.allowlist_yaml
      DEPLOYWORKER_MAX_IN_FLIGHT          = tostring(var.max_in_flight)
      DEPLOYWORKER_VISIBILITY_TIMEOUT     = tostring(var.visibility_timeout_seconds)
      DEPLOYWORKER_METRICS_HOST           = "0.0.0.0"
      DEPLOYWORKER_SHUTDOWN_GRACE_SECONDS = "10"
      DEPLOYWORKER_REPLICAS               = tostring(var.replicas)
      DEPLOYWORKER_LEDGER_TABLE           = aws_dynamodb_table.ledger.name
      DEPLOYWORKER_LEDGER_TTL_DAYS        = tostring(var.ledger_ttl_days)
      DEPLOYWORKER_BOARD_ENABLED          = tostring(var.board_enabled)
    },
    { for arn in compact([local.events_topic_arn]) : "DEPLOYWORKER_EVENTS_TOPIC_ARN" => arn },
    { for arn in compact([var.signing_secret_arn]) : "DEPLOYWORKER_SIGNING_KEY_SECRET_ARN" => arn },
    { for arn in compact([var.tag_key_secret_arn]) : "DEPLOYWORKER_TAG_KEY_SECRET_ARN" => arn },
    { for url in aws_sqs_queue.ecs_events[*].url : "DEPLOYWORKER_EVENTS_QUEUE_URL" => url },
    { for arn in aws_sns_topic.ecs_events[*].arn : "DEPLOYWORKER_ECS_EVENTS_TOPIC_ARN" => arn },
    { for arn in aws_sns_topic.ecs_events[*].arn : "DEPLOYWORKER_ECS_EVENTS_PREFIX" => local.ecs_events_prefix },
    { for url in compact([var.prometheus_url]) : "DEPLOYWORKER_PROMETHEUS_URL" => url },
    { for arn in compact([var.prometheus_auth_secret_arn]) : "DEPLOYWORKER_PROMETHEUS_AUTH_SECRET_ARN" => arn },
  )
}

# --- queues -------------------------------------------------------------------------------

resource "aws_sqs_queue" "dlq" {
  name                        = "${var.name}-dlq.fifo"
  fifo_queue                  = true
  content_based_deduplication = true
  message_retention_seconds   = 1209600
  sqs_managed_sse_enabled     = local.sqs_managed_sse
  kms_master_key_id           = var.kms_key_arn
  tags                        = var.tags
}

resource "aws_sqs_queue" "work" {
  name                        = "${var.name}-deploys.fifo"
  fifo_queue                  = true
  content_based_deduplication = true
  deduplication_scope         = "messageGroup"
  fifo_throughput_limit       = "perMessageGroupId"
  visibility_timeout_seconds  = var.visibility_timeout_seconds
  receive_wait_time_seconds   = 20
  message_retention_seconds   = 345600
  sqs_managed_sse_enabled     = local.sqs_managed_sse
  kms_master_key_id           = var.kms_key_arn
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
  tags = var.tags
}

resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.work.arn]
  })
}

# --- topics -------------------------------------------------------------------------------

resource "aws_sns_topic" "deploys" {
  name                        = "${var.name}-deploys.fifo"
  fifo_topic                  = true
  content_based_deduplication = true
  # Deduplicate within a message group (one service), not topic-wide: a pipeline that
  # deploys web and worker with one deploy_id must deliver both messages.
  fifo_throughput_scope = "MessageGroup"
  kms_master_key_id     = coalesce(var.kms_key_arn, "alias/aws/sns")
  tags                  = var.tags
}

resource "aws_sns_topic_subscription" "deploys_to_queue" {
  topic_arn            = aws_sns_topic.deploys.arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.work.arn
  raw_message_delivery = true
}

data "aws_iam_policy_document" "work_queue" {
  statement {
    sid       = "OnlyTheDeployTopicSends"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.work.arn]

    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_sns_topic.deploys.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "work" {
  queue_url = aws_sqs_queue.work.id
  policy    = data.aws_iam_policy_document.work_queue.json
}

resource "aws_sns_topic" "events" {
  count             = length([for create in [var.create_events_topic] : create if create])
  name              = "${var.name}-events"
  kms_master_key_id = coalesce(var.kms_key_arn, "alias/aws/sns")
  tags              = var.tags
}

# --- the worker ---------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "worker" {
  name              = "/ecs/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_ecs_task_definition" "worker" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  task_role_arn            = aws_iam_role.task.arn
  execution_role_arn       = aws_iam_role.execution.arn

  container_definitions = jsonencode([
    {
      name                   = "deployworker"
      image                  = var.image
      essential              = true
      readonlyRootFilesystem = true
      user                   = "10001:10001"
      command                = ["run"]
      portMappings           = [{ containerPort = 9102, protocol = "tcp" }]
      environment            = [for key, value in local.worker_environment : { name = key, value = value }]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.worker.name
          awslogs-region        = local.region
          awslogs-stream-prefix = "worker"
        }
      }
      stopTimeout = 30
    }
  ])

  tags = var.tags
}

resource "aws_ecs_service" "worker" {
  name                               = var.name
  cluster                            = var.cluster_arn
  task_definition                    = aws_ecs_task_definition.worker.arn
  desired_count                      = var.replicas
  launch_type                        = "FARGATE"
  deployment_minimum_healthy_percent = 50
  deployment_maximum_percent         = 200
  enable_execute_command             = false
  propagate_tags                     = "SERVICE"

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  # The deploy board's ALB target group, when board.tf makes one.
  dynamic "load_balancer" {
    for_each = aws_lb_target_group.board[*].arn
    content {
      target_group_arn = load_balancer.value
      container_name   = "deployworker"
      container_port   = 9102
    }
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = var.security_group_ids
    assign_public_ip = false
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  alarm_name          = "${var.name}-dlq-not-empty"
  alarm_description   = "Deploy messages in the deployworker DLQ; each carries its reason in the deployworker.reason attribute."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  dimensions = {
    QueueName = aws_sqs_queue.dlq.name
  }
  tags = var.tags
}
