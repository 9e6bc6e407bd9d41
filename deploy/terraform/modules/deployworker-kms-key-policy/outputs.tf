output "json" {
  description = "The key-policy statements (a policy document) to merge into the customer-managed key's policy."
  value       = data.aws_iam_policy_document.key.json
}
