# Staging and production from one module, differing only in their inputs: the
# "no drift between environments" pattern. Each environment's allowlist sits beside
# this file and is validated in CI with `deployworker check-allowlist`.

module "deployworker" {
  source   = "../../modules/deployworker"
  for_each = var.environments

  name                     = "deployworker-${each.key}"
  image                    = var.worker_image
  allowlist_yaml           = file("${path.module}/allowlist-${each.key}.yaml")
  cluster_arn              = each.value.cluster_arn
  subnet_ids               = each.value.subnet_ids
  security_group_ids       = each.value.security_group_ids
  service_arns             = each.value.service_arns
  task_definition_families = each.value.families
  pass_role_arns           = each.value.pass_role_arns
  releases                 = contains(keys(var.releases), each.key)
  release_schedule_arns    = try(var.releases[each.key].schedule_arns, [])
  release_rule_arns        = try(var.releases[each.key].rule_arns, [])
  release_role_arns        = try(var.releases[each.key].role_arns, [])
  replicas                 = each.value.replicas
  alarm_actions            = each.value.alarm_actions
  log_retention_days       = 365

  tags = {
    environment = each.key
    owner       = "platform"
  }
}
