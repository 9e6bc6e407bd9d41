variable "name" {
  description = "Name prefix for every resource (for example deployworker-prod)."
  type        = string
}

variable "service_arns" {
  description = "ARNs of the ECS services the allowlist opts in. The worker is granted their clusters (the policy grows per cluster): it may update a service there only when the service carries the tag deployworker:managed=true."
  type        = list(string)

  validation {
    condition = alltrue(concat(
      [can(var.service_arns[0])],
      [for arn in var.service_arns : can(regex("^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:service/[A-Za-z0-9_-]+/[A-Za-z0-9_-]+$", arn))],
    ))
    error_message = "service_arns must be long-format ECS service ARNs (arn:aws:ecs:REGION:ACCOUNT:service/CLUSTER/SERVICE)."
  }
}

variable "task_definition_families" {
  description = "Task-definition families of those services, or prefixes (prod-*); tagging and RunTask (migrations) are limited to them."
  type        = list(string)
}

variable "pass_role_arns" {
  description = "Task and execution role ARNs of the deployed services: a new revision passes them to ECS."
  type        = list(string)
}

variable "ecr_repository_arns" {
  description = "ECR repositories whose tags the worker resolves to digests (allowlist pin_digest); empty grants no ECR access."
  type        = list(string)
  default     = []
}

variable "target_role_arns" {
  description = "Roles the worker assumes in other accounts (each account's deployworker-target module); it may assume exactly these."
  type        = list(string)
  default     = []
}

variable "image" {
  description = "The deployworker container image (repository:tag or @digest)."
  type        = string
}

variable "allowlist_yaml" {
  description = "Contents of the allowlist, passed to the worker in DEPLOYWORKER_ALLOWLIST_YAML and written to its allowlist file at start."
  type        = string
}

variable "cluster_arn" {
  description = "ECS cluster the worker itself runs in."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the worker's Fargate tasks."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups for the worker's tasks; they need HTTPS egress to the AWS APIs."
  type        = list(string)
}

variable "replicas" {
  description = "Worker tasks to run; message groups keep replicas from deploying one service twice."
  type        = number
  default     = 2
}

variable "cpu" {
  description = "Fargate CPU units for one worker task."
  type        = number
  default     = 256
}

variable "memory" {
  description = "Fargate memory (MiB) for one worker task."
  type        = number
  default     = 512
}

variable "max_in_flight" {
  description = "Deploys one worker runs at once (DEPLOYWORKER_MAX_IN_FLIGHT)."
  type        = number
  default     = 1000
}

variable "visibility_timeout_seconds" {
  description = "Work-queue visibility timeout; the worker's heartbeat extends it while a deploy runs."
  type        = number
  default     = 60
}

variable "max_receive_count" {
  description = "Receives before SQS moves a message to the DLQ (the backstop for repeated transient failures)."
  type        = number
  default     = 10
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the queues, topics and logs; null uses SQS- and SNS-managed encryption."
  type        = string
  default     = null
}

variable "ledger_ttl_days" {
  description = "Days a deploy ledger item lives after its last write (DynamoDB TTL)."
  type        = number
  default     = 90
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention for the worker's log group."
  type        = number
  default     = 90
}

variable "create_events_topic" {
  description = "Create an SNS topic for deploy events (ChatOps, CI) and publish to it."
  type        = bool
  default     = true
}

variable "ecs_events" {
  description = "Read ECS's EventBridge events (a rule for the services in service_arns; with one replica a standard queue with a DLQ, with several an SNS topic each replica subscribes a queue of its own to) so the worker learns a rollout's end within a second; polling stays as the safety net."
  type        = bool
  default     = true
}

variable "signing_secret_arn" {
  description = "Secrets Manager secret holding the HMAC key messages must be signed with; null turns signing off."
  type        = string
  default     = null
}

variable "tag_key_secret_arn" {
  description = "Secrets Manager secret holding the worker-only key of the MAC on its deployworker:* tags (never the signing key); null: tags are not sealed."
  type        = string
  default     = null
}

variable "prometheus_url" {
  description = "Prometheus base URL the worker's gate analysis queries (DEPLOYWORKER_PROMETHEUS_URL); null: no Prometheus metrics in gates."
  type        = string
  default     = null
}

variable "prometheus_auth_secret_arn" {
  description = "Secrets Manager secret with Prometheus credentials, JSON with bearer_token or username and password; null: none."
  type        = string
  default     = null
}

variable "alarm_actions" {
  description = "ARNs notified when the DLQ is not empty (for example an SNS topic for the on-call)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "releases" {
  description = "Whether the allowlist has releases: the worker may then tag its release revisions with the release's state."
  type        = bool
  default     = false
}

variable "release_schedule_arns" {
  description = "EventBridge Scheduler schedules the allowlist's releases name: the worker may read and repoint exactly these."
  type        = list(string)
  default     = []
}

variable "release_rule_arns" {
  description = "EventBridge rules the allowlist's releases name: the worker may read and repoint exactly their targets."
  type        = list(string)
  default     = []
}

variable "release_role_arns" {
  description = "Roles the release schedules and rule targets run with: UpdateSchedule and PutTargets pass them again."
  type        = list(string)
  default     = []
}

variable "board_enabled" {
  description = "Whether the worker serves the deploy board at /board on its metrics port (DEPLOYWORKER_BOARD_ENABLED)."
  type        = bool
  default     = true
}

variable "board_listener_arn" {
  description = "An HTTPS listener of an existing ALB; when set, the module adds a rule that signs people in with OIDC and forwards /board to the workers. null: no rule."
  type        = string
  default     = null
}

variable "board_listener_priority" {
  description = "The board rule's priority on that listener."
  type        = number
  default     = 100
}

variable "board_host_header" {
  description = "Host name the board rule matches (for example deploys.example.com); null: any host, path /board only."
  type        = string
  default     = null
}

variable "board_vpc_id" {
  description = "VPC of the workers' subnets, for the board's target group (required with board_listener_arn)."
  type        = string
  default     = null
}

variable "board_oidc" {
  description = "The OIDC identity provider the board rule signs people in with: issuer, authorization_endpoint, token_endpoint, user_info_endpoint, client_id (required with board_listener_arn)."
  type = object({
    issuer                 = string
    authorization_endpoint = string
    token_endpoint         = string
    user_info_endpoint     = string
    client_id              = string
  })
  default = null
}

variable "board_oidc_client_secret" {
  description = "The OIDC client's secret (the ALB's listener rule needs it in clear; it lands in Terraform state)."
  type        = string
  default     = null
  sensitive   = true
}
