variable "region" {
  description = "AWS region of both environments."
  type        = string
  default     = "eu-west-1"
}

variable "worker_image" {
  description = "The deployworker image both environments run; promote it by changing this one value."
  type        = string
  default     = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/deployworker:0.1.0"
}

variable "environments" {
  description = "Per-environment inputs: the only place staging and production differ."
  type = map(object({
    cluster_arn        = string
    subnet_ids         = list(string)
    security_group_ids = list(string)
    service_arns       = list(string)
    families           = list(string)
    pass_role_arns     = list(string)
    replicas           = number
    alarm_actions      = list(string)
  }))
  default = {
    staging = {
      cluster_arn        = "arn:aws:ecs:eu-west-1:123456789012:cluster/staging"
      subnet_ids         = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
      security_group_ids = ["sg-0a1b2c3d4e5f60001"]
      service_arns       = ["arn:aws:ecs:eu-west-1:123456789012:service/staging/web"]
      families           = ["staging-web"]
      pass_role_arns     = ["arn:aws:iam::123456789012:role/staging-web-task", "arn:aws:iam::123456789012:role/staging-web-execution"]
      replicas           = 1
      alarm_actions      = []
    }
    production = {
      cluster_arn        = "arn:aws:ecs:eu-west-1:123456789012:cluster/prod"
      subnet_ids         = ["subnet-0a1b2c3d4e5f60011", "subnet-0a1b2c3d4e5f60012"]
      security_group_ids = ["sg-0a1b2c3d4e5f60011"]
      service_arns       = ["arn:aws:ecs:eu-west-1:123456789012:service/prod/web", "arn:aws:ecs:eu-west-1:123456789012:service/prod/worker"]
      families           = ["prod-web", "prod-worker"]
      pass_role_arns     = ["arn:aws:iam::123456789012:role/prod-web-task", "arn:aws:iam::123456789012:role/prod-web-execution"]
      replicas           = 2
      alarm_actions      = ["arn:aws:sns:eu-west-1:123456789012:oncall"]
    }
  }
}

variable "releases" {
  description = "Per-environment release targets: the schedules and rules the allowlist's releases name, and their roles."
  type = map(object({
    schedule_arns = list(string)
    rule_arns     = list(string)
    role_arns     = list(string)
  }))
  default = {
    production = {
      schedule_arns = ["arn:aws:scheduler:eu-west-1:123456789012:schedule/default/nightly-report"]
      rule_arns     = ["arn:aws:events:eu-west-1:123456789012:rule/cleanup"]
      role_arns     = ["arn:aws:iam::123456789012:role/prod-scheduler", "arn:aws:iam::123456789012:role/prod-events"]
    }
  }
}
