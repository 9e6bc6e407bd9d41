output "json" {
  description = "The policy document (JSON) with the ECS deploy statements; callers pass it in source_policy_documents."
  value       = data.aws_iam_policy_document.ecs.json
}
