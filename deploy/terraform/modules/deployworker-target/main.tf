# The role deployworker assumes in one target account: trusted by the worker's task
# role alone (with the external id, when set), allowed exactly the services that
# account's allowlist entries opt in. Statement ids match `deployworker iam-policy
# --target <account>`, and tests/test_terraform.py holds both to that.

locals {
  bases = distinct([for arn in var.service_arns : split(":service/", arn)[0]])
  families = flatten([
    for base in local.bases : [for family in var.task_definition_families : "${base}:task-definition/${family}:*"]
  ])
}

data "aws_iam_policy_document" "trust" {
  statement {
    sid     = "WorkerAssumes"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = [var.worker_role_arn]
    }

    dynamic "condition" {
      for_each = compact([var.external_id])
      content {
        test     = "StringEquals"
        variable = "sts:ExternalId"
        values   = [condition.value]
      }
    }
  }
}

# The ECS deploy statements, the same ones the worker's own task role has.
module "ecs_permissions" {
  source = "../deployworker-ecs-permissions"

  service_arns        = var.service_arns
  family_arns         = local.families
  pass_role_arns      = var.pass_role_arns
  ecr_repository_arns = var.ecr_repository_arns
  gate_alarm_arns     = var.gate_alarm_arns
  gate_metric_reads   = [for on in [var.gate_metric_reads] : "metrics" if on]
}

data "aws_iam_policy_document" "target" {
  source_policy_documents = [module.ecs_permissions.json]
}

resource "aws_iam_role" "target" {
  name                 = var.name
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  max_session_duration = var.max_session_seconds
  tags                 = var.tags
}

resource "aws_iam_role_policy" "target" {
  name   = "deployworker"
  role   = aws_iam_role.target.id
  policy = data.aws_iam_policy_document.target.json
}
