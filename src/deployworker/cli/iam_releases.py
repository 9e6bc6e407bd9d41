"""The statements releases add to `deployworker iam-policy` (pure).

Exactly the schedules and rules the allowlist's releases name, the two release state
tags on the families' revisions, and passing the schedules' and targets' roles again;
the Terraform module's `release_*` inputs grant the same.
"""

from __future__ import annotations

from typing import Any

from deployworker.cli.iam_statements import Scope
from deployworker.cli.iam_statements import statement as _statement
from deployworker.deploy.release.slots import REASON_TAG, STATE_MAC_TAG, STATE_TAG
from deployworker.intake.entries import Allowlist


def release_statements(
    allowlist: Allowlist, scope: Scope, families: list[str]
) -> list[dict[str, Any]]:
    """What releases add: their state tags on the new revisions, exactly the schedules
    and rules they name, and passing those targets' roles again."""
    if not allowlist.releases:
        return []
    where = f"{scope.region}:{scope.account_id}"
    members = [m for r in allowlist.releases for m in r.members]
    schedules = [
        f"arn:{scope.partition}:scheduler:{where}:schedule/{m.schedule_group}/{m.schedule}"
        for m in members
        if m.schedule
    ]
    rules = [
        f"arn:{scope.partition}:events:{where}:rule/"
        + ("" if m.event_bus == "default" else f"{m.event_bus}/")
        + str(m.rule)
        for m in members
        if m.rule
    ]
    keys = [STATE_TAG, REASON_TAG, STATE_MAC_TAG]
    statements = [
        _statement(
            "MarkReleaseRevisions",
            ["ecs:TagResource"],
            families,
            {"ForAllValues:StringEquals": {"aws:TagKeys": keys}},
        )
    ]
    if schedules:
        actions = ["scheduler:GetSchedule", "scheduler:UpdateSchedule"]
        statements.append(_statement("UpdateReleaseSchedules", actions, schedules))
    if rules:
        actions = ["events:ListTargetsByRule", "events:PutTargets"]
        statements.append(_statement("UpdateReleaseRules", actions, rules))
    if scope.release_role_arns:
        passed = ["scheduler.amazonaws.com", "events.amazonaws.com"]
        statements.append(
            _statement(
                "PassReleaseRoles",
                ["iam:PassRole"],
                list(scope.release_role_arns),
                {"StringEquals": {"iam:PassedToService": passed}},
            )
        )
    return statements
