variable "name" {
  description = "The deployworker module's name: its topic, rule and log group are named after it."
  type        = string
}

variable "ecs_events" {
  description = "Whether the deployworker module reads ECS's events (its ecs_events): adds EventBridge's statement."
  type        = bool
  default     = true
}
