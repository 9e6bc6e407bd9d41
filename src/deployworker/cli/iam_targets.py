"""`deployworker iam-policy` for other accounts: which services are whose, and the
policy of the role the worker assumes in one target account (pure).

The statements are `iam_statements.ecs_statements` for that account's entries alone, the same as
the `deployworker-target` Terraform module's; tests hold the two together.
"""

from __future__ import annotations

from typing import Any

from deployworker.cli.iam_statements import Scope, ecs_statements
from deployworker.cli.iam_statements import statement as _statement
from deployworker.intake.accounts import account_of
from deployworker.intake.entries import Allowlist


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


def target_roles(allowlist: Allowlist) -> set[str]:
    """The roles of the accounts some entry deploys to, or pins its images from."""
    used = {allowlist.account_id_of(e) for e in allowlist.services} - {None}
    registries = {e.registry_account for e in allowlist.services} - {None}
    listed = {account_of(allowlist.accounts, str(r)) for r in registries} - {None}
    used |= {a.account_id for a in listed if a is not None}
    return {a.role_arn for a in allowlist.accounts.values() if a.account_id in used}


def gate_statements(allowlist: Allowlist, account: str, scope: Scope) -> list[dict[str, Any]]:
    """CloudWatch reads for the gates of `account`'s entries (an id): the alarms they
    name, in each entry's region, and GetMetricData when some gate reads a metric."""
    entries = [e for e in allowlist.services if allowlist.account_id_of(e) == account]
    base = f"arn:{scope.partition}:cloudwatch:{{}}:{account}:alarm:{{}}"
    alarms = sorted(
        {
            base.format(e.region or scope.region, name)
            for e in entries
            for g in e.gates
            for m in g.analysis
            for name in m.cloudwatch_alarms or ()
        }
    )
    reads_metrics = any(
        m.cloudwatch is not None for e in entries for g in e.gates for m in g.analysis
    )
    found = [_statement("ReadGateAlarms", ["cloudwatch:DescribeAlarms"], alarms)] if alarms else []
    if reads_metrics:  # GetMetricData supports no resource-level permissions
        found.append(_statement("ReadGateMetrics", ["cloudwatch:GetMetricData"], ["*"]))
    return found


def target_policy(allowlist: Allowlist, account: str, scope: Scope) -> dict[str, Any]:
    """The policy of the role the worker assumes in `account` (an alias or id): exactly
    the services the allowlist opts in there. `scope` gives the worker's region (the
    default of entries that name none), the partition, families, roles to pass and
    ECR repositories; its account and queues play no part. Raises `KeyError`."""
    listed = account_of(allowlist.accounts, account)
    if listed is None:
        raise KeyError(f"account {account!r} is not in the allowlist's accounts")
    services = service_arns(allowlist, scope.partition, listed.account_id, scope.region, False)
    bases = sorted({s.split(":service/")[0] for s in services})
    families = [f"{b}:task-definition/{f}:*" for b in bases for f in scope.families] or [
        f"{b}:task-definition/*" for b in bases
    ]
    # Votes on a deploy there are tagged on its revision there, and read back by gates.
    # A registry account that runs no entry's service is granted its ECR reads alone.
    statements = ecs_statements(services, families, votes=True) if services else []
    statements += gate_statements(allowlist, listed.account_id, scope)
    if scope.pass_role_arns:
        passed = {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
        statements.append(
            _statement("PassServiceRoles", ["iam:PassRole"], list(scope.pass_role_arns), passed)
        )
    if scope.ecr_repository_arns:
        reads = ["ecr:DescribeImages", "ecr:BatchGetImage"]
        statements.append(_statement("ResolveImageDigests", reads, list(scope.ecr_repository_arns)))
    return {"Version": "2012-10-17", "Statement": statements}
