output "deploy_topic_arn" {
  description = "SNS FIFO topic CI publishes deploy messages to."
  value       = aws_sns_topic.deploys.arn
}

output "queue_url" {
  description = "SQS FIFO work queue URL."
  value       = aws_sqs_queue.work.url
}

output "dlq_url" {
  description = "Dead-letter queue URL: rejected messages, each with its reason."
  value       = aws_sqs_queue.dlq.url
}

output "events_topic_arn" {
  description = "SNS topic the worker publishes deploy events to (null when not created)."
  value       = local.events_topic_arn
}

output "task_role_arn" {
  description = "The worker's task role."
  value       = aws_iam_role.task.arn
}

output "worker_policy_json" {
  description = "The task role's policy document, for review."
  value       = data.aws_iam_policy_document.worker.json
}

output "publisher_policy_json" {
  description = "The IAM policy a CI publisher needs: sns:Publish on the deploy topic (and, with kms_key_arn, kms:GenerateDataKey and kms:Decrypt on that key), nothing else."
  value       = data.aws_iam_policy_document.publisher.json
}

output "service_name" {
  description = "The worker's ECS service."
  value       = aws_ecs_service.worker.name
}

output "ecs_events_queue_url" {
  description = "SQS queue of ECS's deployment events the worker reads (null when ecs_events is false or replicas > 1: see ecs_events_topic_arn)."
  value       = one(aws_sqs_queue.ecs_events[*].url)
}

output "kms_key_policy_json" {
  description = "With kms_key_arn: the statements the key's policy must have so SNS, EventBridge and CloudWatch Logs can use it (merge them into the key's policy)."
  value       = module.kms_key_policy.json
}

output "ecs_events_topic_arn" {
  description = "SNS topic of ECS's deployment events each replica subscribes a queue of its own to (null unless ecs_events and replicas > 1)."
  value       = one(aws_sns_topic.ecs_events[*].arn)
}

output "ledger_table_name" {
  description = "The deploy ledger's DynamoDB table (DEPLOYWORKER_LEDGER_TABLE for `status`, `publish --wait` and `history`)."
  value       = aws_dynamodb_table.ledger.name
}

output "ci_policy_json" {
  description = "The least-privilege policy of a CI role that publishes deploys and waits for them (`deployworker iam-policy --ci` prints the same)."
  value       = data.aws_iam_policy_document.ci.json
}
