output "deploy_topic_arns" {
  description = "Per environment, the SNS FIFO topic CI publishes to."
  value       = { for env, worker in module.deployworker : env => worker.deploy_topic_arn }
}

output "publisher_policies" {
  description = "Per environment, the IAM policy a CI publisher needs (sns:Publish on that topic only)."
  value       = { for env, worker in module.deployworker : env => worker.publisher_policy_json }
}
