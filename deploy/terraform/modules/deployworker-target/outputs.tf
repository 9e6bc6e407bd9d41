output "role_arn" {
  description = "The role to list in the allowlist's accounts.<alias>.role_arn and in the worker module's target_role_arns."
  value       = aws_iam_role.target.arn
}

output "policy_json" {
  description = "The role's permissions, for review."
  value       = data.aws_iam_policy_document.target.json
}
