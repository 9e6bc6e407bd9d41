"""`deployworker iam-policy`: the least-privilege task-role policy for an allowlist.

Pure. The statements (ids, actions, conditions) are the same as the Terraform
module's `data.aws_iam_policy_document.worker`; tests hold the two together, so
the allowlist and IAM cannot drift apart. The worker's one STS call,
GetCallerIdentity, needs no permission (no policy can deny it), so no statement
grants it.
"""

from __future__ import annotations

from typing import Any

from deployworker.cli.iam_events import fanout_statements
from deployworker.cli.iam_releases import release_statements
from deployworker.cli.iam_statements import Scope, ecs_statements
from deployworker.cli.iam_statements import statement as _statement
from deployworker.cli.iam_targets import service_arns, target_roles
from deployworker.intake.entries import Allowlist

__all__ = ["Scope", "ecs_statements", "worker_policy"]


def worker_policy(allowlist: Allowlist, scope: Scope) -> dict[str, Any]:
    """The task-role policy document for exactly the services `allowlist` opts in in
    the worker's own account, and the roles it assumes into the others."""
    base = f"arn:{scope.partition}:ecs:{scope.region}:{scope.account_id}"
    # A release's services are deployed like any allowlisted service.
    services = service_arns(allowlist, scope.partition, scope.account_id, scope.region) + [
        f"{base}:service/{r.cluster_of(m)}/{m.name}"
        for r in allowlist.releases
        for m in r.members
        if m.service
    ]
    services = list(dict.fromkeys(services))
    # Without named families, tagging stays limited by the CreateAction condition.
    families = [f"{base}:task-definition/{f}:*" for f in scope.families] or [
        f"{base}:task-definition/*"
    ]
    statements = ecs_statements(services, families)
    roles = sorted(target_roles(allowlist))
    if roles:
        statements.append(_statement("AssumeTargetRoles", ["sts:AssumeRole"], roles))
    if scope.pass_role_arns:
        statements.append(
            _statement(
                "PassServiceRoles",
                ["iam:PassRole"],
                list(scope.pass_role_arns),
                {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            )
        )
    statements += release_statements(allowlist, scope, families)
    if scope.queue_arn:
        statements.append(
            _statement(
                "ConsumeWorkQueue",
                [
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes",
                    "sqs:GetQueueUrl",
                ],
                [scope.queue_arn],
            )
        )
    if scope.dlq_arn:
        statements.append(
            _statement(
                "DeadLetter",
                ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
                [scope.dlq_arn],
            )
        )
    if scope.ecs_events_queue_arn:
        reads = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
        statements.append(_statement("ConsumeEcsEvents", reads, [scope.ecs_events_queue_arn]))
    if scope.ecs_events_topic_arn:
        where = (scope.partition, scope.region, scope.account_id)
        prefix = scope.ecs_events_prefix
        statements.extend(fanout_statements(*where, scope.ecs_events_topic_arn, prefix))
    if scope.events_topic_arn:
        statements.append(
            _statement("PublishDeployEvents", ["sns:Publish"], [scope.events_topic_arn])
        )
    if scope.ledger_table_arn:
        write = ["dynamodb:UpdateItem"]  # conditional updates are its only writes
        statements.append(_statement("WriteDeployLedger", write, [scope.ledger_table_arn]))
    if scope.ecr_repository_arns:
        statements.append(
            _statement(
                "ResolveImageDigests",
                ["ecr:DescribeImages", "ecr:BatchGetImage"],
                list(scope.ecr_repository_arns),
            )
        )
    if scope.signing_secret_arn:
        statements.append(
            _statement(
                "ReadSigningKey", ["secretsmanager:GetSecretValue"], [scope.signing_secret_arn]
            )
        )
    if scope.tag_key_secret_arn:
        key = [scope.tag_key_secret_arn]
        statements.append(_statement("ReadTagKey", ["secretsmanager:GetSecretValue"], key))
    if scope.prometheus_secret_arn:
        statements.append(
            _statement(
                "ReadPrometheusAuth",
                ["secretsmanager:GetSecretValue"],
                [scope.prometheus_secret_arn],
            )
        )
    statements.extend(_gate_statements(allowlist, scope))
    if scope.kms_key_arn:
        statements.append(
            _statement("UseQueueKey", ["kms:Decrypt", "kms:GenerateDataKey"], [scope.kms_key_arn])
        )
    return {"Version": "2012-10-17", "Statement": statements}


def _gate_statements(allowlist: Allowlist, scope: Scope) -> list[dict[str, Any]]:
    """CloudWatch reads for the gates' analysis, only as far as some gate uses them."""
    metrics = [m for e in allowlist.services for g in e.gates for m in g.analysis]
    alarms = sorted({name for m in metrics for name in m.cloudwatch_alarms or ()})
    base = f"arn:{scope.partition}:cloudwatch:{scope.region}:{scope.account_id}:alarm"
    statements = []
    if alarms:
        statements.append(
            _statement(
                "ReadGateAlarms", ["cloudwatch:DescribeAlarms"], [f"{base}:{a}" for a in alarms]
            )
        )
    if any(m.cloudwatch is not None for m in metrics):
        # GetMetricData supports no resource-level permissions: AWS requires "*".
        statements.append(_statement("ReadGateMetrics", ["cloudwatch:GetMetricData"], ["*"]))
    return statements
