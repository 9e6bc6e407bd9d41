variable "service_arns" {
  description = "ARNs of the ECS services the allowlist opts in."
  type        = list(string)
}

variable "family_arns" {
  description = "Task-definition family ARN patterns (…:task-definition/<family>:*) of those services; tagging and RunTask are limited to them."
  type        = list(string)
}

variable "pass_role_arns" {
  description = "Task and execution role ARNs of those services: a new revision passes them to ECS."
  type        = list(string)
  default     = []
}

variable "pass_roles_always" {
  description = "Grant PassServiceRoles even when pass_role_arns is empty (the worker module always has the statement)."
  type        = bool
  default     = false
}

variable "ecr_repository_arns" {
  description = "ECR repositories whose tags the worker resolves to digests (pin_digest); empty grants no ECR access."
  type        = list(string)
  default     = []
}

variable "gate_alarm_arns" {
  description = "ARNs of the CloudWatch alarms the gates name; empty grants no DescribeAlarms."
  type        = list(string)
  default     = []
}

variable "gate_metric_reads" {
  description = "[\"metrics\"] when some gate reads a CloudWatch metric (grants cloudwatch:GetMetricData), else []."
  type        = list(string)
  default     = []
}
