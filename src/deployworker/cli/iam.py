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

from deployworker.intake.accounts import account_of
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
    ecr_repository_arns: Sequence[str] = ()
    signing_secret_arn: str | None = None
    kms_key_arn: str | None = None


def target_roles(allowlist: Allowlist) -> set[str]:
    """The roles of the accounts some entry deploys to."""
    used = {allowlist.account_id_of(e) for e in allowlist.services} - {None}
    return {a.role_arn for a in allowlist.accounts.values() if a.account_id in used}


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


def service_arns(
    allowlist: Allowlist, partition: str, account: str, region: str, home: bool = True
) -> list[str]:
    """The ARNs of the services `allowlist` opts in in `account` (an id), each in its
    entry's region (`region`, the worker's, when it names none). At `home`, entries
    that name no account are `account`'s too."""
    found = []
    for entry in allowlist.services:
        named = allowlist.account_id_of(entry)
        if named != account and not (home and named is None):
            continue
        base = f"arn:{partition}:ecs:{entry.region or region}:{account}"
        found.append(f"{base}:service/{entry.cluster}/{entry.service}")
    return found


def ecs_statements(services: list[str], families: Sequence[str]) -> list[dict[str, Any]]:
    """Deploying, following and migrating exactly `services` (ARNs); tagging and RunTask
    limited to `families` (names; every family of those accounts and regions if none)."""
    bases = sorted({s.split(":service/")[0] for s in services})
    clusters = sorted({s.rsplit("/", 1)[0].replace(":service/", ":cluster/") for s in services})
    tasks = sorted({s.rsplit("/", 1)[0].replace(":service/", ":task/") + "/*" for s in services})
    # Without named families, tagging stays limited by the CreateAction condition.
    families_arns = [f"{b}:task-definition/{f}:*" for b in bases for f in families] or [
        f"{b}:task-definition/*" for b in bases
    ]
    create_action = {"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}}
    return [
        _statement(
            "DeployAllowlistedServices",
            ["ecs:DescribeServices", "ecs:UpdateService", "ecs:ListServiceDeployments"],
            services,
        ),
        # Following, and natively rolling back, the service deployments of those services.
        _statement(
            "FollowServiceDeployments",
            ["ecs:DescribeServiceDeployments", "ecs:StopServiceDeployment"],
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
        _statement("TagOnlyNewRevisions", ["ecs:TagResource"], families_arns, create_action),
        # After a migration: the one tag that keeps a redrive from migrating again.
        _statement(
            "MarkMigratedRevisions",
            ["ecs:TagResource"],
            families_arns,
            {"ForAllValues:StringEquals": {"aws:TagKeys": ["deployworker:migrated"]}},
        ),
        _statement(
            "RunMigrationTasks",
            ["ecs:RunTask"],
            families_arns,
            {"ArnEquals": {"ecs:cluster": clusters}},
        ),
        _statement("WatchMigrationTasks", ["ecs:DescribeTasks", "ecs:StopTask"], tasks),
        # ListTasks has no task resource; the cluster condition narrows it.
        _statement(
            "FindMigrationTasks", ["ecs:ListTasks"], ["*"], {"ArnEquals": {"ecs:cluster": clusters}}
        ),
    ]


def worker_policy(allowlist: Allowlist, scope: Scope) -> dict[str, Any]:
    """The task-role policy document for exactly the services `allowlist` opts in in
    the worker's own account, and the roles it assumes into the others."""
    services = service_arns(allowlist, scope.partition, scope.account_id, scope.region)
    statements = ecs_statements(services, scope.families)
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
    if scope.events_topic_arn:
        statements.append(
            _statement("PublishDeployEvents", ["sns:Publish"], [scope.events_topic_arn])
        )
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
    if scope.kms_key_arn:
        statements.append(
            _statement("UseQueueKey", ["kms:Decrypt", "kms:GenerateDataKey"], [scope.kms_key_arn])
        )
    return {"Version": "2012-10-17", "Statement": statements}


def target_policy(allowlist: Allowlist, account: str, scope: Scope) -> dict[str, Any]:
    """The policy of the role the worker assumes in `account` (an alias or id): exactly
    the services the allowlist opts in there. `scope` gives the worker's region (the
    default of entries that name none), the partition, families, roles to pass and
    ECR repositories; its account and queues play no part. Raises `KeyError`."""
    listed = account_of(allowlist.accounts, account)
    if listed is None:
        raise KeyError(f"account {account!r} is not in the allowlist's accounts")
    services = service_arns(allowlist, scope.partition, listed.account_id, scope.region, False)
    statements = ecs_statements(services, scope.families)
    if scope.pass_role_arns:
        passed = {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
        statements.append(
            _statement("PassServiceRoles", ["iam:PassRole"], list(scope.pass_role_arns), passed)
        )
    if scope.ecr_repository_arns:
        reads = ["ecr:DescribeImages", "ecr:BatchGetImage"]
        statements.append(_statement("ResolveImageDigests", reads, list(scope.ecr_repository_arns)))
    return {"Version": "2012-10-17", "Statement": statements}
