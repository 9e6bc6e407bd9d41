# The ECS events rule's pattern: one ARN prefix per cluster of the allowlisted services
# (ECS puts the service's ARN in `resources`). Listing every service's ARN would pass
# EventBridge's 2,048-character pattern quota at about 30 services; per cluster it grows
# with the clusters alone. The worker reads only the events of the deploys it follows,
# by service ARN and deployment, so the other services' events cost a receive, nothing
# more. `deployworker iam-policy --events-pattern` prints the same pattern.

locals {
  ecs_event_pattern = jsonencode({
    source        = ["aws.ecs"]
    "detail-type" = ["ECS Deployment State Change", "ECS Hook State Change", "ECS Service Action"]
    resources = [
      for cluster in distinct([for arn in var.service_arns : replace(arn, "/[^/]+$/", "")]) : { prefix = cluster }
    ]
  })
}
