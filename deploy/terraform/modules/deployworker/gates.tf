# What the allowlist's gates read from CloudWatch, derived from the allowlist itself,
# so the task role grants exactly that and follows the allowlist without a second
# list to keep in step. The rule is the one `deployworker iam-policy` applies, and
# tests/test_terraform.py evaluates these locals with Terraform against it.
locals {
  gate_metrics = flatten([
    for entry in try(yamldecode(var.allowlist_yaml).services, []) : [
      for gate in try(entry.gates, []) : try(gate.analysis, [])
    ]
  ])
  gate_alarm_names = sort(distinct(compact(flatten([for metric in local.gate_metrics : try(metric.cloudwatch_alarms, [])]))))
  # ["metrics"] when some gate reads a CloudWatch metric, else []: a for_each.
  gate_metric_reads = distinct([for metric in local.gate_metrics : "metrics" if can(metric.cloudwatch.namespace)])
}
