"""`deployworker iam-policy`: the least-privilege task-role policy for an allowlist.

Pure. The statements (ids, actions, conditions) are the same as the Terraform
module's `data.aws_iam_policy_document.worker`; tests hold the two together, so
the allowlist and IAM cannot drift apart. The worker's one STS call,
GetCallerIdentity, needs no permission (no policy can deny it), so no statement
grants it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from deployworker.cli.iam_events import fanout_statements
from deployworker.cli.iam_releases import release_statements
from deployworker.cli.iam_targets import service_arns, target_roles
from deployworker.intake.entries import Allowlist


@dataclass(frozen=True)
class Scope:
    """Where the worker runs and what else it touches; optional parts add statements."""

    region: str
    account_id: str
    partition: str = "aws"
    families: Sequence[str] = ()
    pass_role_arns: Sequence[str] = ()
    queue_arn: str | None = None
    dlq_arn: str | None = None
    events_topic_arn: str | None = None
    ecs_events_queue_arn: str | None = None
    # Several replicas: the topic of ECS's events and their own queues' name prefix.
    ecs_events_topic_arn: str | None = None
    ecs_events_prefix: str = "deployworker-ecs-events"
    ecr_repository_arns: Sequence[str] = ()
    signing_secret_arn: str | None = None
    kms_key_arn: str | None = None
    # The roles a release's schedules and rule targets run with (PutTargets and
    # UpdateSchedule pass them again).
    release_role_arns: Sequence[str] = ()
    prometheus_secret_arn: str | None = None
    ledger_table_arn: str | None = None  # the deploy ledger: its writes, nothing else


def _statement(
    sid: str, actions: list[str], resources: list[str], condition: dict[str, Any] | None = None
) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions,
        "Resource": resources,
    }
    if condition:
        statement["Condition"] = condition
    return statement


def ecs_statements(
    services: list[str], family_arns: list[str], votes: bool = True
) -> list[dict[str, Any]]:
    """Deploying, following and migrating exactly `services` (ARNs), in whatever accounts
    and regions they name; tagging and RunTask limited to `family_arns` (task-definition
    ARN patterns). `votes`: the approvals' vote tags too."""
    clusters = sorted({s.rsplit("/", 1)[0].replace(":service/", ":cluster/") for s in services})
    tasks = sorted({s.rsplit("/", 1)[0].replace(":service/", ":task/") + "/*" for s in services})
    create_action = {"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}}
    statements = [
        _statement(
            "DeployAllowlistedServices",
            ["ecs:DescribeServices", "ecs:UpdateService", "ecs:ListServiceDeployments"],
            services,
        ),
        # Following, natively rolling back and (gates) continuing at a PAUSE hook the
        # service deployments of those services.
        _statement(
            "FollowServiceDeployments",
            [
                "ecs:DescribeServiceDeployments",
                "ecs:StopServiceDeployment",
                "ecs:ContinueServiceDeployment",
            ],
            [s.replace(":service/", ":service-deployment/") + "/*" for s in services],
        ),
        _statement(
            "ReadServiceRevisions",
            ["ecs:DescribeServiceRevisions"],
            [s.replace(":service/", ":service-revision/") + "/*" for s in services],
        ),
        # No resource-level permissions exist for these two: AWS requires "*".
        _statement("ReadTaskDefinitions", ["ecs:DescribeTaskDefinition"], ["*"]),
        _statement("RegisterTaskDefinitions", ["ecs:RegisterTaskDefinition"], ["*"]),
        _statement("TagOnlyNewRevisions", ["ecs:TagResource"], family_arns, create_action),
        # After a migration: the one tag that keeps a redrive from migrating again.
        _statement(
            "MarkMigratedRevisions",
            ["ecs:TagResource"],
            family_arns,
            {"ForAllValues:StringEquals": {"aws:TagKeys": ["deployworker:migrated"]}},
        ),
        # A gate's progress, for `status` in other processes: that one tag key only.
        _statement(
            "TagGateProgress",
            ["ecs:TagResource"],
            family_arns,
            {"ForAllValues:StringEquals": {"aws:TagKeys": ["deployworker:gate"]}},
        ),
    ]
    if votes:
        # Approvals: each verified vote is one `deployworker:vote:<n>` tag on the deploy's
        # revision, which the gates read back from any replica.
        statements += [
            _statement(
                "RecordApprovalVotes",
                ["ecs:TagResource"],
                family_arns,
                {"ForAllValues:StringLike": {"aws:TagKeys": ["deployworker:vote:*"]}},
            ),
            _statement("ReadApprovalVotes", ["ecs:ListTagsForResource"], family_arns),
        ]
    cluster_is = {"ArnEquals": {"ecs:cluster": clusters}}
    return [
        *statements,
        _statement("RunMigrationTasks", ["ecs:RunTask"], family_arns, cluster_is),
        _statement("WatchMigrationTasks", ["ecs:DescribeTasks", "ecs:StopTask"], tasks),
        # ListTasks has no task resource; the cluster condition narrows it.
        _statement("FindMigrationTasks", ["ecs:ListTasks"], ["*"], cluster_is),
    ]


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
