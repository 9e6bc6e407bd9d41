variable "name" {
  description = "Name of the role deployworker assumes in this account (the allowlist's accounts.<alias>.role_arn ends in it)."
  type        = string
  default     = "deployworker-target"
}

variable "worker_role_arn" {
  description = "The worker's task role (the deployworker module's task_role_arn output): the one principal trusted to assume this role."
  type        = string
}

variable "external_id" {
  description = "External id the worker must present (the allowlist's accounts.<alias>.external_id); null asks for none."
  type        = string
  default     = null
}

variable "service_arns" {
  description = "ARNs of the ECS services in this account that the allowlist opts in (each in its entry's region)."
  type        = list(string)
}

variable "task_definition_families" {
  description = "Task-definition families of those services; tagging and RunTask (migrations) are limited to them."
  type        = list(string)
}

variable "pass_role_arns" {
  description = "Task and execution role ARNs of those services: a new revision passes them to ECS."
  type        = list(string)
  default     = []
}

variable "ecr_repository_arns" {
  description = "ECR repositories in this account whose tags the worker resolves to digests (pin_digest); empty grants no ECR access."
  type        = list(string)
  default     = []
}

variable "gate_alarm_arns" {
  description = "ARNs of the CloudWatch alarms in this account that the gates of its entries name (deployworker iam-policy --target prints them)."
  type        = list(string)
  default     = []
}

variable "gate_metric_reads" {
  description = "Whether some gate of this account's entries reads a CloudWatch metric (grants cloudwatch:GetMetricData)."
  type        = bool
  default     = false
}

variable "max_session_seconds" {
  description = "The role's maximum session duration (3600-43200). The worker assumes this role from its own ECS task role, which is role chaining: AWS caps such a session at one hour whatever this says, so the worker asks for at most 3600 s (DEPLOYWORKER_ASSUME_ROLE_SECONDS, 900-3600) and refreshes it before it expires."
  type        = number
  default     = 3600
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
